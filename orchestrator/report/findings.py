"""The paper's findings, checked on a sweep, and the idle-connection degradation behind two of them.

    rows = idle_degradation(curves(data))
    for finding in check_findings(curves(data), tables):
        finding.claim, finding.verdict, finding.evidence   # holds / does not hold / not measured

Each claim is judged on peak reply rates (`Curve.peak`: the best rate's mean over its ok runs)
with the thresholds below; a difference counts only when `stats.change` finds it significant (its CI
excludes zero, or single runs against the threshold alone). A claim about behaviour under load
is "not measured" when none of the curves it rests on saturated: at rates the server serves
without effort every mechanism looks alike, and that says nothing about the claim.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from orchestrator.report.data import Curve, main_accept_limit, peak_change
from orchestrator.report.stats import BETTER, NOT_MEASURED, WORSE, Change
from orchestrator.report.syscalls import SyscallTable

HOLDS, DOES_NOT_HOLD = "holds", "does not hold"  # and NOT_MEASURED, as for a change

COMPARABLE = 0.10  # peaks within 10 % of the best count as "perform as well"
APPRECIABLE = 0.10  # a gain of 10 % or more would be an appreciable improvement
DEGRADES = 0.10  # a drop of 10 % or more with idle connections is a degradation
UNAFFECTED = 0.05  # a drop under 5 % (or not significant) is "not impacted"
MATCHES = 0.05  # within 5 % of select's peak is "select's level"
EPOLL_CTL_TECHNIQUES = ("epoll-et", "epoll2", "epoll-ctlv")
DEGRADING = ("select", "poll", "epoll2")


@dataclass(frozen=True)
class Finding:
    """One claim of the paper and what this sweep says about it."""

    claim: str
    source: str  # where the paper makes it
    verdict: str  # HOLDS, DOES_NOT_HOLD or NOT_MEASURED
    evidence: tuple[str, ...]  # the numbers behind the verdict


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
    claim = "Without idle connections, select and poll perform as well as epoll-LT."
    source = "Figures 1 and 2"
    evidence: list[str] = []
    verdicts = []
    for workload in _workloads(curves):
        found = {m: _main(curves, m, workload, 0) for m in ("select", "poll", "epoll-lt")}
        present = {m: c for m, c in found.items() if c is not None and c.peak is not None}
        if "epoll-lt" not in present or len(present) < 2:
            evidence.append(f"{workload}: needs epoll-LT and select or poll without idle conns")
            continue
        if not any(c.saturated for c in present.values()):
            evidence.append(f"{workload}: {_peaks(present)}; no curve saturated")
            continue
        peaks = {m: c.peak.mean for m, c in present.items() if c.peak is not None}
        spread = (max(peaks.values()) - min(peaks.values())) / max(peaks.values())
        ok = spread <= COMPARABLE
        verdicts.append(ok)
        evidence.append(
            f"{workload}: {_peaks(present)}; spread {spread:.1%} "
            f"({'within' if ok else 'beyond'} {COMPARABLE:.0%})"
        )
    return Finding(claim, source, _overall(verdicts), tuple(evidence))


def _epoll_ctl_techniques(curves: Sequence[Curve], tables: Sequence[SyscallTable]) -> Finding:
    claim = (
        "Edge-triggered epoll, epoll2 and epoll-ctlv make fewer epoll_ctl calls than epoll-LT"
        " but bring little or no throughput gain."
    )
    source = "Figures 3 and 4, Table 1"
    evidence: list[str] = []
    verdicts = []
    for workload in _workloads(curves):
        base = _main(curves, "epoll-lt", workload, 0)
        others = [_main(curves, m, workload, 0) for m in EPOLL_CTL_TECHNIQUES]
        techniques = [c for c in others if c is not None and c.peak is not None]
        if base is None or base.peak is None or not techniques:
            evidence.append(f"{workload}: needs epoll-LT and one of epoll-ET, epoll2, epoll-ctlv")
            continue
        table = next(
            (t for t in tables if (t.workload, t.idle_connections) == (workload, 0) and t.rate),
            None,
        )
        fewer = _fewer_interest_calls(table, techniques, evidence, workload)
        if not any(c.saturated for c in (base, *techniques)):
            evidence.append(f"{workload}: {_peaks_of([base, *techniques])}; no curve saturated")
            if fewer is False:
                verdicts.append(False)
            continue
        gains = [peak_change(base, curve, APPRECIABLE) for curve in techniques]
        for curve, gain in zip(techniques, gains, strict=True):
            evidence.append(
                f"{workload}: {curve.label} peak {_estimate(curve)} against epoll-LT"
                f" {_estimate(base)}: {_change_text(gain)}"
            )
        if fewer is False:
            verdicts.append(False)
        elif _decided(gains):
            verdicts.append(all(g is not None and g.verdict != BETTER for g in gains))
    return Finding(claim, source, _overall(verdicts), tuple(evidence))


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
            f"(+ctlv) calls per reply against epoll-LT's {per_reply:.2f}"
        )
    return all(verdicts) if verdicts else None


def _idle_degradation(curves: Sequence[Curve]) -> Finding:
    claim = "With idle connections, select, poll and epoll2 degrade while epoll-ET does not."
    source = "Figures 5 and 6"
    evidence: list[str] = []
    verdicts = []
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
        if not any(r.with_idle.saturated for r in (*degrading, by["epoll-et"])):
            evidence.append(f"{workload}: no curve with idle connections saturated")
            continue
        et = by["epoll-et"]
        steady = peak_change(et.without, et.with_idle, UNAFFECTED)
        changes = [r.change for r in degrading]
        if not _decided([*changes, steady]):
            evidence.append(
                f"{workload}: a lower peak whose curve did not saturate decides nothing"
            )
            continue
        degraded = all(c is not None and c.verdict == WORSE for c in changes)
        verdicts.append(degraded and steady is not None and steady.verdict != WORSE)
    if not rows:
        evidence.append("the sweep has no idle-connection count besides 0 for the same curves")
    return Finding(claim, source, _overall(verdicts), tuple(evidence))


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
    if not any(c.saturated for c in (limited, unlimited, select)):
        evidence.append("no curve saturated")
        return Finding(claim, source, NOT_MEASURED, tuple(evidence))
    if not _decided([lift, gap]):
        evidence.append("a lower peak whose curve did not saturate decides nothing")
        return Finding(claim, source, NOT_MEASURED, tuple(evidence))
    holds = lift is not None and lift.verdict == BETTER and gap is not None and gap.verdict != WORSE
    return Finding(claim, source, HOLDS if holds else DOES_NOT_HOLD, tuple(evidence))


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
