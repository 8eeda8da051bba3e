"""The report's statistics: Student t, means with CIs, and the verdict of a change."""

from __future__ import annotations

import math

import pytest

from orchestrator.report.analysis.stats import (
    BETTER,
    CLAIM_VERDICTS,
    DOES_NOT_HOLD,
    HOLDS,
    IDENTICAL,
    INCONCLUSIVE,
    MIN_RUNS,
    MOST_RUNS_SAID,
    NO_CHANGE,
    NOT_MEASURED,
    POOLED,
    THRESHOLD_ONLY,
    WELCH,
    WORSE,
    all_of,
    change,
    estimate,
    fact,
    higher,
    judge,
    lower,
    no_higher,
    no_lower,
    runs_to_decide,
    what_decides,
)
from orchestrator.report.analysis.tdist import t_cdf, t_quantile

# Two-sided 95 % critical values of Student's t, from the printed tables.
T_TABLE = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 9: 2.262, 10: 2.228, 30: 2.042}


@pytest.mark.parametrize(("df", "expected"), sorted(T_TABLE.items()))
def test_t_quantile_matches_the_tables(df: int, expected: float) -> None:
    assert t_quantile(0.975, df) == pytest.approx(expected, abs=5e-4)


def test_t_tends_to_the_normal_and_is_symmetric() -> None:
    assert t_quantile(0.975, 1e6) == pytest.approx(1.95996, abs=1e-4)
    assert t_quantile(0.025, 7) == pytest.approx(-t_quantile(0.975, 7))
    assert t_cdf(0.0, 3) == pytest.approx(0.5)
    assert t_cdf(2.776445, 4) == pytest.approx(0.975, abs=1e-6)
    # Welch's degrees of freedom are not whole numbers: between the neighbours.
    assert t_quantile(0.975, 2) > t_quantile(0.975, 2.5) > t_quantile(0.975, 3)
    with pytest.raises(ValueError):
        t_quantile(1.0, 3)


def test_a_single_run_has_no_interval() -> None:
    single = estimate([812.0])
    assert (single.mean, single.n, single.low, single.high) == (812.0, 1, None, None)
    assert single.single and single.text() == "812 (single run)"


def test_the_interval_of_three_runs_uses_t_with_two_degrees_of_freedom() -> None:
    three = estimate([9800.0, 10100.0, 9950.0])
    half = 4.302653 * 150.0 / math.sqrt(3)
    assert three.mean == 9950.0 and three.stddev == pytest.approx(150.0)
    assert three.low == pytest.approx(9950.0 - half, rel=1e-6)
    assert three.high == pytest.approx(9950.0 + half, rel=1e-6)
    assert three.cv == pytest.approx(150.0 / 9950.0)
    assert three.text() == f"9,950 ± {half:,.0f} (n=3)"
    with pytest.raises(ValueError):
        estimate([])


def test_a_clear_drop_is_worse_with_welch() -> None:
    result = change([100.0, 102.0, 98.0], [80.0, 81.0, 79.0], threshold=0.05)
    assert result.verdict == WORSE and result.method == WELCH
    assert result.relative == pytest.approx(-0.2)
    assert result.low is not None and result.high is not None
    assert result.low < -0.2 < result.high < 0


def test_a_clear_gain_is_better() -> None:
    assert change([80.0, 81.0, 79.0], [100.0, 102.0, 98.0], threshold=0.05).verdict == BETTER


def test_a_drop_inside_the_noise_is_no_significant_change() -> None:
    result = change([100.0, 130.0, 70.0], [90.0, 120.0, 60.0], threshold=0.05)
    assert result.relative == pytest.approx(-0.1)
    assert result.low is not None and result.low < 0 < (result.high or 0)
    assert result.verdict == NO_CHANGE


def test_a_significant_change_smaller_than_the_threshold_does_not_count() -> None:
    result = change([100.0, 100.5, 99.5], [98.0, 98.5, 97.5], threshold=0.05)
    assert result.high is not None and result.high < 0  # significant...
    assert result.verdict == NO_CHANGE  # ...but 2 % is under the 5 % threshold


def test_identical_sweeps_show_no_change() -> None:
    for runs in ([812.0], [812.0, 790.0, 805.0]):
        result = change(runs, runs, threshold=0.05)
        assert result.relative == 0.0 and result.verdict == NO_CHANGE
    assert change([812.0], [812.0], 0.05).method == IDENTICAL


def test_single_runs_are_judged_on_the_threshold_alone() -> None:
    result = change([1000.0], [800.0], threshold=0.05)
    assert result.method == THRESHOLD_ONLY and (result.low, result.high) == (None, None)
    assert result.verdict == WORSE and result.text() == "-20.0% (single runs)"
    assert change([1000.0], [970.0], threshold=0.05).verdict == NO_CHANGE


def test_a_single_run_against_repetitions_borrows_their_variance() -> None:
    result = change([1000.0, 1010.0, 990.0], [700.0], threshold=0.05)
    assert result.method == POOLED and result.verdict == WORSE
    half = 4.302653 * 10.0 * math.sqrt(1 / 3 + 1)
    assert result.low == pytest.approx((-300.0 - half) / 1000.0, rel=1e-6)


# -- claims about a change ----------------------------------------------------------------------


