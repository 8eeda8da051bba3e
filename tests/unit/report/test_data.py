"""The data behind the report's figures and Table 1, from hand-made stores."""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Any

import pytest

from orchestrator.errors import TestbedError
from orchestrator.report.analysis.build import build
from orchestrator.report.analysis.data import curves, saturation_of, served_fraction
from orchestrator.report.analysis.layout import CLIENT, COST, IDLE_BARS, REPETITIONS, figures
from orchestrator.report.analysis.stats import estimate
from orchestrator.report.analysis.sweep import SweepData
from orchestrator.report.analysis.syscalls import default_rate, syscall_table
from orchestrator.results.store import Store
from tests.support.report_stores import P, sweep_with


def load(tmp_path: Path, points: list[P], **options: Any) -> SweepData:
    store = Store.open(tmp_path)
    sweep = sweep_with(store, points, **options)
    return SweepData.load(store, sweep)


def test_a_rate_point_averages_only_the_ok_runs(tmp_path: Path) -> None:
    data = load(
        tmp_path,
        [
            P("select", 1000, 990.0, rep=1),
            P("select", 1000, 1000.0, rep=2),
            P("select", 1000, 1010.0, rep=3),
            P("select", 1000, 400.0, rep=4, status="client-limited"),
            P("select", 1000, None, rep=5, status="failed"),
        ],
    )
    [curve] = curves(data)
    [point] = curve.points
    assert point.reply == estimate([990.0, 1000.0, 1010.0])
    assert [r.reply_rate for r in point.with_status("client-limited")] == [400.0]
    assert [r.repetition for r in point.with_status("failed")] == [5]


def test_interrupted_points_are_not_drawn(tmp_path: Path) -> None:
    data = load(tmp_path, [P("poll", 1000, 990.0), P("poll", 2000, 1500.0, status="interrupted")])
    [curve] = curves(data)
    assert [p.rate for p in curve.points] == [1000.0]


def test_saturation_is_interpolated_where_replies_stop_tracking(tmp_path: Path) -> None:
    data = load(
        tmp_path,
        [P("epoll-et", 1000, 1000.0), P("epoll-et", 2000, 2000.0), P("epoll-et", 3000, 2100.0)],
    )
    [curve] = curves(data)
    # served 1.0 at 2000 and 0.7 at 3000: 95 % is crossed a sixth of the way.
    assert curve.saturation.estimate is not None
    assert curve.saturation.estimate.mean == pytest.approx(2000 + 1000 / 6)
    assert curve.saturated
    assert curve.peak == estimate([2100.0])


def test_saturation_not_reached_and_reached_at_once_are_bounds(tmp_path: Path) -> None:
    data = load(
        tmp_path,
        [
            P("select", 1000, 1000.0),
            P("select", 2000, 1990.0),
            P("poll", 1000, 500.0),
            P("poll", 2000, 600.0),
        ],
    )
    select, poll = curves(data)
    assert select.saturation.above == 2000 and select.saturation.estimate is None
    assert not select.saturated and select.saturation.bounds == (2000.0, float("inf"))
    assert poll.saturation.below == 1000 and poll.saturated
    assert "not reached" in select.saturation.text() and "below" in poll.saturation.text()


def test_the_peak_is_the_best_rates_mean_and_saturation_is_per_repetition(
    tmp_path: Path,
) -> None:
    points = []
    for rep, (low, high) in enumerate([(1000.0, 1500.0), (1000.0, 1300.0)], start=1):
        points += [P("select", 1000, low, rep=rep), P("select", 2000, high, rep=rep)]
    [curve] = curves(load(tmp_path, points))
    assert curve.peak_runs() == [1500.0, 1300.0]
    assert curve.peak == estimate([1500.0, 1300.0])
    first = saturation_of(curve.ok_runs(1))
    second = saturation_of(curve.ok_runs(2))
    assert first is not None and second is not None and first > second
    assert curve.saturation_runs() == [first, second]
    assert curve.saturation.estimate == estimate([first, second])


