"""The paper's findings, checked on a sweep, and the idle-connection degradation behind two of them.

    rows = idle_degradation(curves(data))
    for finding in check_findings(curves(data), tables):
        finding.claim, finding.verdict, finding.stated, finding.evidence

Each claim rests on comparisons of two curves, each judged by `pairs.judge_pair` (by peak reply
rates where a curve saturated, a peak that did not saturate being a lower bound; else by the
server's CPU per reply) under the rule of `stats.judge`, against one threshold (`THRESHOLD`,
stated on the page). A claim that something degrades or lifts holds when the 95 % CI of the
difference lies wholly beyond the threshold; a claim of no difference ("as well as", "does not
degrade", "little or no gain") when the CI lies wholly on its side of the threshold. Either does
not hold only when the CI lies wholly on the other side; otherwise, or with fewer than
`stats.MIN_RUNS` runs a side, it is inconclusive and says what would decide it. `claims` makes
one verdict of a claim's comparisons and workloads, stating what it rests on; a failed
comparison is named in `failed`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from orchestrator.report.analysis.claims import PAPER_WORKLOADS, ClaimParts, Finding
from orchestrator.report.analysis.data import Curve, find_curve, peak_change
from orchestrator.report.analysis.ordering import main_accept_limit
from orchestrator.report.analysis.pairs import BY_COUNT, Part, judge_pair
from orchestrator.report.analysis.stats import (
    Change,
    Region,
    fact,
    higher,
    lower,
    no_higher,
    no_lower,
)
from orchestrator.report.analysis.syscalls import Column, SyscallTable

# One threshold for every claim and the idle table: mechanisms "perform as well" when not 10 %
# or more below, a gain under 10 % is not "appreciable", a drop of 10 % or more is a
# degradation, a lift to within 10 % is "select's level", each judged on the 95 % CI. 10 %
# rather than compare's 5 %: the paper's claims are about clear effects, and an emulated lab's
# runs spread by several per cent.
THRESHOLD = 0.10
COMPARABLE = APPRECIABLE = DEGRADES = UNAFFECTED = MATCHES = THRESHOLD
EPOLL_CTL_TECHNIQUES = ("epoll-et", "epoll2", "epoll-ctlv")
DEGRADING = ("select", "poll", "epoll2")


@dataclass(frozen=True)
class IdleRow:
    """One mechanism's peak with idle connections against without."""

    workload: str
    accept_limit: str
    mechanism: str
    idle_connections: int
    without: Curve
    with_idle: Curve
    change: Change | None  # None when either curve has no ok run

    @property
    def ratio(self) -> float | None:
        """Peak with idle connections / peak without (1.0: unaffected)."""
        a, b = self.without.peak, self.with_idle.peak
        return b.mean / a.mean if a and b and a.mean else None


def idle_degradation(curves: Sequence[Curve], threshold: float = DEGRADES) -> list[IdleRow]:
    """Every mechanism measured with and without idle connections (at the main accept-limit)."""
    rows = []
    for without in curves:
        if without.idle_connections != 0:
            continue
        main = main_accept_limit(c.accept_limit for c in curves if c.workload == without.workload)
        if without.accept_limit != main:
            continue
        for other in curves:
            if (other.mechanism, other.workload, other.accept_limit) != (
                without.mechanism,
                without.workload,
                without.accept_limit,
            ) or other.idle_connections == 0:
                continue
            rows.append(
                IdleRow(
                    workload=without.workload,
                    accept_limit=without.accept_limit,
                    mechanism=without.mechanism,
                    idle_connections=other.idle_connections,
                    without=without,
                    with_idle=other,
                    change=peak_change(without, other, threshold),
                )
            )
    return rows


def check_findings(curves: Sequence[Curve], tables: Sequence[SyscallTable]) -> list[Finding]:
    """The four claims of the paper's section 5, each judged on this sweep."""
    return [
        _comparable_without_idle(curves),
        _epoll_ctl_techniques(curves, tables),
        _idle_degradation(curves),
        _accept_limit(curves),
    ]


