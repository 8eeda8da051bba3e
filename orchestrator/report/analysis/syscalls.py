"""The paper's Table 1: where the server's time goes, per system call and mechanism, at one rate.

    table = syscall_table(data, "one-byte", 0, "inf")            # default rate
    table = syscall_table(data, "one-byte", 0, "inf", rate=6000)  # --profile-rate
    table.rows[0].cells["select"].percent, .calls

A cell is one call's share of the server's CPU seconds over the measurement, mean over the runs
at the table's rate: the paper's Table 1 is a gprof CPU profile, each column ≤ 100 %.

Where the runs come from (`source`):
- the sweep's *profiling pass* (`experiment.profile`, stored apart from the throughput points:
  `SweepData.profile`): one point per mechanism at one rate near saturation, its server timing
  each call's CPU. The table of a group the pass measured is built from it.
- otherwise the *throughput points*, at the highest rate at which every mechanism's every run
  was `ok` (or the rate chosen with --profile-rate), so each column is the server's own work at
  the same offered load.

What the table is (`profile`) follows what each run's server *declared* it timed (its
`testbed_server_info{syscall_timing}`, stored with the point's counters), never the mere presence
of the per-call CPU series (a wall-timed server exports them too, at 0):
- CPU: every run's server timed each call's CPU (`--syscall-timing cpu`). The cells are the
  thread's CPU time inside each call, the rest of the CPU time is the server's own code
  ("outside system calls"), and the time blocked in the wait calls goes in a separate
  "waiting" row, as a share of the counters' wall-clock window.
- WALL: wall-clock time around each call only (`--syscall-timing wall`, or an older server): wait
  calls (select, poll, epoll_wait, io_uring_enter) include time blocked waiting for events, so
  their share can exceed 100 % below saturation. Not a CPU profile, and the page says so.
- NONE: the calls were counted, not timed (`--syscall-timing none`): no shares at all (never
  0.00), "not profiled in this sweep"; the call counts still stand.

The counters are read just before and just after the load agents' run, so they cover the whole
measure phase (starting the agents over SSH, their synchronised start, the run, collecting their
results), which is longer than httperf's test: utilisation is over that window, and a wait call
blocks through the quiet ends of it.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace

from orchestrator.config.servers import USERVER
from orchestrator.report.analysis.ordering import mechanism_order
from orchestrator.report.analysis.paper import our_order
from orchestrator.report.analysis.pointmetrics import (
    EVENTS_FIRED,
    LOOP_ROUNDS,
    WAIT_CALLS,
    window_seconds,
)
from orchestrator.report.analysis.sweep import SweepData
from orchestrator.results.points import StoredPoint

PAPER_ORDER = our_order()  # the paper's row order, then the calls it did not show
INTEREST_CALLS = ("epoll_ctl", "epoll_ctlv")  # declaring interest apart from waiting
EVENTS_HANDLED = "testbed_server_events_handled_total"


CPU, WALL, NONE = "cpu", "wall", "none"  # how the calls were timed (see the module docstring)
UNKNOWN = ""  # a point of an older server that counted no call: its timing is not known
NOT_PROFILED = "not profiled in this sweep"
PASS, THROUGHPUT = "profiling pass", "throughput points"  # where a table's runs come from
# A profiling run whose clients fell behind or whose server saturated still profiles the server
# at the load it got (the paper profiled near saturation); failed and interrupted ones do not.
PASS_STATUSES = ("ok", "saturated", "client-limited")
PROFILE_RATES = "profile_rates"  # sweep settings: {group label: {rate, why}} (`run.profiling`)


@dataclass(frozen=True)
class Cell:
    percent: float | None  # of the server's CPU seconds, mean over the runs; None: not timed
    calls: float  # per run (mean)
    seconds: float | None  # per run (mean): CPU seconds in a CPU profile, else wall-clock


@dataclass(frozen=True)
class Row:
    syscall: str
    cells: dict[str, Cell]  # by mechanism; a mechanism that never made the call has no cell


@dataclass(frozen=True)
class Column:
    """What one mechanism's runs at the table's rate did, besides the system calls."""

    mechanism: str
    runs: int
    cpu_seconds: float  # per run (mean)
    utilisation: float  # CPU seconds over the counters' window (see the module docstring)
    window: float  # seconds the counters covered, per run (mean)
    replies: float  # per run (mean), the server's own count
    interest_calls: float  # epoll_ctl + epoll_ctlv per run
    # Interest-set operations per run (one epoll-ctlv submission carries many): None from a
    # server that does not count them apart from the calls.
    interest_operations: float | None
    waits: float  # event-loop rounds per run: one wait each
    events_per_wait: float | None
    handled_share: float | None  # of the events returned, the share the server acted on
    waiting: float | None = None  # CPU profile: blocked in wait calls, share of the window
    preempted: float | None = None  # CPU profile: not running inside other calls, seconds/run
    statuses: tuple[str, ...] = ("ok",)  # of its runs (a profiling run may be client-limited)

    @property
    def waiting_percent(self) -> float:
        """Blocked in wait calls, % of the counters' window (0 when not measured)."""
        return 100 * (self.waiting or 0)