def test_a_repetition_cut_short_by_its_clients_neither_lowers_the_peak_nor_the_saturation(
    tmp_path: Path,
) -> None:
    points = [
        P("epoll-lt", 1000, 1000.0, rep=1),
        P("epoll-lt", 3000, 2990.0, rep=1),
        P("epoll-lt", 1000, 1000.0, rep=2),
        P("epoll-lt", 3000, 1800.0, rep=2, status="client-limited"),
    ]
    [curve] = curves(load(tmp_path, points))
    assert curve.peak == estimate([2990.0])  # the top rate, from the one ok run there
    assert curve.saturation.above == 3000.0  # repetition 2 says nothing beyond 1,000
    assert curve.saturation_runs() == []


def test_the_peak_is_at_a_rate_run_every_repetition_not_at_one_run_once(tmp_path: Path) -> None:
    """Captured in the default sweep: select with 19,000 idle connections, its first repetition
    saturated at 15,000 and 20,000, the later two ran again only 15,000 (where it served the
    most). 20,000's single 13,111 beat 15,000's mean of three, 12,418: a peak with no CI, and
    so no verdict."""
    points = [
        P("select", 10000, 9882.0, rep=1),
        P("select", 15000, 13522.0, rep=1, status="saturated"),
        P("select", 20000, 13111.0, rep=1, status="saturated"),
        P("select", 10000, 9853.0, rep=2),
        P("select", 15000, 12247.0, rep=2, status="saturated"),
        P("select", 10000, 9901.0, rep=3),
        P("select", 15000, 11486.0, rep=3, status="saturated"),
    ]
    [curve] = curves(load(tmp_path, points))
    assert curve.peak == estimate([13522.0, 12247.0, 11486.0])


def test_a_repetition_that_measured_only_the_top_never_says_below(tmp_path: Path) -> None:
    """A knee search with repeat_top: the second repetition ran only the top rates; that it did
    not track there says nothing of where below them the curve stopped tracking."""
    points = [
        P("select", 1000, 1000.0, rep=1),
        P("select", 2000, 2000.0, rep=1),
        P("select", 3000, 2100.0, rep=1),
        P("select", 4000, 2100.0, rep=1),
        P("select", 3000, 2050.0, rep=2),
        P("select", 4000, 2080.0, rep=2),
    ]
    [curve] = curves(load(tmp_path, points))
    assert curve.saturation.below is None
    assert curve.saturation_runs() == [pytest.approx(2000 + 1000 / 6)]
    assert len(curve.peak_runs()) == 2  # both repetitions measured the top


def test_client_limited_runs_never_make_the_peak(tmp_path: Path) -> None:
    data = load(
        tmp_path, [P("select", 1000, 1000.0), P("select", 2000, 1900.0, status="client-limited")]
    )
    [curve] = curves(data)
    assert curve.peak == estimate([1000.0])
    assert curve.saturation.above == 1000.0


def test_specweb_is_served_when_sessions_complete() -> None:
    base = {"workload": "specweb99", "target_rate": 800.0, "reply_rate": 756.0}
    # Fewer requests than the trace's mean, all answered, every session complete: served.
    done = {**base, "request_rate": 756.3, "agents": _sessions(41, 41)}
    assert served_fraction(done) == pytest.approx(756.0 / 756.3)
    # Sessions time out under overload: not served, whatever the requests sent.
    overloaded = {**base, "request_rate": 760.0, "agents": _sessions(100, 60)}
    assert served_fraction(overloaded) == pytest.approx(0.6)
    one_byte = {"workload": "one-byte", "target_rate": 2000.0, "reply_rate": 1000.0}
    assert served_fraction({**one_byte, "request_rate": 1000.0}) == 0.5


def _sessions(started: int, completed: int) -> dict[str, object]:
    totals = {"sessions_started": started, "sessions_completed": completed}
    return {"client1": {"load": {"totals": totals}}}


