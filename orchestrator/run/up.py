"""`orchestrate up`: take a lab from nothing to a finished, stored sweep.

    result = run_up(lab)            # UpResult: the sweep, its outcome, the exit status

Steps: create the emulated lab if needed, preflight, provision, then (holding the lab's run
lock) continue the lab's unfinished sweep when its plan is unchanged or start a new one, stop
whatever a dead run left on the hosts, write the workload files, run every point not yet done
and then Table 1's profiling pass (`run.profiling`), print the summary and write the sweep's
report. Ctrl-C stores the point in progress as
interrupted and re-raises.
"""

from __future__ import annotations

import dataclasses
import os
import random
import time
from dataclasses import dataclass
from typing import Any

from orchestrator.config.model import Lab
from orchestrator.config.plan import Point, expand, plan_digest, profile_size
from orchestrator.config.redact import display_url, redact_yaml
from orchestrator.errors import EXIT_INTERRUPTED, TestbedError
from orchestrator.lab import hostfacts
from orchestrator.lab.preflight import most_idle, run_preflight
from orchestrator.lab.remote import Remote
from orchestrator.monitoring import grafana
from orchestrator.monitoring.exporter import SweepExporter
from orchestrator.report.write import write_report
from orchestrator.results.records import MEASURED, Sweep, SweepSummary
from orchestrator.results.store import Store
from orchestrator.run import limits
from orchestrator.run.hostproc import HostProcesses
from orchestrator.run.knee import Curves
from orchestrator.run.lock import LabLock
from orchestrator.run.plansummary import plan_summary
from orchestrator.run.profiling import PROFILE_RATES, choose_rates, profile_plan, rates_settings
from orchestrator.run.seams import Seams
from orchestrator.run.summary import sweep_summary
from orchestrator.run.sweep import (
    Observers,
    SweepObserver,
    SweepOutcome,
    SweepRunner,
    clients_share_cpus,
)
from orchestrator.run.view import View
from orchestrator.version import local_versions, revision

REAL = Seams()


@dataclass
class UpResult:
    sweep: Sweep
    outcome: SweepOutcome
    store_path: str

    @property
    def exit_code(self) -> int:
        return 1 if self.outcome.failed else 0


# -- the steps before a sweep ---------------------------------------------------------------------


def lab_up(lab: Lab, view: View, seams: Seams = REAL) -> None:
    started = time.monotonic()
    seams.lab_builder(lab, warn=view.warn, note=view.info).up()
    view.info(
        f"lab [bold]{lab.name}[/]: {len(lab.hosts)} hosts up ({time.monotonic() - started:.1f} s)"
    )


def preflight(lab: Lab, view: View, seams: Seams = REAL) -> Lab:
    """Check every host; returns the lab with what only its hosts can say filled in (the
    value of `idle_connections: max`)."""
    if lab.built_here and not seams.lab_builder(lab).exists():
        raise TestbedError(f"lab '{lab.name}' is not up: run `orchestrate lab up {lab.path}`")
    with seams.remote(lab) as remote:
        report = run_preflight(lab, remote)
    view.preflight(report)
    if report.failed:
        raise TestbedError(f"preflight failed on {report.summary()}")
    if not lab.experiment.idle_max:
        return lab
    found = most_idle(lab, report)
    if found is None or found.value <= 0:
        raise TestbedError(
            f"{lab.path}: experiment.idle_connections: max: the hosts' open-file limits"
            f" {'were not all reported' if found is None else 'allow no idle connections'}"
        )
    view.info(f"idle connections: max is {found.value:,} here ({found.why})")
    return dataclasses.replace(lab, experiment=lab.experiment.with_idle_max(found.value, found.why))


