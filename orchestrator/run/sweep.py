"""Running the points of a sweep on the lab, each committed to the store the moment it ends.

    runner = SweepRunner(lab, remote, store, observer)
    workloads = runner.prepare_workloads()
    outcome = runner.run(sweep, plan, total, curves)  # plan: points still to run, in run order

Each point runs as `run.point` says: start, idle, warm-up, measure, stop and cooldown, then
judged with the evidence of the sweep so far. A failed point is stored with its reason and
retried up to `experiment.retries` times, as is a client-limited near miss
(`summary.near_miss`); every attempt is stored. Ctrl-C stores the point in progress as
interrupted, stops everything on the hosts and re-raises. With `curves` (`run.knee`), points
past their curve's end are skipped. `then` plans Table 1's profiling pass once the plan's
points are stored; its points (`Point.profiling`, CPU-timed, `experiment.profile.duration`)
belong to no curve."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from orchestrator.config.model import Host, Lab
from orchestrator.config.plan import Point
from orchestrator.errors import TestbedError
from orchestrator.lab.remote import Remote
from orchestrator.results.records import PointRecord, Sweep, SweepSummary
from orchestrator.results.writer import SweepWriter
from orchestrator.run import commands, limits
from orchestrator.run.hostproc import HostProcesses
from orchestrator.run.idleagents import IdleControl
from orchestrator.run.knee import Curves
from orchestrator.run.loadagents import LoadControl, clients_share_cpus
from orchestrator.run.observe import Observers, SweepObserver
from orchestrator.run.point import CounterReader, PointInterrupted, PointRunner
from orchestrator.run.summary import sweep_summary

__all__ = ["Observers", "SweepObserver", "SweepOutcome", "SweepRunner", "clients_share_cpus"]


@dataclass
class SweepOutcome:
    records: list[PointRecord] = field(default_factory=list)  # final attempt of each point run
    failed: list[PointRecord] = field(default_factory=list)
    interrupted: bool = False
    summary: SweepSummary = field(default_factory=SweepSummary)


class SweepRunner:
    """Runs points on a lab (see the module docstring). Clock, sleep, counter reader, host
    processes and the agents' control are parameters: the sequencing is tested without a lab.
    `points` runs each one (`run.point.PointRunner`)."""

    def __init__(
        self,
        lab: Lab,
        remote: Remote,
        store: SweepWriter,
        observer: SweepObserver,
        *,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        counters: CounterReader | None = None,
        procs: HostProcesses | None = None,
        load_control: LoadControl | None = None,
        idle_control: IdleControl | None = None,
    ) -> None:
        self.lab = lab
        self.remote = remote
        self.store = store
        self.observer = observer
        self.clock = clock
        self.experiment = lab.experiment
        self.points = PointRunner(
            lab,
            remote,
            observer,
            clock=clock,
            sleep=sleep,
            counters=counters,
            procs=procs,
            load_control=load_control,
            idle_control=idle_control,
        )
        self.evidence: list[limits.PointFacts] = []  # the sweep's points so far (`run.limits`)

    # -- the sweep ---------------------------------------------------------------------------

    def stop_leftovers(self) -> dict[str, list[str]]:
        """Stop whatever a previous (dead) run left on the hosts; {host: [process names]}."""
        results = self.points.procs.stop_all(self.lab.hosts, grace=2.0)
        return {name: result.stdout.split() for name, result in results.items() if result.stdout}

    def prepare_workloads(self) -> dict[str, Any]:
        """Write the file set on the server and a session trace per client, from the seed."""
        spec = self.experiment.specweb99
        server = self.lab.server
        fileset = self.remote.run(server, commands.fileset_command(server, spec), timeout=300)
        if not fileset.ok:
            raise TestbedError(f"{server.name}: writing the file set failed: {fileset.reason()}")
        workloads: dict[str, Any] = {"seed": spec.seed, "fileset": json.loads(fileset.stdout)}
        if "specweb99" in self.experiment.workloads:
            count = len(self.lab.clients)

            def sessions(host: Host) -> str:
                return commands.sessions_command(host, spec, self.lab.clients.index(host), count)

            results = self.remote.run_all(self.lab.clients, sessions, timeout=120)
            failed = [f"{name}: {r.reason()}" for name, r in results.items() if not r.ok]
            if failed:
                raise TestbedError(f"writing session traces failed: {'; '.join(failed)}")
            workloads["sessions"] = {name: json.loads(r.stdout) for name, r in results.items()}
            self.points.session_lengths = {
                name: float(stats["mean_requests_per_session"])
                for name, stats in workloads["sessions"].items()
            }
        return workloads

    def run(
        self,
        sweep: Sweep,
        plan: list[tuple[int, Point]],
        total: int,
        curves: Curves | None = None,
        *,
        then: Callable[[], list[tuple[int, Point]]] | None = None,
        done: int | None = None,
    ) -> SweepOutcome:
        """Run `plan` ([(seq, point)] not yet done), storing every attempt; see the docstring.
        `then` plans the points that follow once `plan` is stored (Table 1's profiling pass,
        whose rates come from the throughput points); `done`: points of `total` already stored
        (default: those not in `plan`)."""
        outcome = SweepOutcome()
        started = self.clock()
        self.evidence = list(curves.facts) if curves is not None else []
        self.observer.sweep_started(sweep, total, total - len(plan) if done is None else done)
        try:
            for seq, point in _then(plan, then):
                # A profiling point belongs to no curve: it neither ends nor skips one.
                curve = curves if not point.profiling else None
                if curve is not None and curve.skip(point):
                    continue
                for attempt in range(1, self.experiment.retries + 2):
                    self.observer.point_started(seq, point, attempt)
                    record = self.points.run_point(seq, point, attempt, self.evidence)
                    self.store.record_point(sweep.id, record)
                    self.observer.point_finished(record)
                    if record.status != "failed" and not record.near_miss:
                        break
                outcome.records.append(record)
                # A profiling point's server times its calls (~30 % dearer per reply): it is
                # no evidence of what the clients or the server can do in the curves.
                if record.status != "failed" and not point.profiling:
                    self.evidence.append(limits.PointFacts.of_record(record))
                if curve is not None and curve.add_record(record):
                    self.store.update_settings(sweep.id, curve.settings())
                if record.status == "failed":
                    outcome.failed.append(record)
        except PointInterrupted as stop:
            self.store.record_point(sweep.id, stop.record)
            self.observer.point_finished(stop.record)
            outcome.interrupted = True
            raise KeyboardInterrupt from None
        finally:
            self.points.close()
            outcome.summary = sweep_summary(
                outcome.records, self.clock() - started, outcome.interrupted
            )
            self.observer.sweep_finished(outcome.summary)
        return outcome


def _then(
    plan: list[tuple[int, Point]], then: Callable[[], list[tuple[int, Point]]] | None
) -> Iterator[tuple[int, Point]]:
    """`plan`'s points, then those `then` plans once they are all run."""
    yield from plan
    if then is not None:
        yield from then()