def test_our_figure_numbers_show_what_the_papers_figures_show(tmp_path: Path) -> None:
    points = [
        P(m, rate, rate, workload=w, idle=idle, accept=accept)
        for m in ("select", "poll", "epoll-lt", "epoll-et", "io_uring")
        for w in ("one-byte", "specweb99")
        for idle in (0, 500)
        for accept in (None, 10)
        for rate in (1000, 2000)
        if accept is None or ((w, idle) == ("one-byte", 0) and m in ("select", "epoll-lt"))
    ]
    found = figures(load(tmp_path, points))
    paper = [f for f in found if not f.beyond]
    assert [(f.number, f.stem, f.paper) for f in paper] == [
        ("1", "figure-1-one-byte-idle0", "Figure 1"),
        ("2", "figure-2-specweb99-idle0", "Figure 2"),
        ("3", "figure-3-one-byte-idle0", "Figure 3"),
        ("4", "figure-4-specweb99-idle0", "Figure 4"),
        ("5", "figure-5-one-byte-idle500", "Figure 5"),
        ("6", "figure-6-specweb99-idle500", "Figure 6"),
        ("7", "figure-7-one-byte-idle0-accept", "Figure 7"),
    ]
    mechanisms = {f.number: [c.mechanism for c in f.curves] for f in paper}
    assert mechanisms["1"] == mechanisms["2"] == ["select", "poll", "epoll-lt"]
    assert mechanisms["3"] == mechanisms["6"] == ["select", "epoll-lt", "epoll-et"]  # no poll
    figure7 = [(c.mechanism, c.accept_limit) for c in paper[-1].curves]
    assert figure7 == [("select", "inf"), ("epoll-lt", "inf"), ("epoll-lt", "10")]
    beyond = [f for f in found if f.beyond]
    assert [f.number for f in beyond] == [f"A{i}" for i in range(1, len(beyond) + 1)]
    assert all(f.caption_source == "beyond the paper; load by httperf" for f in beyond)
    assert all("the paper's" in f.caption_source for f in paper)
    # io_uring is in no paper figure, nor is poll with idle connections: an A figure has them.
    every = [f for f in beyond if f.slug.endswith("-all") and not f.accept_variants]
    assert {c.mechanism for f in every for c in f.curves} >= {"io_uring", "poll"}
    [accept_all] = [f for f in beyond if f.accept_variants]
    assert len(accept_all.curves) == 4  # every accept-limit curve, apart from Figure 7
    kinds = {f.kind for f in beyond}
    assert {COST, CLIENT, IDLE_BARS} <= kinds and REPETITIONS not in kinds  # single runs
    assert found[1].title.startswith("SPECweb99-like workload, no idle connections")


def test_the_most_idle_connections_get_a_figure_5b_beside_the_papers_10000(
    tmp_path: Path,
) -> None:
    """`idle_connections: [0, 10000, max]`: Figure 5 stays the paper's 10,000; the largest count,
    where select's and poll's knee shows on a small lab, is Figure 5b (the paper's Figure 5)."""
    points = [
        P(m, rate, rate, idle=idle)
        for m in ("select", "poll", "epoll-lt", "epoll-et")
        for idle in (0, 10_000, 19_000)
        for rate in (1000, 2000)
    ]
    paper = [f for f in figures(load(tmp_path, points)) if not f.beyond]
    assert [(f.number, f.slug, f.paper) for f in paper] == [
        ("1", "one-byte-idle0", "Figure 1"),
        ("3", "one-byte-idle0", "Figure 3"),
        ("5", "one-byte-idle10000", "Figure 5"),
        ("5b", "one-byte-idle19000", "Figure 5"),
    ]


def syscalls(wait: float) -> dict[str, tuple[int, float]]:
    return {"read": (5000, 0.4), "close": (5000, 0.3), "epoll_wait": (800, wait)}


def test_table_1_is_percent_of_server_cpu_at_the_highest_all_ok_rate(tmp_path: Path) -> None:
    loop = {
        "testbed_server_loop_rounds_total": 1000.0,
        "testbed_server_events_fired_total": 4000.0,
        "testbed_server_events_handled_total": 3000.0,
    }
    select_low = {"read": (5000, 0.25), "select": (900, 0.1)}
    select_high = {"read": (9000, 0.5), "select": (1000, 0.2)}
    lt_high = {**syscalls(0.4), "epoll_ctl": (12000, 0.8)}
    data = load(
        tmp_path,
        [
            P("select", 1000, 1000.0, cpu=1.0, syscalls=select_low),
            P("epoll-lt", 1000, 1000.0, cpu=1.0, syscalls=syscalls(0.1)),
            P("select", 2000, 2000.0, cpu=2.0, syscalls=select_high, totals=loop, window=8.0),
            P("epoll-lt", 2000, 2000.0, cpu=4.0, syscalls=lt_high),
            P("select", 3000, 2500.0, cpu=2.0),
            P("epoll-lt", 3000, 2500.0, cpu=2.0, status="client-limited"),
        ],
    )
    assert default_rate(data, "one-byte", 0, "inf") == 2000.0
    table = syscall_table(data, "one-byte", 0, "inf")
    assert table.rate == 2000.0 and table.mechanisms == ["select", "epoll-lt"]
    rows = {row.syscall: row for row in table.rows}
    assert [row.syscall for row in table.rows] == [
        "read",
        "close",
        "select",
        "epoll_ctl",
        "epoll_wait",
    ]
    assert rows["read"].cells["select"].percent == pytest.approx(25.0)  # 0.5 s of 2 s
    assert rows["read"].cells["epoll-lt"].percent == pytest.approx(10.0)  # 0.4 s of 4 s
    assert rows["epoll_ctl"].cells["epoll-lt"].calls == 12000
    assert "select" not in rows["epoll_ctl"].cells
    select, lt = table.columns
    assert select.window == 8.0 and select.utilisation == pytest.approx(2.0 / 8.0)
    assert lt.window == 5.0  # stored without phases: httperf's duration
    assert select.events_per_wait == 4.0 and select.handled_share == 0.75
    assert lt.interest_calls == 12000 and lt.events_per_wait is None
    chosen = syscall_table(data, "one-byte", 0, "inf", rate=1000.0)
    assert chosen.rate == 1000.0 and "--profile-rate" in chosen.choice
    assert {r.syscall: r for r in chosen.rows}["read"].cells["select"].percent == 25.0


