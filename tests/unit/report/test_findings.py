"""The paper's findings checked on hand-made sweeps, and the idle-connection degradation."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.report.costfindings import BY_COST, BY_THROUGHPUT
from orchestrator.report.costs import COSTLIER, cost_comparisons, projected_capacity
from orchestrator.report.data import SweepData, curves
from orchestrator.report.findings import (
    DOES_NOT_HOLD,
    HOLDS,
    NOT_MEASURED,
    Finding,
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


def costly(mechanism: str, us: dict[int, float], reps: int = 2, **where: object) -> list[P]:
    """A mechanism that serves every rate (nothing saturates) at `us[rate]` µs of CPU per reply
    (the hand-made store's server counts 5 s of replies)."""
    return [
        P(mechanism, rate, rate, rep=rep, cpu=us[rate] * (1 + 0.01 * rep) * 5 * rate / 1e6, **where)  # type: ignore[arg-type]
        for rate in RATES
        for rep in range(1, reps + 1)
    ]


def flat(us: float) -> dict[int, float]:
    return dict.fromkeys(RATES, us)


def judged(tmp_path: Path, points: list[P]) -> dict[str, Finding]:
    store = Store.open(tmp_path)
    data = SweepData.load(store, sweep_with(store, points))
    return {
        f.source: f
        for f in check_findings(curves(data), [syscall_table(data, "one-byte", 0, "inf")])
    }


def verdicts(tmp_path: Path, points: list[P]) -> dict[str, tuple[str, tuple[str, ...]]]:
    return {s: (f.verdict, f.evidence) for s, f in judged(tmp_path, points).items()}


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


def test_claims_are_not_measured_without_the_curves_or_saturation_or_costs(
    tmp_path: Path,
) -> None:
    # No CPU counter stored: cost cannot judge either.
    points = [p for m in ("select", "poll", "epoll-lt") for p in curve(m, 9000, cpu=0.0)]
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


def test_idle_degradation_is_judged_by_cost_unless_the_degrading_curves_saturated(
    tmp_path: Path,
) -> None:
    """select's idle curve kept up with every rate offered (the clients' limit), so its
    unchanged peak decides nothing, even though epoll-ET's idle curve fell below 95 % once."""
    scan = {2000: 285.0, 4000: 166.0, 6000: 71.0}
    points = [
        *costly("select", flat(30)),
        *costly("epoll-et", flat(30)),
        *costly("select", scan, idle=1000),
        *[
            P("epoll-et", r, r * (0.9 if r == 6000 else 1.0), rep=rep, idle=1000, cpu=0.5)
            for r in RATES
            for rep in (1, 2)
        ],
    ]
    found = judged(tmp_path, points)["Figures 5 and 6"]
    assert found.basis == (BY_COST,), found
    assert found.verdict == HOLDS, found
    assert any("did not saturate" in line for line in found.evidence)


def test_without_saturation_the_claims_are_judged_by_cpu_per_reply(tmp_path: Path) -> None:
    few, many = {"epoll_ctl": (100, 0.1)}, {"epoll_ctl": (2000, 0.5)}
    scan = {2000: 285.0, 4000: 166.0, 6000: 71.0}  # the idle scan, shared by more replies
    points = [
        *costly("select", flat(30)),
        *costly("poll", flat(31)),
        *costly("epoll-lt", flat(30), syscalls=many),
        *costly("epoll-et", flat(30), syscalls=few),
        *costly("select", scan, idle=1000),
        *costly("poll", scan, idle=1000),
        *costly("epoll-et", flat(31), idle=1000),
    ]
    found = judged(tmp_path, points)
    for source in ("Figures 1 and 2", "Figures 3 and 4, Table 1", "Figures 5 and 6"):
        assert found[source].verdict == HOLDS, found[source]
        assert found[source].basis == (BY_COST,) and "CPU per reply" in found[source].why
    idle = " ".join(found["Figures 5 and 6"].evidence)
    assert "select: 9.5× at 2,000 requests/s, 2.4× at 6,000 the CPU per reply" in idle
    assert found["Figure 7"].verdict == NOT_MEASURED  # never judged by cost


def test_costs_that_contradict_a_claim_say_which_condition_failed(tmp_path: Path) -> None:
    points = [
        *costly("select", flat(60)),  # twice epoll-LT's cost: not "as well"
        *costly("epoll-lt", flat(30)),
        *costly("epoll-et", flat(30)),
        *costly("select", flat(61), idle=1000),  # no degradation
        *costly("epoll-et", flat(30), idle=1000),
    ]
    found = judged(tmp_path, points)
    comparable, idle = found["Figures 1 and 2"], found["Figures 5 and 6"]
    assert comparable.verdict == idle.verdict == DOES_NOT_HOLD
    assert "select costs" in comparable.failed[0] and "more CPU per reply" in comparable.failed[0]
    assert "select does not cost significantly more per reply" in idle.failed[0]


def test_saturated_curves_are_judged_by_throughput_and_failures_are_named(tmp_path: Path) -> None:
    points = [*curve("select", 3000), *curve("poll", 3000), *curve("epoll-lt", 5000)]
    comparable = judged(tmp_path, points)["Figures 1 and 2"]
    assert comparable.verdict == DOES_NOT_HOLD and comparable.basis == (BY_THROUGHPUT,)
    assert "spread 40.0%, beyond the 10% threshold" in comparable.failed[0]


def test_cost_comparisons_carry_confidence_intervals(tmp_path: Path) -> None:
    store = Store.open(tmp_path)
    points = [*costly("select", flat(30), reps=3), *costly("select", flat(90), reps=3, idle=1000)]
    every = curves(SweepData.load(store, sweep_with(store, points)))
    [without, with_idle] = every
    comparisons = cost_comparisons(without, with_idle, 0.10)
    assert [c.rate for c in comparisons] == list(RATES)
    for c in comparisons:
        assert c.base.n == c.new.n == 3 and c.base.low is not None
        assert c.ratio == pytest.approx(3.0, rel=1e-6) and c.verdict == COSTLIER
    capacity = projected_capacity(without)
    assert capacity is not None and capacity[0] == 6000
    assert 1e6 / 31 < capacity[1].mean < 1e6 / 30  # one CPU over ~30.6 µs
