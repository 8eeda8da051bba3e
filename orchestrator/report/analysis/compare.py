"""Comparing two sweeps: for every curve, did the server get better, worse, or stay the same?

    result = compare_sweeps(store, base_id, new_id, threshold=0.05)
    result.regressed, result.improved      # any curve significantly worse / better (none worse)
    result.worse()                         # one line per worse curve
    for row in result.rows:                # one per mechanism × workload × idle × accept-limit
        row.peak.relative, row.peak.low, row.peak.high, row.peak.verdict
        row.saturation.verdict

A curve's peak reply rate and saturation rate are compared (higher is better for both): the
change relative to base with its 95 % CI over the repetitions (`stats.change`), judged against
`threshold`. A saturation that one sweep did not reach inside its rates is a bound, not a value:
it can still be judged when the bounds alone put the change beyond the threshold. A change
between single runs has no CI and rests on the threshold alone: wherever it is printed (the
table, its page, `--json`, the nightly summary) it says "(single runs)".

`compare` is the pure part (two `SweepData`), with each row's values in the order of `COLUMNS`
(`cells`) and the one-line `summary`; `report.terminal` prints it as a table and
`report.html.compare` makes it a page.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from orchestrator.report.analysis.data import (
    MECHANISM_LABELS,
    Curve,
    Saturation,
    curves,
    peak_change,
)
from orchestrator.report.analysis.ordering import accept_order, mechanism_order
from orchestrator.report.analysis.stats import (
    BETTER,
    NO_CHANGE,
    NOT_MEASURED,
    THRESHOLD_ONLY,
    WORSE,
    Change,
    Estimate,
    change,
    relative_text,
)
from orchestrator.report.analysis.sweep import SweepData
from orchestrator.results.store import Store

DEFAULT_THRESHOLD = 0.05
BOUNDS_ONLY = "bounds: a saturation not reached inside the rates"


@dataclass(frozen=True)
class Difference:
    """One quantity of one curve (peak or saturation), base against new.

    `relative`, `low` and `high` are fractions of the base value (-0.2: 20 % lower); `low` and
    `high` bound the 95 % CI and are None without one (single runs, bounds)."""

    base: str  # as shown, e.g. "9,950 ± 373 (n=3)" or "not reached (above 7,000)"
    new: str
    base_value: Estimate | None
    new_value: Estimate | None
    relative: float | None
    low: float | None
    high: float | None
    verdict: str
    method: str

    @property
    def single_runs(self) -> bool:
        """Judged between single runs: no CI, the threshold alone."""
        return self.method == THRESHOLD_ONLY

    def text(self) -> str:
        """'-23.1% [-27.0%, -19.2%]', or '-23.1% (single runs)'."""
        shown = relative_text(self.relative, self.low, self.high)
        return shown + (" (single runs)" if self.single_runs and self.relative is not None else "")

    @classmethod
    def of(cls, base: str, new: str, result: Change) -> Difference:
        return cls(
            base,
            new,
            result.base,
            result.new,
            result.relative,
            result.low,
            result.high,
            result.verdict,
            result.method,
        )


@dataclass(frozen=True)
class CurveComparison:
    """One curve (mechanism × workload × idle connections × accept-limit) in both sweeps."""

    mechanism: str
    workload: str
    idle_connections: int
    accept_limit: str
    peak: Difference
    saturation: Difference

    @property
    def verdict(self) -> str:
        """Worse if either measure is worse, else better if either is, else no change."""
        verdicts = {self.peak.verdict, self.saturation.verdict}
        for verdict in (WORSE, BETTER, NO_CHANGE):
            if verdict in verdicts:
                return verdict
        return NOT_MEASURED

    @property
    def single_runs(self) -> bool:
        """Whether the verdict rests on single runs alone: every measure that gave it has no CI
        (a better or worse said on the threshold alone)."""
        deciding = [d for d in (self.peak, self.saturation) if d.verdict == self.verdict]
        return self.verdict in (WORSE, BETTER) and all(d.single_runs for d in deciding)

    @property
    def verdict_text(self) -> str:
        """The verdict as printed: 'worse', or 'worse (single runs)'."""
        return self.verdict + (" (single runs)" if self.single_runs else "")

    @property
    def name(self) -> str:
        """'one-byte/idle=0/select' ('/accept=10' before the mechanism when not inf)."""
        accept = f"/accept={self.accept_limit}" if self.accept_limit != "inf" else ""
        return f"{self.workload}/idle={self.idle_connections}{accept}/{self.mechanism}"

    def summary(self) -> str:
        """'one-byte/idle=0/select: peak -66.9% [-68.9%, -64.8%], saturation -63.0%'."""
        return f"{self.name}: peak {self.peak.text()}, saturation {self.saturation.text()}"


@dataclass(frozen=True)
class Comparison:
    """The comparison of sweep `new` against sweep `base`."""

    base: str
    new: str
    threshold: float
    rows: tuple[CurveComparison, ...]
    notes: tuple[str, ...]  # what differs between the sweeps besides the results

    def rows_with(self, verdict: str) -> list[CurveComparison]:
        return [row for row in self.rows if row.verdict == verdict]

    @property
    def regressed(self) -> bool:
        """Some curve is significantly worse (the nightly run's exit status 1)."""
        return bool(self.rows_with(WORSE))

    @property
    def improved(self) -> bool:
        """Some curve is significantly better and none is worse."""
        return not self.regressed and bool(self.rows_with(BETTER))

    def worse(self) -> list[str]:
        """One line per significantly worse curve (`CurveComparison.summary`)."""
        return [row.summary() for row in self.rows_with(WORSE)]


def compare_sweeps(
    store: Store, base: str, new: str, threshold: float = DEFAULT_THRESHOLD
) -> Comparison:
    """Compare two stored sweeps (see the module docstring)."""
    return compare(SweepData.load(store, base), SweepData.load(store, new), threshold)


def compare(base: SweepData, new: SweepData, threshold: float = DEFAULT_THRESHOLD) -> Comparison:
    """Compare every curve of `base` and `new` (curves of only one are 'not measured')."""
    before = {_key(c): c for c in curves(base)}
    after = {_key(c): c for c in curves(new)}
    rows = []
    for key in sorted(before.keys() | after.keys(), key=_order):
        mechanism, workload, idle, accept, network = key
        a, b = before.get(key), after.get(key)
        rows.append(
            CurveComparison(
                f"{mechanism} · {network}" if network else mechanism,
                workload,
                idle,
                accept,
                peak=_peak(a, b, threshold),
                saturation=_saturation(a, b, threshold),
            )
        )
    return Comparison(base.id, new.id, threshold, tuple(rows), tuple(_notes(base, new)))


def _peak(base: Curve | None, new: Curve | None, threshold: float) -> Difference:
    shown_a = base.peak.text() if base and base.peak else "not measured"
    shown_b = new.peak.text() if new and new.peak else "not measured"
    result = peak_change(base, new, threshold) if base and new else None
    if result is None:
        return Difference(shown_a, shown_b, None, None, None, None, None, NOT_MEASURED, "")
    return Difference.of(shown_a, shown_b, result)


def _saturation(base: Curve | None, new: Curve | None, threshold: float) -> Difference:
    a = base.saturation if base else Saturation(None)
    b = new.saturation if new else Saturation(None)
    shown_a, shown_b = a.text(), b.text()
    if a.estimate is not None and b.estimate is not None:
        assert base is not None and new is not None  # they have estimates
        result = change(base.saturation_runs(), new.saturation_runs(), threshold)
        return Difference.of(shown_a, shown_b, result)
    bounds_a, bounds_b = a.bounds, b.bounds
    if bounds_a is None or bounds_b is None:
        return Difference(shown_a, shown_b, None, None, None, None, None, NOT_MEASURED, "")
    (low_a, high_a), (low_b, high_b) = bounds_a, bounds_b
    verdict = NO_CHANGE
    if low_a > 0 and high_b <= low_a * (1 - threshold):
        verdict = WORSE
    elif math.isfinite(high_a) and low_b >= high_a * (1 + threshold):
        verdict = BETTER
    relative = None
    if low_a > 0 and math.isfinite(high_b) and verdict == WORSE:
        relative = high_b / low_a - 1  # at least this much lower
    elif math.isfinite(high_a) and high_a > 0 and verdict == BETTER:
        relative = low_b / high_a - 1  # at least this much higher
    return Difference(
        shown_a, shown_b, a.estimate, b.estimate, relative, None, None, verdict, BOUNDS_ONLY
    )


def _notes(base: SweepData, new: SweepData) -> list[str]:
    notes = []
    a, b = base.details, new.details
    if a.get("lab") != b.get("lab"):
        notes.append(f"different labs: {a.get('lab')} and {b.get('lab')}")
    if a.get("digest") != b.get("digest"):
        notes.append("different plans: only the curves both measured are compared")
    if base.load_engine != new.load_engine:
        notes.append(
            f"different load generators: {base.load_engine} in {base.id}, {new.load_engine} in"
            f" {new.id}: the clients' reach differs, so curves may end (and peak) elsewhere"
        )
    if base.emulated != new.emulated:
        notes.append("one sweep ran on an emulated lab, the other on a physical one")
    if a.get("revision") != b.get("revision"):
        notes.append(f"revision {a.get('revision')} → {b.get('revision')}")
    hosts_a, hosts_b = a.get("hosts") or {}, b.get("hosts") or {}
    for name in sorted(hosts_a.keys() & hosts_b.keys()):
        for fact in ("kernel", "cpu_model", "sysctls"):
            if hosts_a[name].get(fact) != hosts_b[name].get(fact):
                notes.append(f"{name}: {fact} differs between the sweeps")
    return notes


def _key(curve: Curve) -> tuple[str, str, int, str, str]:
    return (
        curve.mechanism,
        curve.workload,
        curve.idle_connections,
        curve.accept_limit,
        curve.network,
    )


def _order(key: tuple[str, str, int, str, str]) -> tuple[str, int, float, int, str]:
    mechanism, workload, idle, accept, network = key
    return (workload, idle, accept_order(accept), mechanism_order(mechanism), network)


# -- showing it ----------------------------------------------------------------------------------


COLUMNS = (
    "workload",
    "idle",
    "accept",
    "mechanism",
    "peak base",
    "peak new",
    "peak change",
    "saturation base",
    "saturation new",
    "saturation change",
    "verdict",
)


def cells(row: CurveComparison) -> list[str]:
    """A row's values in the order of COLUMNS."""
    return [
        row.workload,
        f"{row.idle_connections:,}",
        row.accept_limit,
        MECHANISM_LABELS.get(row.mechanism, row.mechanism),
        row.peak.base,
        row.peak.new,
        row.peak.text(),
        row.saturation.base,
        row.saturation.new,
        row.saturation.text(),
        row.verdict_text,
    ]


def summary(comparison: Comparison) -> str:
    """'significantly worse: a, b', and apart those worse by the threshold alone (single runs,
    no interval to call them significant)."""
    worse = comparison.rows_with(WORSE)
    if not worse:
        return "nothing significantly worse"
    tested = [row.name for row in worse if not row.single_runs]
    single = [row.name for row in worse if row.single_runs]
    parts = [f"significantly worse: {', '.join(tested)}"] if tested else []
    parts += [f"worse (single runs, threshold only): {', '.join(single)}"] if single else []
    return "; ".join(parts)
