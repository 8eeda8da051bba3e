"""Which figures a sweep's report has, and which curves each one draws.

    for figure in figures(data):                 # Figures 1-7 as the paper's, then A1, A2, ...
        figure.number, figure.kind, figure.curves

Our Figure N shows what the paper's Figure N shows, from whatever of it the sweep measured:

    1, 2  select, poll and epoll-LT; one-byte (1) and SPECweb99-like (2); no idle connections
    3, 4  the epoll variants with select (no poll: the paper found it "nearly identical");
          one-byte (3), SPECweb99-like (4); no idle connections
    5, 6  the same with idle connections (10,000 in the paper; here 10,000 when measured, else
          the largest non-zero count); 5b, 6b the same at the largest count when it is more
          than 10,000 (`idle_connections: max`: where select's and poll's knee shows on a lab
          whose clients stop before it with 10,000)
    7     the accept strategies: select, and epoll-LT at accept-limit inf and at 10 (or the
          other limit measured), one-byte, no idle connections

Figures beyond the paper are A1, A2, ...: every mechanism of a group when some curve is in no
paper figure, every accept-limit curve, then per workload × idle count the server's cost
(CPU per reply, CPU utilisation, events per wait) and the clients' view (response times, errors),
the idle-connection degradation as bars, and each repetition's reply rates. A paper figure the
sweep has no curve for is left out, and its number with it. Pure functions of `SweepData`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from orchestrator.report.analysis.data import WORKLOAD_TITLES, Curve, curves
from orchestrator.report.analysis.ordering import (
    accept_order,
    group_order,
    main_accept_limit,
    mechanism_order,
)
from orchestrator.report.analysis.pointmetrics import CPU_PER_REPLY, RESPONSE_TIME
from orchestrator.report.analysis.reach import ClientCapacity
from orchestrator.report.analysis.sweep import SweepData
from orchestrator.results.records import MEASURED

THROUGHPUT, COST, CLIENT, IDLE_BARS, REPETITIONS = (
    "throughput",
    "cost",
    "client",
    "idle-bars",
    "repetitions",
)
PAPER_ONE = ("select", "poll", "epoll-lt")
PAPER_VARIANTS = ("select", "epoll-lt", "epoll-et", "epoll2", "epoll-ctlv")
PAPER_WORKLOAD_OFFSET = {"one-byte": 0, "specweb99": 1}


@dataclass(frozen=True)
class Figure:
    """One figure: `kind` says what it draws (THROUGHPUT: reply rate against request rate)."""

    number: str  # "1".."7": the paper's figure of that number; "A1", "A2", ...: beyond it
    slug: str  # file name stem after the number, e.g. "one-byte-idle0"
    title: str
    paper: str  # "Figure 3", or "" beyond the paper
    workload: str
    idle_connections: int
    accept_variants: bool  # curves differ in accept-limit too
    curves: tuple[Curve, ...]
    kind: str = THROUGHPUT
    clients: ClientCapacity | None = None  # THROUGHPUT: the clients' ceiling, drawn beside
    engine: str = ""  # the load generator that produced the load ("": not said)
    server_cpu_limit: float | None = None  # the server's CPU cap in cores (None: not capped)

    @property
    def stem(self) -> str:
        """The files' name without extension: figure-<number>-<slug>."""
        return f"figure-{self.number}-{self.slug}"

    @property
    def beyond(self) -> bool:
        return not self.paper

    @property
    def caption_source(self) -> str:
        source = f"the paper's {self.paper}" if self.paper else "beyond the paper"
        if self.engine:
            source += f"; load by {self.engine}"
        if self.server_cpu_limit is not None:
            source += f"; server CPU capped at {self.server_cpu_limit:g} core"
        return source

    @property
    def runs_per_point(self) -> int:
        return max((len(p.runs) for c in self.curves for p in c.points), default=0)

    @property
    def single_runs(self) -> bool:
        return all(len(p.ok) <= 1 for c in self.curves for p in c.points)


