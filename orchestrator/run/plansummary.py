"""What `orchestrate up` will do for a lab, before it does it: the points, what it creates, and an
estimate of the wall time. `orchestrate plan` prints it; `up` prints it before it starts.

    summary = plan_summary(lab)                  # reads the store if there is one, never creates it
    summary.points, summary.creates, summary.estimated_seconds, summary.basis

The estimate is points × (warm-up + measurement + overhead per point). The overhead (starting
and stopping the server, opening idle connections, collecting results, cooling down) is this
lab's own: the median, over the points of its latest sweep that finished, of each point's wall
time less its warm-up and measurement. A lab that never ran gets `DEFAULT_OVERHEAD`, and says so.
Points an unfinished sweep already holds are not run again (`up` resumes), so they are left out.
"""

from __future__ import annotations

import resource
import statistics
from collections import Counter
from dataclasses import dataclass

from orchestrator.config.model import Lab
from orchestrator.config.plan import PROFILE_SUFFIX, Point, expand, profile_size
from orchestrator.lab.preflight import idle_max
from orchestrator.results.records import FINAL_STATUSES
from orchestrator.results.schema import STORE_FILE
from orchestrator.results.store import Store
from orchestrator.run.knee import upper_bound

DEFAULT_OVERHEAD = 30.0  # seconds per point beyond warm-up and measurement, when none measured
MEASURED, DEFAULT = "measured", "default"


@dataclass(frozen=True)
class PlanSummary:
    """The plan of a lab's next `up`, as data (`describe` turns it into lines)."""

    lab: str
    points: tuple[Point, ...]
    to_run: int  # points still to run (an unfinished sweep is resumed)
    resumes: str | None  # the sweep `up` resumes, if any
    creates: tuple[str, ...]  # what `up` creates that does not exist yet
    per_point_seconds: float  # warm-up + measurement + overhead
    overhead_seconds: float
    basis: str  # MEASURED (from `measured_points` of sweep `measured_sweep`) or DEFAULT
    measured_points: int = 0
    measured_sweep: str | None = None
    knee: bool = False  # a knee search: `points` is its upper bound (every curve to the top)
    repeat_top: int | None = None
    idle_note: str | None = None  # how `idle_connections: max` was counted before preflight
    # Table 1's profiling pass (`experiment.profile`), after the throughput points: its points
    # (at most: a group may find no rate), those still to run and each one's seconds.
    profile_points: int = 0
    profile_to_run: int = 0
    profile_per_point_seconds: float = 0.0
    profile_rate: str = ""  # how its rate is chosen, as a phrase
    engine: str = "httperf"  # the clients' load generator (`load: {engine: ...}`)
    server_cpu_limit: float | None = None  # the server's CPU cap in cores (`server_cpu`)

    @property
    def estimated_seconds(self) -> float:
        return (
            self.to_run * self.per_point_seconds
            + self.profile_to_run * self.profile_per_point_seconds
        )

    def counts(self) -> dict[str, Counter[str]]:
        """How many points per curve (mechanism, or server), workload, idle count,
        accept-limit, rate and network profile (when the plan has that axis)."""
        counts = {
            "mechanism": Counter(p.series for p in self.points),
            "workload": Counter(p.workload for p in self.points),
            "idle connections": Counter(str(p.idle_connections) for p in self.points),
            "accept-limit": Counter(p.labels()["accept_limit"] for p in self.points),
            "rate": Counter(f"{p.rate:g}" for p in self.points),
        }
        if any(p.network for p in self.points):
            counts["network"] = Counter(p.network for p in self.points)
        return counts

    def describe(self) -> list[str]:
        """The summary as lines for the terminal."""
        at_most = "at most " if self.knee else ""
        extra = f" + {self.profile_points} profiling Table 1" if self.profile_points else ""
        lines = [f"plan of lab {self.lab}: {at_most}{len(self.points)} points{extra}"]
        if self.knee:
            rates = sorted({p.rate for p in self.points})
            lines.append(
                f"  knee search: each curve climbs {len(rates)} rates, {rates[0]:,.0f} to"
                f" {rates[-1]:,.0f} requests/s, and stops once its server saturated (at its"
                " cores' limit serving short while its clients ran out, or two points below"
                " 95 % served) or its clients fell behind while it had headroom; the counts and"
                " time below are for every curve reaching the top"
                + (
                    "; later repetitions measure again only the"
                    + (f" {self.repeat_top} rates" if self.repeat_top > 1 else " rate")
                    + " where the first served the most and the highest rate every curve was ok"
                    " at (where curves are compared by CPU per reply)"
                    if self.repeat_top
                    else ""
                )
            )
        for name, counter in self.counts().items():
            values = ", ".join(f"{value} ({n})" for value, n in counter.items())
            lines.append(f"  {name}: {values}")
        lines.append(f"  load generator: {self.engine} on every client")
        if self.server_cpu_limit is not None:
            lines.append(
                f"  server CPU: capped at {self.server_cpu_limit:g} of a core (`server_cpu`)"
            )
        if self.idle_note:
            lines.append(f"  {self.idle_note}")
        if self.profile_points:
            lines.append(
                f"  profiling pass (Table 1's CPU profile, --syscall-timing cpu, stored apart from"
                f" the curves): at most {self.profile_points} points, {self.profile_rate},"
                f" {self.profile_per_point_seconds:.0f} s each"
            )
        if self.resumes:
            left = self.to_run + self.profile_to_run
            lines.append(f"  resumes sweep {self.resumes}: {left} points left to run")
        lines.append("  creates: " + ("; ".join(self.creates) or "nothing (all present)"))
        if self.basis == MEASURED:
            where = (
                f"overhead {self.overhead_seconds:.0f} s per point measured on this lab"
                f" (median of {self.measured_points} points of sweep {self.measured_sweep})"
            )
        else:
            where = (
                f"overhead {self.overhead_seconds:.0f} s per point: a default, this lab has no"
                " finished point yet"
            )
        lines.append(
            f"  estimated wall time: {at_most}{_duration(self.estimated_seconds)}"
            f" ({self.per_point_seconds:.0f} s per point: warm-up + measurement + {where})"
        )
        return lines


