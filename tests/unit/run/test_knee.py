"""The knee search's decisions as pure functions of a curve's point outcomes, and its state over
a sweep: what ends a curve, what does not, and that a resumed sweep finds the same decisions."""

from __future__ import annotations

from pathlib import Path

from orchestrator.config.plan import Point
from orchestrator.report.analysis.reach import ClientCapacity, describe_capacity, ending_rows
from orchestrator.report.html.reach import reach_section
from orchestrator.results.records import PointRecord, PointSummary, ServerCpu
from orchestrator.results.store import Store
from orchestrator.run.knee import (
    BOUND,
    CLIENT_LIMITED,
    REPEATED,
    SATURATED,
    Curves,
    Ending,
    Offer,
    Outcome,
    client_capacity,
    curve_end,
    curve_key,
    upper_bound,
)
from orchestrator.run.limits import PointFacts, judge
from tests.support.report_stores import new_sweep


def outcomes(*steps: tuple[str, float]) -> list[Outcome]:
    return [Outcome(1000.0 * (i + 1), status, served) for i, (status, served) in enumerate(steps)]


def test_a_curve_that_tracks_the_load_climbs_on() -> None:
    assert curve_end(outcomes(("ok", 1.0), ("ok", 0.99), ("ok", 0.96))) is None
    assert curve_end([]) is None


def ended(ending: Ending | None) -> tuple[str, float] | None:
    return (ending.reason, ending.rate) if ending is not None else None


def test_two_points_in_a_row_below_the_tolerance_saturate_a_curve() -> None:
    assert curve_end(outcomes(("ok", 1.0), ("ok", 0.8))) is None  # one may be a glitch
    ending = curve_end(outcomes(("ok", 1.0), ("ok", 0.8), ("ok", 0.6)))
    assert ended(ending) == (SATURATED, 3000)
    assert ending is not None and "served 80 % at 2,000 and 60 % at 3,000" in ending.evidence


def test_a_point_that_tracks_again_resets_the_count() -> None:
    assert curve_end(outcomes(("ok", 0.8), ("ok", 1.0), ("ok", 0.8))) is None


def test_the_clients_becoming_the_limit_ends_a_curve_at_once() -> None:
    ending = curve_end(outcomes(("ok", 1.0), ("client-limited", 0.7), ("ok", 0.5)))
    assert ended(ending) == (CLIENT_LIMITED, 2000)


def test_a_failed_point_neither_ends_nor_resets_a_curve() -> None:
    assert curve_end(outcomes(("failed", 0.0), ("failed", 0.0), ("ok", 1.0))) is None
    ending = curve_end(outcomes(("ok", 0.8), ("failed", 0.0), ("ok", 0.7)))
    assert ended(ending) == (SATURATED, 3000)


def point(mechanism: str, rate: float, repetition: int = 1) -> Point:
    return Point(mechanism, "one-byte", 0, None, rate, repetition)


def test_curves_skip_only_past_their_own_end() -> None:
    curves = Curves(enabled=True)
    assert curves.add(point("select", 1000), "ok", 0.7) is None
    assert ended(curves.add(point("select", 2000), "ok", 0.6)) == (SATURATED, 2000)
    assert curves.skip(point("select", 3000))
    assert not curves.skip(point("epoll-et", 3000))  # another curve
    assert not curves.skip(point("select", 3000, repetition=2))  # another repetition
    assert not Curves(enabled=False).skip(point("select", 3000))


def test_each_network_profile_climbs_its_own_curve() -> None:
    """On a plan's network axis, a WAN curve that saturated early does not end the LAN one."""
    curves = Curves(enabled=True)
    wan = [Point("select", "one-byte", 0, None, r, 1, "wan-50ms") for r in (1000, 2000, 3000)]
    curves.add(wan[0], "ok", 0.7)
    assert ended(curves.add(wan[1], "ok", 0.6)) == (SATURATED, 2000)
    assert curves.skip(wan[2])
    assert not curves.skip(Point("select", "one-byte", 0, None, 3000, 1, "lan"))
    [label] = curves.settings()["curve_endings"]
    assert label == "one-byte/idle=0/accept=inf/select · wan-50ms/rep=1"
    _, rows = ending_rows(curves.settings())
    [[*curve, ending]] = rows
    assert curve == ["one-byte", "0", "inf", "select · wan-50ms"]
    assert ending.startswith("saturated at 2,000: 2 points in a row below 95 %")