@dataclass(frozen=True)
class SyscallTable:
    workload: str
    idle_connections: int
    accept_limit: str
    rate: float | None  # None: no rate qualified (see `choice`)
    choice: str  # how the rate was chosen, or why there is none
    columns: tuple[Column, ...]
    rows: tuple[Row, ...]
    profile: str = WALL  # CPU: each call's CPU time; WALL: wall-clock time around it; NONE
    source: str = THROUGHPUT  # PASS: the sweep's profiling pass
    unprofiled: str = ""  # why the profiling pass did not measure this group, if it did not

    @property
    def mechanisms(self) -> list[str]:
        return [column.mechanism for column in self.columns]

    @property
    def profiled(self) -> bool:
        """Whether the table is a CPU profile, as the paper's."""
        return self.profile == CPU and bool(self.columns)

    def total(self, mechanism: str) -> float:
        """Every system call's share together for one mechanism (≤ 100 in a CPU profile)."""
        return sum(
            row.cells[mechanism].percent or 0.0 for row in self.rows if mechanism in row.cells
        )

    def outside(self, mechanism: str) -> float:
        """The share of the server's CPU outside system calls (a CPU profile)."""
        return max(0.0, 100 - self.total(mechanism))

    @property
    def preempted(self) -> list[str]:
        """Mechanisms whose calls that never wait add up to more than the server's CPU time in a
        wall-clock table: the server was preempted inside them, so the shares are not CPU."""
        if self.profile != WALL:
            return []
        return [
            m
            for m in self.mechanisms
            if sum(
                r.cells[m].percent or 0.0
                for r in self.rows
                if m in r.cells and r.syscall not in WAIT_CALLS
            )
            > 100
        ]


def default_rate(data: SweepData, workload: str, idle: int, accept: str) -> float | None:
    """The highest rate at which every mechanism of the group was `ok` in every run."""
    return common_ok_rate(_group(data.points, workload, idle, accept))


def common_ok_rate(points: Iterable[StoredPoint], *, every_run: bool = True) -> float | None:
    """The highest rate at which every mechanism of `points` (stored points of one group) was
    `ok` in every run (`every_run=False`: in at least one of its runs); None when no rate
    qualifies."""
    group = list(points)
    mechanisms = {p.mechanism for p in group}
    good = []
    for rate in sorted({p.target_rate for p in group}):
        at = [p for p in group if p.target_rate == rate]
        if {p.mechanism for p in at if p.status == "ok"} != mechanisms:
            continue
        if every_run and any(p.status != "ok" for p in at):
            continue
        good.append(rate)
    return good[-1] if good else None


def group_label(workload: str, idle: int, accept: str) -> str:
    """'one-byte/idle=0/accept=inf': a group as the sweep's settings name it."""
    return f"{workload}/idle={idle}/accept={accept}"


