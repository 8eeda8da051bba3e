"""Subcommands that build, check, provision and run the lab: lab up/down, preflight, provision,
up, plan, status, down."""

from __future__ import annotations

import shlex
import time
from collections import Counter
from typing import Annotated, Any

import typer

from orchestrator import ui
from orchestrator.cli.app import app
from orchestrator.cli.conventions import (
    EXIT_CODES,
    JsonOption,
    LabArgument,
    built_here_only,
    codes,
    command,
    group,
    print_json,
)
from orchestrator.config.labfile import load_lab
from orchestrator.errors import EXIT_FAILURE
from orchestrator.lab.builders import lab_builder
from orchestrator.lab.links import link_shaper
from orchestrator.lab.remote import SshRemote
from orchestrator.monitoring.prometheus import stop_lab_prometheus
from orchestrator.results.schema import STORE_FILE
from orchestrator.results.store import Store
from orchestrator.run.hostproc import RemoteProcesses
from orchestrator.run.lock import EXIT_LOCKED, LabLock
from orchestrator.run.plansummary import plan_summary
from orchestrator.run.up import lab_up, preflight, provision, run_up
from orchestrator.ui import Terminal, console, hosts_table, warn
from orchestrator.version import revision, version

lab_app = group("Create or remove a lab built on this machine (emulated or machines).")
app.add_typer(lab_app, name="lab")


@command(lab_app, "up", codes(failed="the lab could not be built"))
def lab_up_command(lab_file: LabArgument) -> None:
    """Create the lab that LAB describes on this machine (only what is missing):
    namespaces (emulate: true) or booted machines (emulate: machines)."""
    lab_up(built_here_only(load_lab(lab_file)), Terminal())


@command(lab_app, "down", codes(failed="something of the lab could not be removed"))
def lab_down_command(lab_file: LabArgument) -> None:
    """Remove the lab built here: machines, layers, mounts, namespaces, bridges, veths,
    processes and files; and stop its Prometheus (its data stays under the results
    directory), which would otherwise hold its port against the next lab's `up`."""
    lab = built_here_only(load_lab(lab_file))
    console.print(stop_lab_prometheus(lab))
    lab_builder(lab, warn=warn).down()
    console.print(f"lab [bold]{lab.name}[/]: down")


@command(app, "preflight", codes(failed="a host failed a check (each is named)"))
def preflight_command(lab_file: LabArgument) -> None:
    """Check every host at once: SSH, NICs, routes, clocks, limits."""
    preflight(load_lab(lab_file), Terminal())


@command(app, "provision", codes(failed="a playbook failed on a host"))
def provision_command(lab_file: LabArgument) -> None:
    """Provision and deploy every host with the playbooks (Ansible)."""
    provision(load_lab(lab_file), Terminal())


@command(
    app,
    "up",
    codes(failed="a point stayed failed, or the run failed", busy=EXIT_CODES[EXIT_LOCKED]),
)
def up_command(
    lab_file: LabArgument,
    new: Annotated[bool, typer.Option("--new", help="Start a fresh sweep, do not resume.")] = False,
) -> int:
    """Run the sweep: create the lab if emulated, preflight, provision, measure every point.

    Resumes the lab's unfinished sweep when its plan is unchanged. Everything printed, with
    debug detail, is also logged to RESULTS/logs/<sweep>.log. On Ctrl-C the point in progress
    is stored as interrupted."""
    ui.capture()
    ui.debug(f"orchestrate {version()} (revision {revision()}): up {shlex.quote(str(lab_file))}")
    return run_up(load_lab(lab_file), Terminal(), new=new).exit_code


@command(app, "plan", codes())
def plan_command(
    lab_file: LabArgument,
    new: Annotated[bool, typer.Option("--new", help="As for `up --new`: do not resume.")] = False,
) -> None:
    """Show what `up` would do: the points, what it creates, an estimate of the wall time.

    The estimate uses this lab's measured time per point from its results store (a stated
    default when it has none). Nothing is created or run."""
    for line in plan_summary(load_lab(lab_file), new=new).describe():
        console.print(line, highlight=False)