def test_curves_that_ran_their_top_rate_reached_the_upper_bound() -> None:
    plan = [point(m, rate) for rate in (1000, 2000) for m in ("select", "poll")]
    curves = Curves(enabled=True)
    for p in plan:
        curves.add(p, "ok", 1.0)
    done = {p.key for p in plan if p.mechanism == "select"}
    curves.finish(plan, done)
    assert curves.endings == {("one-byte", 0, "inf", "select", 1, ""): Ending(BOUND, 2000)}
    assert curves.settings()["curve_endings"] == {
        "one-byte/idle=0/accept=inf/select/rep=1": {"ended_by": BOUND, "rate": 2000, "evidence": ""}
    }


def record(p: Point, status: str, reply_rate: float, seq: int) -> PointRecord:
    summary = PointSummary(reply_rate=reply_rate, request_rate=min(p.rate, 2500.0))
    return PointRecord(p, seq, status, "", 1, 0.0, 1.0, summary=summary)


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


def offer(status: str, rate: float, issued: float, kept_up: bool | None = None) -> Offer:
    kept = status == "ok" if kept_up is None else kept_up
    return Offer(point("select", rate), status, issued, kept)


def test_the_clients_capacity_is_bracketed_by_the_agents_verdicts() -> None:
    capacity = client_capacity(
        [offer("ok", 1000, 1000), offer("ok", 2000, 2000), offer("client-limited", 3000, 2600)]
    )
    assert (capacity.kept_up, capacity.fell_behind, capacity.issued) == (2000, 3000, 2600)
    assert "fell behind at 3,000" in capacity.describe() and "2,600" in capacity.describe()
    assert capacity.ceiling == (2600, 3000)
    never = client_capacity([offer("ok", 1000, 1000)])
    assert never.fell_behind is None and "not reached" in never.describe()
    assert never.ceiling == (1000, None)
    assert "not measured" in describe_capacity({})
    both = client_capacity([offer("ok", 5000, 5000), offer("client-limited", 5000, 4300)])
    assert "in some runs and kept up in others" in both.describe()


def test_a_saturated_point_is_not_the_clients_falling_behind() -> None:
    """The server's backlog made every client's httperf run out of descriptors at 14,000: that
    says nothing of the clients, who kept up with 20,000 elsewhere and fell behind at 23,000."""
    capacity = client_capacity(
        [
            offer("saturated", 14000, 13900, kept_up=False),  # select, fd-unavail everywhere
            offer("saturated", 14000, 14000, kept_up=True),  # poll at its knee, clients on time
            offer("ok", 20000, 20000),
            offer("client-limited", 23000, 21000),
        ]
    )
    assert (capacity.kept_up, capacity.fell_behind) == (20000, 23000)
    assert "not counted as falling behind: 1 saturated point" in capacity.evidence
    assert "kept up with 20,000 at one-byte/idle=0/accept=inf/select/rate=20000" in (
        capacity.evidence
    )
    # older sweeps recorded the three rates only, and still read
    old = ClientCapacity.from_recorded({"kept_up": 1000, "fell_behind": 3000, "issued": None})
    assert (old.kept_up, old.fell_behind, old.evidence) == (1000, 3000, "")


def test_the_report_shows_each_curves_ending_per_repetition() -> None:
    curves = Curves(enabled=True)
    curves.add(point("select", 1000), "ok", 0.7)
    curves.add(point("select", 2000), "ok", 0.6)
    curves.add(point("select", 1000, repetition=2), "client-limited", 0.7, 800.0)
    curves.add(point("epoll-et", 1000), "ok", 1.0)
    settings = curves.settings()
    repetitions, rows = ending_rows(settings)
    assert repetitions == ["rep=1", "rep=2"]
    [[*curve, first, second]] = rows
    assert curve == ["one-byte", "0", "inf", "select"]
    assert first.startswith("saturated at 2,000: ") and second == "client-limited at 1,000"
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
    # at most: the ladder's two highest and the common rate
    assert len(upper_bound(plan, 2)) == 7 and len(upper_bound(plan, None)) == 8


