"""The paper's findings checked on hand-made sweeps, and the idle-connection degradation."""

from __future__ import annotations

from pathlib import Path
from typing import Unpack

import pytest

from orchestrator.report.analysis.claims import Finding
from orchestrator.report.analysis.costs import COSTLIER, cost_comparisons, projected_capacity
from orchestrator.report.analysis.data import curves
from orchestrator.report.analysis.findings import THRESHOLD, check_findings, idle_degradation
from orchestrator.report.analysis.pairs import BY_COST, BY_THROUGHPUT
from orchestrator.report.analysis.stats import (
    BETTER,
    DOES_NOT_HOLD,
    HOLDS,
    INCONCLUSIVE,
    NO_CHANGE,
    NOT_MEASURED,
    WORSE,
    change,
)
from orchestrator.report.analysis.sweep import SweepData
from orchestrator.report.analysis.syscalls import syscall_table
from orchestrator.results.store import Store
from tests.support.report_stores import P, Where, WhereAtCost, sweep_with

RATES = (2000, 4000, 6000)


def curve(mechanism: str, capacity: float, reps: int = 3, **where: Unpack[WhereAtCost]) -> list[P]:
    """A mechanism that serves every rate up to `capacity` and `capacity` beyond it."""
    return [
        P(mechanism, rate, min(rate, capacity) * (1 + 0.002 * rep), rep=rep, **where)
        for rate in RATES
        for rep in range(1, reps + 1)
    ]


def costly(mechanism: str, us: dict[int, float], reps: int = 3, **where: Unpack[Where]) -> list[P]:
    """A mechanism that serves every rate (nothing saturates) at `us[rate]` µs of CPU per reply
    (the hand-made store's server counts 5 s of replies)."""
    return [
        P(mechanism, rate, rate, rep=rep, cpu=us[rate] * (1 + 0.01 * rep) * 5 * rate / 1e6, **where)
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
    assert (
        "select with 1,000 idle connections against without: peak 2,008 ± 10 (n=3) against"
        " 5,020 ± 25 (n=3): holds" in evidence
    )
    # Only one of the paper's two workloads was measured: every verdict says so.
    assert {f for f, _ in found.values()} == {HOLDS}
    stated = {s: f.stated for s, f in judged(tmp_path, points).items()}
    assert stated["Figures 1 and 2"] == "holds on one-byte only; specweb99 not in this sweep"
    assert stated["Figure 7"] == "holds"  # a claim about one-byte alone


def test_claims_that_the_numbers_contradict_do_not_hold(tmp_path: Path) -> None:
    points = [
        *curve("select", 3000),
        *curve("poll", 3000),
        *curve("epoll-lt", 5000),  # epoll-LT far ahead: select and poll do not keep up
        *curve("epoll-et", 5000),
        *curve("select", 3000, idle=1000),  # no degradation at all
        *curve("epoll-et", 2000, idle=1000),  # and epoll-ET suffers instead
    ]
    found = judged(tmp_path, points)
    comparable, idle = found["Figures 1 and 2"], found["Figures 5 and 6"]
    assert comparable.verdict == idle.verdict == DOES_NOT_HOLD
    # Each rests on an interval wholly beyond the threshold, and the failure names it.
    assert [line.split(" (")[0] for line in comparable.failed] == [
        "one-byte: select against epoll-LT",
        "one-byte: poll against epoll-LT",
    ]
    assert "-40.0% [-40.4%, -39.6%] lies wholly outside" in comparable.failed[0]
    assert [line.split(":")[1] for line in idle.failed] == [
        " select with 1,000 idle connections against without (peak reply rates)",
        " epoll-ET with 1,000 idle connections against without (peak reply rates)",
    ]


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
            for rep in (1, 2, 3)
        ],
    ]
    found = judged(tmp_path, points)["Figures 5 and 6"]
    assert found.basis == (BY_COST,), found
    assert found.verdict == HOLDS, found
    select, epoll_et = found.evidence
    assert "select with 1,000 idle connections against without, CPU per reply (no curve" in select
    # epoll-ET's idle curve saturated, but its peak without did not: a lower bound, so the
    # peaks could not say whether it degraded, and its CPU per reply did.
    assert "CPU per reply (the peaks left it open: one is a lower bound)" in epoll_et


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
        assert BY_COST in found[source].basis and BY_THROUGHPUT not in found[source].basis
        assert "CPU per reply" in found[source].why
    idle = " ".join(found["Figures 5 and 6"].evidence)
    assert "CPU per reply (no curve saturated): 9.5× at 2,000 requests/s, 2.4× at 6,000" in idle
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
    assert comparable.failed[0].startswith("one-byte: select against epoll-LT (CPU per reply)")
    assert "+100.0% [" in comparable.failed[0] and "outside" in comparable.failed[0]
    assert idle.failed[0].startswith(
        "one-byte: select with 1,000 idle connections against without (CPU per reply): the"
        " 95 % CI +1.7% ["
    )


