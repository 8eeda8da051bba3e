"""The results store: one SQLite file per results directory, the only writer of it.

    store = Store.open(Path("results"))           # results/testbed.sqlite
    sweep = store.create_sweep(...)
    store.record_point(sweep, record)              # one transaction: committed or absent

Every point is committed the moment it ends (WAL, synchronous=FULL), so a crash or SIGKILL
loses at most the point in progress. A point has one row per sweep (its latest attempt);
every attempt, failed or interrupted ones included, is also kept in `attempts` with the agents'
raw results, so nothing measured is ever lost.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Any

from orchestrator.config.plan import accept_label
from orchestrator.errors import EXIT_USAGE, TestbedError
from orchestrator.results.points import StoredPoint
from orchestrator.results.records import (
    FINAL_STATUSES,
    SUMMARY_FIELDS,
    PointNetwork,
    PointRecord,
    Sweep,
    SweepSummary,
)
from orchestrator.results.schema import (
    PROFILE,
    SCHEMA,
    SCHEMA_VERSION,
    STORE_FILE,
    THROUGHPUT,
    add_columns,
    connect,
    connect_readonly,
    create_file,
    identify,
)
from orchestrator.results.writer import SweepWriter


class Store(SweepWriter):
    """The SQLite results store; see the module docstring."""

    def __init__(self, path: Path, connection: sqlite3.Connection) -> None:
        self.path = path
        self.db = connection

    @classmethod
    def open(cls, location: Path, *, create: bool = True, readonly: bool = False) -> Store:
        """Open the store in directory `location` (or the file itself); create it if asked.

        `readonly` (export, status, report, compare) opens it with SQLite's `mode=ro`: nothing
        in the file or beside it changes, and a store on a read-only mount can be read. A file
        that is not a testbed store, or of another schema version, is refused (exit 2) before
        anything touches it; only an empty SQLite file is taken over (when writing)."""
        path = location if location.suffix == ".sqlite" else location / STORE_FILE
        if not path.exists() and (readonly or not create):
            raise TestbedError(f"{location}: no results store here ({STORE_FILE} not found)")
        if readonly:
            return cls(path, connect_readonly(path))
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists():
            create_file(path)
        try:
            probe = sqlite3.connect(path, isolation_level=None, timeout=30)
            try:
                version = identify(probe, path, writable=True)
            finally:
                probe.close()
            connection = connect(path)
            connection.executescript(SCHEMA)  # a store from an earlier revision gains new tables
            add_columns(connection)  # ... and new columns
        except sqlite3.DatabaseError as error:
            raise TestbedError(f"{path}: not a usable results store: {error}", EXIT_USAGE) from None
        store = cls(path, connection)
        if version is None:  # an empty SQLite file someone made: it is ours now
            store._set_meta("schema_version", str(SCHEMA_VERSION))
        return store

    def close(self) -> None:
        self.db.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    # -- sweeps --------------------------------------------------------------------------------

    def create_sweep(
        self,
        *,
        lab: str,
        digest: str,
        seed: int,
        points_planned: int,
        lab_file: str,
        inventory: str,
        revision: str,
        hosts: Mapping[str, Any],
        settings: Mapping[str, Any],
        workloads: Mapping[str, Any],
        kind: str = "manual",
        now: float | None = None,
    ) -> Sweep:
        started = time.time() if now is None else now
        stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime(started))
        with self.transaction() as db:  # the id is chosen and taken in one transaction
            sweep_id = f"{lab}-{stamp}"
            suffix = 1
            while self.sweep(sweep_id) is not None:  # two sweeps in one second
                suffix += 1
                sweep_id = f"{lab}-{stamp}-{suffix}"
            db.execute(
                "INSERT INTO sweeps (id, lab, digest, seed, status, started_at, points_planned,"
                " kind, lab_file, inventory, revision, hosts, settings, workloads)"
                " VALUES (?, ?, ?, ?, 'running', ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    sweep_id,
                    lab,
                    digest,
                    seed,
                    started,
                    points_planned,
                    kind,
                    lab_file,
                    inventory,
                    revision,
                    _json(hosts),
                    _json(settings),
                    _json(workloads),
                ),
            )
        sweep = self.sweep(sweep_id)
        assert sweep is not None
        return sweep

    def sweep(self, sweep_id: str) -> Sweep | None:
        row = self.db.execute("SELECT * FROM sweeps WHERE id = ?", (sweep_id,)).fetchone()
        return _sweep(row) if row else None

    def sweeps(self, lab: str | None = None) -> list[Sweep]:
        """Sweeps, oldest first; of one lab if given."""
        query = "SELECT * FROM sweeps" + (" WHERE lab = ?" if lab else "") + " ORDER BY started_at"
        return [_sweep(row) for row in self.db.execute(query, (lab,) if lab else ())]

    def sweep_details(self, sweep_id: str) -> dict[str, Any]:
        """The recorded context of a sweep: lab file, inventory, revision, host facts, ..."""
        row = self.db.execute("SELECT * FROM sweeps WHERE id = ?", (sweep_id,)).fetchone()
        if row is None:
            raise TestbedError(f"{self.path}: no sweep '{sweep_id}'")
        details = dict(row)
        for key in ("hosts", "settings", "workloads", "summary"):
            details[key] = json.loads(details[key]) if details[key] else None
        return details

    def resumable(self, lab: str) -> Sweep | None:
        """The lab's latest sweep if it did not finish (a crash, a kill, Ctrl-C)."""
        sweeps = self.sweeps(lab)
        if sweeps and sweeps[-1].status in ("running", "interrupted"):
            return sweeps[-1]
        return None

    def set_sweep_status(self, sweep_id: str, status: str) -> None:
        with self.transaction() as db:
            db.execute("UPDATE sweeps SET status = ? WHERE id = ?", (status, sweep_id))

    def update_settings(self, sweep_id: str, values: Mapping[str, Any]) -> None:
        """Add or replace top-level keys of a sweep's settings (what the sweep learnt as it
        ran: where each curve ended, the clients' capacity), in one transaction."""
        with self.transaction() as db:
            row = db.execute("SELECT settings FROM sweeps WHERE id = ?", (sweep_id,)).fetchone()
            if row is None:
                raise TestbedError(f"{self.path}: no sweep '{sweep_id}'")
            settings = {**json.loads(row["settings"] or "{}"), **values}
            db.execute("UPDATE sweeps SET settings = ? WHERE id = ?", (_json(settings), sweep_id))

    def finish_sweep(
        self, sweep_id: str, status: str, summary: SweepSummary, now: float | None = None
    ) -> None:
        ended = time.time() if now is None else now
        with self.transaction() as db:
            db.execute(
                "UPDATE sweeps SET status = ?, ended_at = ?, summary = ? WHERE id = ?",
                (status, ended, _json(asdict(summary)), sweep_id),
            )

    # -- points --------------------------------------------------------------------------------

    def record_point(self, sweep_id: str, record: PointRecord) -> None:
        """Store one attempt at a point and make it the point's current row, atomically."""
        point = record.point
        summary = record.summary
        with self.transaction() as db:
            db.execute(
                "INSERT OR REPLACE INTO attempts VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    sweep_id,
                    point.key,
                    record.attempt,
                    record.status,
                    record.reason,
                    record.started_at,
                    record.ended_at,
                    _json(record.agents),
                ),
            )
            row = {
                "sweep": sweep_id,
                "key": point.key,
                "seq": record.seq,
                "mechanism": point.mechanism,
                "workload": point.workload,
                "idle_connections": point.idle_connections,
                "accept_limit": accept_label(point.accept_limit),
                "target_rate": point.rate,
                "repetition": point.repetition,
                "status": record.status,
                "reason": record.reason,
                "attempts": record.attempt,
                "started_at": record.started_at,
                "ended_at": record.ended_at,
                "warmup_seconds": record.warmup_seconds,
                "measure_seconds": record.measure_seconds,
                "cooldown_seconds": record.cooldown_seconds,
                "cooldown_left": _json(record.cooldown_left),
                # In the order they happened (not sorted): the order is part of the story.
                "phases": json.dumps(record.phases),
                **{name: summary.get(name) for name in SUMMARY_FIELDS},
                "errors": _json(summary.get("errors", {})),
                "agents": _json(record.agents),
                "server": _json(record.server),
                "server_name": point.server,
                "purpose": PROFILE if point.profiling else THROUGHPUT,
            }
            columns = ", ".join(row)
            marks = ", ".join(f":{name}" for name in row)
            db.execute(f"INSERT OR REPLACE INTO points ({columns}) VALUES ({marks})", row)
            db.execute("DELETE FROM syscalls WHERE sweep = ? AND key = ?", (sweep_id, point.key))
            db.executemany(
                "INSERT INTO syscalls VALUES (?, ?, ?, ?, ?)",
                [
                    (sweep_id, point.key, name, calls, seconds)
                    for name, (calls, seconds) in sorted(record.syscalls.items())
                ],
            )
            self._record_network(db, sweep_id, record)

    def set_verdict(self, sweep_id: str, key: str, status: str, reason: str) -> None:
        """A point's status and reason judged again at the end of its sweep (`run.limits`),
        on the point and its latest attempt, in one transaction; its measurements stay."""
        if status not in FINAL_STATUSES:
            raise TestbedError(f"{self.path}: {status!r} is not a final point status")
        with self.transaction() as db:
            row = db.execute(
                "SELECT attempts FROM points WHERE sweep = ? AND key = ?", (sweep_id, key)
            ).fetchone()
            if row is None:
                raise TestbedError(f"{self.path}: sweep '{sweep_id}' has no point '{key}'")
            db.execute(
                "UPDATE points SET status = ?, reason = ? WHERE sweep = ? AND key = ?",
                (status, reason, sweep_id, key),
            )
            db.execute(
                "UPDATE attempts SET status = ?, reason = ? WHERE sweep = ? AND key = ?"
                " AND attempt = ?",
                (status, reason, sweep_id, key, row["attempts"]),
            )

    def _record_network(self, db: sqlite3.Connection, sweep_id: str, record: PointRecord) -> None:
        key = record.point.key
        db.execute("DELETE FROM networks WHERE sweep = ? AND key = ?", (sweep_id, key))
        if not record.network:
            return
        rows: list[tuple[Any, ...]] = [
            (sweep_id, key, record.network, host, expected, measured)
            for host, (expected, measured) in sorted(record.rtts.items())
        ] or [(sweep_id, key, record.network, "", None, None)]
        db.executemany("INSERT INTO networks VALUES (?, ?, ?, ?, ?, ?)", rows)

    def networks(self, sweep_id: str) -> dict[str, PointNetwork]:
        """{point key: its network profile and measured round trips}; {} from a store older
        than the table."""
        found: dict[str, PointNetwork] = {}
        try:
            rows = self.db.execute(
                "SELECT key, profile, host, expected_ms, rtt_ms FROM networks WHERE sweep = ?"
                " ORDER BY key, host",
                (sweep_id,),
            ).fetchall()
        except sqlite3.OperationalError:  # no such table: read-only, from an earlier revision
            return found
        for row in rows:
            network = found.setdefault(row["key"], PointNetwork(row["profile"]))
            if row["host"]:
                network.rtts[row["host"]] = (row["expected_ms"], row["rtt_ms"])
        return found

    def done_keys(self, sweep_id: str) -> set[str]:
        """Keys of points that need no further run (final status), the profiling pass's too."""
        marks = ",".join("?" * len(FINAL_STATUSES))
        rows = self.db.execute(
            f"SELECT key FROM points WHERE sweep = ? AND status IN ({marks})",
            (sweep_id, *FINAL_STATUSES),
        )
        return {row["key"] for row in rows}

    def points(self, sweep_id: str) -> list[StoredPoint]:
        """Every throughput point of a sweep in run order, decoded (not those of its profiling
        pass: `profile_points`)."""
        return self._points(sweep_id, THROUGHPUT)

    def profile_points(self, sweep_id: str) -> list[StoredPoint]:
        """The points of a sweep's profiling pass (Table 1's CPU profile, `experiment.profile`),
        as `points`; they never belong to the throughput curves. [] from an older store."""
        return self._points(sweep_id, PROFILE)

    def _points(self, sweep_id: str, purpose: str) -> list[StoredPoint]:
        if self._has_column("points", "purpose"):
            rows = self.db.execute(
                "SELECT * FROM points WHERE sweep = ? AND purpose = ? ORDER BY seq",
                (sweep_id, purpose),
            ).fetchall()
        elif purpose == THROUGHPUT:  # a store from before the profiling pass, read-only
            query = "SELECT * FROM points WHERE sweep = ? ORDER BY seq"
            rows = self.db.execute(query, (sweep_id,)).fetchall()
        else:
            rows = []
        # A store from before servers were an axis, or the profiling pass, lacks those columns:
        # `StoredPoint.from_row` gives them their declared defaults.
        return [StoredPoint.from_row(dict(row)) for row in rows]

    def attempts(self, sweep_id: str) -> list[dict[str, Any]]:
        rows = self.db.execute(
            "SELECT sweep, key, attempt, status, reason, started_at, ended_at FROM attempts"
            " WHERE sweep = ? ORDER BY started_at",
            (sweep_id,),
        )
        return [dict(row) for row in rows]

    def syscalls(self, sweep_id: str) -> dict[str, dict[str, tuple[int, float]]]:
        """{point key: {syscall: (calls, seconds)}} over each point's measurement."""
        result: dict[str, dict[str, tuple[int, float]]] = {}
        for row in self.db.execute(
            "SELECT key, syscall, calls, seconds FROM syscalls WHERE sweep = ?", (sweep_id,)
        ):
            result.setdefault(row["key"], {})[row["syscall"]] = (row["calls"], row["seconds"])
        return result

    # -- baselines (nightly runs) -------------------------------------------------------------

    def set_baseline(self, lab: str, sweep_id: str) -> None:
        with self.transaction() as db:
            db.execute("INSERT OR REPLACE INTO baselines VALUES (?, ?)", (lab, sweep_id))

    def baseline(self, lab: str) -> str | None:
        row = self.db.execute("SELECT sweep FROM baselines WHERE lab = ?", (lab,)).fetchone()
        return str(row["sweep"]) if row else None

    def delete_sweep(self, sweep_id: str) -> None:
        with self.transaction() as db:
            for table in ("syscalls", "attempts", "points", "networks"):
                db.execute(f"DELETE FROM {table} WHERE sweep = ?", (sweep_id,))
            db.execute("DELETE FROM sweeps WHERE id = ?", (sweep_id,))

    # -- internals -------------------------------------------------------------------------------

    def _has_column(self, table: str, column: str) -> bool:
        """Whether the store's `table` has `column` (a store opened read-only keeps the columns
        of the revision that wrote it)."""
        return any(
            str(info[1]) == column for info in self.db.execute(f"PRAGMA table_info({table})")
        )

    def _meta(self, key: str) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return str(row["value"]) if row else None

    def _set_meta(self, key: str, value: str) -> None:
        with self.transaction() as db:
            db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))


def _json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def _sweep(row: sqlite3.Row) -> Sweep:
    return Sweep(
        id=row["id"],
        lab=row["lab"],
        digest=row["digest"],
        seed=row["seed"],
        status=row["status"],
        started_at=row["started_at"],
        ended_at=row["ended_at"],
        points_planned=row["points_planned"],
        kind=row["kind"],
    )