def provision(lab: Lab, view: View, seams: Seams = REAL, *, always: bool = True) -> None:
    """Run the playbooks; with `always` False (`up`), not when nothing they depend on changed
    since their last success on this lab (a lab built here: `Ansible.unchanged_since`)."""
    ansible = seams.ansible(lab)
    since = None if always else ansible.unchanged_since("site.yml")
    if since is not None:
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(since))
        view.info(
            f"provisioning: skipped, nothing it depends on changed since it succeeded at {when}"
            f" (playbooks, sources, inventory, hosts); `orchestrate provision {lab.path}` runs it"
        )
        return
    with view.playbook(len(lab.hosts)) as on_event:
        result = ansible.run("site.yml", on_event=on_event)
    view.provisioned(lab, result)
    if not result.succeeded:
        hosts = ", ".join(result.unreachable) or "see above"
        raise TestbedError(f"provisioning failed ({result.status}; {hosts})")
    ansible.remember("site.yml")


# -- the sweep ------------------------------------------------------------------------------------


def run_up(
    lab: Lab,
    view: View,
    *,
    new: bool = False,
    kind: str = "manual",
    observer: SweepObserver | None = None,
    seams: Seams = REAL,
) -> UpResult:
    """The whole of `orchestrate up`; see the module docstring. `seams` builds the outside
    systems (SSH, the store, Ansible, Prometheus); tests may replace any."""
    for line in plan_summary(lab, new=new).describe():
        view.info(line)
    seams.prometheus(lab).check_port()  # before the lab, preflight and provisioning
    if lab.built_here:
        lab_up(lab, view, seams)
    lab = preflight(lab, view, seams)
    provision(lab, view, seams, always=False)
    with LabLock(lab.name, purpose="up"), seams.remote(lab) as remote:
        observers = [observer] if observer else []
        observers.append(start_monitoring(lab, view, seams))
        store = seams.store(lab.results_directory)
        try:
            procs = seams.processes(remote, lab.name)
            observing = Observers(*observers)
            return _sweep(lab, remote, procs, store, view, new=new, kind=kind, observer=observing)
        finally:
            store.close()


def start_monitoring(lab: Lab, view: View, seams: Seams = REAL) -> SweepExporter:
    """Prometheus (started once, reused) and the orchestrator's exporter for this run."""
    prometheus = seams.prometheus(lab)
    url = prometheus.ensure_running()
    exporter = SweepExporter(lab)
    try:
        exporter.serve()
    except OSError as error:
        view.warn(
            f"the orchestrator's exporter cannot listen ({error.strerror}): no live point metrics"
        )
    shown = display_url(url)  # an external one may carry credentials
    view.info(f"prometheus: {shown} (1 s scrapes, data in {prometheus.directory or shown})")
    if lab.monitoring.grafana.url:
        try:
            view.info(publish_dashboards(lab, url))
        except TestbedError as error:
            view.warn(f"{error.message}: the sweep goes on without Grafana")
    return exporter


