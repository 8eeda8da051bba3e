"""The server's CPU cost per reply, compared between curves rate by rate.

    for c in cost_comparisons(without_idle, with_idle, threshold=0.10):
        c.rate, c.ratio, c.change.verdict          # COSTLIER, CHEAPER or stats.NO_CHANGE

Below saturation every mechanism serves what is offered, so reply rates cannot tell them apart;
the CPU each reply cost can. It is the server's CPU seconds over the replies it sent in the same
window (`pointmetrics`), one value per repetition at a rate, so comparisons carry Student-t /
Welch intervals like the peaks do (`stats.change`, where "higher" here means "costlier").

A *projected* capacity is 1 / CPU per reply (replies/s one CPU could sustain at that cost): an
extrapolation, never a measured peak, and always labelled "projected".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from orchestrator.report.analysis.data import Curve
from orchestrator.report.analysis.pointmetrics import CPU_PER_REPLY
from orchestrator.report.analysis.stats import BETTER, WORSE, Change, Estimate, change, estimate

COSTLIER, CHEAPER = "costlier", "cheaper"


@dataclass(frozen=True)
class CostComparison:
    """CPU per reply of `new` against `base` at one offered rate."""

    rate: float
    base: Estimate
    new: Estimate
    change: Change  # relative difference of the means, with its 95 % CI

    @property
    def ratio(self) -> float | None:
        return self.new.mean / self.base.mean if self.base.mean else None

    @property
    def verdict(self) -> str:
        """COSTLIER or CHEAPER when significant and at least the threshold, else no change."""
        return {BETTER: COSTLIER, WORSE: CHEAPER}.get(self.change.verdict, self.change.verdict)

    def text(self) -> str:
        ratio = f"{self.ratio:.2f}×" if self.ratio is not None else "-"
        return (
            f"{ratio} ({self.base.text(1)} → {self.new.text(1)} µs, {self.change.text()})"
            f" at {self.rate:,.0f} requests/s"
        )


def cost_comparisons(base: Curve, new: Curve, threshold: float) -> list[CostComparison]:
    """`new`'s CPU per reply against `base`'s at every rate both measured it (ok runs)."""
    theirs = {point.rate: point for point in new.points}
    found = []
    for point in base.points:
        other = theirs.get(point.rate)
        a = point.values(CPU_PER_REPLY)
        b = other.values(CPU_PER_REPLY) if other is not None else []
        if a and b:
            found.append(
                CostComparison(point.rate, estimate(a), estimate(b), change(a, b, threshold))
            )
    return found


def at_top(comparisons: Sequence[CostComparison]) -> CostComparison | None:
    """The comparison a verdict rests on: at the highest common rate (the nearest to
    saturation, where cost per reply decides capacity) of those with the most runs on both
    sides. A knee search repeats each curve's peak and the rate every curve was ok at
    (`run.knee`): a higher common rate with a single run on one side would judge on no CI."""
    if not comparisons:
        return None
    return max(comparisons, key=lambda c: (min(c.base.n, c.new.n), c.rate))


def ratios_text(comparisons: Sequence[CostComparison]) -> str:
    """'8.6× at 3,000 requests/s, 1.6× at 12,000' over the lowest and highest common rates."""
    if not comparisons:
        return "no common rate with CPU per reply"
    ends = [comparisons[0]] if len(comparisons) == 1 else [comparisons[0], comparisons[-1]]
    parts = []
    for index, item in enumerate(ends):
        ratio = f"{item.ratio:.1f}×" if item.ratio is not None else "-"
        unit = " requests/s" if index == 0 else ""
        parts.append(f"{ratio} at {item.rate:,.0f}{unit}")
    return ", ".join(parts)


def projected_capacity(curve: Curve) -> tuple[float, Estimate] | None:
    """Replies/s one CPU could sustain at the CPU per reply of the curve's highest rate that
    has it (projected, not measured), per repetition: (that rate, the estimate)."""
    for point in reversed(curve.points):
        values = [1e6 / v for v in point.values(CPU_PER_REPLY) if v > 0]
        if values:
            return point.rate, estimate(values)
    return None


@dataclass(frozen=True)
class CostRow:
    """One curve of a cost figure's table: its CPU per reply at each of the figure's rates
    (None where it has none) and its projected capacity."""

    label: str
    cpu_per_reply: tuple[Estimate | None, ...]
    projected: tuple[float, Estimate] | None


def cost_table(curves: Sequence[Curve]) -> tuple[list[float], list[CostRow]]:
    """(every rate any curve measured, ascending; a row per curve)."""
    rates = sorted({p.rate for c in curves for p in c.points})
    rows = []
    for curve in curves:
        by_rate = {p.rate: p.metric(CPU_PER_REPLY) for p in curve.points}
        cells = tuple(by_rate.get(rate) for rate in rates)
        rows.append(CostRow(curve.label, cells, projected_capacity(curve)))
    return rates, rows
