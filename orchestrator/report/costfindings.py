"""The paper's claims judged by the server's CPU per reply, for sweeps whose curves never saturated.

    judged = idle_by_cost(pairs, workload="one-byte", idle=10_000, threshold=0.10)
    judged.holds, judged.evidence, judged.failed   # None: could not be judged by cost either

The paper judges throughput at saturation. When no curve saturated (the clients gave out first,
as on a 2-core machine), every curve is the diagonal and throughput says nothing; but capacity
is one CPU over the CPU each reply costs, so a mechanism that costs more per reply at the same
offered load saturates sooner. The judgment is made at the highest rate every curve involved
was measured ok at (the nearest to saturation, where batching is most like the paper's), and
the evidence gives the ratio at the lowest common rate too: the cost of scanning idle
connections is shared by more replies as the rate grows, so the ratio shrinks with the rate.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from orchestrator.report.costs import CHEAPER, COSTLIER, at_top, cost_comparisons, ratios_text
from orchestrator.report.data import Curve

BY_COST = "cost"
BY_THROUGHPUT = "throughput"


@dataclass
class Judged:
    """A claim's verdict on one workload by cost: None when the costs were not stored."""

    holds: bool | None = None
    evidence: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)


def comparable_by_cost(found: Mapping[str, Curve], workload: str, threshold: float) -> Judged:
    """Select and poll perform as well as epoll-LT: neither costs significantly more per reply
    (by `threshold` or more) than epoll-LT at the highest common rate."""
    judged = Judged()
    base = found.get("epoll-lt")
    if base is None:
        return judged
    verdicts = []
    for mechanism in ("select", "poll"):
        curve = found.get(mechanism)
        top = at_top(cost_comparisons(base, curve, threshold)) if curve else None
        if curve is None or top is None:
            continue
        ok = top.verdict != COSTLIER
        verdicts.append(ok)
        judged.evidence.append(f"{workload}: {curve.label} against epoll-LT: {top.text()}")
        if not ok:
            judged.failed.append(
                f"{workload}: {curve.label} costs {top.change.text()} more CPU per reply than"
                f" epoll-LT at {top.rate:,.0f} requests/s (threshold {threshold:.0%})"
            )
    judged.holds = all(verdicts) if verdicts else None
    return judged


def techniques_by_cost(
    base: Curve, techniques: Sequence[Curve], workload: str, threshold: float
) -> Judged:
    """Fewer epoll_ctl calls bring little: no technique costs significantly less per reply than
    epoll-LT (by `threshold` or more) at the highest common rate."""
    judged = Judged()
    verdicts = []
    for curve in techniques:
        top = at_top(cost_comparisons(base, curve, threshold))
        if top is None:
            continue
        ok = top.verdict != CHEAPER
        verdicts.append(ok)
        judged.evidence.append(f"{workload}: {curve.label} against epoll-LT: {top.text()}")
        if not ok:
            judged.failed.append(
                f"{workload}: {curve.label} costs {top.change.text()} CPU per reply against"
                f" epoll-LT at {top.rate:,.0f} requests/s: an appreciable gain"
            )
    judged.holds = all(verdicts) if verdicts else None
    return judged


def idle_by_cost(
    pairs: Mapping[str, tuple[Curve, Curve]],
    degrading: Sequence[str],
    workload: str,
    idle: int,
    threshold: float,
) -> Judged:
    """Select, poll and epoll2 degrade with idle connections and epoll-ET does not: each of the
    former costs significantly more per reply with `idle` idle connections (by `threshold` or
    more) at the highest rate both curves share, and epoll-ET does not. `pairs`: mechanism →
    (curve without idle connections, curve with)."""
    judged = Judged()
    verdicts = []
    for mechanism in (*degrading, "epoll-et"):
        if mechanism not in pairs:
            continue
        without, with_idle = pairs[mechanism]
        comparisons = cost_comparisons(without, with_idle, threshold)
        top = at_top(comparisons)
        if top is None:
            continue
        judged.evidence.append(
            f"{workload}: {without.label}: {ratios_text(comparisons)} the CPU per reply with"
            f" {idle:,} idle connections; at the top {top.text()}"
        )
        if mechanism == "epoll-et":
            ok = top.verdict != COSTLIER
            failure = "epoll-ET costs more per reply with idle connections"
        else:
            ok = top.verdict == COSTLIER
            failure = f"{without.label} does not cost significantly more per reply"
        verdicts.append(ok)
        if not ok:
            judged.failed.append(
                f"{workload}: {failure} ({top.change.text()} at {top.rate:,.0f} requests/s,"
                f" threshold {threshold:.0%})"
            )
    if "epoll-et" in pairs and any(m in pairs for m in degrading) and verdicts:
        judged.holds = all(verdicts)
    return judged