def test_a_claim_holds_only_when_the_whole_interval_lies_in_its_region() -> None:
    same = change([100.0, 101.0, 99.0], [102.0, 103.0, 101.0], threshold=0.10)
    assert same.low is not None and same.low > -0.10 and same.high is not None
    assert same.high < 0.10  # wholly within ±10 %
    assert judge(same, no_lower(0.10)).verdict == HOLDS
    assert judge(same, no_higher(0.10)).verdict == HOLDS
    assert judge(same, lower(0.10)).verdict == DOES_NOT_HOLD  # "degrades": wholly short of it
    drop = change([100.0, 101.0, 99.0], [60.0, 61.0, 59.0], threshold=0.10)
    assert drop.high is not None and drop.high < -0.10  # wholly beyond -10 %
    assert judge(drop, lower(0.10)).verdict == HOLDS
    assert judge(drop, no_lower(0.10)).verdict == DOES_NOT_HOLD
    assert judge(None, no_lower(0.10)).verdict == NOT_MEASURED


def test_an_interval_across_the_threshold_is_inconclusive_with_the_runs_it_would_take() -> None:
    base, new = [17.776, 18.5, 19.224], [20.921, 21.645, 22.369]
    result = change(base, new, threshold=0.10)
    assert result.verdict == BETTER  # significant and past the threshold...
    judged = judge(result, no_higher(0.10))
    assert judged.verdict == INCONCLUSIVE  # ...but the interval reaches inside it
    assert judged.runs == 3 and judged.runs_needed == runs_to_decide(result, no_higher(0.10))
    # The estimate is the smallest n at which t(2n - 2) * s * sqrt(2 / n) fits in the margin.
    spread = 0.724 / 18.5
    margin = result.relative - 0.10 if result.relative is not None else 0.0
    n = judged.runs_needed
    assert n is not None and n > 3
    assert t_quantile(0.975, 2 * n - 2) * spread * math.sqrt(2 / n) < margin
    assert t_quantile(0.975, 2 * n - 4) * spread * math.sqrt(2 / (n - 1)) >= margin
    assert judged.text().endswith(f"at least {n} runs per curve would decide it")


def test_a_difference_on_the_threshold_asks_for_more_runs_than_are_said() -> None:
    on = change([100.0, 104.0, 96.0], [110.0, 114.0, 106.0], threshold=0.10)
    judged = judge(on, no_higher(0.10))
    assert judged.verdict == INCONCLUSIVE and judged.runs_needed is None
    assert what_decides([judged]) == (
        f"more than {MOST_RUNS_SAID} runs per curve (the difference lies too near the threshold"
        " for its spread)"
    )


def test_too_few_runs_decide_nothing_and_say_what_the_interval_would() -> None:
    clear = change([100.0, 101.0], [60.0, 61.0], threshold=0.10)
    judged = judge(clear, lower(0.10))
    assert judged.verdict == INCONCLUSIVE and judged.runs == 2
    assert "fewer than the 3 a verdict needs" in judged.reason
    assert "alone it would say holds" in judged.reason
    assert judged.runs_needed == MIN_RUNS
    single = judge(change([100.0], [60.0], threshold=0.10), lower(0.10))
    assert single.verdict == INCONCLUSIVE and single.single
    assert single.reason.startswith("single runs, no CI: -40.0% alone would say holds")
    assert what_decides([single]) == "at least 3 runs per curve"


def test_a_lower_bound_opens_its_side_of_the_interval() -> None:
    # new's peak did not saturate: the truth may lie anywhere above the interval.
    above = change([5000.0, 5010.0, 4990.0], [6000.0, 6010.0, 5990.0], threshold=0.10)
    assert judge(above, no_lower(0.10), new_bound=True).verdict == HOLDS
    assert judge(above, no_higher(0.10), new_bound=True).verdict == DOES_NOT_HOLD
    below = change([5000.0, 5010.0, 4990.0], [4000.0, 4010.0, 3990.0], threshold=0.10)
    cut = judge(below, no_lower(0.10), new_bound=True)
    assert cut.verdict == INCONCLUSIVE and cut.censored and cut.runs_needed is None
    assert "-20.0% [-20.5%, +∞)" in cut.reason
    assert what_decides([cut]).startswith("rates that saturate")
    # Without the bound the same numbers decide.
    assert judge(below, no_lower(0.10)).verdict == DOES_NOT_HOLD


def test_a_claim_is_as_strong_as_its_weakest_part() -> None:
    assert all_of([HOLDS, HOLDS, NOT_MEASURED]) == HOLDS
    assert all_of([HOLDS, INCONCLUSIVE]) == INCONCLUSIVE
    assert all_of([INCONCLUSIVE, DOES_NOT_HOLD, HOLDS]) == DOES_NOT_HOLD
    assert all_of([NOT_MEASURED]) == all_of([]) == NOT_MEASURED
    assert fact(True, "fewer calls").verdict == HOLDS
    assert set(CLAIM_VERDICTS) == {HOLDS, DOES_NOT_HOLD, INCONCLUSIVE, NOT_MEASURED}


def test_regions_read_as_claims_and_mirror_for_costs() -> None:
    assert no_lower(0.10).text() == "no more than 10% lower"
    assert lower(0.10).text() == "at least 10% lower"
    assert higher(0.10).text() == "at least 10% higher"
    assert no_lower(0.10).mirrored() == no_higher(0.10)
    assert lower(0.10).mirrored() == higher(0.10)
