"""`orchestrate up`: take a lab from nothing to a finished, stored sweep.

    result = run_up(lab)            # UpResult: the sweep, its outcome, the exit status

Steps: create the emulated lab if needed, preflight, provision, then (holding the lab's run
lock) continue the lab's unfinished sweep when its plan is unchanged or start a new one, stop
whatever a dead run left on the hosts, write the workload files, run every point not yet done,
print the summary and write the sweep's report. Ctrl-C stores the point in progress as
interrupted and re-raises.
"""

from __future__ import annotations

import dataclasses
import os
import random
import time
from dataclasses import dataclass
from typing import Any

from rich.table import Table

from orchestrator import ui
from orchestrator.config.model import Lab
from orchestrator.config.plan import Point, expand, plan_digest
from orchestrator.errors import EXIT_INTERRUPTED, TestbedError
from orchestrator.lab import hostfacts
from orchestrator.lab.emulated import EmulatedLab
from orchestrator.lab.preflight import print_report, run_preflight
from orchestrator.lab.provision import Ansible
from orchestrator.lab.remote import Remote
from orchestrator.monitoring import grafana
from orchestrator.monitoring.exporter import SweepExporter
from orchestrator.monitoring.prometheus import Prometheus
from orchestrator.report.write import write_report
from orchestrator.results.records import Sweep, SweepSummary
from orchestrator.results.store import Store
from orchestrator.run.lock import LabLock
from orchestrator.run.sweep import (
    Observers,
    SweepObserver,
    SweepOutcome,
    SweepRunner,
    clients_share_cpus,
)
from orchestrator.ui import SweepProgress, console, error_line, hosts_table, playbook_progress, warn
from orchestrator.version import local_versions, revision


@dataclass
class UpResult:
    sweep: Sweep
    outcome: SweepOutcome
    store_path: str

    @property
    def exit_code(self) -> int:
        return 1 if self.outcome.failed else 0


# -- the steps before a sweep ---------------------------------------------------------------------


def lab_up(lab: Lab) -> None:
    started = time.monotonic()
    EmulatedLab(lab, warn=warn).up()
    console.print(
        f"lab [bold]{lab.name}[/]: {len(lab.hosts)} hosts up ({time.monotonic() - started:.1f} s)"
    )


def preflight(lab: Lab) -> None:
    if lab.emulate and not EmulatedLab(lab).exists():
        raise TestbedError(f"lab '{lab.name}' is not up: run `orchestrate lab up {lab.path}`")
    with Remote.for_lab(lab) as remote:
        report = run_preflight(lab, remote)
    print_report(report, console)
    if report.failed:
        raise TestbedError(f"preflight failed on {report.summary()}")


def provision(lab: Lab) -> None:
    progress, on_event = playbook_progress(len(lab.hosts))
    with progress:
        result = Ansible(lab).run("site.yml", on_event=on_event)
    rows = [
        [
            host.name,
            str(result.ok.get(host.name, 0)),
            str(result.changed.get(host.name, 0)),
            "unreachable" if host.name in result.unreachable else "",
        ]
        for host in lab.hosts
    ]
    title = f"provision ({result.seconds:.1f} s, {result.total_changed} changed)"
    console.print(hosts_table(title, ["host", "ok", "changed", "problem"], rows))
    for failure in result.failures:
        error_line(failure)
    if not result.succeeded:
        hosts = ", ".join(result.unreachable) or "see above"
        raise TestbedError(f"provisioning failed ({result.status}; {hosts})")


# -- the sweep ------------------------------------------------------------------------------------


def run_up(
    lab: Lab, *, new: bool = False, kind: str = "manual", observer: SweepObserver | None = None
) -> UpResult:
    """The whole of `orchestrate up`; see the module docstring."""
    if lab.emulate:
        lab_up(lab)
    preflight(lab)
    provision(lab)
    with LabLock(lab.name, purpose="up"), Remote.for_lab(lab) as remote:
        observers = [observer] if observer else []
        observers.append(start_monitoring(lab))
        store = Store.open(lab.results_directory)
        try:
            return _sweep(lab, remote, store, new=new, kind=kind, observer=Observers(*observers))
        finally:
            store.close()


def start_monitoring(lab: Lab) -> SweepExporter:
    """Prometheus (started once, reused) and the orchestrator's exporter for this run."""
    prometheus = Prometheus.for_lab(lab)
    url = prometheus.ensure_running()
    exporter = SweepExporter(lab)
    try:
        exporter.serve()
    except OSError as error:
        warn(f"the orchestrator's exporter cannot listen ({error.strerror}): no live point metrics")
    console.print(f"prometheus: {url} (1 s scrapes, data in {prometheus.directory or url})")
    if lab.monitoring.grafana.url:
        try:
            publish_dashboards(lab, url)
        except TestbedError as error:
            warn(f"{error.message}: the sweep goes on without Grafana")
    return exporter


def publish_dashboards(lab: Lab, prometheus_url: str) -> None:
    """Publish the data source and dashboards to the lab's Grafana (TestbedError if it can't)."""
    settings = lab.monitoring.grafana
    assert settings.url is not None
    token = os.environ.get(settings.token_env)
    if not token:
        raise TestbedError(
            f"grafana at {settings.url}: the environment variable {settings.token_env} "
            "(monitoring.grafana.token_env) holds no API token"
        )
    result = grafana.publish(
        settings.url,
        token,
        settings.prometheus_url or prometheus_url,
        settings.folder,
        lab.name,
        reports_url=(lab.results_directory.resolve() / "reports").as_uri(),
    )
    changes = ", ".join(f"{name} {change}" for name, change in result.changes.items())
    console.print(f"grafana {settings.url}: {changes}")


