"""Table 1 as the paper's CPU profile, from server counters captured from the real server
(`--syscall-timing cpu`, see tests/unit/run/fixtures), and from older stores (wall time only)."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.report.data import SweepData
from orchestrator.report.syscalls import CPU, WALL, syscall_table
from orchestrator.results.store import Store
from orchestrator.run.servermetrics import difference, parse
from tests.support.report_stores import P, sweep_with

FIXTURES = Path(__file__).parents[1] / "run" / "fixtures"


def captured(mechanism: str) -> dict[str, object]:
    def text(when: str) -> str:
        return (FIXTURES / f"server-{mechanism}-{when}.prom").read_text()

    return difference(parse(text("before")), parse(text("after")))


def point(mechanism: str, server: dict[str, object]) -> P:
    calls = server["syscalls"]
    assert isinstance(calls, dict)
    syscalls = {n: (int(v["calls"]), float(v["seconds"])) for n, v in calls.items() if v["calls"]}
    return P(mechanism, 1000, 1000.0, server=server, syscalls=syscalls, window=10.0)


def test_a_cpu_profile_sums_to_at_most_100_percent_per_mechanism(tmp_path: Path) -> None:
    store = Store.open(tmp_path)
    points = [point(m, captured(m)) for m in ("select", "epoll-lt")]
    table = syscall_table(SweepData.load(store, sweep_with(store, points)), "one-byte", 0, "inf")
    assert table.profile == CPU and table.mechanisms == ["select", "epoll-lt"]
    for mechanism in table.mechanisms:
        assert 0 < table.total(mechanism) <= 100, mechanism
    for column in table.columns:
        assert column.waiting is not None and 0 <= column.waiting <= 1
        assert column.preempted is not None and column.preempted >= 0
    rows = {row.syscall: row for row in table.rows}
    assert "select" in rows["select"].cells and "epoll-lt" in rows["epoll_ctl"].cells
    # Wall time around the wait call includes its blocking; CPU time inside it does not.
    wall = captured("epoll-lt")["syscalls"]["epoll_wait"]  # type: ignore[index]
    assert rows["epoll_wait"].cells["epoll-lt"].seconds < wall["seconds"]


def test_an_old_store_with_wall_time_only_is_marked_as_such(tmp_path: Path) -> None:
    store = Store.open(tmp_path)
    old = P("select", 1000, 1000.0, cpu=1.0, syscalls={"select": (900, 4.5), "read": (9000, 0.2)})
    table = syscall_table(SweepData.load(store, sweep_with(store, [old])), "one-byte", 0, "inf")
    assert table.profile == WALL
    assert table.total("select") == pytest.approx(470.0)  # a blocking wait: not CPU time
    assert table.columns[0].waiting is None
