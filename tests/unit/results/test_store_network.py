"""The store keeps each point's network profile and the clients' measured round trips."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from orchestrator.config.plan import Point
from orchestrator.results.export import render, rows
from orchestrator.results.records import PointNetwork, PointRecord
from orchestrator.results.store import Store
from tests.support.report_stores import new_sweep


def attempt(network: str, rtts: dict[str, tuple[float, float]], attempt: int = 1) -> PointRecord:
    point = Point("select", "one-byte", 0, None, 100.0, 1, "wan")
    return PointRecord(point, 0, "ok", "", attempt, 1.0, 2.0, network=network, rtts=rtts)


def test_profile_and_round_trips_per_point(tmp_path: Path) -> None:
    store = Store.open(tmp_path)
    sweep_id = new_sweep(store)
    store.record_point(sweep_id, attempt("wan", {"client1": (50.0, 49.1)}))
    store.record_point(sweep_id, attempt("wan", {"client1": (50.0, 50.3), "c2": (50.0, 51.0)}, 2))
    [(key, network)] = store.networks(sweep_id).items()
    assert key.endswith("/net=wan")
    assert network == PointNetwork("wan", {"c2": (50.0, 51.0), "client1": (50.0, 50.3)})
    store.record_point(sweep_id, attempt("lan", {}, 3))
    assert store.networks(sweep_id)[key] == PointNetwork("lan")
    store.delete_sweep(sweep_id)
    assert store.networks(sweep_id) == {}
    store.close()


def test_a_store_from_before_the_table_still_reads(tmp_path: Path) -> None:
    store = Store.open(tmp_path)
    sweep_id = new_sweep(store)
    store.close()
    with sqlite3.connect(tmp_path / "testbed.sqlite") as db:
        db.execute("DROP TABLE networks")
    db.close()
    readonly = Store.open(tmp_path, readonly=True)
    assert readonly.networks(sweep_id) == {}
    readonly.close()


def test_export_rows_carry_profile_and_round_trips(tmp_path: Path) -> None:
    store = Store.open(tmp_path)
    sweep_id = new_sweep(store)
    store.record_point(sweep_id, attempt("wan", {"client1": (50.0, 49.1), "c2": (50.0, 50.25)}))
    [row] = rows(store, sweep_id)
    assert row["network"] == "wan" and row["rtts_ms"] == "c2=50.25 client1=49.10"
    assert "network" in render([row], "csv").splitlines()[0]
    store.close()
