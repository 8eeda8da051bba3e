"""The report's statistics: means with Student-t confidence intervals, the verdict of a change,
and the verdict of a claim about a change.

    estimate([9800.0, 10100.0, 9950.0])      # Estimate: mean 9950, 95 % CI (9577, 10323), n 3
    change(base_runs, new_runs, threshold=0.05)  # Change: -23.1 % [-27.0, -19.2] -> "worse"
    judge(change(base, new, 0.10), no_lower(0.10))  # Judgment: holds, does not hold, inconclusive

Every figure of a sweep is a handful of runs (repetitions), so intervals use Student's t, not the
normal approximation, and a change between two sets of runs uses Welch's t (unequal variances).
A single run has no interval and is labelled as such; a change between two single runs can only
be judged against the threshold, and says so in its `method`.

A claim ("performs as well", "degrades") is judged by `judge`: it names the region its relative
difference must lie in (`Region`, bounded by the threshold); it holds when the whole 95 % CI lies
inside, does not hold when the whole CI lies outside, and is inconclusive otherwise, with the runs
per curve that would likely decide it. Fewer than `MIN_RUNS` runs on a side decide nothing.
A claim of no difference names the side it rules out ("as well as or better", "does not degrade",
"little or no gain"): the one-sided halves of an equivalence test (TOST) at the threshold, at
95 % each. It holds only when the whole CI lies on its side of the threshold, so an interval
that reaches past it (as with two runs and "nothing significant") proves nothing.

Pure functions over floats; the t quantile is computed here (regularised incomplete beta by
continued fraction, then bisection) so the report needs neither scipy nor numpy.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from orchestrator.report.analysis.tdist import t_quantile

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


# -- claims about a change ----------------------------------------------------------------------

HOLDS, DOES_NOT_HOLD, INCONCLUSIVE = "holds", "does not hold", "inconclusive"
CLAIM_VERDICTS = (HOLDS, DOES_NOT_HOLD, INCONCLUSIVE, NOT_MEASURED)

# A verdict by CI needs this many runs on each side. With two, the interval's width rests on one
# degree of freedom per side (Welch's t between 4.3 and 12.7): it almost never decides, and when
# it does, it rests on a spread that two runs cannot tell from luck.
MIN_RUNS = 3
# Past this many runs per curve the estimate says only "more": the difference sits so near the
# threshold that no practical number of runs would decide it.
MOST_RUNS_SAID = 30


@dataclass(frozen=True)
class Region:
    """The relative differences (new against base, as fractions) a claim allows: `low` to
    `high`, either end possibly infinite. `no_lower(0.1)`: "performs as well", "does not
    degrade" (not 10 % or more lower); `lower(0.1)`: "degrades" (at least 10 % lower)."""

    low: float
    high: float

    def contains(self, low: float, high: float) -> bool:
        return self.low <= low and high <= self.high

    def excludes(self, low: float, high: float) -> bool:
        return high < self.low or low > self.high

    def mirrored(self) -> Region:
        """The same claim about the inverse quantity: CPU per reply for throughput (a mechanism
        that costs 10 % more per reply saturates about 10 % sooner)."""
        return Region(-self.high, -self.low)

    def distance(self, value: float) -> float:
        """How far `value` lies from the region's nearest finite bound."""
        return min(abs(value - bound) for bound in (self.low, self.high) if math.isfinite(bound))

    def text(self) -> str:
        """'no more than 10% lower', 'at least 10% lower', 'no more than 10% higher', ..."""
        low, high = self.low, self.high
        if math.isfinite(low) and math.isfinite(high):
            return f"within {low:+.0%} and {high:+.0%}"
        if math.isfinite(low):
            return f"no more than {-low:.0%} lower" if low < 0 else f"at least {low:.0%} higher"
        return f"no more than {high:.0%} higher" if high > 0 else f"at least {-high:.0%} lower"


def no_lower(threshold: float) -> Region:
    """ "Does not degrade", "as well as or better": not `threshold` or more lower."""
    return Region(-threshold, math.inf)


def no_higher(threshold: float) -> Region:
    """ "Brings no appreciable gain", "costs no more": not `threshold` or more higher."""
    return Region(-math.inf, threshold)


def lower(threshold: float) -> Region:
    """ "Degrades", "is worse": at least `threshold` lower."""
    return Region(-math.inf, -threshold)


def higher(threshold: float) -> Region:
    """ "Lifts", "costs more": at least `threshold` higher."""
    return Region(threshold, math.inf)


@dataclass(frozen=True)
class Judgment:
    """A claim about one change, judged (`judge`): its verdict, the interval it rests on, and
    when inconclusive what would decide it."""

    verdict: str  # one of CLAIM_VERDICTS
    region: Region | None  # None: a count, not a sample (see `fact`)
    change: Change | None
    runs: int  # the fewest runs on either side
    reason: str  # the interval against the region, in words
    runs_needed: int | None = None  # inconclusive: runs per curve that would likely decide it
    single: bool = False  # a side is a single run: no spread to build an interval on
    # A side is only a lower bound (a peak whose curve did not saturate) and that leaves the
    # claim open whatever the runs: only rates that saturate the curve would decide it.
    censored: bool = False

    @property
    def decided(self) -> bool:
        return self.verdict in (HOLDS, DOES_NOT_HOLD)

    def text(self) -> str:
        """'inconclusive: the 95 % CI +17.0% [+0.2%, +33.9%] reaches both inside and outside
        ...; at least 4 runs per curve would decide it'."""
        need = what_decides([self])
        return f"{self.verdict}: {self.reason}" + (f"; {need} would decide it" if need else "")