def test_an_unsaturated_peak_is_a_lower_bound_never_a_spread(tmp_path: Path) -> None:
    """epoll-LT saturated at 5,000; select never did, so its peak (the top rate offered) is a
    lower bound. A spread of peaks would call select's +20 % a failure of "as well as"; the
    interval, open above, says select did at least as well."""
    points = [*curve("select", 9000), *curve("epoll-lt", 5000)]
    comparable = judged(tmp_path, points)["Figures 1 and 2"]
    assert comparable.verdict == HOLDS and comparable.basis == (BY_THROUGHPUT,), comparable
    line = comparable.evidence[0]
    assert "(did not saturate: a lower bound)" in line and "+∞)" in line
    assert comparable.evidence[1] == "one-byte: poll without idle connections not measured"


def test_a_peak_cut_short_by_the_clients_leaves_the_claim_open(tmp_path: Path) -> None:
    """select's top rate was client-limited: its peak, 20 % under epoll-LT's, is only a lower
    bound. Without CPU counters to judge by instead, more runs would not decide it: higher
    rates would."""
    cut = [
        P("select", rate, rate, rep=rep, cpu=0.0, status="client-limited" if rate == 6000 else "ok")
        for rate in RATES
        for rep in (1, 2, 3)
    ]
    comparable = judged(tmp_path, [*cut, *curve("epoll-lt", 5000, cpu=0.0)])["Figures 1 and 2"]
    assert comparable.verdict == INCONCLUSIVE and comparable.failed == ()
    assert comparable.stated == (
        "inconclusive on one-byte only; specweb99 not in this sweep — rates that saturate the"
        " curves whose peaks are only lower bounds would decide it"
    )


def measured(mechanism: str, us: list[float], **where: Unpack[Where]) -> list[P]:
    """One repetition per value of `us` (µs of CPU per reply) at every rate; nothing saturates
    (the hand-made store's server counts 5 s of replies)."""
    return [
        P(mechanism, rate, rate, rep=rep, cpu=value * 5 * rate / 1e6, **where)
        for rate in RATES
        for rep, value in enumerate(us, start=1)
    ]


def test_a_significant_excess_whose_interval_reaches_under_the_threshold_is_inconclusive(
    tmp_path: Path,
) -> None:
    """The captured case: n = 2, select +17.0 % CPU per reply, 95 % CI [+0.2 %, +33.9 %],
    threshold 10 %. Significant and past the threshold (the old rule: "does not hold"), but
    the interval reaches well inside it: the data cannot say that the claim fails."""
    lt, select = [17.988, 19.012], [21.140, 22.164]
    assert change(lt, select, THRESHOLD).verdict == BETTER  # i.e. significantly costlier
    comparable = judged(tmp_path, [*measured("epoll-lt", lt), *measured("select", select)])[
        "Figures 1 and 2"
    ]
    assert comparable.verdict == INCONCLUSIVE and comparable.failed == (), comparable
    line = comparable.evidence[0]
    assert "+17.0% [+0.2%, +33.9%]" in line and "2 runs per curve, fewer than the 3" in line
    assert comparable.stated.endswith("— at least 4 runs per curve would decide it")

    # The same means and spread from three runs: the interval itself still straddles +10 %.
    lt3, select3 = [17.776, 18.5, 19.224], [20.921, 21.645, 22.369]
    three = judged(tmp_path / "3", [*measured("epoll-lt", lt3), *measured("select", select3)])
    comparable = three["Figures 1 and 2"]
    assert comparable.verdict == INCONCLUSIVE and comparable.basis == (BY_COST,)
    assert (
        "+17.0% [+8.1%, +25.9%] reaches both inside and outside the claim's region, no more"
        " than 10% higher; at least 4 runs per curve would decide it" in comparable.evidence[0]
    )