def test_table_1_counts_interest_set_operations_apart_from_the_calls(tmp_path: Path) -> None:
    """The paper compares epoll_ctlv's calls with epoll_ctl's: one ctlv submission carries many
    operations, so the table shows both, and a server that does not count them shows none."""

    def server(calls: dict[str, tuple[int, float]], operations: dict[str, float] | None) -> dict:
        counted = {n: {"calls": float(c), "seconds": s} for n, (c, s) in calls.items()}
        found = {"cpu_seconds": 2.0, "syscalls": counted, "totals": {}}
        return found if operations is None else {**found, "epoll_operations": operations}

    ctlv = {"epoll_ctlv": (700, 0.1), "epoll_ctl": (1000, 0.1)}
    lt = {"epoll_ctl": (3000, 0.3)}
    ops_ctlv = {"add/epoll_ctlv": 1000.0, "mod/epoll_ctlv": 1000.0, "del/epoll_ctl": 1000.0}
    data = load(
        tmp_path,
        [
            P("epoll-ctlv", 1000, 1000.0, syscalls=ctlv, server=server(ctlv, ops_ctlv)),
            P("epoll-lt", 1000, 1000.0, syscalls=lt, server=server(lt, {"mod/epoll_ctl": 3e3})),
            P("select", 1000, 1000.0, syscalls={"select": (90, 0.1)}, server=server({}, {})),
        ],
    )
    columns = {c.mechanism: c for c in syscall_table(data, "one-byte", 0, "inf").columns}
    ctlv_operations = columns["epoll-ctlv"].interest_operations
    assert ctlv_operations is not None
    assert columns["epoll-ctlv"].interest_calls < ctlv_operations
    assert columns["epoll-lt"].interest_calls == columns["epoll-lt"].interest_operations
    assert columns["select"].interest_operations is None


def test_table_1_averages_repetitions_and_says_when_no_rate_qualifies(tmp_path: Path) -> None:
    data = load(
        tmp_path,
        [
            P("poll", 1000, 1000.0, rep=1, cpu=1.0, syscalls={"poll": (10, 0.1)}),
            P("poll", 1000, 1000.0, rep=2, cpu=2.0, syscalls={"poll": (30, 0.1)}),
            P("epoll2", 1000, 900.0, rep=1, status="failed"),
            P("epoll2", 1000, 900.0, rep=2),
        ],
    )
    assert default_rate(data, "one-byte", 0, "inf") is None
    assert "--profile-rate" in syscall_table(data, "one-byte", 0, "inf").choice
    table = syscall_table(data, "one-byte", 0, "inf", rate=1000.0)
    cell = table.rows[0].cells["poll"]
    assert cell.calls == 20 and cell.percent == pytest.approx(statistics.fmean([10.0, 5.0]))


def test_a_profile_rate_must_have_been_measured(tmp_path: Path) -> None:
    data = load(tmp_path, [P("poll", 1000, 1000.0)])
    with pytest.raises(TestbedError, match="1500 was not measured") as error:
        build(data, profile_rate=1500.0)
    assert error.value.exit_code == 2
