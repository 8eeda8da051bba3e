"""The `orchestrate` command: one small function per subcommand.

    orchestrate lab up lab.yml        build the lab on this machine: namespaces or machines
    orchestrate lab down lab.yml      remove it, leaving nothing behind
    orchestrate preflight lab.yml     check every host; non-zero exit if any fails
    orchestrate provision lab.yml     run the playbooks (a second run changes nothing)
    orchestrate plan lab.yml          the points, what `up` creates, its estimated wall time
    orchestrate up lab.yml            all of the above, then the sweep (resumed if unfinished)
    orchestrate status lab.yml        where the lab's sweeps stand
    orchestrate down lab.yml          stop everything the orchestrator started on the hosts
    orchestrate export results/       one row per point, CSV or JSON
    orchestrate report results/       the paper's figures and Table 1 of a sweep, as HTML
    orchestrate compare results/ A B  sweep B against sweep A; exit 1 if anything got worse
    orchestrate nightly lab.yml       a new sweep compared with the baseline (exit 1: regressed)
    orchestrate schedule lab.yml ...  run `nightly` every day (systemd timer or cron)
    orchestrate baseline set|show     the sweep nightly runs compare with
    orchestrate watch lab.yml         the live run in the terminal, from Prometheus
    orchestrate monitoring up|down    start or stop the lab's Prometheus
    orchestrate dashboards publish    the data source and dashboards in Grafana
    orchestrate dashboards export DIR Grafana file-provisioning YAML and the dashboards' JSON

`main()` maps expected failures (`TestbedError`) to one line per problem on stderr and an exit
status (2 for bad input, 1 for failures, 130 for Ctrl-C), never a traceback.
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Annotated

import typer
from typer.exceptions import TyperException

from orchestrator.config.labfile import load_lab
from orchestrator.config.model import Lab
from orchestrator.config.redact import display_url
from orchestrator.errors import EXIT_INTERRUPTED, EXIT_USAGE, TestbedError
from orchestrator.lab.builders import lab_builder
from orchestrator.lab.remote import Remote
from orchestrator.monitoring.dashboards import write_provisioning
from orchestrator.monitoring.prometheus import Prometheus
from orchestrator.monitoring.watch import watch
from orchestrator.nightly.nightly import baseline_for, run_nightly
from orchestrator.nightly.schedule import Scheduler, parse_daily
from orchestrator.report.compare import compare_sweeps, print_comparison
from orchestrator.report.write import write_comparison, write_report
from orchestrator.results import export
from orchestrator.results.records import check_sweep_id
from orchestrator.results.store import Store
from orchestrator.run.hostproc import HostProcesses
from orchestrator.run.lock import LabLock
from orchestrator.run.plansummary import plan_summary
from orchestrator.run.up import lab_up, preflight, provision, publish_dashboards, run_up
from orchestrator.ui import Terminal, console, error_line, hosts_table, warn

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Run server performance experiments on a multi-host lab (testbed).",
)
lab_app = typer.Typer(
    no_args_is_help=True,
    help="Create or remove a lab built on this machine (emulated or machines).",
)
app.add_typer(lab_app, name="lab")

LabArgument = Annotated[Path, typer.Argument(help="The lab file, e.g. lab.yml.")]
ResultsArgument = Annotated[Path, typer.Argument(help="A results directory or its testbed.sqlite.")]


# -- subcommands --------------------------------------------------------------------------------


@lab_app.command("up")
def lab_up_command(lab_file: LabArgument) -> None:
    """Create the lab that LAB describes on this machine (only what is missing):
    namespaces (emulate: true) or booted machines (emulate: machines)."""
    lab_up(_emulated(load_lab(lab_file)), Terminal())


@lab_app.command("down")
def lab_down_command(lab_file: LabArgument) -> None:
    """Remove the lab built here: machines, layers, mounts, namespaces, bridges, veths,
    processes and files."""
    lab = _emulated(load_lab(lab_file))
    lab_builder(lab, warn=warn).down()
    console.print(f"lab [bold]{lab.name}[/]: down")


@app.command("preflight")
def preflight_command(lab_file: LabArgument) -> None:
    """Check every host at once: SSH, NICs, routes, clocks, limits."""
    preflight(load_lab(lab_file), Terminal())


@app.command("provision")
def provision_command(lab_file: LabArgument) -> None:
    """Provision and deploy every host with the playbooks (Ansible)."""
    provision(load_lab(lab_file), Terminal())


@app.command("up")
def up_command(
    lab_file: LabArgument,
    new: Annotated[bool, typer.Option("--new", help="Start a fresh sweep, do not resume.")] = False,
) -> int:
    """Run the sweep: create the lab if emulated, preflight, provision, measure every point.

    Resumes the lab's unfinished sweep when its plan is unchanged. Exits 1 if a point stayed
    failed, 130 on Ctrl-C (the point in progress is stored as interrupted)."""
    return run_up(load_lab(lab_file), Terminal(), new=new).exit_code


@app.command("plan")
def plan_command(
    lab_file: LabArgument,
    new: Annotated[bool, typer.Option("--new", help="As for `up --new`: do not resume.")] = False,
) -> None:
    """Show what `up` would do: the points, what it creates, an estimate of the wall time.

    The estimate uses this lab's measured time per point from its results store (a stated
    default when it has none). Nothing is created or run."""
    for line in plan_summary(load_lab(lab_file), new=new).describe():
        console.print(line, highlight=False)


@app.command("status")
def status_command(lab_file: LabArgument) -> None:
    """Where the lab's sweeps stand, from the results store."""
    lab = load_lab(lab_file)
    store = Store.open(lab.results_directory, readonly=True)
    rows = []
    for sweep in store.sweeps(lab.name):
        points = store.points(sweep.id)
        counts = Counter(point["status"] for point in points)
        last = max((point["ended_at"] for point in points), default=None)
        rows.append(
            [
                sweep.id,
                sweep.status,
                f"{len(store.done_keys(sweep.id))}/{sweep.points_planned}",
                str(counts["ok"]),
                str(counts["client-limited"]),
                str(counts["failed"]),
                str(counts["interrupted"]),
                time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(last)) if last else "-",
            ]
        )
    columns = ["sweep", "status", "done", "ok", "client-limited", "failed", "interrupted", "last"]
    console.print(hosts_table(f"sweeps of {lab.name} in {store.path}", columns, rows))
    running = LabLock.holder(lab.name)
    if running:
        console.print(f"running now: {running}")