def publish_dashboards(lab: Lab, prometheus_url: str) -> str:
    """Publish the data source and dashboards to the lab's Grafana (TestbedError if it can't);
    returns what changed, as a line."""
    settings = lab.monitoring.grafana
    assert settings.url is not None
    token = os.environ.get(settings.token_env)
    if not token:
        raise TestbedError(
            f"grafana at {display_url(settings.url)}: the environment variable"
            f" {settings.token_env} (monitoring.grafana.token_env) holds no API token"
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
    return f"grafana {display_url(settings.url)}: {changes}"


def _sweep(
    lab: Lab,
    remote: Remote,
    procs: HostProcesses,
    store: Store,
    view: View,
    *,
    new: bool,
    kind: str,
    observer: SweepObserver | None,
) -> UpResult:
    progress = view.sweep_progress(lab.experiment.retries)
    observers = Observers(progress, *([observer] if observer else []))
    runner = SweepRunner(lab, remote, store, observers, procs=procs)
    left = runner.stop_leftovers()
    for host, names in left.items():
        view.warn(f"{host}: stopped {', '.join(names)} left by an earlier run")
    workloads = runner.prepare_workloads()
    sweep, plan = _open_sweep(lab, remote, store, view, workloads, new=new, kind=kind)
    view.sweep_log(store.path.parent / "logs" / f"{sweep.id}.log")
    done = store.done_keys(sweep.id)
    todo: list[tuple[int, Point]] = [
        (seq, point) for seq, point in enumerate(plan) if point.key not in done
    ]
    total = len(plan) + profile_size(lab.experiment)
    curves = Curves(lab.experiment.knee, lab.experiment.repeat_top)
    if done:
        curves.restore(store.points(sweep.id), plan)  # the curves that ended before, again
        view.info(f"sweep [bold]{sweep.id}[/]: resuming, {len(done)} of {total} done")
    if lab.experiment.knee:
        top = lab.experiment.rates[-1]
        view.info(
            f"knee search: each curve climbs until it saturates, its clients fall behind,"
            f" or {top:,.0f} requests/s"
        )

    def profiling() -> list[tuple[int, Point]]:
        return _profiling_pass(lab, store, sweep, done, first=len(plan), view=view)

    try:
        outcome = runner.run(sweep, todo, total, curves, then=profiling, done=len(done))
    except KeyboardInterrupt:
        _clear_network(runner, view)
        store.finish_sweep(sweep.id, "interrupted", SweepSummary(interrupted=True))
        raise TestbedError(
            f"interrupted: the point in progress is stored as interrupted; "
            f"`orchestrate up {lab.path}` resumes sweep {sweep.id}",
            exit_code=EXIT_INTERRUPTED,
        ) from None
    _clear_network(runner, view)
    _finish_sweep(lab, store, sweep, plan, todo, outcome, view)
    return UpResult(sweep, outcome, str(store.path))


def _open_sweep(
    lab: Lab,
    remote: Remote,
    store: Store,
    view: View,
    workloads: dict[str, Any],
    *,
    new: bool,
    kind: str,
) -> tuple[Sweep, list[Point]]:
    """The lab's unfinished sweep when its plan is unchanged (and not `new`), else a new one
    with the hosts' facts; with its plan, in run order."""
    sweep = _resumable(lab, store, view) if not new else None
    if sweep is not None:
        store.set_sweep_status(sweep.id, "running")
        return sweep, expand(lab.experiment, sweep.seed)
    seed = lab.experiment.seed
    seed = random.SystemRandom().randrange(2**31) if seed is None else seed
    plan = expand(lab.experiment, seed)
    facts = hostfacts.gather(lab, remote)
    sweep = store.create_sweep(
        lab=lab.name,
        digest=plan_digest(lab),
        seed=seed,
        points_planned=len(plan) + profile_size(lab.experiment),
        lab_file=redact_yaml(lab.text),  # a store is shared and shown: never a secret
        inventory=redact_yaml(lab.inventory_text),
        revision=revision(),
        hosts=facts,
        settings={**_settings(lab), "versions": sweep_versions(facts)},
        workloads=workloads,
        kind=kind,
    )
    profiled = profile_size(lab.experiment)
    extra = f" and {profiled} profiling Table 1" if profiled else ""
    view.info(f"sweep [bold]{sweep.id}[/]: {len(plan)} points{extra}, run-order seed {seed}")
    return sweep, plan


def _finish_sweep(
    lab: Lab,
    store: Store,
    sweep: Sweep,
    plan: list[Point],
    todo: list[tuple[int, Point]],
    outcome: SweepOutcome,
    view: View,
) -> None:
    """Judge the stored points again, store the curves' endings and the sweep's summary (into
    `outcome` too), say so and write the report."""
    status = "failed" if outcome.failed else "complete"
    # Each point was judged with the evidence of the points before it; judged again with the
    # whole sweep's, its final verdict is stored, and the curves' endings follow from those.
    final = rejudge_stored(store, sweep.id, plan)
    for record in outcome.records:
        if record.point.key in final:
            record.status, record.reason = final[record.point.key]
    curves = Curves(lab.experiment.knee, lab.experiment.repeat_top)
    curves.restore(store.points(sweep.id), plan)
    curves.finish(plan, store.done_keys(sweep.id))
    store.update_settings(sweep.id, curves.settings())
    summary = outcome.summary
    outcome.summary = dataclasses.replace(
        sweep_summary(outcome.records, summary.wall_seconds, summary.interrupted),
        client_capacity=curves.capacity().describe(),
        curve_endings=tuple(curves.describe()),
        skipped=len(
            {p.key for _, p in todo}
            - {r.point.key for r in outcome.records if not r.point.profiling}
        ),
    )
    store.finish_sweep(sweep.id, status, outcome.summary)
    view.sweep_done(sweep, outcome.summary, store.path)
    write_sweep_report(store, sweep, view)


def rejudge_stored(store: Store, sweep_id: str, plan: list[Point]) -> dict[str, tuple[str, str]]:
    """Judge every measured point of a sweep again with the whole sweep's evidence
    (`limits.rejudge`) and store the verdicts that changed: {key: (status, reason)}."""
    planned = {point.key: point for point in plan}
    rows = [
        row
        for row in store.points(sweep_id)
        if row.status in (*MEASURED, "client-limited") and row.key in planned
    ]
    facts = [limits.PointFacts.of_stored(row, planned[row.key]) for row in rows]
    changed = {}
    for row, verdict in zip(rows, limits.rejudge(facts), strict=True):
        reason = verdict.evidence if verdict.status != "ok" else ""
        if (verdict.status, reason) != (row.status, row.reason):
            store.set_verdict(sweep_id, row.key, verdict.status, reason)
            changed[row.key] = (verdict.status, reason)
    return changed


def _profiling_pass(
    lab: Lab, store: Store, sweep: Sweep, done: set[str], first: int, view: View
) -> list[tuple[int, Point]]:
    """Table 1's profiling pass, planned once the throughput points are stored (its rates come
    from them, `run.profiling`): the points not yet done, numbered on from `first`."""
    if lab.experiment.profile is None:
        return []
    choices = choose_rates(lab.experiment, store.points(sweep.id))
    store.update_settings(sweep.id, {PROFILE_RATES: rates_settings(choices)})
    points = profile_plan(lab.experiment, choices, sweep.seed)
    for (workload, idle, _), choice in choices.items():
        at = f"at {choice.rate:,.0f} requests/s" if choice.rate is not None else "not run"
        view.info(f"profiling pass (Table 1), {workload} with {idle:,} idle: {at} ({choice.why})")
    return [(first + n, p) for n, p in enumerate(points) if p.key not in done]


def _clear_network(runner: SweepRunner, view: View) -> None:
    """The clients' links back to plain after the sweep: a lab is left as it was found."""
    try:
        runner.points.conditions.clear()
    except TestbedError as error:
        view.warn(f"{error.message}: `orchestrate down` removes the WAN conditions")


def write_sweep_report(store: Store, sweep: Sweep, view: View) -> None:
    """Write the sweep's report and say where it is. The sweep is stored whatever happens here,
    so any failure, a bug included, is a warning and never the sweep's exit status."""
    try:
        written = write_report(store, sweep.id)
    except Exception as error:
        view.warn(f"the report of sweep {sweep.id} could not be written: {error}")
        return
    view.info(f"report: {written.index}")


def _resumable(lab: Lab, store: Store, view: View) -> Sweep | None:
    previous = store.resumable(lab.name)
    if previous is None:
        return None
    if previous.digest != plan_digest(lab):
        view.info(
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
        "lab_kind": lab.kind,
        "client_starvation_check": not clients_share_cpus(lab),
        "load": {"engine": lab.load.engine},  # the load generator every client ran
        "server_cpu": {"limit": lab.server_cpu.limit},  # the server's CPU cap in cores, or None
        "subnets": {name: str(network) for name, network in lab.subnets.items()},
    }


def sweep_versions(facts: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """settings["versions"]: what the orchestrator ran with (its version, git revision, Python
    and Python dependencies) and each host's kernel, httperf, compiler and Python."""
    return {**local_versions(), "hosts": hostfacts.versions(facts)}