def plan_summary(lab: Lab, new: bool = False) -> PlanSummary:
    """What the next `up` of `lab` will run and create, and how long it should take; `new`: a
    new sweep even if one is unfinished (`up --new`)."""
    experiment = lab.experiment
    idle_note = None
    if experiment.idle_max and experiment.idle_max_value is None:
        # Only the hosts know their limits (`up` reads them at preflight); this machine's own is
        # the best guess, and the emulated lab's hosts have exactly it.
        hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
        hard = hard if hard != resource.RLIM_INFINITY else 1 << 62
        guess = idle_max(hard, [hard] * len(lab.clients))
        experiment = experiment.with_idle_max(guess.value, guess.why)
        idle_note = (
            f"idle connections: max counted as {guess.value:,}, this machine's ({guess.why});"
            " `up` reads each host's limit at preflight"
        )
    points = tuple(expand(experiment, experiment.seed or 0))
    if experiment.knee:
        points = tuple(upper_bound(points, experiment.repeat_top))
    store_path = lab.results_directory / STORE_FILE
    overhead, measured, sweep_id, resumes, done = DEFAULT_OVERHEAD, 0, None, None, 0
    profile_done = 0
    if store_path.exists():
        store = Store.open(store_path, readonly=True)
        try:
            found = _measured_overhead(store, lab.name)
            if found is not None:
                overhead, measured, sweep_id = found
            unfinished = None if new else store.resumable(lab.name)
            if unfinished is not None:
                keys = store.done_keys(unfinished.id)
                profile_done = sum(1 for key in keys if key.endswith(PROFILE_SUFFIX))
                resumes, done = unfinished.id, len(keys) - profile_done
        finally:
            store.close()
    to_run = max(0, len(points) - done) if resumes else len(points)
    profiled = profile_size(experiment)
    profile_to_run = max(0, profiled - profile_done) if resumes else profiled
    pass_ = experiment.profile
    return PlanSummary(
        lab=lab.name,
        points=points,
        to_run=to_run,
        resumes=resumes,
        creates=_creates(lab, store_path.exists()),
        per_point_seconds=experiment.warmup + experiment.duration + overhead,
        overhead_seconds=overhead,
        basis=MEASURED if measured else DEFAULT,
        measured_points=measured,
        measured_sweep=sweep_id,
        knee=experiment.knee,
        repeat_top=experiment.repeat_top,
        idle_note=idle_note,
        profile_points=profiled,
        profile_to_run=profile_to_run,
        profile_per_point_seconds=(
            experiment.warmup + pass_.duration + overhead if pass_ is not None else 0.0
        ),
        profile_rate=(
            ""
            if pass_ is None
            else f"at {pass_.rate:,.0f} requests/s"
            if pass_.rate is not None
            else "each group at the highest rate every mechanism was ok"
        ),
        engine=lab.load.engine,
        server_cpu_limit=lab.server_cpu.limit,
    )


def _measured_overhead(store: Store, lab: str) -> tuple[float, int, str] | None:
    """The median per-point overhead of the lab's latest sweep with finished points."""
    for sweep in reversed(store.sweeps(lab)):
        overheads = [
            p.wall_seconds - (p.warmup_seconds or 0.0) - (p.measure_seconds or 0.0)
            for p in store.points(sweep.id)
            if p.status in FINAL_STATUSES and p.ended_at > p.started_at
        ]
        overheads = [max(0.0, value) for value in overheads]
        if overheads:
            return statistics.median(overheads), len(overheads), sweep.id
    return None


def _creates(lab: Lab, store_exists: bool) -> tuple[str, ...]:
    created = []
    if lab.emulate:
        from orchestrator.lab.emulated import EmulatedLab  # ip netns: only for emulated labs

        emulated = EmulatedLab(lab)
        if not emulated.exists():
            created.append(
                f"an emulated lab: {len(lab.hosts)} network namespaces with sshd,"
                f" {len(emulated.bridges)} bridges and their veth pairs"
            )
    if lab.monitoring.prometheus.url is None:
        created.append("Prometheus for the lab (if not running yet)")
    if not store_exists:
        created.append(f"the results store {lab.results_directory / STORE_FILE}")
    created.append(f"a report under {lab.results_directory / 'reports'}")
    return tuple(created)


def _duration(seconds: float) -> str:
    minutes, second = divmod(round(seconds), 60)
    hours, minute = divmod(minutes, 60)
    return f"{hours} h {minute:02d} min" if hours else f"{minute} min {second:02d} s"
