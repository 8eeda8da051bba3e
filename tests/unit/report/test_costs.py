"""Which rate a comparison by CPU per reply rests on."""

from __future__ import annotations

from orchestrator.report.analysis.costs import CostComparison, at_top
from orchestrator.report.analysis.stats import change, estimate


def compared(rate: float, base: list[float], new: list[float]) -> CostComparison:
    return CostComparison(rate, estimate(base), estimate(new), change(base, new, 0.10))


def test_the_highest_common_rate_with_the_most_runs_on_both_sides() -> None:
    """The default sweep repeats each curve's peak and the rate every curve was ok at: select's
    single run at 16,000 beside epoll-LT's three must not be what a verdict rests on."""
    low = compared(8000, [38.0, 38.5, 38.2], [39.0, 39.4, 38.8])
    common = compared(12000, [38.0, 38.5, 38.2], [40.0, 40.4, 39.8])
    single = compared(16000, [38.0, 38.5, 38.2], [52.1])
    assert at_top([low, common, single]) is common
    assert at_top([low, common]) is common  # the highest of those with as many runs
    assert at_top([single]) is single  # nothing better: what there is
    assert at_top([]) is None
