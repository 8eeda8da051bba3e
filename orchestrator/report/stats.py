"""The report's statistics: means with Student-t confidence intervals and the verdict of a change.

    estimate([9800.0, 10100.0, 9950.0])      # Estimate: mean 9950, 95 % CI (9577, 10323), n 3
    change(base_runs, new_runs, threshold=0.05)  # Change: -23.1 % [-27.0, -19.2] -> "worse"

Every figure of a sweep is a handful of runs (repetitions), so intervals use Student's t, not the
normal approximation, and a change between two sets of runs uses Welch's t (unequal variances).
A single run has no interval and is labelled as such; a change between two single runs can only
be judged against the threshold, and says so in its `method`.

Pure functions over floats; the t quantile is computed here (regularised incomplete beta by
continued fraction, then bisection) so the report needs neither scipy nor numpy.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

CONFIDENCE = 0.95

BETTER, WORSE, NO_CHANGE, NOT_MEASURED = "better", "worse", "no significant change", "not measured"
VERDICTS = (BETTER, WORSE, NO_CHANGE, NOT_MEASURED)

WELCH = "Welch t, 95 % CI"
POOLED = "t with the repeated side's variance, 95 % CI"
THRESHOLD_ONLY = "single runs: no CI, threshold only"
IDENTICAL = "identical runs"
CENSORED = "the lower peak's curve did not saturate: a lower bound"


@dataclass(frozen=True)
class Estimate:
    """The mean of `n` runs with its 95 % confidence interval (None for a single run)."""

    mean: float
    n: int
    stddev: float | None  # sample standard deviation (n - 1); None for a single run
    low: float | None
    high: float | None

    @property
    def single(self) -> bool:
        return self.n == 1

    @property
    def half_width(self) -> float | None:
        return None if self.high is None else self.high - self.mean

    @property
    def cv(self) -> float | None:
        """Coefficient of variation (stddev / mean): the spread between runs."""
        if self.stddev is None or self.mean == 0:
            return None
        return self.stddev / abs(self.mean)

    def text(self, digits: int = 0) -> str:
        """'9,950 ± 373 (n=3)' or '9,950 (single run)'."""
        if self.half_width is None:
            return f"{self.mean:,.{digits}f} (single run)"
        return f"{self.mean:,.{digits}f} ± {self.half_width:,.{digits}f} (n={self.n})"


def estimate(values: Sequence[float]) -> Estimate:
    """Mean and Student-t 95 % confidence interval of `values` (at least one)."""
    if not values:
        raise ValueError("estimate of no values")
    mean = statistics.fmean(values)
    if len(values) == 1:
        return Estimate(mean, 1, None, None, None)
    stddev = statistics.stdev(values)
    half = t_quantile(0.5 + CONFIDENCE / 2, len(values) - 1) * stddev / math.sqrt(len(values))
    return Estimate(mean, len(values), stddev, mean - half, mean + half)


@dataclass(frozen=True)
class Change:
    """New against base: the difference of means, relative to base, with its 95 % CI.

    `relative`, `low` and `high` are fractions of the base mean (-0.2 is 20 % lower). Higher is
    better. The verdict is significant only when the interval excludes zero *and* the change is
    at least the threshold; without an interval (single runs) the threshold alone decides.
    """

    base: Estimate
    new: Estimate
    difference: float
    relative: float | None  # None when the base mean is 0
    low: float | None
    high: float | None
    verdict: str
    method: str
    threshold: float

    def text(self) -> str:
        """'-23.1% [-27.0%, -19.2%]' or '-23.1% (single runs)'."""
        suffixes = {THRESHOLD_ONLY: " (single runs)", CENSORED: " (lower peak not saturated)"}
        return relative_text(self.relative, self.low, self.high) + suffixes.get(self.method, "")


def relative_text(relative: float | None, low: float | None, high: float | None) -> str:
    """A relative change with its interval when there is one: '-23.1% [-27.0%, -19.2%]'."""
    if relative is None:
        return "-"
    if low is None or high is None:
        return f"{relative:+.1%}"
    return f"{relative:+.1%} [{low:+.1%}, {high:+.1%}]"


def change(base: Sequence[float], new: Sequence[float], threshold: float) -> Change:
    """How `new` runs differ from `base` runs (see `Change`)."""
    a, b = estimate(base), estimate(new)
    difference = b.mean - a.mean
    relative = difference / abs(a.mean) if a.mean else None
    half, method = _difference_half_width(base, new)
    if half is None or relative is None:
        low = high = None
        significant = True  # nothing to test against: the threshold alone decides
    else:
        low, high = (difference - half) / abs(a.mean), (difference + half) / abs(a.mean)
        significant = low > 0 or high < 0
    verdict = NO_CHANGE
    if relative is not None and significant:
        if relative <= -threshold:
            verdict = WORSE
        elif relative >= threshold:
            verdict = BETTER
    return Change(a, b, difference, relative, low, high, verdict, method, threshold)


def _difference_half_width(base: Sequence[float], new: Sequence[float]) -> tuple[float | None, str]:
    """Half-width of the 95 % CI of mean(new) - mean(base), and how it was obtained."""
    n1, n2 = len(base), len(new)
    if n1 < 2 and n2 < 2:
        if list(base) == list(new):
            return 0.0, IDENTICAL
        return None, THRESHOLD_ONLY
    if n1 >= 2 and n2 >= 2:
        v1, v2 = statistics.variance(base) / n1, statistics.variance(new) / n2
        if v1 + v2 == 0:
            return 0.0, WELCH
        df = (v1 + v2) ** 2 / (v1**2 / (n1 - 1) + v2**2 / (n2 - 1))
        return t_quantile(0.5 + CONFIDENCE / 2, df) * math.sqrt(v1 + v2), WELCH
    # One side is a single run: assume it varies as the repeated side does.
    repeated = base if n1 >= 2 else new
    variance = statistics.variance(repeated)
    df = len(repeated) - 1
    return t_quantile(0.5 + CONFIDENCE / 2, df) * math.sqrt(variance * (1 / n1 + 1 / n2)), POOLED


# -- Student's t --------------------------------------------------------------------------------


def t_cdf(x: float, df: float) -> float:
    """P(T <= x) for Student's t with `df` degrees of freedom (df > 0, not necessarily whole)."""
    if df <= 0:
        raise ValueError(f"degrees of freedom must be positive, not {df}")
    tail = 0.5 * _betainc(df / 2, 0.5, df / (df + x * x))
    return 1 - tail if x >= 0 else tail