@command(app, "status", codes())
def status_command(lab_file: LabArgument, as_json: JsonOption = False) -> None:
    """Where the lab's sweeps stand, from the results store ("no sweeps yet" before the first).

    --json: {"lab", "store", "running", "sweeps": [{"sweep", "kind", "status", "done",
    "planned", "ok", "saturated", "client_limited", "failed", "interrupted", "last"}]}, "last"
    in ISO 8601. A saturated point is the server's own result at its cores' limit."""
    lab = load_lab(lab_file)
    store_path = lab.results_directory / STORE_FILE
    sweeps: list[dict[str, Any]] = []
    if store_path.exists():
        store = Store.open(lab.results_directory, readonly=True)
        try:
            sweeps = [_sweep_status(store, sweep) for sweep in store.sweeps(lab.name)]
        finally:
            store.close()
    running = LabLock.holder(lab.name)
    if as_json:
        document = {"lab": lab.name, "store": str(store_path), "running": running}
        print_json({**document, "sweeps": sweeps})
        return
    if not sweeps:
        console.print(f"lab {lab.name}: no sweeps yet ({store_path})")
    else:
        columns = ["sweep", "kind", "status", "done", "ok", "saturated", "client-limited"]
        columns += ["failed"]
        columns += ["interrupted", "last"]
        table = hosts_table(f"sweeps of {lab.name} in {store_path}", columns, [])
        # Sweep ids are pasted into compare, baseline set and report --sweep: never cut one.
        table.columns[0].no_wrap = True
        table.columns[0].min_width = max(len(row["sweep"]) for row in sweeps)
        for row in sweeps:
            last = row["last"].replace("T", " ")[:19] if row["last"] else "-"
            done = f"{row['done']}/{row['planned']}"
            counts = [str(row[key]) for key in STATUS_COUNTS]
            table.add_row(row["sweep"], row["kind"], row["status"], done, *counts, last)
        console.print(table)
    if running:
        console.print(f"running now: {running}")


STATUS_COUNTS = ("ok", "saturated", "client_limited", "failed", "interrupted")


def _sweep_status(store: Store, sweep: Any) -> dict[str, Any]:
    points = store.points(sweep.id) + store.profile_points(sweep.id)  # as `done` counts them
    counts = Counter(point.status for point in points)
    last = max((point.ended_at for point in points), default=None)
    return {
        "sweep": sweep.id,
        "kind": sweep.kind,
        "status": sweep.status,
        "done": len(store.done_keys(sweep.id)),
        "planned": sweep.points_planned,
        "ok": counts["ok"],
        "saturated": counts["saturated"],
        "client_limited": counts["client-limited"],
        "failed": counts["failed"],
        "interrupted": counts["interrupted"],
        "last": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(last)) if last else None,
    }


@command(app, "down", codes(failed="a host could not be reached"))
def down_command(lab_file: LabArgument) -> int:
    """Stop everything the orchestrator started on the lab's hosts (servers, agents) and
    remove the WAN conditions (netem, or linkem and its rules) from the clients' links."""
    lab = load_lab(lab_file)
    if lab.built_here and not lab_builder(lab).exists():
        console.print(f"lab [bold]{lab.name}[/] is not up: nothing runs on it")
        return 0
    with SshRemote.for_lab(lab) as remote:
        results = RemoteProcesses(remote, tag=lab.name).stop_all(lab.hosts)
    for name, result in results.items():
        if not result.ok:
            warn(f"{name}: {result.reason()}")
        elif result.stdout.strip():
            console.print(f"{name}: stopped {', '.join(result.stdout.split())}")
    if not all(result.ok for result in results.values()):
        return EXIT_FAILURE
    if lab.built_here or lab.experiment.network or lab.network.subnets or lab.network.clients:
        link_shaper(lab).clear()  # WAN conditions: the clients' links as they were
    console.print(f"lab [bold]{lab.name}[/]: nothing of ours runs on its hosts any more")
    return 0
