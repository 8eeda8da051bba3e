"""The store keeps Table 1's profiling pass apart from the throughput points: `points` never
returns them, `profile_points` does, resume counts both, and stores from before open as they
were (every point a throughput point)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from orchestrator.config.plan import Point
from orchestrator.results import export
from orchestrator.results.records import PointRecord
from orchestrator.results.schema import STORE_FILE
from orchestrator.results.store import Store
from tests.support.report_stores import new_sweep

THROUGHPUT = Point("select", "one-byte", 0, None, 2000.0, 1)
PROFILING = Point("select", "one-byte", 0, None, 2000.0, 1, profiling=True)


def stored(store: Store, *points: Point) -> str:
    sweep = new_sweep(store)
    for seq, point in enumerate(points):
        store.record_point(sweep, PointRecord(point, seq, "ok", "", 1, 1.0, 2.0))
    return sweep


def test_profiling_points_are_stored_apart_from_the_throughput_points(tmp_path: Path) -> None:
    store = Store.open(tmp_path)
    sweep = stored(store, THROUGHPUT, PROFILING)
    assert PROFILING.key != THROUGHPUT.key and PROFILING.key.endswith("/profile")
    assert [p.key for p in store.points(sweep)] == [THROUGHPUT.key]
    assert [p.key for p in store.profile_points(sweep)] == [PROFILING.key]
    assert store.done_keys(sweep) == {THROUGHPUT.key, PROFILING.key}  # resume skips both
    assert [row["point"] for row in export.rows(store, sweep)] == [THROUGHPUT.key]


def test_a_store_from_before_the_pass_opens_read_only_and_then_gains_the_column(
    tmp_path: Path,
) -> None:
    store = Store.open(tmp_path)
    sweep = stored(store, THROUGHPUT)
    store.close()
    with sqlite3.connect(tmp_path / STORE_FILE) as db:
        db.execute("ALTER TABLE points DROP COLUMN purpose")  # as an earlier revision wrote it
    readonly = Store.open(tmp_path, readonly=True)
    assert [p.key for p in readonly.points(sweep)] == [THROUGHPUT.key]
    assert readonly.profile_points(sweep) == []
    readonly.close()
    writable = Store.open(tmp_path)
    writable.record_point(sweep, PointRecord(PROFILING, 1, "ok", "", 1, 1.0, 2.0))
    assert [p.key for p in writable.points(sweep)] == [THROUGHPUT.key]
    assert [p.key for p in writable.profile_points(sweep)] == [PROFILING.key]