def test_later_repetitions_also_measure_the_rate_every_curve_was_ok_at() -> None:
    """Curves are compared by CPU per reply at the highest rate every curve of the workload
    was ok at: a later repetition measures it again beside its own peak, so both sides of a
    comparison rest on the same runs (the default sweep compared select's one run at 16,000
    with epoll-LT's three)."""
    curves = Curves(enabled=True, repeat_top=1)
    first = {
        "select": {1000: "ok", 2000: "ok", 3000: "ok"},  # peak at 3,000
        "epoll-lt": {1000: "ok", 2000: "ok", 3000: "client-limited"},  # peak at 2,000
        "poll": {1000: "ok", 2000: "saturated", 3000: "saturated"},  # ok only at 1,000
    }
    for mechanism, statuses in first.items():
        for rate, status in statuses.items():
            served = 0.9 if status == "saturated" else 1.0
            curves.add(point(mechanism, rate, 1), status, served)
    repeated = {
        m: [r for r in (1000, 2000, 3000) if not curves.skip(point(m, r, 2))] for m in first
    }
    assert repeated == {"select": [1000, 3000], "epoll-lt": [1000, 2000], "poll": [1000, 2000]}
    assert curves.common_rate(curve_key(point("select", 1000, 2))) == 1000


def test_a_repetition_that_repeated_the_top_says_so() -> None:
    curves = Curves(enabled=True, repeat_top=1)
    plan = [point("select", rate, rep) for rep in (1, 2) for rate in (1000, 2000)]
    for p in plan:
        if not curves.skip(p):
            curves.add(p, "ok", 1.0)
    curves.finish(plan, {p.key for p in plan})
    assert [e.reason for _, e in sorted(curves.endings.items())] == [BOUND, REPEATED]


def test_a_saturated_point_whose_clients_fell_behind_ends_its_curve_at_once() -> None:
    saturated = Outcome(3000, "saturated", 0.75, "server at 99 % of its 1 core", kept_up=False)
    ending = curve_end([*outcomes(("ok", 1.0), ("ok", 0.99)), saturated])
    assert ending == Ending(SATURATED, 3000, "server at 99 % of its 1 core")


def test_a_saturated_point_whose_clients_kept_up_needs_a_second_below_tracking() -> None:
    """select and poll with many idle connections run near their core's limit over a wide range
    of rates and keep serving: one point just under 95 % may be a dip."""
    dip = Outcome(2000, "saturated", 0.94, "server at 97 %", kept_up=True)
    assert curve_end([*outcomes(("ok", 1.0)), dip, Outcome(3000, "ok", 0.99)]) is None
    again = Outcome(3000, "saturated", 0.82, "server at 98 %", kept_up=True)
    ending = curve_end([*outcomes(("ok", 1.0)), dip, again])
    assert ending is not None and (ending.reason, ending.rate) == (SATURATED, 3000)
    assert "94 % at 2,000 and 82 % at 3,000" in ending.evidence
    assert ending.evidence.endswith("at 3,000: server at 98 %")


def captured_record(
    mechanism: str, offered: float, served: float, cpu: float, behind: bool, seq: int
) -> PointRecord:
    """A point of the issue's sweep with 19,000 idle connections, as the sweep records it."""
    p = Point(mechanism, "one-byte", 19_000, None, offered, 1)
    reasons = ["fd-unavail", "request-rate-below-target"] if mechanism != "epoll-et" else []
    load = {
        "client_limited": behind,
        "client_limited_reasons": (reasons or ["request-rate-below-target"]) if behind else [],
    }
    summary = PointSummary(reply_rate=served, request_rate=offered if not behind else 0.9 * offered)
    record = PointRecord(p, seq, "ok", "", 1, 0.0, 1.0, summary=summary)
    record.agents = {f"client{n}": {"load": load} for n in range(1, 9)}
    use = ServerCpu(cpu, 4.3, 4.0, 1, 1)
    record.server = {"cpu_seconds": cpu, "cpu_use": use.as_dict()}
    verdict = judge(PointFacts.of_record(record))
    record.status = verdict.status
    record.reason = verdict.evidence if verdict.status != "ok" else ""
    return record


