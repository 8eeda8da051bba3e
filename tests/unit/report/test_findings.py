"""The paper's findings checked on hand-made sweeps, and the idle-connection degradation."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.report.data import SweepData, curves
from orchestrator.report.findings import (
    DOES_NOT_HOLD,
    HOLDS,
    NOT_MEASURED,
    check_findings,
    idle_degradation,
)
from orchestrator.report.stats import WORSE
from orchestrator.report.syscalls import syscall_table
from orchestrator.results.store import Store
from tests.support.report_stores import P, sweep_with

RATES = (2000, 4000, 6000)


def curve(mechanism: str, capacity: float, reps: int = 2, **where: object) -> list[P]:
    """A mechanism that serves every rate up to `capacity` and `capacity` beyond it."""
    return [
        P(mechanism, rate, min(rate, capacity) * (1 + 0.002 * rep), rep=rep, **where)  # type: ignore[arg-type]
        for rate in RATES
        for rep in range(1, reps + 1)
    ]


def verdicts(tmp_path: Path, points: list[P]) -> dict[str, tuple[str, tuple[str, ...]]]:
    store = Store.open(tmp_path)
    data = SweepData.load(store, sweep_with(store, points))
    every = curves(data)
    tables = [syscall_table(data, "one-byte", 0, "inf")]
    return {f.source: (f.verdict, f.evidence) for f in check_findings(every, tables)}


def test_a_sweep_like_the_papers_upholds_every_claim(tmp_path: Path) -> None:
    few, many = {"epoll_ctl": (100, 0.1)}, {"epoll_ctl": (2000, 0.5)}
    points = [
        *curve("select", 5000),
        *curve("poll", 4900),
        *curve("epoll-lt", 4800, syscalls=many),
        *curve("epoll-et", 5000, syscalls=few),
        *curve("select", 2000, idle=1000),
        *curve("poll", 2100, idle=1000),
        *curve("epoll2", 2500, idle=1000),
        *curve("epoll2", 4800),
        *curve("epoll-et", 5000, idle=1000),
        *curve("epoll-lt", 5600, accept=10),
    ]
    found = verdicts(tmp_path, points)
    assert found["Figures 1 and 2"][0] == HOLDS
    assert found["Figures 3 and 4, Table 1"][0] == HOLDS, found["Figures 3 and 4, Table 1"]
    assert found["Figures 5 and 6"][0] == HOLDS, found["Figures 5 and 6"]
    assert found["Figure 7"][0] == HOLDS, found["Figure 7"]
    evidence = " ".join(found["Figures 5 and 6"][1])
    assert "select peak 5,015 ± 64 (n=2) → 2,006" in evidence and "1,000 idle" in evidence


def test_claims_that_the_numbers_contradict_do_not_hold(tmp_path: Path) -> None:
    points = [
        *curve("select", 3000),
        *curve("poll", 3000),
        *curve("epoll-lt", 5000),  # epoll-LT far ahead: select and poll do not keep up
        *curve("epoll-et", 5000),
        *curve("select", 3000, idle=1000),  # no degradation at all
        *curve("epoll-et", 2000, idle=1000),  # and epoll-ET suffers instead
    ]
    found = verdicts(tmp_path, points)
    assert found["Figures 1 and 2"][0] == DOES_NOT_HOLD
    assert found["Figures 5 and 6"][0] == DOES_NOT_HOLD
    assert "spread 40.0%" in " ".join(found["Figures 1 and 2"][1])


def test_claims_are_not_measured_without_the_curves_or_without_saturation(
    tmp_path: Path,
) -> None:
    points = [*curve("select", 9000), *curve("poll", 9000), *curve("epoll-lt", 9000)]
    found = verdicts(tmp_path, points)
    assert found["Figures 1 and 2"][0] == NOT_MEASURED  # nothing saturated below 6,000
    assert "no curve saturated" in " ".join(found["Figures 1 and 2"][1])
    for source in ("Figures 3 and 4, Table 1", "Figures 5 and 6", "Figure 7"):
        assert found[source][0] == NOT_MEASURED, found[source]


def test_idle_degradation_compares_each_mechanism_with_itself(tmp_path: Path) -> None:
    points = [*curve("select", 5000), *curve("select", 1000, idle=2000), *curve("poll", 5000)]
    store = Store.open(tmp_path)
    every = curves(SweepData.load(store, sweep_with(store, points)))
    [row] = idle_degradation(every)
    assert (row.mechanism, row.idle_connections) == ("select", 2000)
    assert row.ratio == pytest.approx(1000 / 5000, rel=1e-3)
    assert row.change is not None and row.change.verdict == WORSE
    assert row.with_idle.saturated


def test_a_degradation_needs_the_idle_curve_to_saturate(tmp_path: Path) -> None:
    cut = [
        P("poll", rate, rate, rep=rep, idle=2000, status="ok" if rate == 2000 else "client-limited")
        for rate in RATES
        for rep in (1, 2)
    ]
    store = Store.open(tmp_path)
    every = curves(SweepData.load(store, sweep_with(store, [*curve("poll", 5000), *cut])))
    [row] = idle_degradation(every)
    assert row.ratio is not None and row.ratio < 0.5  # 2,000 against 5,000: but only a bound
    assert row.change is not None and row.change.verdict == NOT_MEASURED