@app.command("down")
def down_command(lab_file: LabArgument) -> None:
    """Stop everything the orchestrator started on the lab's hosts (servers, agents)."""
    lab = load_lab(lab_file)
    if lab.built_here and not lab_builder(lab).exists():
        console.print(f"lab [bold]{lab.name}[/] is not up: nothing runs on it")
        return
    with Remote.for_lab(lab) as remote:
        results = HostProcesses(remote, tag=lab.name).stop_all(lab.hosts)
    for name, result in results.items():
        if not result.ok:
            warn(f"{name}: {result.reason()}")
        elif result.stdout.strip():
            console.print(f"{name}: stopped {', '.join(result.stdout.split())}")
    console.print(f"lab [bold]{lab.name}[/]: nothing of ours runs on its hosts any more")


monitoring_app = typer.Typer(no_args_is_help=True, help="The lab's Prometheus.")
app.add_typer(monitoring_app, name="monitoring")


@monitoring_app.command("up")
def monitoring_up_command(lab_file: LabArgument) -> None:
    """Start the lab's Prometheus (or reload its configuration) without running a sweep."""
    url = Prometheus.for_lab(load_lab(lab_file)).ensure_running()
    console.print(f"prometheus: {display_url(url)}")


@monitoring_app.command("down")
def monitoring_down_command(lab_file: LabArgument) -> None:
    """Stop the lab's Prometheus (its data stays under the results directory)."""
    prometheus = Prometheus.for_lab(load_lab(lab_file))
    if prometheus.directory is None:
        console.print(f"prometheus at {display_url(prometheus.url)} is external: not ours to stop")
    elif prometheus.stop():
        console.print(f"prometheus: stopped (data kept in {prometheus.directory})")
    else:
        console.print("prometheus: not running")


@app.command("watch")
def watch_command(
    lab_file: LabArgument,
    count: Annotated[
        int | None, typer.Option("--count", help="Stop after this many refreshes.")
    ] = None,
) -> None:
    """A live view of the run from Prometheus, refreshed every second (Ctrl-C to leave)."""
    with contextlib.suppress(KeyboardInterrupt):
        watch(load_lab(lab_file), console, count=count)


dashboards_app = typer.Typer(no_args_is_help=True, help="The Grafana dashboards.")
app.add_typer(dashboards_app, name="dashboards")