def figures(data: SweepData) -> list[Figure]:
    """The paper's figures for this sweep, in the paper's order, then those beyond it."""
    every = curves(data)
    found = [*paper_figures(every), *_numbered_beyond(every, data.repetitions)]
    engine, cap = data.load_engine, data.server_cpu_limit
    return [
        replace(f, engine=engine, server_cpu_limit=cap, clients=client_capacity(data, f.workload))
        if f.kind == THROUGHPUT
        else replace(f, engine=engine, server_cpu_limit=cap)
        for f in found
    ]


def client_capacity(data: SweepData, workload: str) -> ClientCapacity | None:
    """The clients' capacity a sweep recorded for `workload` (for the whole sweep when it
    recorded none per workload, or the figure mixes workloads); None when it recorded none."""
    settings = data.settings
    by_workload = settings.get("client_capacity_by_workload") or {}
    recorded = by_workload.get(workload) or settings.get("client_capacity")
    return ClientCapacity.from_recorded(recorded) if recorded else None


def paper_figures(every: Sequence[Curve]) -> list[Figure]:
    found = []
    for workload, offset in PAPER_WORKLOAD_OFFSET.items():
        idle_counts = sorted({c.idle_connections for c in every if c.workload == workload})
        idle = 10_000 if 10_000 in idle_counts else max(idle_counts, default=0)
        most = max(idle_counts, default=0)
        specs = [
            (f"{1 + offset}", 0, PAPER_ONE, "select, poll and epoll-LT"),
            (f"{3 + offset}", 0, PAPER_VARIANTS, "epoll variants and select"),
            (f"{5 + offset}", idle, PAPER_VARIANTS, "epoll variants and select"),
        ]
        if most > idle:  # the most idle connections the lab could hold: where the knees show
            variants = "epoll variants and select, the most the lab held"
            specs.append((f"{5 + offset}b", most, PAPER_VARIANTS, variants))
        for number, count, mechanisms, what in specs:
            if _number(number) >= 5 and count == 0:
                continue
            members = _main_curves(every, workload, count, mechanisms)
            if members:
                title = f"{_title(workload, count)}: {what}"
                found.append(_figure(number, f"{workload}-idle{count}", title, members))
    figure7 = _accept_strategies(every)
    if figure7:
        title = f"{_title('one-byte', 0)}: accept strategies"
        found.append(_figure("7", "one-byte-idle0-accept", title, figure7, accept=True))
    return sorted(found, key=lambda f: (_number(f.number), f.number))


def _accept_strategies(every: Sequence[Curve]) -> list[Curve]:
    """Figure 7's three curves: select (inf), epoll-LT at inf and at 10 (or its other limit)."""
    group = [c for c in every if (c.workload, c.idle_connections) == ("one-byte", 0)]
    lt = {c.accept_limit: c for c in group if c.mechanism == "epoll-lt"}
    limited = lt.get("10") or next(
        (lt[k] for k in sorted(lt, key=accept_order) if k != "inf"), None
    )
    select = next((c for c in group if c.mechanism == "select" and c.accept_limit == "inf"), None)
    if limited is None or "inf" not in lt:
        return []
    return [c for c in (select, lt["inf"], limited) if c is not None]


@dataclass(frozen=True)
class _Beyond:
    slug: str
    title: str
    members: Sequence[Curve]
    kind: str = THROUGHPUT
    accept: bool = False