# -- the claims ---------------------------------------------------------------------------------


def _comparable_without_idle(curves: Sequence[Curve]) -> Finding:
    """Each of select and poll against epoll-LT: "as well as" (the paper: "as well as or
    slightly better"), so not 10 % or more below it."""
    claim = "Without idle connections, select and poll perform as well as epoll-LT."
    found = ClaimParts(PAPER_WORKLOADS, _workloads(curves))
    for workload in _workloads(curves):
        base = _main(curves, "epoll-lt", workload, 0)
        present = {m: _main(curves, m, workload, 0) for m in ("select", "poll")}
        if base is None or not any(present.values()):
            found.note(f"{workload}: needs epoll-LT and select or poll without idle connections")
            continue
        for mechanism, curve in present.items():
            if curve is None:
                found.note(f"{workload}: {mechanism} without idle connections not measured")
            else:
                _judge_each(found, base, [curve], no_lower(COMPARABLE), workload)
    return found.finding(claim, "Figures 1 and 2")


def _epoll_ctl_techniques(curves: Sequence[Curve], tables: Sequence[SyscallTable]) -> Finding:
    """Each technique against epoll-LT: fewer epoll_ctl calls per reply (a count), and "little
    or no gain", so not 10 % or more above it."""
    claim = (
        "Edge-triggered epoll, epoll2 and epoll-ctlv make fewer epoll_ctl calls than epoll-LT"
        " but bring little or no throughput gain."
    )
    found = ClaimParts(PAPER_WORKLOADS, _workloads(curves))
    for workload in _workloads(curves):
        base = _main(curves, "epoll-lt", workload, 0)
        others = [_main(curves, m, workload, 0) for m in EPOLL_CTL_TECHNIQUES]
        techniques = [c for c in others if c is not None]
        if base is None or not techniques:
            found.note(f"{workload}: needs epoll-LT and one of epoll-ET, epoll2, epoll-ctlv")
            continue
        table = next(
            (t for t in tables if (t.workload, t.idle_connections) == (workload, 0) and t.rate),
            None,
        )
        fewer = _fewer_interest_calls(table, techniques, found.evidence, workload)
        if fewer is not None:
            counted = "every technique made" if fewer else "not every technique made"
            reason = f"{counted} fewer epoll_ctl(+ctlv) calls per reply than epoll-LT"
            found.add(Part(workload, "epoll_ctl calls", BY_COUNT, fact(fewer, reason), ""))
        _judge_each(found, base, techniques, no_higher(APPRECIABLE), workload)
    return found.finding(claim, "Figures 3 and 4, Table 1")


def _fewer_interest_calls(
    table: SyscallTable | None, techniques: list[Curve], evidence: list[str], workload: str
) -> bool | None:
    """Whether each technique made fewer epoll_ctl(+ctlv) calls per reply than epoll-LT."""
    if table is None:
        evidence.append(f"{workload}: no Table 1 rate: epoll_ctl calls not compared")
        return None
    columns = {c.mechanism: c for c in table.columns}
    base = columns.get("epoll-lt")
    if base is None or not base.replies:
        evidence.append(f"{workload}: epoll-LT not ok at {table.rate:,.0f}: calls not compared")
        return None
    per_reply = base.interest_calls / base.replies
    verdicts = []
    for curve in techniques:
        column = columns.get(curve.mechanism)
        if column is None or not column.replies:
            continue
        theirs = column.interest_calls / column.replies
        verdicts.append(theirs < per_reply)
        evidence.append(
            f"{workload} at {table.rate:,.0f} requests/s: {curve.label} {theirs:.2f} epoll_ctl"
            f"(+ctlv) calls per reply{_operations(column)} against epoll-LT's"
            f" {per_reply:.2f}{_operations(base)}"
        )
    return all(verdicts) if verdicts else None


