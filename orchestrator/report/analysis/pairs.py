"""One comparison a claim of the paper rests on (a curve against another), judged.

    part = judge_pair(epoll_lt, select, no_lower(0.10), workload="one-byte", threshold=0.10)
    part.basis, part.judgment.verdict, part.evidence   # "cost", "inconclusive", "one-byte: ..."

The paper judges throughput at saturation, so a pair is judged by its peak reply rates when
either curve saturated. A curve that did not saturate peaks at the highest rate it was measured
ok at: a lower bound on what the server can do, so its side of the interval is open (censored,
`stats.judge`). When no curve of the pair saturated, or the open end is what leaves the peaks
undecided, the pair is judged by the server's CPU per reply instead: capacity is one CPU over
the CPU each reply costs, so a mechanism that costs 10 % more per reply saturates about 10 %
sooner, and the claim's region is mirrored. That judgment is made at the highest rate both
curves were measured ok at (the nearest to saturation, where batching is most like the
paper's); the evidence gives the ratio at the lowest common rate too, since the cost of scanning
idle connections is shared by more replies as the rate grows.
"""

from __future__ import annotations

from dataclasses import dataclass

from orchestrator.report.analysis.costs import at_top, cost_comparisons, ratios_text
from orchestrator.report.analysis.data import Curve
from orchestrator.report.analysis.stats import INCONCLUSIVE, Judgment, Region, change, judge

BY_THROUGHPUT, BY_COST, BY_COUNT = "throughput", "cost", "call counts"


@dataclass(frozen=True)
class Part:
    """One comparison a claim rests on, on one workload, and its judgment."""

    workload: str
    subject: str  # what was compared: 'select against epoll-LT'
    basis: str  # BY_THROUGHPUT, BY_COST or BY_COUNT (a count that is not a sample: calls)
    judgment: Judgment
    evidence: str  # the numbers behind it, one line


def judge_pair(
    base: Curve,
    new: Curve,
    region: Region,
    *,
    workload: str,
    threshold: float,
    subject: str = "",
    by_cost: bool = True,
) -> Part:
    """`new` against `base` for a claim that their peaks' relative difference lies in `region`
    (see the module docstring); `by_cost=False` for a claim about overload alone."""
    subject = subject or f"{new.label} against {base.label}"
    peaks: Part | None = None
    # A claim about overload alone is judged by its peaks even when neither saturated: both are
    # lower bounds then, and only rates that saturate a curve can decide it (inconclusive).
    if base.saturated or new.saturated or not by_cost:
        peaks = _by_peaks(base, new, region, workload, subject, threshold)
        if not by_cost or not (peaks.judgment.verdict == INCONCLUSIVE and peaks.judgment.censored):
            return peaks
    why = "no curve saturated" if peaks is None else "the peaks left it open: one is a lower bound"
    cost = _by_cost(base, new, region, workload, subject, threshold, why) if by_cost else None
    if cost is not None:
        return cost
    if peaks is not None:
        return peaks
    judgment = judge(None, region)
    reason = "no curve saturated" + ("" if not by_cost else " and no CPU per reply was stored")
    return Part(workload, subject, BY_THROUGHPUT, judgment, f"{workload}: {subject}: {reason}")


def _by_peaks(
    base: Curve, new: Curve, region: Region, workload: str, subject: str, threshold: float
) -> Part:
    a, b = base.peak_runs(), new.peak_runs()
    result = change(a, b, threshold) if a and b else None
    judgment = judge(result, region, base_bound=not base.saturated, new_bound=not new.saturated)
    evidence = f"{workload}: {subject}: peak {_peak(new)} against {_peak(base)}: {judgment.text()}"
    return Part(workload, subject, BY_THROUGHPUT, judgment, evidence)


def _by_cost(
    base: Curve, new: Curve, region: Region, workload: str, subject: str, threshold: float, why: str
) -> Part | None:
    comparisons = cost_comparisons(base, new, threshold)
    top = at_top(comparisons)
    if top is None:
        return None
    judgment = judge(top.change, region.mirrored())
    evidence = (
        f"{workload}: {subject}, CPU per reply ({why}): {ratios_text(comparisons)};"
        f" at {top.rate:,.0f} requests/s {top.base.text(1)} → {top.new.text(1)} µs:"
        f" {judgment.text()}"
    )
    return Part(workload, subject, BY_COST, judgment, evidence)


def _peak(curve: Curve) -> str:
    peak = curve.peak
    if peak is None:
        return "no ok run"
    return peak.text() + ("" if curve.saturated else " (did not saturate: a lower bound)")
