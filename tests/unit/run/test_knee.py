"""The knee search's decisions as pure functions of a curve's point outcomes, and its state over
a sweep: what ends a curve, what does not, and that a resumed sweep finds the same decisions."""

from __future__ import annotations

from pathlib import Path

from orchestrator.config.plan import Point
from orchestrator.report.reach import describe_capacity, ending_rows, reach_section
from orchestrator.results.records import PointRecord
from orchestrator.results.store import Store
from orchestrator.run.knee import (
    BOUND,
    CLIENT_LIMITED,
    REPEATED,
    SATURATED,
    Curves,
    Ending,
    Outcome,
    client_capacity,
    curve_end,
    upper_bound,
)
from tests.support.report_stores import new_sweep


def outcomes(*steps: tuple[str, float]) -> list[Outcome]:
    return [Outcome(1000.0 * (i + 1), status, served) for i, (status, served) in enumerate(steps)]


def test_a_curve_that_tracks_the_load_climbs_on() -> None:
    assert curve_end(outcomes(("ok", 1.0), ("ok", 0.99), ("ok", 0.96))) is None
    assert curve_end([]) is None


def test_two_points_in_a_row_below_the_tolerance_saturate_a_curve() -> None:
    assert curve_end(outcomes(("ok", 1.0), ("ok", 0.8))) is None  # one may be a glitch
    assert curve_end(outcomes(("ok", 1.0), ("ok", 0.8), ("ok", 0.6))) == Ending(SATURATED, 3000)


def test_a_point_that_tracks_again_resets_the_count() -> None:
    assert curve_end(outcomes(("ok", 0.8), ("ok", 1.0), ("ok", 0.8))) is None


def test_the_clients_becoming_the_limit_ends_a_curve_at_once() -> None:
    ending = curve_end(outcomes(("ok", 1.0), ("client-limited", 0.7), ("ok", 0.5)))
    assert ending == Ending(CLIENT_LIMITED, 2000)


def test_a_failed_point_neither_ends_nor_resets_a_curve() -> None:
    assert curve_end(outcomes(("failed", 0.0), ("failed", 0.0), ("ok", 1.0))) is None
    assert curve_end(outcomes(("ok", 0.8), ("failed", 0.0), ("ok", 0.7))) == Ending(SATURATED, 3000)


def point(mechanism: str, rate: float, repetition: int = 1) -> Point:
    return Point(mechanism, "one-byte", 0, None, rate, repetition)


def test_curves_skip_only_past_their_own_end() -> None:
    curves = Curves(enabled=True)
    assert curves.add(point("select", 1000), "ok", 0.7) is None
    assert curves.add(point("select", 2000), "ok", 0.6) == Ending(SATURATED, 2000)
    assert curves.skip(point("select", 3000))
    assert not curves.skip(point("epoll-et", 3000))  # another curve
    assert not curves.skip(point("select", 3000, repetition=2))  # another repetition
    assert not Curves(enabled=False).skip(point("select", 3000))


def test_each_network_profile_climbs_its_own_curve() -> None:
    """On a plan's network axis, a WAN curve that saturated early does not end the LAN one."""
    curves = Curves(enabled=True)
    wan = [Point("select", "one-byte", 0, None, r, 1, "wan-50ms") for r in (1000, 2000, 3000)]
    curves.add(wan[0], "ok", 0.7)
    assert curves.add(wan[1], "ok", 0.6) == Ending(SATURATED, 2000)
    assert curves.skip(wan[2])
    assert not curves.skip(Point("select", "one-byte", 0, None, 3000, 1, "lan"))
    [ended] = curves.settings()["curve_endings"]
    assert ended == "one-byte/idle=0/accept=inf/select · wan-50ms/rep=1"
    _, rows = ending_rows(curves.settings())
    assert rows == [["one-byte", "0", "inf", "select · wan-50ms", "saturated at 2,000"]]


def test_curves_that_ran_their_top_rate_reached_the_upper_bound() -> None:
    plan = [point(m, rate) for rate in (1000, 2000) for m in ("select", "poll")]
    curves = Curves(enabled=True)
    for p in plan:
        curves.add(p, "ok", 1.0)
    done = {p.key for p in plan if p.mechanism == "select"}
    curves.finish(plan, done)
    assert curves.endings == {("one-byte", 0, "inf", "select", 1, ""): Ending(BOUND, 2000)}
    assert curves.settings()["curve_endings"] == {
        "one-byte/idle=0/accept=inf/select/rep=1": {"ended_by": BOUND, "rate": 2000}
    }