def _sweep(
    lab: Lab,
    remote: Remote,
    store: Store,
    *,
    new: bool,
    kind: str,
    observer: SweepObserver | None,
) -> UpResult:
    progress = SweepProgress(console, lab.experiment.retries)
    runner = SweepRunner(lab, remote, store, Observers(progress, *([observer] if observer else [])))
    left = runner.stop_leftovers()
    for host, names in left.items():
        warn(f"{host}: stopped {', '.join(names)} left by an earlier run")
    workloads = runner.prepare_workloads()
    sweep = _resumable(lab, store) if not new else None
    if sweep is None:
        seed = lab.experiment.seed
        seed = random.SystemRandom().randrange(2**31) if seed is None else seed
        plan = expand(lab.experiment, seed)
        facts = hostfacts.gather(lab, remote)
        sweep = store.create_sweep(
            lab=lab.name,
            digest=plan_digest(lab),
            seed=seed,
            points_planned=len(plan),
            lab_file=lab.text,
            inventory=lab.inventory_text,
            revision=revision(),
            hosts=facts,
            settings={**_settings(lab), "versions": sweep_versions(facts)},
            workloads=workloads,
            kind=kind,
        )
        console.print(f"sweep [bold]{sweep.id}[/]: {len(plan)} points, run-order seed {seed}")
    else:
        store.set_sweep_status(sweep.id, "running")
        plan = expand(lab.experiment, sweep.seed)
    log = ui.log_to(store.path.parent / "logs" / f"{sweep.id}.log")
    if log is not None:
        console.print(f"log: {log}")
    done = store.done_keys(sweep.id)
    todo: list[tuple[int, Point]] = [
        (seq, point) for seq, point in enumerate(plan) if point.key not in done
    ]
    if done:
        console.print(f"sweep [bold]{sweep.id}[/]: resuming, {len(done)} of {len(plan)} done")
    try:
        outcome = runner.run(sweep, todo, len(plan))
    except KeyboardInterrupt:
        store.finish_sweep(sweep.id, "interrupted", SweepSummary(interrupted=True))
        raise TestbedError(
            f"interrupted: the point in progress is stored as interrupted; "
            f"`orchestrate up {lab.path}` resumes sweep {sweep.id}",
            exit_code=EXIT_INTERRUPTED,
        ) from None
    status = "failed" if outcome.failed else "complete"
    store.finish_sweep(sweep.id, status, outcome.summary)
    print_summary(sweep, outcome, store)
    write_sweep_report(store, sweep)
    return UpResult(sweep, outcome, str(store.path))


def write_sweep_report(store: Store, sweep: Sweep) -> None:
    """Write the sweep's report and say where it is. The sweep is stored whatever happens here,
    so any failure, a bug included, is a warning and never the sweep's exit status."""
    try:
        written = write_report(store, sweep.id)
    except Exception as error:
        warn(f"the report of sweep {sweep.id} could not be written: {error}")
        return
    console.print(f"report: {written.index}")


def _resumable(lab: Lab, store: Store) -> Sweep | None:
    previous = store.resumable(lab.name)
    if previous is None:
        return None
    if previous.digest != plan_digest(lab):
        console.print(
            f"the plan in {lab.path} changed since sweep {previous.id} stopped: "
            "starting a new sweep"
        )
        store.set_sweep_status(previous.id, "abandoned")
        return None
    return previous


def _settings(lab: Lab) -> dict[str, Any]:
    return {
        "experiment": dataclasses.asdict(lab.experiment),
        "emulate": lab.emulate,
        "client_starvation_check": not clients_share_cpus(lab),
        "subnets": {name: str(network) for name, network in lab.subnets.items()},
    }


def sweep_versions(facts: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """settings["versions"]: what the orchestrator ran with (its version, git revision, Python
    and Python dependencies) and each host's kernel, httperf, compiler and Python."""
    return {**local_versions(), "hosts": hostfacts.versions(facts)}


def print_summary(sweep: Sweep, outcome: SweepOutcome, store: Store) -> None:
    summary = outcome.summary
    table = Table(title=f"sweep {sweep.id}", show_header=False)
    table.add_column("what")
    table.add_column("value")
    rows = [
        ("points run now", str(summary.points_run)),
        (
            "ok / client-limited / failed",
            f"{summary.ok} / {summary.client_limited} / {len(summary.failed)}",
        ),
        ("wall time", f"{summary.wall_seconds:.0f} s"),
        (
            "measurement fraction",
            f"{summary.measurement_fraction:.1%} (the paper's fixed protocol: 50.0%)",
        ),
        (
            "overhead per point (mean / max)",
            _pair(summary.overhead_seconds_mean, summary.overhead_seconds_max),
        ),
        ("cooldown per point (mean)", _pair(summary.cooldown_seconds_mean, None)),
        ("results", str(store.path)),
    ]
    for name, value in rows:
        table.add_row(name, value)
    console.print(table)
    for failure in summary.failed:
        error_line(f"failed: {failure}")


def _pair(first: float | None, second: float | None) -> str:
    parts = [f"{value:.1f} s" for value in (first, second) if value is not None]
    return " / ".join(parts) or "-"