def _operations(column: Column) -> str:
    """' carrying N operations' when the server counted the interest-set operations apart
    from the calls (the paper's epoll_ctlv comparison: fewer calls, the same work)."""
    if column.interest_operations is None or not column.replies:
        return ""
    return f" carrying {column.interest_operations / column.replies:.2f} operations"


def _idle_degradation(curves: Sequence[Curve]) -> Finding:
    """Each of select, poll and epoll2 with idle connections against itself without: degrades,
    so 10 % or more lower; epoll-ET does not degrade, so not 10 % or more lower."""
    claim = "With idle connections, select, poll and epoll2 degrade while epoll-ET does not."
    found = ClaimParts(PAPER_WORKLOADS, _workloads(curves))
    rows = idle_degradation(curves)
    for workload in _workloads(curves):
        mine = [r for r in rows if r.workload == workload and r.change is not None]
        if not mine:
            continue
        idle = max(r.idle_connections for r in mine)
        by = {r.mechanism: r for r in mine if r.idle_connections == idle}
        degrading = [by[m] for m in DEGRADING if m in by]
        if "epoll-et" not in by or not degrading:
            found.note(f"{workload}: needs epoll-ET and select, poll or epoll2 at both counts")
            continue
        regions = [(row, lower(DEGRADES)) for row in degrading]
        for row, region in [*regions, (by["epoll-et"], no_lower(UNAFFECTED))]:
            found.add(
                judge_pair(
                    row.without,
                    row.with_idle,
                    region,
                    workload=workload,
                    threshold=THRESHOLD,
                    subject=f"{row.without.label} with {idle:,} idle connections against without",
                )
            )
    if not rows:
        found.note("the sweep has no idle-connection count besides 0 for the same curves")
    return found.finding(claim, "Figures 5 and 6")


def _accept_limit(curves: Sequence[Curve]) -> Finding:
    """epoll-LT at accept-limit 10 against itself at inf: lifted, so 10 % or more higher; and
    against select: at its level, so not 10 % or more below it. By peaks only."""
    claim = "An accept-limit of 10 lifts epoll-LT to select's level (one-byte workload)."
    source = "Figure 7"
    only = (
        "judged by throughput only: the accept-limit changes what happens under overload, "
        "not the CPU a reply costs below it"
    )
    found = ClaimParts(("one-byte",), _workloads(curves))
    limited = find_curve(curves, "epoll-lt", "one-byte", 0, "10")
    unlimited = find_curve(curves, "epoll-lt", "one-byte", 0, "inf")
    select = find_curve(curves, "select", "one-byte", 0, "inf")
    if not (limited and unlimited and select):
        found.note(
            "needs epoll-LT at accept-limits 10 and inf and select at inf, one-byte, no idle"
            " connections"
        )
        return found.finding(claim, source)
    for base, region, subject in (
        (unlimited, higher(MATCHES), "epoll-LT at accept-limit 10 against inf"),
        (select, no_lower(MATCHES), "epoll-LT at accept-limit 10 against select"),
    ):
        found.add(
            judge_pair(
                base,
                limited,
                region,
                workload="one-byte",
                threshold=THRESHOLD,
                subject=subject,
                by_cost=False,
            )
        )
    return found.finding(claim, source, why=only)


# -- helpers ------------------------------------------------------------------------------------


def _judge_each(
    found: ClaimParts, base: Curve, others: Sequence[Curve], region: Region, workload: str
) -> None:
    """Each of `others` against `base` for a claim that their difference lies in `region`: the
    one judging loop of the claims that compare several mechanisms with epoll-LT."""
    for curve in others:
        found.add(judge_pair(base, curve, region, workload=workload, threshold=THRESHOLD))


def _workloads(curves: Sequence[Curve]) -> list[str]:
    return list(dict.fromkeys(c.workload for c in curves))


def _main(curves: Sequence[Curve], mechanism: str, workload: str, idle: int) -> Curve | None:
    main = main_accept_limit(c.accept_limit for c in curves if c.workload == workload)
    return find_curve(curves, mechanism, workload, idle, main)
