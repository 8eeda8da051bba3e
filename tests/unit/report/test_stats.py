"""The report's statistics: Student t, means with CIs, and the verdict of a change."""

from __future__ import annotations

import math

import pytest

from orchestrator.report.stats import (
    BETTER,
    IDENTICAL,
    NO_CHANGE,
    POOLED,
    THRESHOLD_ONLY,
    WELCH,
    WORSE,
    change,
    estimate,
    t_cdf,
    t_quantile,
)

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