def syscall_table(
    data: SweepData, workload: str, idle: int, accept: str, rate: float | None = None
) -> SyscallTable:
    """Table 1 for one group of the sweep: from its profiling pass when it has one, else from
    its throughput points at `rate` (default: see `default_rate`)."""
    planned = (data.settings.get(PROFILE_RATES) or {}).get(group_label(workload, idle, accept))
    passed = _group(data.profile, workload, idle, accept)
    unprofiled = ""
    if isinstance(planned, dict) and planned.get("rate") is None:
        unprofiled = str(planned.get("why") or "")
    if rate is None and passed:
        rate = max(p.target_rate for p in passed)
        why = planned.get("why") if isinstance(planned, dict) else None
        choice = str(why) if why else "the rate the pass ran at"
        runs = [p for p in passed if p.target_rate == rate and p.status in PASS_STATUSES]
        return _table(data, (workload, idle, accept), rate, choice, runs, PASS)
    if rate is None:
        rate = default_rate(data, workload, idle, accept)
        choice = (
            "the highest rate at which every mechanism was ok"
            if rate is not None
            else "no rate at which every mechanism was ok: choose one with --profile-rate"
        )
    else:
        choice = "chosen with --profile-rate"
    runs = [
        p
        for p in _group(data.points, workload, idle, accept)
        if rate is not None and p.target_rate == rate and p.status == "ok"
    ]
    table = _table(data, (workload, idle, accept), rate, choice, runs, THROUGHPUT)
    return replace(table, unprofiled=unprofiled)


def _table(
    data: SweepData,
    group: tuple[str, int, str],
    rate: float | None,
    choice: str,
    runs: list[StoredPoint],
    source: str,
) -> SyscallTable:
    by_mechanism: dict[str, list[StoredPoint]] = {}
    for point in runs:
        by_mechanism.setdefault(point.mechanism, []).append(point)
    mechanisms = sorted(by_mechanism, key=mechanism_order)
    profile = _profile(timing_of(p, data.syscalls.get(p.key, {})) for p in runs)
    columns = tuple(_column(data, m, by_mechanism[m], profile) for m in mechanisms)
    names = {name for point in runs for name in data.syscalls.get(point.key, {})}
    rows = []
    for name in sorted(names, key=_row_order):
        cells = {}
        for mechanism in mechanisms:
            points = by_mechanism[mechanism]
            made = [data.syscalls.get(p.key, {}).get(name) for p in points]
            if not any(made):
                continue
            calls = [float(m[0]) if m else 0.0 for m in made]
            if profile == NONE:
                cells[mechanism] = Cell(None, statistics.fmean(calls), None)
                continue
            seconds = [
                _call_cpu(p, name) if profile == CPU else (float(m[1]) if m else 0.0)
                for m, p in zip(made, points, strict=True)
            ]
            percents = [
                100 * s / _cpu(p) if _cpu(p) > 0 else 0.0
                for s, p in zip(seconds, points, strict=True)
            ]
            cells[mechanism] = Cell(
                statistics.fmean(percents), statistics.fmean(calls), statistics.fmean(seconds)
            )
        rows.append(Row(name, cells))
    workload, idle, accept = group
    return SyscallTable(workload, idle, accept, rate, choice, columns, tuple(rows), profile, source)


def timing_of(point: StoredPoint, calls: Mapping[str, tuple[int, float]] | None = None) -> str:
    """How the point's server timed its calls (CPU, WALL or NONE): what it declared
    (`info.syscall_timing`); a server from before that label by what its counters hold
    (`calls`: the point's stored (calls, seconds) per system call), UNKNOWN when they hold
    no call."""
    server = point.server
    if server.syscall_timing in (CPU, WALL, NONE):
        return str(server.syscall_timing)
    timed = [entry for entry in server.syscalls.values() if entry.calls]
    split = timed and all(
        e.cpu_seconds is not None and e.blocked_seconds is not None for e in timed
    )
    if split and any((e.cpu_seconds or 0.0) > 0 for e in timed):
        return CPU
    seconds = [entry.seconds for entry in timed]
    seconds += [float(s) for _, s in (calls or {}).values()]
    if not seconds:
        return UNKNOWN  # no call counted at all: it says nothing either way
    return WALL if any(s > 0 for s in seconds) else NONE