def _numbered_beyond(every: Sequence[Curve], repetitions: int) -> list[Figure]:
    found: list[_Beyond] = []
    shown = {id(c) for f in paper_figures(every) for c in f.curves}
    groups = sorted({(c.workload, c.idle_connections) for c in every}, key=group_order)
    for workload, idle in groups:
        members = [c for c in every if (c.workload, c.idle_connections) == (workload, idle)]
        main = main_accept_limit(c.accept_limit for c in members)
        at_main = [c for c in members if c.accept_limit == main]
        slug = f"{workload}-idle{idle}"
        if any(id(c) not in shown for c in at_main):
            found.append(
                _Beyond(f"{slug}-all", f"{_title(workload, idle)}: every mechanism", at_main)
            )
        if len({c.accept_limit for c in members}) > 1:
            # The mechanisms measured at several accept-limits, each at every one of them.
            varied = {m for m in {c.mechanism for c in members} if _limits(members, m) > 1}
            ordered = sorted(
                (c for c in members if c.mechanism in varied), key=_accept_then_mechanism
            )
            title = f"{_title(workload, idle)}: every accept-limit"
            found.append(_Beyond(f"{slug}-accept-all", title, ordered, accept=True))
        if _has(at_main, CPU_PER_REPLY):
            title = f"{_title(workload, idle)}: the server's cost"
            found.append(_Beyond(f"{slug}-cost", title, at_main, COST))
        measured = any(r.status in MEASURED for c in at_main for r in c.runs)
        if _has(at_main, RESPONSE_TIME) or measured:
            title = f"{_title(workload, idle)}: what the clients saw"
            found.append(_Beyond(f"{slug}-clients", title, at_main, CLIENT))
    main_curves = [
        c
        for c in every
        if c.accept_limit
        == main_accept_limit(x.accept_limit for x in every if x.workload == c.workload)
    ]
    if any(c.idle_connections for c in main_curves) and any(
        not c.idle_connections for c in main_curves
    ):
        title = "Idle-connection degradation, per mechanism"
        found.append(_Beyond("idle-degradation", title, main_curves, IDLE_BARS))
    if repetitions > 1:
        for workload, idle in groups:
            members = [
                c for c in main_curves if (c.workload, c.idle_connections) == (workload, idle)
            ]
            if members:
                title = f"{_title(workload, idle)}: each repetition"
                slug = f"{workload}-idle{idle}-repetitions"
                found.append(_Beyond(slug, title, members, REPETITIONS))
    return [
        _figure(f"A{index}", b.slug, b.title, b.members, accept=b.accept, kind=b.kind)
        for index, b in enumerate(found, start=1)
    ]


def _number(number: str) -> int:
    """A paper figure's number without its letter: 5 for '5b'."""
    return int(number.rstrip("abcdefghijklmnopqrstuvwxyz"))


def _figure(
    number: str,
    slug: str,
    title: str,
    members: Sequence[Curve],
    accept: bool = False,
    kind: str = THROUGHPUT,
) -> Figure:
    first = members[0]
    workloads = {c.workload for c in members}
    return Figure(
        number=number,
        slug=slug,
        title=title,
        paper="" if number.startswith("A") else f"Figure {_number(number)}",
        workload=first.workload if len(workloads) == 1 else "",
        idle_connections=first.idle_connections,
        accept_variants=accept,
        curves=tuple(members),
        kind=kind,
    )


def _main_curves(
    every: Sequence[Curve], workload: str, idle: int, mechanisms: Sequence[str]
) -> list[Curve]:
    group = [c for c in every if (c.workload, c.idle_connections) == (workload, idle)]
    main = main_accept_limit(c.accept_limit for c in group)
    return [c for c in group if c.accept_limit == main and c.mechanism in mechanisms]


def _limits(members: Sequence[Curve], mechanism: str) -> int:
    return len({c.accept_limit for c in members if c.mechanism == mechanism})


def _has(members: Sequence[Curve], metric: str) -> bool:
    return any(p.values(metric) for c in members for p in c.points)


def _title(workload: str, idle: int) -> str:
    name = WORKLOAD_TITLES.get(workload, workload)
    return f"{name[:1].upper()}{name[1:]}, " + (
        f"{idle:,} idle connections" if idle else "no idle connections"
    )


def _accept_then_mechanism(curve: Curve) -> tuple[int, float]:
    return (mechanism_order(curve.mechanism), -accept_order(curve.accept_limit))