def test_nothing_significant_does_not_make_a_claim_of_no_difference_hold(tmp_path: Path) -> None:
    """n = 2, no significant difference: the old rule's "holds". The interval reaches far past
    the threshold both ways, so it supports no claim: epoll-ET may well be degraded."""
    without, with_idle = [30.0, 36.0], [31.0, 37.5]
    assert change(without, with_idle, THRESHOLD).verdict == NO_CHANGE
    points = [
        *measured("select", [30.0, 30.3]),
        *measured("select", [90.0, 90.9], idle=1000),
        *measured("epoll-et", without),
        *measured("epoll-et", with_idle, idle=1000),
    ]
    idle = judged(tmp_path, points)["Figures 5 and 6"]
    assert idle.verdict == INCONCLUSIVE and idle.verdict != HOLDS
    assert "epoll-ET with 1,000 idle connections" in idle.evidence[1]
    assert "inconclusive: 2 runs per curve" in idle.evidence[1]
    # Three runs with as wide a spread: inconclusive on the interval alone, with a count.
    points3 = [
        *measured("select", [30.0, 30.3, 30.1]),
        *measured("select", [90.0, 90.9, 90.3], idle=1000),
        *measured("epoll-et", [30.0, 36.0, 33.0]),
        *measured("epoll-et", [31.0, 37.5, 34.2], idle=1000),
    ]
    idle3 = judged(tmp_path / "3", points3)["Figures 5 and 6"]
    assert idle3.verdict == INCONCLUSIVE
    assert "reaches both inside and outside" in idle3.evidence[1]
    runs = int(idle3.stated.split("at least ")[1].split(" runs")[0])
    assert 3 < runs <= 30, idle3.stated


def test_single_runs_say_so_in_the_verdict(tmp_path: Path) -> None:
    points = [*curve("select", 3000, reps=1), *curve("epoll-lt", 5000, reps=1)]
    comparable = judged(tmp_path, points)["Figures 1 and 2"]
    # -40 % would fail the claim by the threshold alone, but one run has no interval.
    assert comparable.verdict == INCONCLUSIVE and comparable.failed == ()
    assert comparable.stated.startswith("inconclusive (single runs)")
    assert comparable.stated.endswith("at least 3 runs per curve would decide it")
    assert "single runs, no CI: -40.0% alone would say does not hold" in comparable.evidence[0]


def test_intervals_inside_and_beyond_the_threshold(tmp_path: Path) -> None:
    """Wholly within ±10 %: "does not degrade" holds. Wholly beyond -10 %: "degrades" holds
    and "does not degrade" does not, and only that comparison is named as failed."""
    points = [
        *curve("select", 5000),
        *curve("select", 2000, idle=1000),  # -60 %: degrades
        *curve("epoll-et", 5000),
        *curve("epoll-et", 4900, idle=1000),  # -2 %, CI within ±10 %: does not degrade
    ]
    assert judged(tmp_path, points)["Figures 5 and 6"].verdict == HOLDS
    points[-len(curve("epoll-et", 1)) :] = curve("epoll-et", 3000, idle=1000)  # -40 %
    idle = judged(tmp_path / "beyond", points)["Figures 5 and 6"]
    assert idle.verdict == DOES_NOT_HOLD
    assert "select with 1,000 idle connections against without: peak" in idle.evidence[0]
    assert "holds: the 95 % CI -60.0%" in idle.evidence[0]
    [failed] = idle.failed
    assert failed.startswith("one-byte: epoll-ET with 1,000 idle connections against without")
    assert "lies wholly outside the claim's region, no more than 10% lower" in failed


def test_a_verdict_on_part_of_the_workloads_says_so(tmp_path: Path) -> None:
    spec: Where = {"workload": "specweb99"}
    points = [
        *curve("select", 5000),
        *curve("epoll-lt", 4900),
        *curve("select", 5000, **spec),  # no epoll-LT: nothing to judge it against
    ]
    comparable = judged(tmp_path, points)["Figures 1 and 2"]
    assert comparable.verdict == HOLDS
    assert comparable.stated == "holds on one-byte only; specweb99 not judged"
    assert "specweb99: needs epoll-LT and select or poll" in " ".join(comparable.evidence)

    # Judged on both, differently: the verdict names each.
    wide = [
        P("select", rate, min(rate, cap), rep=rep, **spec)
        for rate in RATES
        for rep, cap in enumerate((4200, 5600, 4900), start=1)
    ]
    mixed = judged(tmp_path / "mixed", [*points, *curve("epoll-lt", 4900, **spec), *wide])
    assert mixed["Figures 1 and 2"].verdict == INCONCLUSIVE
    assert mixed["Figures 1 and 2"].stated == (
        "inconclusive: holds on one-byte, inconclusive on specweb99 — at least 10 runs per"
        " curve would decide it"
    )


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