def cpu_profiled(point: StoredPoint) -> bool:
    """Whether the point's server timed each call's CPU apart from its blocked time, as it
    declared (a wall-timed server exports the CPU series too, at 0)."""
    return timing_of(point) == CPU


def _profile(timings: Iterable[str]) -> str:
    """A table's kind from its runs' timings: CPU only when every run that counted its calls
    was CPU-timed, NONE when one did not time them (or none counted any)."""
    found = set(timings) - {UNKNOWN}
    if not found or NONE in found:
        return NONE
    return CPU if found == {CPU} else WALL


def _call_cpu(point: StoredPoint, name: str) -> float:
    entry = point.server.syscalls.get(name)
    return (entry.cpu_seconds or 0.0) if entry is not None else 0.0


def _blocked(point: StoredPoint, waits: bool) -> float:
    """Seconds blocked inside the wait calls (`waits`) or inside every other call."""
    return sum(
        entry.blocked_seconds or 0.0
        for name, entry in point.server.syscalls.items()
        if (name in WAIT_CALLS) == waits
    )


def _column(data: SweepData, mechanism: str, points: list[StoredPoint], profile: str) -> Column:
    def mean(values: list[float]) -> float:
        return statistics.fmean(values) if values else 0.0

    cpu = [_cpu(p) for p in points]
    windows = [_window(p) for p in points]
    totals = [p.server.totals for p in points]
    rounds = mean([float(t.get(LOOP_ROUNDS, 0.0)) for t in totals])
    fired = mean([float(t.get(EVENTS_FIRED, 0.0)) for t in totals])
    handled = mean([float(t.get(EVENTS_HANDLED, 0.0)) for t in totals])
    interest = mean(
        [
            float(sum(data.syscalls.get(p.key, {}).get(n, (0, 0.0))[0] for n in INTEREST_CALLS))
            for p in points
        ]
    )
    # Runs whose server counted interest-set operations (none counted: not measured, not 0).
    counted = [p.server.epoll_operations for p in points]
    operations = [float(sum(o.values())) for o in counted if o]
    return Column(
        mechanism=mechanism,
        runs=len(points),
        cpu_seconds=mean(cpu),
        utilisation=sum(cpu) / sum(windows) if sum(windows) > 0 else 0.0,
        window=mean(windows),
        replies=mean([float(p.server_replies or 0) for p in points]),
        interest_calls=interest,
        interest_operations=mean(operations) if operations else None,
        waits=rounds,
        events_per_wait=fired / rounds if rounds else None,
        handled_share=handled / fired if fired else None,
        waiting=(
            sum(_blocked(p, waits=True) for p in points) / sum(windows)
            if profile == CPU and sum(windows) > 0
            else None
        ),
        preempted=mean([_blocked(p, waits=False) for p in points]) if profile == CPU else None,
        statuses=tuple(sorted({p.status for p in points})),
    )


def _group(
    points: Iterable[StoredPoint], workload: str, idle: int, accept: str
) -> list[StoredPoint]:
    """The group's userver points: only userver counts its system calls (other servers'
    columns are named as lacking by `servernotes`, never shown as zeros)."""
    return [
        p
        for p in points
        if p.server_name == USERVER
        and p.workload == workload
        and p.idle_connections == idle
        and p.accept_limit == accept
        and p.status in ("ok", "saturated", "client-limited", "failed")
    ]


def _window(point: StoredPoint) -> float:
    return window_seconds(point) or 0.0


def _cpu(point: StoredPoint) -> float:
    return point.server.cpu_seconds or 0.0


def _row_order(name: str) -> tuple[int, str]:
    return (PAPER_ORDER.index(name) if name in PAPER_ORDER else len(PAPER_ORDER), name)