@dashboards_app.command("publish")
def dashboards_publish_command(lab_file: LabArgument) -> None:
    """Create or update the data source and dashboards in the Grafana that LAB names."""
    lab = load_lab(lab_file)
    if not lab.monitoring.grafana.url:
        raise TestbedError(f"{lab.path}: monitoring.grafana.url is not set", EXIT_USAGE)
    console.print(publish_dashboards(lab, Prometheus.for_lab(lab).url))


@dashboards_app.command("export")
def dashboards_export_command(
    directory: Annotated[Path, typer.Argument(help="Where to write the provisioning files.")],
    prometheus_url: Annotated[
        str, typer.Option("--prometheus-url", help="Prometheus as Grafana reaches it.")
    ] = "http://127.0.0.1:9090",
    folder: Annotated[str, typer.Option("--folder", help="Grafana folder title.")] = "testbed",
) -> None:
    """Write Grafana file provisioning (data source, dashboard provider) and the JSON."""
    for path in write_provisioning(directory, prometheus_url, folder):
        console.print(f"wrote {path}")


baseline_app = typer.Typer(no_args_is_help=True, help="The sweep nightly runs compare with.")
app.add_typer(baseline_app, name="baseline")


@baseline_app.command("set")
def baseline_set_command(results: ResultsArgument, sweep: str) -> None:
    """Pin SWEEP as the baseline of its lab's nightly runs."""
    check_sweep_id(sweep, "SWEEP")
    store = Store.open(results, create=False)
    found = store.sweep(sweep)
    if found is None:
        raise TestbedError(f"{store.path}: no sweep {sweep!r}", EXIT_USAGE)
    store.set_baseline(found.lab, found.id)
    console.print(f"baseline of lab {found.lab}: {found.id} (pinned)")


@baseline_app.command("show")
def baseline_show_command(results: ResultsArgument) -> None:
    """The baseline of every lab in the store: pinned, or the last good nightly sweep."""
    store = Store.open(results, readonly=True)
    for lab in sorted({sweep.lab for sweep in store.sweeps()}):
        pinned = store.baseline(lab)
        chosen = baseline_for(store, lab)
        how = "pinned" if chosen is not None and chosen.id == pinned else "last good nightly"
        console.print(
            f"{lab}: {chosen.id if chosen else 'none yet'}" + (f" ({how})" if chosen else "")
        )


@app.command("nightly")
def nightly_command(lab_file: LabArgument) -> int:
    """One unattended run: a new sweep, its report, and a comparison with the baseline.

    Writes the night's log under RESULTS/nightly/, alerts the lab's webhook and command on a
    regression or failure, and keeps the last `nightly.keep` nights. Exits 0 when nothing got
    worse, 1 on a regression, 2 when the run failed, 3 when another run holds the lab."""
    return run_nightly(load_lab(lab_file), Terminal()).exit_code


@app.command("schedule")
def schedule_command(
    lab_file: LabArgument,
    daily: Annotated[str | None, typer.Option("--daily", help="Run every day at HH:MM.")] = None,
    show: Annotated[bool, typer.Option("--list", help="List the installed schedules.")] = False,
    remove: Annotated[bool, typer.Option("--remove", help="Remove LAB's schedule.")] = False,
) -> None:
    """Run `orchestrate nightly LAB` every day (systemd timer, or cron where systemd is absent)."""
    if sum((daily is not None, show, remove)) != 1:
        raise TestbedError(
            "schedule: give exactly one of --daily HH:MM, --list, --remove", EXIT_USAGE
        )
    at = parse_daily(daily) if daily is not None else None
    lab = load_lab(lab_file)
    scheduler = Scheduler()
    if at is not None:
        lines = scheduler.install(lab, at)
    elif remove:
        lines = scheduler.remove(lab)
    else:
        lines = scheduler.entries() or ["no nightly runs are scheduled"]
    for line in lines:
        console.print(line, soft_wrap=True)


@app.command("export")
def export_command(
    results: Annotated[Path, typer.Argument(help="A results directory or its testbed.sqlite.")],
    fmt: Annotated[str, typer.Option("--format", help="csv or json.")] = "csv",
    output: Annotated[Path | None, typer.Option("--output", help="File to write.")] = None,
    sweep: Annotated[str | None, typer.Option("--sweep", help="Only this sweep.")] = None,
) -> None:
    """Write one row per point (all sweeps, or one) as CSV or JSON."""
    if fmt not in ("csv", "json"):
        raise TestbedError(f"--format: {fmt!r}: expected csv or json", exit_code=EXIT_USAGE)
    if sweep is not None:
        check_sweep_id(sweep, "--sweep")
    store = Store.open(results, readonly=True)
    if sweep is not None and store.sweep(sweep) is None:
        raise TestbedError(f"--sweep: {sweep!r}: no such sweep in {store.path}", EXIT_USAGE)
    text = export.render(export.rows(store, sweep), fmt)
    if output is None:
        sys.stdout.write(text)
        return
    try:
        output.write_text(text)
    except OSError as error:
        raise TestbedError(f"--output: {output}: {error.strerror}", EXIT_USAGE) from None
    console.print(f"wrote {output}")


