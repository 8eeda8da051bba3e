"""Table 1 as the paper's CPU profile, from server counters captured from the real server
(`--syscall-timing cpu`, see tests/unit/run/fixtures), and from older stores (wall time only)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from orchestrator.report.analysis.build import build
from orchestrator.report.analysis.data import curves
from orchestrator.report.analysis.sweep import SweepData
from orchestrator.report.analysis.syscalls import (
    CPU,
    NONE,
    NOT_PROFILED,
    PASS,
    PROFILE_RATES,
    THROUGHPUT,
    WALL,
    cpu_profiled,
    syscall_table,
    timing_of,
)
from orchestrator.report.write import write_report
from orchestrator.results.points import ServerRecord, StoredPoint
from orchestrator.results.store import Store
from orchestrator.run.servermetrics import difference, parse
from tests.support.report_stores import P, csv_rows, sweep_with

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
    wall = ServerRecord.read(captured("epoll-lt")).syscalls["epoll_wait"].seconds
    waited = rows["epoll_wait"].cells["epoll-lt"].seconds
    assert waited is not None and waited < wall


def test_an_old_store_with_wall_time_only_is_marked_as_such(tmp_path: Path) -> None:
    store = Store.open(tmp_path)
    old = P("select", 1000, 1000.0, cpu=1.0, syscalls={"select": (900, 4.5), "read": (9000, 0.2)})
    table = syscall_table(SweepData.load(store, sweep_with(store, [old])), "one-byte", 0, "inf")
    assert table.profile == WALL
    assert table.total("select") == pytest.approx(470.0)  # a blocking wait: not CPU time
    assert table.columns[0].waiting is None


# -- never zeros: what the server declared it timed decides what the table is ---------------------


def wall_point(mechanism: str) -> P:
    """A point as the default sweep stores it: a real scrape of the server timing its calls by
    the wall clock, which exports the per-call CPU series too, every one at 0."""
    return point(mechanism, captured(f"{mechanism}-wall"))


def test_a_wall_timed_scrape_is_not_presented_as_a_cpu_profile(tmp_path: Path) -> None:
    wall = captured("select-wall")
    calls = wall["syscalls"]
    assert isinstance(calls, dict)
    # The trap: every call carries CPU and blocked seconds, all of them 0.
    assert all(c["cpu_seconds"] == 0 and "blocked_seconds" in c for c in calls.values())
    store = Store.open(tmp_path)
    sweep = sweep_with(store, [wall_point(m) for m in ("select", "epoll-lt")])
    data = SweepData.load(store, sweep)
    assert not any(cpu_profiled(p) for p in data.points)
    table = syscall_table(data, "one-byte", 0, "inf")
    assert table.profile == WALL and not table.profiled
    rows = {row.syscall: row for row in table.rows}
    percent = rows["select"].cells["select"].percent
    assert percent is not None and percent > 0  # wall time, not the CPU series' zeros
    assert table.columns[0].waiting is None  # no "waiting" row built from zeros
    written = write_report(store, sweep, directory=tmp_path / "reports")
    page = written.index.read_text()
    assert "Not a CPU profile" in page and "not profiled in this sweep" in page
    assert "outside system calls" not in page
    csv = csv_rows(written.directory / "table1-one-byte-idle0.csv")
    assert csv and {row["profile"] for row in csv} == {WALL}


def test_a_cpu_timed_scrape_is_a_cpu_profile_by_its_declaration(tmp_path: Path) -> None:
    store = Store.open(tmp_path)
    sweep = sweep_with(store, [point(m, captured(m)) for m in ("select", "epoll-lt")])
    data = SweepData.load(store, sweep)
    assert all(timing_of(p) == CPU for p in data.points)
    # Declared wall, whatever the counters hold: never a CPU profile.
    counters = {**data.points[0].server.stored, "info": {"syscall_timing": "wall"}}
    declared_wall = replace(data.points[0], server=ServerRecord.read(counters))
    assert timing_of(declared_wall) == WALL


def test_calls_counted_but_not_timed_are_not_profiled_never_zero(tmp_path: Path) -> None:
    server = captured("select-wall")
    info, calls = server["info"], server["syscalls"]
    assert isinstance(info, dict) and isinstance(calls, dict)
    untimed = {
        **server,
        "info": {**info, "syscall_timing": NONE},
        "syscalls": {n: {"calls": c["calls"], "seconds": 0.0} for n, c in calls.items()},
    }
    store = Store.open(tmp_path)
    sweep = sweep_with(store, [point("select", untimed)])
    table = syscall_table(SweepData.load(store, sweep), "one-byte", 0, "inf")
    assert table.profile == NONE and not table.profiled
    assert all(cell.percent is None for row in table.rows for cell in row.cells.values())
    assert all(cell.calls > 0 for row in table.rows for cell in row.cells.values())
    written = write_report(store, sweep, directory=tmp_path / "reports")
    page = written.index.read_text()
    section = page.split('id="table1"')[1].split("<h2")[0].split("<h3>The paper's")[0]
    assert "Not profiled in this sweep" in section and "0.00" not in section
    csv = csv_rows(written.directory / "table1-one-byte-idle0.csv")
    assert {row["profile"] for row in csv} == {NOT_PROFILED}
    assert {row["percent"] for row in csv} == {""}  # no share at all, never 0


def test_a_group_with_no_ok_run_says_not_profiled(tmp_path: Path) -> None:
    store = Store.open(tmp_path)
    sweep = sweep_with(store, [P("select", 1000, 10.0, status="client-limited")])
    written = write_report(store, sweep, directory=tmp_path / "reports")
    assert "Not profiled in this sweep" in written.index.read_text()
    [row] = csv_rows(written.directory / "table1-one-byte-idle0.csv")
    assert row["profile"] == NOT_PROFILED and row["percent"] == ""


# -- the profiling pass: Table 1 from points stored apart from the curves ----------------------


def with_pass(tmp_path: Path, status: str = "ok") -> tuple[Store, str]:
    """A wall-timed throughput sweep (two mechanisms, three rates) and its profiling pass at
    2,000 requests/s, CPU-timed."""
    points, profiled = [], []
    for mechanism in ("select", "epoll-lt"):
        wall, cpu = wall_point(mechanism), point(mechanism, captured(mechanism))
        for rate in (1000, 2000, 3000):
            served = min(rate, 2400.0)
            points.append(
                P(mechanism, rate, served, server=wall.server, syscalls=wall.syscalls, window=10.0)
            )
        profiled.append(
            P(
                mechanism,
                2000,
                1990.0,
                status=status,
                server=cpu.server,
                syscalls=cpu.syscalls,
                window=10.0,
                profiling=True,
            )
        )
    store = Store.open(tmp_path)
    sweep = sweep_with(store, [*points, *profiled])
    store.update_settings(
        sweep, {PROFILE_RATES: {"one-byte/idle=0/accept=inf": {"rate": 2000, "why": "chosen"}}}
    )
    return store, sweep


def test_table_1_comes_from_the_profiling_pass_and_the_curves_never_see_it(
    tmp_path: Path,
) -> None:
    store, sweep = with_pass(tmp_path)
    data = SweepData.load(store, sweep)
    assert len(data.points) == 6 and len(data.profile) == 2
    assert all(p.key.endswith("/profile") for p in data.profile)
    table = syscall_table(data, "one-byte", 0, "inf")
    assert table.source == PASS and table.profiled and table.rate == 2000
    assert "chosen" in table.choice
    for mechanism in table.mechanisms:
        assert 0 < table.total(mechanism) <= 100
        assert all(
            (row.cells[mechanism].percent or 0) > 0
            for row in table.rows
            if mechanism in row.cells and row.cells[mechanism].calls >= 1000
        )
    # The throughput points alone, at their own rate, are the wall table they always were.
    alone = syscall_table(replace(data, profile=()), "one-byte", 0, "inf")
    assert alone.source == THROUGHPUT and alone.profile == WALL
    # Curves and peaks are those of the throughput points: the same with or without the pass.
    without = Store.open(tmp_path / "without")
    plain = SweepData.load(without, sweep_with(without, [_strip(p) for p in data.points]))
    assert [(c.mechanism, c.peak, len(c.runs)) for c in curves(data)] == [
        (c.mechanism, c.peak, len(c.runs)) for c in curves(plain)
    ]
    report = build(data)
    assert all(run.key in {p.key for p in data.points} for c in report.curves for run in c.runs)
    assert [f.verdict for f in report.findings] == [f.verdict for f in build(plain).findings]


def test_a_client_limited_profiling_run_still_profiles_and_says_so(tmp_path: Path) -> None:
    store, sweep = with_pass(tmp_path, status="client-limited")
    table = syscall_table(SweepData.load(store, sweep), "one-byte", 0, "inf")
    assert table.profiled and all(c.statuses == ("client-limited",) for c in table.columns)
    written = write_report(store, sweep, directory=tmp_path / "reports")
    assert "1 (client-limited)" in written.index.read_text()


def _strip(stored: StoredPoint) -> P:
    """A stored throughput point as a `P` again (for the same sweep without its pass)."""
    calls = {
        name: (int(entry.calls), entry.seconds)
        for name, entry in stored.server.syscalls.items()
        if entry.calls
    }
    return P(
        stored.mechanism,
        stored.target_rate,
        stored.reply_rate,
        server=dict(stored.server.stored),
        syscalls=calls,
        window=10.0,
    )
