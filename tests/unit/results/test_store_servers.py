"""The store records the server under test per point; stores from before gain the column."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from orchestrator.config.plan import Point
from orchestrator.results.records import PointRecord
from orchestrator.results.schema import STORE_FILE
from orchestrator.results.store import Store
from tests.support.report_stores import new_sweep


def sweep_with_point(store: Store, point: Point) -> str:
    sweep = new_sweep(store)
    store.record_point(sweep, PointRecord(point, 1, "ok", "", 1, 1.0, 2.0))
    return sweep


def test_each_point_carries_its_server(tmp_path: Path) -> None:
    store = Store.open(tmp_path)
    sweep = sweep_with_point(store, Point("", "one-byte", 0, None, 100.0, 1, server="nginx"))
    assert [p.server_name for p in store.points(sweep)] == ["nginx"]


def test_a_store_from_before_the_column_is_read_and_then_migrated(tmp_path: Path) -> None:
    store = Store.open(tmp_path)
    sweep = sweep_with_point(store, Point("poll", "one-byte", 0, None, 100.0, 1))
    store.close()
    with sqlite3.connect(tmp_path / STORE_FILE) as db:
        db.execute("ALTER TABLE points DROP COLUMN server_name")  # as an earlier revision wrote
    readonly = Store.open(tmp_path, readonly=True)
    assert [p.server_name for p in readonly.points(sweep)] == ["userver"]
    readonly.close()
    writable = Store.open(tmp_path)
    columns = {row[1] for row in writable.db.execute("PRAGMA table_info(points)")}
    assert "server_name" in columns
    assert [p.server_name for p in writable.points(sweep)] == ["userver"]
