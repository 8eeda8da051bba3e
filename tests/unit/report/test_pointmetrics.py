"""What a stored point says besides its reply rate: directions and invariants, on hand-made
stores."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.report.analysis.data import curves
from orchestrator.report.analysis.layout import COST, IDLE_BARS, figures
from orchestrator.report.analysis.pointmetrics import (
    CONNECTION_MEDIAN,
    CPU_PER_REPLY,
    ERROR_RATE,
    EVENTS_PER_WAIT,
    TIMEOUT_RATE,
    UTILISATION,
    point_metrics,
)
from orchestrator.report.analysis.sweep import SweepData
from orchestrator.report.figures.bars import idle_bar_data
from orchestrator.report.figures.panels import rows
from orchestrator.results.store import Store
from tests.support.report_stores import P, stored_point, sweep_with

LOOP = {"testbed_server_loop_rounds_total": 100.0, "testbed_server_events_fired_total": 400.0}


def stored(tmp_path: Path, points: list[P]) -> SweepData:
    store = Store.open(tmp_path)
    return SweepData.load(store, sweep_with(store, points))


def test_cpu_per_reply_and_utilisation_follow_the_server_counters(tmp_path: Path) -> None:
    data = stored(
        tmp_path,
        [
            P("select", 1000, 1000.0, cpu=0.5, window=10.0, totals=LOOP),
            P("select", 2000, 2000.0, cpu=0.5, window=10.0),
        ],
    )
    low, high = (point_metrics(p) for p in data.points)
    # 0.5 s of CPU over 5,000 replies (the store's server counted 5 s of replies): 100 µs.
    assert low[CPU_PER_REPLY] == pytest.approx(100.0)
    assert high[CPU_PER_REPLY] == pytest.approx(50.0)  # the same CPU over twice the replies
    assert low[UTILISATION] == high[UTILISATION] == pytest.approx(0.05)
    assert low[EVENTS_PER_WAIT] == pytest.approx(4.0)
    assert high[EVENTS_PER_WAIT] is None  # not stored: not zero
    without_rounds = stored_point(
        server={
            "totals": {"testbed_server_events_fired_total": 300.0},
            "syscalls": {"select": {"calls": 100.0}, "read": {"calls": 900.0}},
        }
    )
    assert point_metrics(without_rounds)[EVENTS_PER_WAIT] == pytest.approx(3.0)


def test_no_cpu_counter_or_no_reply_gives_no_cost(tmp_path: Path) -> None:
    data = stored(tmp_path, [P("poll", 1000, 1000.0, cpu=0.0), P("poll", 2000, None)])
    assert all(point_metrics(p)[CPU_PER_REPLY] is None for p in data.points)


def test_error_and_timeout_rates_are_per_connection_attempted(tmp_path: Path) -> None:
    agents = {"client1": {"load": {"totals": {"connections": 10_000}}}}
    data = stored(
        tmp_path,
        [
            P("select", 2000, 1900.0, errors=500, timeouts=100, agents=agents),
            P("select", 1000, 1000.0, errors=50),  # no agent totals: the rate x duration
        ],
    )
    with_totals, without = (point_metrics(p) for p in data.points)
    assert with_totals[ERROR_RATE] == pytest.approx(0.05)
    assert with_totals[TIMEOUT_RATE] == pytest.approx(0.01)
    assert without[ERROR_RATE] == pytest.approx(50 / (1000 * 5.0))
    timeouts, errors = with_totals[TIMEOUT_RATE], with_totals[ERROR_RATE]
    assert timeouts is not None and errors is not None
    assert 0 <= timeouts <= errors


def test_the_connection_time_median_is_the_median_of_the_per_process_medians() -> None:
    def run(median: float) -> dict[str, object]:
        return {"result": {"connection_time": {"median_ms": median}}}

    point = stored_point(
        agents={
            "client1": {"load": {"connection_time_ms": {"median": 1.0}}},
            "client2": {
                "load": {"connection_time_ms": {"median": None}, "runs": [run(3.0), run(9.0)]}
            },
        }
    )
    assert point_metrics(point)[CONNECTION_MEDIAN] == 3.0


def test_cost_figures_carry_intervals_and_idle_bars_point_the_right_way(tmp_path: Path) -> None:
    points = [
        P(m, rate, rate, rep=rep, idle=idle, cpu=cost * rate * 5 / 1e6 * (1 + 0.01 * rep))
        for m, idle, cost in (
            ("select", 0, 30),
            ("select", 500, 90),
            ("epoll-et", 0, 30),
            ("epoll-et", 500, 30),
        )
        for rate in (1000, 2000)
        for rep in (1, 2, 3)
    ]
    data = stored(tmp_path, points)
    found = {f.slug: f for f in figures(data)}
    cost = found["one-byte-idle500-cost"]
    assert cost.kind == COST
    cpu_rows = [r for r in rows(cost) if r[4] == CPU_PER_REPLY]
    for row in cpu_rows:
        mean, low, high = row[6], row[7], row[8]
        assert isinstance(low, float) and isinstance(mean, float) and isinstance(high, float)
        assert row[5] == 3 and low < mean < high
    bars = {(b.mechanism, b.measure): b for b in idle_bar_data(found["idle-degradation"])}
    assert found["idle-degradation"].kind == IDLE_BARS
    assert bars[("select", "cpu per reply")].ratio == pytest.approx(3.0)
    assert bars[("epoll-et", "cpu per reply")].ratio == pytest.approx(1.0)
    assert bars[("select", "peak")].bound  # nothing saturated: a peak ratio is only a bound
    assert len(curves(data)) == 4