def fact(holds: bool, reason: str) -> Judgment:
    """A judgment on a count rather than a sample (calls per reply of one profile): no
    interval, so nothing to be inconclusive about."""
    return Judgment(HOLDS if holds else DOES_NOT_HOLD, None, None, 0, reason)


def what_decides(judgments: Iterable[Judgment]) -> str:
    """What would decide the inconclusive ones among `judgments` ('' when none is): the most
    runs per curve any of them needs, and rates that saturate a curve whose peak is only a
    lower bound (more runs alone would not decide those)."""
    runs, on_threshold, censored = 0, False, False
    for judgment in judgments:
        if judgment.verdict != INCONCLUSIVE:
            continue
        if judgment.censored:
            censored = True
        elif judgment.runs_needed is not None:
            runs = max(runs, judgment.runs_needed)
        elif judgment.single:
            runs = max(runs, MIN_RUNS)
        else:
            on_threshold = True
    needs = []
    if on_threshold:
        needs.append(
            f"more than {MOST_RUNS_SAID} runs per curve (the difference lies too near the"
            " threshold for its spread)"
        )
    elif runs:
        needs.append(f"at least {runs} runs per curve")
    if censored:
        needs.append("rates that saturate the curves whose peaks are only lower bounds")
    return " and ".join(needs)


def judge(
    result: Change | None, region: Region, *, base_bound: bool = False, new_bound: bool = False
) -> Judgment:
    """Whether the claim that `result` lies in `region` holds (see the module docstring).

    `base_bound` / `new_bound`: that side is only a lower bound on the true value (a peak whose
    curve did not saturate), so the true difference may lie any amount below / above the
    measured interval: that end of the interval is open."""
    if result is None or result.relative is None:
        return Judgment(NOT_MEASURED, region, result, 0, "not measured")
    runs = min(result.base.n, result.new.n)
    # An open end decides nothing by more runs when even the measured difference itself,
    # opened the same way, would not decide: only rates that saturate the curve would.
    censored = _inside(region, result.relative, result.relative, base_bound, new_bound) == (
        INCONCLUSIVE
    )
    if result.low is None or result.high is None or runs < 2:
        single = "single runs" if max(result.base.n, result.new.n) == 1 else "a single run"
        reading = _inside(region, result.relative, result.relative, base_bound, new_bound)
        return Judgment(
            INCONCLUSIVE,
            region,
            result,
            runs,
            f"{single}, no CI: {result.relative:+.1%} alone would say {reading}"
            f" (the claim: {region.text()})",
            single=True,
            censored=censored,
        )
    interval = _inside(region, result.low, result.high, base_bound, new_bound)
    shown = relative_text(result.relative, result.low, result.high)
    if base_bound or new_bound:  # the interval judged: open where a peak is a lower bound
        low = "(-∞" if base_bound else f"[{result.low:+.1%}"
        high = "+∞)" if new_bound else f"{result.high:+.1%}]"
        shown = f"{result.relative:+.1%} {low}, {high} (a peak that is only a lower bound)"
    needed = None if censored else runs_to_decide(result, region)
    where = {
        HOLDS: "lies wholly inside",
        DOES_NOT_HOLD: "lies wholly outside",
        INCONCLUSIVE: "reaches both inside and outside",
    }[interval]
    if runs < MIN_RUNS:
        reading = f": alone it would say {interval}" if interval != INCONCLUSIVE else ""
        return Judgment(
            INCONCLUSIVE,
            region,
            result,
            runs,
            f"{runs} runs per curve, fewer than the {MIN_RUNS} a verdict needs (the 95 % CI"
            f" {shown} {where} the claim's region, {region.text()}{reading})",
            runs_needed=max(MIN_RUNS, needed) if needed is not None else None,
            censored=censored,
        )
    return Judgment(
        interval,
        region,
        result,
        runs,
        f"the 95 % CI {shown} {where} the claim's region, {region.text()}",
        runs_needed=needed if interval == INCONCLUSIVE else None,
        censored=censored,
    )


def _inside(region: Region, low: float, high: float, base_bound: bool, new_bound: bool) -> str:
    """HOLDS, DOES_NOT_HOLD or INCONCLUSIVE for an interval, opened on a censored side."""
    low = -math.inf if base_bound else low
    high = math.inf if new_bound else high
    if region.contains(low, high):
        return HOLDS
    if region.excludes(low, high):
        return DOES_NOT_HOLD
    return INCONCLUSIVE


def all_of(verdicts: Iterable[str]) -> str:
    """The verdict of a claim that rests on several: it does not hold when any part does not,
    is inconclusive when any part is, holds when every part measured holds; parts not measured
    are left out (the caller says which)."""
    judged = [verdict for verdict in verdicts if verdict != NOT_MEASURED]
    for verdict in (DOES_NOT_HOLD, INCONCLUSIVE, HOLDS):
        if verdict in judged:
            return verdict
    return NOT_MEASURED


def runs_to_decide(result: Change, region: Region) -> int | None:
    """Runs per curve at which, at the spread observed, the 95 % CI of the difference would no
    longer reach across the region's nearest bound: the smallest n with
    t(0.975, 2n - 2) * s * sqrt(2 / n) < |bound - difference|, s the two sides' pooled relative
    standard deviation. None without a spread (single runs), or past MOST_RUNS_SAID."""
    spreads = [side.stddev for side in (result.base, result.new) if side.stddev is not None]
    if not spreads or result.relative is None or not result.base.mean:
        return None
    spread = math.sqrt(statistics.fmean(s * s for s in spreads)) / abs(result.base.mean)
    margin = region.distance(result.relative)
    for runs in range(2, MOST_RUNS_SAID + 1):
        if t_quantile(0.5 + CONFIDENCE / 2, 2 * runs - 2) * spread * math.sqrt(2 / runs) < margin:
            return runs
    return None
