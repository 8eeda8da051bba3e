"""The SQLite results store: points committed one by one, attempts kept, resume state."""

from __future__ import annotations

import dataclasses
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Unpack

import pytest

from orchestrator.config.plan import Point
from orchestrator.errors import TestbedError
from orchestrator.results.records import PointRecord, PointSummary, SweepSummary
from orchestrator.results.store import Store
from tests.support.report_stores import new_sweep

POINT = Point("epoll-et", "one-byte", 0, None, 2000.0, 1)


def record(status: str = "ok", attempt: int = 1, **summary: Unpack[PointSummary]) -> PointRecord:
    return PointRecord(
        point=POINT,
        seq=0,
        status=status,
        reason="" if status == "ok" else "agent died",
        attempt=attempt,
        started_at=10.0,
        ended_at=20.0,
        warmup_seconds=1.0,
        measure_seconds=5.0,
        cooldown_seconds=2.5,
        cooldown_left={"client1": 3},
        summary={
            "request_rate": 1999.5,
            "reply_rate": 1998.0,
            "errors_total": 4,
            "client_timeouts": 1,
            "errors": {"client-timo": 1, "connreset": 3},
            **summary,
        },
        agents={"client1": {"replies": 9990}},
        server={"replies": 9990},
        syscalls={"epoll_wait": (120, 0.25), "read": (9990, 0.5)},
    )


def test_a_point_round_trips(tmp_path: Path) -> None:
    store = Store.open(tmp_path)
    sweep = new_sweep(store)
    store.record_point(sweep, record())
    [row] = store.points(sweep)
    assert row.key == POINT.key and row.status == "ok"
    assert row.request_rate == 1999.5 and row.errors_total == 4
    assert row.client_timeouts == 1 and row.errors == {"client-timo": 1, "connreset": 3}
    assert row.cooldown_left == {"client1": 3} and row.accept_limit == "inf"
    assert store.syscalls(sweep) == {POINT.key: {"epoll_wait": (120, 0.25), "read": (9990, 0.5)}}
    assert store.done_keys(sweep) == {POINT.key}


def test_a_points_phases_come_back_in_the_order_they_happened(tmp_path: Path) -> None:
    store = Store.open(tmp_path)
    sweep = new_sweep(store)
    phases = {"start": 0.3, "warmup": 1.6, "measure": 5.2, "stop": 0.4, "cooldown": 2.5}
    store.record_point(sweep, dataclasses.replace(record(), phases=phases))
    [row] = store.points(sweep)
    assert list(row.phases) == list(phases)  # not alphabetical: start before cooldown


def test_retry_replaces_the_point_but_keeps_every_attempt(tmp_path: Path) -> None:
    store = Store.open(tmp_path)
    sweep = new_sweep(store)
    store.record_point(sweep, record("failed", attempt=1))
    store.record_point(sweep, record("ok", attempt=2))
    [row] = store.points(sweep)
    assert (row.status, row.attempts) == ("ok", 2)
    assert [(a["attempt"], a["status"]) for a in store.attempts(sweep)] == [
        (1, "failed"),
        (2, "ok"),
    ]


def test_interrupted_points_are_not_done(tmp_path: Path) -> None:
    store = Store.open(tmp_path)
    sweep = new_sweep(store)
    store.record_point(sweep, record("interrupted"))
    assert store.done_keys(sweep) == set()
    resumable = store.resumable("unit")
    assert resumable is not None and resumable.id == sweep
    store.finish_sweep(sweep, "complete", SweepSummary(points_run=1))
    assert store.resumable("unit") is None


def test_a_committed_point_survives_a_killed_writer(tmp_path: Path) -> None:
    store = Store.open(tmp_path)
    sweep = new_sweep(store)
    store.close()
    # Another process commits a point and is killed before it could close anything.
    code = (
        "import os, signal, sys; sys.path.insert(0, '.');"
        "from pathlib import Path; from orchestrator.results.store import Store;"
        "from tests.unit.results.test_store import record;"
        f"s = Store.open(Path({str(tmp_path)!r})); s.record_point({sweep!r}, record());"
        "os.kill(os.getpid(), signal.SIGKILL)"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=Path(__file__).parents[3])
    assert result.returncode == -9
    assert [row.key for row in Store.open(tmp_path).points(sweep)] == [POINT.key]


def test_sweep_ids_are_unique_within_a_second(tmp_path: Path) -> None:
    store = Store.open(tmp_path)
    assert new_sweep(store) != new_sweep(store)


def test_not_a_store(tmp_path: Path) -> None:
    (tmp_path / "testbed.sqlite").write_text("this is not sqlite, " * 100)
    with pytest.raises(TestbedError, match="not a testbed results store"):
        Store.open(tmp_path)
    with pytest.raises(TestbedError, match="no results store here"):
        Store.open(tmp_path / "elsewhere", create=False)


def test_schema_from_a_newer_version_is_refused(tmp_path: Path) -> None:
    Store.open(tmp_path).close()
    with sqlite3.connect(tmp_path / "testbed.sqlite") as db:
        db.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    with pytest.raises(TestbedError, match="newer testbed"):
        Store.open(tmp_path)


def test_a_store_is_never_seen_without_its_tables(tmp_path: Path) -> None:
    """Four writers create the same store at once while a reader polls it, as `export` or a
    test may while `orchestrate up` starts: the reader finds no file or a whole store, and
    every writer's sweep lands in the one store."""
    for attempt in range(3):
        directory = tmp_path / str(attempt)
        code = (
            "import sys; sys.path.insert(0, '.');"
            "from pathlib import Path; from orchestrator.results.store import Store;"
            "from tests.support.report_stores import new_sweep;"
            f"new_sweep(Store.open(Path({str(directory)!r})))"
        )
        writers = [
            subprocess.Popen([sys.executable, "-c", code], cwd=Path(__file__).parents[3])
            for _ in range(4)
        ]
        seen = 0
        while any(writer.poll() is None for writer in writers):
            if (directory / "testbed.sqlite").exists():
                with sqlite3.connect(directory / "testbed.sqlite") as db:
                    db.execute("SELECT COUNT(*) FROM points").fetchone()
                seen += 1
        assert [writer.wait() for writer in writers] == [0, 0, 0, 0]
        assert len(Store.open(directory).sweeps()) == 4
        assert not [p.name for p in directory.iterdir() if ".new" in p.name]  # no partial store
        print(f"attempt {attempt}: the reader looked {seen} times")


def test_what_a_sweep_learns_as_it_runs_is_added_to_its_settings(tmp_path: Path) -> None:
    store = Store.open(tmp_path)
    sweep = new_sweep(store)
    before = store.sweep_details(sweep)["settings"]
    store.update_settings(sweep, {"client_capacity": {"fell_behind": 3000.0}})
    store.update_settings(sweep, {"client_capacity": {"fell_behind": 2500.0}, "curves": {}})
    after = store.sweep_details(sweep)["settings"]
    assert after == {**before, "client_capacity": {"fell_behind": 2500.0}, "curves": {}}
    with pytest.raises(TestbedError):
        store.update_settings("no-such-sweep", {})
