"""Which figures a sweep's report has, and which curves each one draws.

    for figure in figures(data):                 # the paper's Figures 1-7 for this sweep
        for curve in figure.curves:              # one per mechanism (and accept-limit)
            curve.points, curve.peak, curve.saturation

A figure is one workload × idle-connection count at the main accept-limit (Figures 1-6), or
the same with the accept-limits compared (Figure 7). Pure functions of `SweepData`.
"""

from __future__ import annotations

from dataclasses import dataclass

from orchestrator.report.data import (
    WORKLOAD_TITLES,
    Curve,
    SweepData,
    accept_order,
    curves,
    group_order,
    main_accept_limit,
    mechanism_order,
)


@dataclass(frozen=True)
class Figure:
    """One figure: reply rate against request rate, one curve per mechanism (and accept-limit)."""

    number: int  # our numbering inside the report
    slug: str  # file name stem, e.g. "one-byte-idle0"
    title: str
    paper: str  # which of the paper's figures it redraws
    workload: str
    idle_connections: int
    accept_variants: bool  # Figure 7: curves differ in accept-limit too
    curves: tuple[Curve, ...]

    @property
    def runs_per_point(self) -> int:
        return max((len(p.runs) for c in self.curves for p in c.points), default=0)

    @property
    def single_runs(self) -> bool:
        return all(len(p.ok) <= 1 for c in self.curves for p in c.points)


def figures(data: SweepData) -> list[Figure]:
    """The paper's figures for this sweep: one per workload × idle count at the main
    accept-limit (inf when measured), then one per workload × idle count that varies it."""
    every = curves(data)
    found: list[Figure] = []
    groups = sorted({(c.workload, c.idle_connections) for c in every}, key=group_order)
    for workload, idle in groups:
        members = [c for c in every if (c.workload, c.idle_connections) == (workload, idle)]
        main = main_accept_limit(c.accept_limit for c in members)
        found.append(
            Figure(
                number=len(found) + 1,
                slug=f"{workload}-idle{idle}",
                title=_title(workload, idle) + ("" if main == "inf" else f" (accept-limit {main})"),
                paper=paper_figures(workload, idle),
                workload=workload,
                idle_connections=idle,
                accept_variants=False,
                curves=tuple(c for c in members if c.accept_limit == main),
            )
        )
    for workload, idle in groups:
        members = [c for c in every if (c.workload, c.idle_connections) == (workload, idle)]
        if len({c.accept_limit for c in members}) < 2:
            continue
        found.append(
            Figure(
                number=len(found) + 1,
                slug=f"{workload}-idle{idle}-accept",
                title=_title(workload, idle) + ", accept-limits compared",
                paper="Figure 7" if workload == "one-byte" and idle == 0 else "beyond the paper",
                workload=workload,
                idle_connections=idle,
                accept_variants=True,
                curves=tuple(sorted(members, key=_accept_then_mechanism)),
            )
        )
    return found


def _title(workload: str, idle: int) -> str:
    name = WORKLOAD_TITLES.get(workload, workload)
    return f"{name[:1].upper()}{name[1:]}, " + (
        f"{idle:,} idle connections" if idle else "no idle connections"
    )


def paper_figures(workload: str, idle: int) -> str:
    """Which of the paper's figures show this workload and idle count."""
    if workload == "one-byte":
        return "Figures 1 and 3" if idle == 0 else "Figure 5"
    if workload == "specweb99":
        return "Figures 2 and 4" if idle == 0 else "Figure 6"
    return "beyond the paper"


def _accept_then_mechanism(curve: Curve) -> tuple[int, float]:
    return (mechanism_order(curve.mechanism), -accept_order(curve.accept_limit))