SWEEP_19K = [  # (mechanism, offered, served, server CPU s, an agent fell behind), in run order
    ("epoll-et", 8000, 7990, 0.61, False),
    ("select", 8000, 7877, 3.82, False),
    ("poll", 8000, 7985, 2.1, False),
    ("poll", 11000, 10960, 2.9, False),
    ("select", 11000, 10799, 3.93, False),
    ("epoll-et", 11000, 10990, 0.85, False),
    ("select", 14000, 10443, 4.51, True),
    ("epoll-et", 14000, 13956, 1.1, False),
    ("poll", 14000, 13254, 3.37, False),
    ("epoll-et", 17000, 16950, 1.3, False),
    ("poll", 17000, 13991, 3.85, True),
    ("epoll-et", 20000, 19850, 1.52, False),
    ("epoll-et", 23000, 17792, 1.56, True),
]


def test_the_captured_sweep_ends_select_and_poll_saturated_and_epoll_et_at_its_clients(
    tmp_path: Path,
) -> None:
    """The issue's sweep with 19,000 idle connections: select stops near 10,800 and poll near
    14,000 at their core's limit (their knees, not the clients'), epoll-ET goes on to the
    clients' ceiling, and the clients' capacity is bracketed by epoll-ET's points."""
    store = Store.open(tmp_path)
    sweep = new_sweep(store)
    running = Curves(enabled=True)
    for seq, step in enumerate(SWEEP_19K):
        rec = captured_record(*step, seq=seq)
        store.record_point(sweep, rec)
        running.add_record(rec)
    endings = {key[3]: ending for key, ending in running.endings.items()}
    assert {m: (e.reason, e.rate) for m, e in endings.items()} == {
        "select": (SATURATED, 14000),
        "poll": (SATURATED, 17000),
        "epoll-et": (CLIENT_LIMITED, 23000),
    }
    assert endings["select"].evidence.startswith("server at 113 % of its 1 core")
    assert "points in a row" not in endings["select"].evidence  # one point, on its CPU
    # poll at 14,000 (94.7 %, its clients on time) did not end it; 17,000 with fd-unavail did
    assert endings["poll"].evidence.startswith("server at 96 % of its 1 core")
    assert "with headroom" in endings["epoll-et"].evidence
    capacity = running.capacity()
    # before: "fell behind at 14,000" (select's fd-unavail), though epoll-ET served 13,956 there
    assert (capacity.kept_up, capacity.fell_behind) == (20000, 23000)
    assert "2 saturated points where the server's backlog held the clients back" in (
        capacity.evidence
    )
    settings = running.settings()
    assert settings["client_capacity_by_workload"]["one-byte"] == settings["client_capacity"]
    # a resumed sweep finds the same endings and capacity from the stored points
    resumed = Curves(enabled=True)
    resumed.restore(store.points(sweep))
    assert resumed.endings == running.endings
    assert resumed.capacity() == capacity
    _, rows = ending_rows(settings)
    assert [row[3] for row in rows] == ["epoll-et", "poll", "select"]
    assert all(": " in row[4] for row in rows)  # every ending with its evidence


def test_a_later_repetition_measures_again_where_the_first_served_the_most() -> None:
    """Past the knee the peak can lie before the saturated point (select with 19,000 idle
    connections: 10,799 at 11,000, 10,443 at 14,000): that is the rate to measure again."""
    curves = Curves(enabled=True, repeat_top=1)
    plan = [point("select", rate, rep) for rep in (1, 2) for rate in (8000, 11000, 14000)]
    served: dict[float, float] = {8000: 7877 / 8000, 11000: 10799 / 11000, 14000: 10443 / 14000}
    run = []
    for p in plan:
        if curves.skip(p):
            continue
        run.append((p.repetition, p.rate))
        status = "saturated" if p.rate == 14000 else "ok"
        curves.add(p, status, served[p.rate], kept_up=p.rate != 14000)
    assert run == [(1, 8000), (1, 11000), (1, 14000), (2, 11000)]
    # where the curve climbs without saturating, that is its highest rate, as before
    climbing = Curves(enabled=True, repeat_top=2)
    for rate in (1000, 2000, 3000):
        climbing.add(point("poll", rate), "ok", 0.99)
    assert climbing.top(("one-byte", 0, "inf", "poll", 2, "")) == [2000, 3000]
