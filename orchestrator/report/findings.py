"""The paper's findings, checked on a sweep, and the idle-connection degradation behind two of them.

    rows = idle_degradation(curves(data))
    for finding in check_findings(curves(data), tables):
        finding.claim, finding.verdict, finding.evidence   # holds / does not hold / not measured

Each claim is judged on peak reply rates (`Curve.peak`: the best rate's mean over its ok runs)
against one threshold (`THRESHOLD`, stated on the page); a difference counts only when
`stats.change` finds it significant (its CI excludes zero, or single runs against the threshold
alone). When none of the curves a claim rests on saturated, throughput says nothing (at rates
the server serves without effort every mechanism looks alike), and the claim is judged by the
server's CPU per reply instead (`costfindings`); it is "not measured" when neither can judge it.
Every finding says which it was judged by (`basis`) and, when it does not hold, which condition
failed (`failed`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from orchestrator.report.costfindings import (
    BY_COST,
    BY_THROUGHPUT,
    Judged,
    comparable_by_cost,
    idle_by_cost,
    techniques_by_cost,
)
from orchestrator.report.data import Curve, peak_change
from orchestrator.report.ordering import main_accept_limit
from orchestrator.report.stats import BETTER, NOT_MEASURED, WORSE, Change
from orchestrator.report.syscalls import Column, SyscallTable

HOLDS, DOES_NOT_HOLD = "holds", "does not hold"  # and NOT_MEASURED, as for a change

# One threshold for every claim and the idle table: a difference of 10 % or more (significant)
# counts; within it, mechanisms "perform as well", a gain is not "appreciable", a drop is no
# degradation, and a peak is at "select's level". 10 % rather than compare's 5 %: the paper's
# claims are about clear effects, and an emulated lab's runs spread by several per cent.
THRESHOLD = 0.10
COMPARABLE = APPRECIABLE = DEGRADES = UNAFFECTED = MATCHES = THRESHOLD
EPOLL_CTL_TECHNIQUES = ("epoll-et", "epoll2", "epoll-ctlv")
DEGRADING = ("select", "poll", "epoll2")


@dataclass(frozen=True)
class Finding:
    """One claim of the paper and what this sweep says about it."""

    claim: str
    source: str  # where the paper makes it
    verdict: str  # HOLDS, DOES_NOT_HOLD or NOT_MEASURED
    evidence: tuple[str, ...]  # the numbers behind the verdict
    basis: tuple[str, ...] = ()  # BY_THROUGHPUT and/or BY_COST: what decided it (per workload)
    failed: tuple[str, ...] = ()  # when it does not hold: the conditions that failed
    why: str = ""  # why this basis (shown in the banner)


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


class _Verdicts:
    """What each workload said about one claim, and on what basis."""

    def __init__(self) -> None:
        self.verdicts: list[bool] = []
        self.evidence: list[str] = []
        self.failed: list[str] = []
        self.basis: list[str] = []

    def add(self, ok: bool, basis: str, failure: str = "") -> None:
        self.verdicts.append(ok)
        self.basis.append(basis)
        if not ok and failure:
            self.failed.append(failure)

    def add_cost(self, judged: Judged) -> bool:
        """Take a judgment by cost; False when costs could not judge either."""
        self.evidence += judged.evidence
        if judged.holds is None:
            return False
        self.verdicts.append(judged.holds)
        self.basis.append(BY_COST)
        self.failed += judged.failed
        return True

    def finding(self, claim: str, source: str) -> Finding:
        basis = tuple(dict.fromkeys(self.basis))
        why = (
            "no curve it rests on saturated, so it is judged by the server's CPU per reply"
            if BY_COST in basis
            else "curves saturated inside the rates"
            if basis
            else ""
        )
        return Finding(
            claim,
            source,
            _overall(self.verdicts),
            tuple(self.evidence),
            basis,
            tuple(self.failed),
            why,
        )


def _comparable_without_idle(curves: Sequence[Curve]) -> Finding:
    claim = "Without idle connections, select and poll perform as well as epoll-LT."
    found_all = _Verdicts()
    for workload in _workloads(curves):
        found = {m: _main(curves, m, workload, 0) for m in ("select", "poll", "epoll-lt")}
        present = {m: c for m, c in found.items() if c is not None and c.peak is not None}
        if "epoll-lt" not in present or len(present) < 2:
            found_all.evidence.append(
                f"{workload}: needs epoll-LT and select or poll without idle conns"
            )
            continue
        if not any(c.saturated for c in present.values()):
            found_all.evidence.append(f"{workload}: {_peaks(present)}; no curve saturated")
            found_all.add_cost(comparable_by_cost(present, workload, THRESHOLD))
            continue
        peaks = {m: c.peak.mean for m, c in present.items() if c.peak is not None}
        spread = (max(peaks.values()) - min(peaks.values())) / max(peaks.values())
        ok = spread <= COMPARABLE
        found_all.evidence.append(
            f"{workload}: {_peaks(present)}; spread {spread:.1%} "
            f"({'within' if ok else 'beyond'} {COMPARABLE:.0%})"
        )
        found_all.add(
            ok,
            BY_THROUGHPUT,
            f"{workload}: the peaks spread {spread:.1%}, beyond the {COMPARABLE:.0%} threshold",
        )
    return found_all.finding(claim, "Figures 1 and 2")


def _epoll_ctl_techniques(curves: Sequence[Curve], tables: Sequence[SyscallTable]) -> Finding:
    claim = (
        "Edge-triggered epoll, epoll2 and epoll-ctlv make fewer epoll_ctl calls than epoll-LT"
        " but bring little or no throughput gain."
    )
    found_all = _Verdicts()
    for workload in _workloads(curves):
        base = _main(curves, "epoll-lt", workload, 0)
        others = [_main(curves, m, workload, 0) for m in EPOLL_CTL_TECHNIQUES]
        techniques = [c for c in others if c is not None and c.peak is not None]
        if base is None or base.peak is None or not techniques:
            found_all.evidence.append(
                f"{workload}: needs epoll-LT and one of epoll-ET, epoll2, epoll-ctlv"
            )
            continue
        table = next(
            (t for t in tables if (t.workload, t.idle_connections) == (workload, 0) and t.rate),
            None,
        )
        fewer = _fewer_interest_calls(table, techniques, found_all.evidence, workload)
        calls_failed = f"{workload}: not every technique made fewer epoll_ctl calls per reply"
        if not any(c.saturated for c in (base, *techniques)):
            found_all.evidence.append(
                f"{workload}: {_peaks_of([base, *techniques])}; no curve saturated"
            )
            judged = techniques_by_cost(base, techniques, workload, THRESHOLD)
            if fewer is False:
                judged.holds = False
                judged.failed.append(calls_failed)
            if not found_all.add_cost(judged) and fewer is False:
                found_all.add(False, BY_COST, calls_failed)
            continue
        gains = [peak_change(base, curve, APPRECIABLE) for curve in techniques]
        for curve, gain in zip(techniques, gains, strict=True):
            found_all.evidence.append(
                f"{workload}: {curve.label} peak {_estimate(curve)} against epoll-LT"
                f" {_estimate(base)}: {_change_text(gain)}"
            )
        if fewer is False:
            found_all.add(False, BY_THROUGHPUT, calls_failed)
        elif _decided(gains):
            gained = [
                c.label for c, g in zip(techniques, gains, strict=True) if g and g.verdict == BETTER
            ]
            found_all.add(
                not gained,
                BY_THROUGHPUT,
                f"{workload}: {', '.join(gained)} gained {APPRECIABLE:.0%} or more over epoll-LT",
            )
    return found_all.finding(claim, "Figures 3 and 4, Table 1")


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
    claim = "With idle connections, select, poll and epoll2 degrade while epoll-ET does not."
    found_all = _Verdicts()
    evidence = found_all.evidence
    rows = idle_degradation(curves)
    for workload in _workloads(curves):
        mine = [r for r in rows if r.workload == workload and r.change is not None]
        if not mine:
            continue
        idle = max(r.idle_connections for r in mine)
        mine = [r for r in mine if r.idle_connections == idle]
        by = {r.mechanism: r for r in mine}
        degrading = [by[m] for m in DEGRADING if m in by]
        if "epoll-et" not in by or not degrading:
            evidence.append(f"{workload}: needs epoll-ET and select, poll or epoll2 at both counts")
            continue
        for row in (*degrading, by["epoll-et"]):
            evidence.append(
                f"{workload}, {idle:,} idle: {row.without.label} peak {_estimate(row.without)}"
                f" → {_estimate(row.with_idle)}: {_change_text(row.change)}"
            )
        # A degrading mechanism's unchanged peak says something only if its idle curve
        # saturated: otherwise that "peak" is the highest rate offered (the clients' limit).
        if not all(r.with_idle.saturated for r in degrading):
            unsaturated = [r.without.label for r in degrading if not r.with_idle.saturated]
            evidence.append(
                f"{workload}: {', '.join(unsaturated)} with idle connections did not saturate"
            )
            pairs = {m: (r.without, r.with_idle) for m, r in by.items()}
            found_all.add_cost(idle_by_cost(pairs, DEGRADING, workload, idle, THRESHOLD))
            continue
        et = by["epoll-et"]
        steady = peak_change(et.without, et.with_idle, UNAFFECTED)
        changes = [r.change for r in degrading]
        if not _decided([*changes, steady]):
            evidence.append(
                f"{workload}: a lower peak whose curve did not saturate decides nothing"
            )
            continue
        kept = [
            r.without.label
            for r, c in zip(degrading, changes, strict=True)
            if not (c and c.verdict == WORSE)
        ]
        et_dropped = steady is None or steady.verdict == WORSE
        failure = "; ".join(
            [f"{', '.join(kept)} did not lose {DEGRADES:.0%} or more"] * bool(kept)
            + [f"epoll-ET lost {UNAFFECTED:.0%} or more"] * et_dropped
        )
        found_all.add(not kept and not et_dropped, BY_THROUGHPUT, f"{workload}: {failure}")
    if not rows:
        evidence.append("the sweep has no idle-connection count besides 0 for the same curves")
    return found_all.finding(claim, "Figures 5 and 6")


def _accept_limit(curves: Sequence[Curve]) -> Finding:
    claim = "An accept-limit of 10 lifts epoll-LT to select's level (one-byte workload)."
    source = "Figure 7"
    evidence: list[str] = []
    limited = _curve(curves, "epoll-lt", "one-byte", 0, "10")
    unlimited = _curve(curves, "epoll-lt", "one-byte", 0, "inf")
    select = _curve(curves, "select", "one-byte", 0, "inf")
    if not (limited and unlimited and select and limited.peak and unlimited.peak and select.peak):
        evidence.append(
            "needs epoll-LT at accept-limits 10 and inf and select at inf, one-byte, no idle"
            " connections"
        )
        return Finding(claim, source, NOT_MEASURED, tuple(evidence))
    lift = peak_change(unlimited, limited, MATCHES)
    gap = peak_change(select, limited, MATCHES)
    evidence += [
        f"epoll-LT accept-limit 10: {_estimate(limited)}; inf: {_estimate(unlimited)}:"
        f" {_change_text(lift)}",
        f"select (inf): {_estimate(select)}; epoll-LT at 10 against it: {_change_text(gap)}",
    ]
    only = (
        "judged by throughput only: the accept-limit changes what happens under overload, "
        "not the CPU a reply costs below it"
    )
    if not any(c.saturated for c in (limited, unlimited, select)):
        evidence.append("no curve saturated")
        return Finding(claim, source, NOT_MEASURED, tuple(evidence), why=only)
    if not _decided([lift, gap]):
        evidence.append("a lower peak whose curve did not saturate decides nothing")
        return Finding(claim, source, NOT_MEASURED, tuple(evidence), why=only)
    lifted = lift is not None and lift.verdict == BETTER
    level = gap is not None and gap.verdict != WORSE
    failed = [f"accept-limit 10 did not lift epoll-LT by {MATCHES:.0%} or more"] * (not lifted)
    failed += [f"epoll-LT at 10 stays {MATCHES:.0%} or more below select"] * (not level)
    verdict = HOLDS if lifted and level else DOES_NOT_HOLD
    return Finding(claim, source, verdict, tuple(evidence), (BY_THROUGHPUT,), tuple(failed), only)


# -- helpers ------------------------------------------------------------------------------------


def _workloads(curves: Sequence[Curve]) -> list[str]:
    return list(dict.fromkeys(c.workload for c in curves))


def _curve(
    curves: Sequence[Curve], mechanism: str, workload: str, idle: int, accept: str
) -> Curve | None:
    return next(
        (
            c
            for c in curves
            if (c.mechanism, c.workload, c.idle_connections, c.accept_limit)
            == (mechanism, workload, idle, accept)
        ),
        None,
    )


def _main(curves: Sequence[Curve], mechanism: str, workload: str, idle: int) -> Curve | None:
    main = main_accept_limit(c.accept_limit for c in curves if c.workload == workload)
    return _curve(curves, mechanism, workload, idle, main)


def _estimate(curve: Curve) -> str:
    peak = curve.peak
    return peak.text() if peak else "no ok run"


def _peaks(found: dict[str, Curve]) -> str:
    return _peaks_of(list(found.values()))


def _peaks_of(curves: Sequence[Curve]) -> str:
    return ", ".join(f"{c.label} peak {_estimate(c)}" for c in curves)


def _decided(changes: Sequence[Change | None]) -> bool:
    """Whether every comparison was measured (no missing curve, no censored lower peak)."""
    return all(c is not None and c.verdict != NOT_MEASURED for c in changes)


def _change_text(result: Change | None) -> str:
    return result.text() if result is not None else "-"


def _overall(verdicts: list[bool]) -> str:
    if not verdicts:
        return NOT_MEASURED
    return HOLDS if all(verdicts) else DOES_NOT_HOLD