def t_quantile(p: float, df: float) -> float:
    """The x with t_cdf(x, df) == p, for 0 < p < 1 (bisection: monotone, 60 halvings)."""
    if not 0 < p < 1:
        raise ValueError(f"probability must be in (0, 1), not {p}")
    if p < 0.5:
        return -t_quantile(1 - p, df)
    low, high = 0.0, 1.0
    while t_cdf(high, df) < p:
        high *= 2
    for _ in range(60):
        middle = (low + high) / 2
        if t_cdf(middle, df) < p:
            low = middle
        else:
            high = middle
    return (low + high) / 2


def _betainc(a: float, b: float, x: float) -> float:
    """The regularised incomplete beta function I_x(a, b) (Numerical Recipes, 6.4)."""
    if x <= 0:
        return 0.0
    if x >= 1:
        return 1.0
    front = math.exp(
        math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    )
    if x < (a + 1) / (a + b + 2):
        return front * _betacf(a, b, x) / a
    return 1 - front * _betacf(b, a, 1 - x) / b


def _betacf(a: float, b: float, x: float) -> float:
    """Continued fraction of the incomplete beta function (modified Lentz)."""
    tiny = 1e-300
    c, d = 1.0, 1 - (a + b) * x / (a + 1)
    d = 1 / (d if abs(d) > tiny else tiny)
    result = d
    for m in range(1, 300):
        for numerator in (
            m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
            -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1)),
        ):
            d = 1 + numerator * d
            d = 1 / (d if abs(d) > tiny else tiny)
            c = 1 + numerator / c
            c = c if abs(c) > tiny else tiny
            result *= c * d
        if abs(c * d - 1) < 1e-15:
            break
    return result