def record(p: Point, status: str, reply_rate: float, seq: int) -> PointRecord:
    summary = {"reply_rate": reply_rate, "request_rate": min(p.rate, 2500.0)}
    return PointRecord(p, seq, status, "", 1, 0.0, 1.0, summary=summary)  # type: ignore[arg-type]


def test_a_resumed_sweep_finds_the_same_endings_in_the_store(tmp_path: Path) -> None:
    store = Store.open(tmp_path)
    sweep = new_sweep(store)
    running = Curves(enabled=True)
    steps = [
        (point("select", 1000), "ok", 1000.0),
        (point("poll", 1000), "ok", 990.0),
        (point("select", 2000), "ok", 1500.0),
        (point("poll", 2000), "ok", 1990.0),
        (point("select", 3000), "ok", 1600.0),
        (point("poll", 3000), "client-limited", 2500.0),
    ]
    for seq, (p, status, replies) in enumerate(steps):
        rec = record(p, status, replies, seq)
        store.record_point(sweep, rec)
        running.add_record(rec)
    resumed = Curves(enabled=True)
    resumed.restore(store.points(sweep))
    assert resumed.endings == running.endings
    assert {e.reason for e in resumed.endings.values()} == {SATURATED, CLIENT_LIMITED}
    assert resumed.capacity() == running.capacity()


def test_the_clients_capacity_is_bracketed_by_the_agents_verdicts() -> None:
    capacity = client_capacity(
        [("ok", 1000, 1000), ("ok", 2000, 2000), ("client-limited", 3000, 2600), ("failed", 9, 9)]
    )
    assert (capacity.kept_up, capacity.fell_behind, capacity.issued) == (2000, 3000, 2600)
    assert "fell behind at 3,000" in capacity.describe() and "2,600" in capacity.describe()
    never = client_capacity([("ok", 1000, 1000)])
    assert never.fell_behind is None and "not reached" in never.describe()
    assert "not measured" in describe_capacity({})
    both = client_capacity([("ok", 5000, 5000), ("client-limited", 5000, 4300)])
    assert "in some runs and kept up in others" in both.describe()


def test_the_report_shows_each_curves_ending_per_repetition() -> None:
    curves = Curves(enabled=True)
    curves.add(point("select", 1000), "ok", 0.7)
    curves.add(point("select", 2000), "ok", 0.6)
    curves.add(point("select", 1000, repetition=2), "client-limited", 0.7, 800.0)
    curves.add(point("epoll-et", 1000), "ok", 1.0)
    settings = curves.settings()
    repetitions, rows = ending_rows(settings)
    assert repetitions == ["rep=1", "rep=2"]
    assert rows == [
        ["one-byte", "0", "inf", "select", "saturated at 2,000", "client-limited at 1,000"]
    ]
    page = reach_section(settings, knee=True)
    assert "saturated at 2,000" in page and "fell behind at 1,000" in page
    assert "Knee search" not in reach_section(settings, knee=False)


def test_later_repetitions_measure_again_only_the_top_the_first_reached() -> None:
    curves = Curves(enabled=True, repeat_top=2)
    plan = [point("select", rate, rep) for rep in (1, 2) for rate in (1000, 2000, 3000, 4000)]
    run = []
    for p in plan:
        if curves.skip(p):
            continue
        run.append((p.repetition, p.rate))
        curves.add(p, "client-limited" if p.rate == 3000 else "ok", 1.0)
    # the first climbs until its clients fell behind at 3,000; the second repeats the two
    # highest rates the first measured ok, not the clients' limit again
    assert run == [(1, 1000), (1, 2000), (1, 3000), (2, 1000), (2, 2000)]
    assert len(upper_bound(plan, 2)) == 6 and len(upper_bound(plan, None)) == 8


def test_a_repetition_that_repeated_the_top_says_so() -> None:
    curves = Curves(enabled=True, repeat_top=1)
    plan = [point("select", rate, rep) for rep in (1, 2) for rate in (1000, 2000)]
    for p in plan:
        if not curves.skip(p):
            curves.add(p, "ok", 1.0)
    curves.finish(plan, {p.key for p in plan})
    assert [e.reason for _, e in sorted(curves.endings.items())] == [BOUND, REPEATED]