@app.command("report")
def report_command(
    results: ResultsArgument,
    sweep: Annotated[
        str | None, typer.Option("--sweep", help="The sweep to report (default: the latest).")
    ] = None,
    profile_rate: Annotated[
        float | None,
        typer.Option(
            "--profile-rate",
            help="Table 1's request rate (default: the highest at which every mechanism was ok).",
        ),
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option("--output", help="Write it under this directory (default: RESULTS/reports)."),
    ] = None,
) -> None:
    """Write a sweep's report (figures, Table 1, findings) under RESULTS/reports/<sweep>/."""
    if sweep is not None:
        check_sweep_id(sweep, "--sweep")
    store = Store.open(results, readonly=True)
    sweep_id = sweep if sweep is not None else _latest_sweep(store)
    check_sweep_id(sweep_id, f"the latest sweep in {store.path}")
    if store.sweep(sweep_id) is None:
        raise TestbedError(f"--sweep: {sweep_id!r}: no such sweep in {store.path}", EXIT_USAGE)
    try:
        written = write_report(store, sweep_id, profile_rate, output)
    except OSError as error:
        where = error.filename or output or store.path.parent
        raise TestbedError(
            f"cannot write the report in {where}: {error.strerror} (--output DIR writes it"
            " elsewhere)",
            EXIT_USAGE,
        ) from None
    for finding in written.report.findings:
        console.print(f"{finding.verdict:>14}: {finding.claim}")
    console.print(f"report of sweep [bold]{sweep_id}[/]: {written.index}")


@app.command("compare")
def compare_command(
    results: ResultsArgument,
    base: Annotated[str, typer.Argument(help="The sweep to compare against.")],
    new: Annotated[str, typer.Argument(help="The sweep to judge.")],
    threshold: Annotated[
        float,
        typer.Option("--threshold", help="Smallest change that counts, in percent.", min=0.0),
    ] = 5.0,
) -> int:
    """Compare sweep NEW against BASE per curve; exit 1 if any is significantly worse."""
    check_sweep_id(base, "BASE")
    check_sweep_id(new, "NEW")
    store = Store.open(results, readonly=True)
    for name, sweep_id in (("BASE", base), ("NEW", new)):
        if store.sweep(sweep_id) is None:
            raise TestbedError(f"{name}: {sweep_id!r}: no such sweep in {store.path}", EXIT_USAGE)
    comparison = compare_sweeps(store, base, new, threshold / 100)
    print_comparison(comparison, console)
    try:
        console.print(f"comparison: {write_comparison(store, comparison)}")
    except OSError as error:  # a store on a read-only mount: the verdict stands without a page
        warn(f"the comparison page was not written: {error.filename}: {error.strerror}")
    return 1 if comparison.regressed else 0


def _latest_sweep(store: Store) -> str:
    sweeps = store.sweeps()
    if not sweeps:
        raise TestbedError(f"{store.path}: no sweep stored yet")
    return sweeps[-1].id


def _emulated(lab: Lab) -> Lab:
    if not lab.built_here:
        raise TestbedError(
            f"{lab.path}: emulate is false: there is no lab to build here", exit_code=EXIT_USAGE
        )
    return lab


# -- entry point ----------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; return the exit status (see the module docstring)."""
    try:
        result = app(args=argv, standalone_mode=False)
    except TestbedError as failure:
        for line in failure.message.splitlines():
            error_line(line)
        return failure.exit_code
    except typer.Exit as done:
        return int(done.exit_code)
    except (KeyboardInterrupt, typer.Abort):
        error_line("interrupted")
        return EXIT_INTERRUPTED
    except TyperException as usage:  # typer's own click: bad options, unknown commands
        usage.show()  # type: ignore[attr-defined]
        return int(getattr(usage, "exit_code", EXIT_USAGE))
    code = result if isinstance(result, int) else 0
    if code == EXIT_INTERRUPTED:  # typer turns Ctrl-C into a quiet exit status 130
        error_line("interrupted")
    return code


if __name__ == "__main__":
    sys.exit(main())
