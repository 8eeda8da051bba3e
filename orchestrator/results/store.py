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
import os
import sqlite3
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import asdict
from pathlib import Path
from typing import Any

from orchestrator.config.plan import accept_label
from orchestrator.errors import TestbedError
from orchestrator.results.records import (
    FINAL_STATUSES,
    SUMMARY_FIELDS,
    PointRecord,
    Sweep,
    SweepSummary,
)

STORE_FILE = "testbed.sqlite"
SCHEMA_VERSION = 1

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS sweeps (
    id TEXT PRIMARY KEY,
    lab TEXT NOT NULL,
    digest TEXT NOT NULL,          -- plan digest: resume only an identical plan
    seed INTEGER NOT NULL,         -- run-order seed
    status TEXT NOT NULL,          -- running, complete, failed, interrupted
    started_at REAL NOT NULL,
    ended_at REAL,
    points_planned INTEGER NOT NULL,
    kind TEXT NOT NULL DEFAULT 'manual',  -- manual or nightly
    lab_file TEXT NOT NULL,        -- lab.yml as written
    inventory TEXT NOT NULL,       -- the inventory as written
    revision TEXT NOT NULL,        -- the project's git revision
    hosts TEXT NOT NULL,           -- JSON: facts about every host
    settings TEXT NOT NULL,        -- JSON: the experiment as run
    workloads TEXT NOT NULL,       -- JSON: workload seeds and file-set statistics
    summary TEXT                   -- JSON: wall time, measurement fraction, ...
);
CREATE TABLE IF NOT EXISTS points (
    sweep TEXT NOT NULL REFERENCES sweeps(id),
    key TEXT NOT NULL,
    seq INTEGER NOT NULL,          -- position in the run order
    mechanism TEXT NOT NULL,
    workload TEXT NOT NULL,
    idle_connections INTEGER NOT NULL,
    accept_limit TEXT NOT NULL,
    target_rate REAL NOT NULL,
    repetition INTEGER NOT NULL,
    status TEXT NOT NULL,
    reason TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    started_at REAL NOT NULL,
    ended_at REAL NOT NULL,
    warmup_seconds REAL,
    measure_seconds REAL,
    cooldown_seconds REAL,
    cooldown_left TEXT,            -- JSON {host: TIME_WAIT sockets left when cooldown ended}
    phases TEXT,                   -- JSON {phase: seconds}: where the point's time went
    request_rate REAL,             -- summed over agents, requests/s
    reply_rate REAL,               -- summed, from Total: replies / test duration
    reply_rate_min REAL,           -- summed 5 s samples
    reply_rate_max REAL,
    reply_rate_stddev REAL,
    replies INTEGER,
    errors_total INTEGER,
    client_timeouts INTEGER,
    errors TEXT,                   -- JSON {kind: count}
    reply_time_ms REAL,
    connection_time_ms REAL,
    server_replies INTEGER,        -- the server's own count over the measurement
    agents TEXT,                   -- JSON {host: the agent's result}
    server TEXT,                   -- JSON: the server's counters over the measurement
    PRIMARY KEY (sweep, key)
);
CREATE TABLE IF NOT EXISTS attempts (
    sweep TEXT NOT NULL,
    key TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    status TEXT NOT NULL,
    reason TEXT NOT NULL,
    started_at REAL NOT NULL,
    ended_at REAL NOT NULL,
    agents TEXT,
    PRIMARY KEY (sweep, key, attempt)
);
CREATE TABLE IF NOT EXISTS syscalls (
    sweep TEXT NOT NULL,
    key TEXT NOT NULL,
    syscall TEXT NOT NULL,
    calls INTEGER NOT NULL,
    seconds REAL NOT NULL,
    PRIMARY KEY (sweep, key, syscall)
);
CREATE TABLE IF NOT EXISTS baselines (lab TEXT PRIMARY KEY, sweep TEXT NOT NULL);
"""


class Store:
    """The SQLite results store; see the module docstring."""

    def __init__(self, path: Path, connection: sqlite3.Connection) -> None:
        self.path = path
        self.db = connection

    @classmethod
    def open(cls, location: Path, *, create: bool = True) -> Store:
        """Open the store in directory `location` (or the file itself); create it if asked."""
        path = location if location.suffix == ".sqlite" else location / STORE_FILE
        if not path.exists() and not create:
            raise TestbedError(f"{location}: no results store here ({STORE_FILE} not found)")
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists():
            _create(path)
        try:
            connection = _connect(path)
            connection.executescript(SCHEMA)  # a store from an earlier revision gains new tables
        except sqlite3.DatabaseError as error:
            raise TestbedError(f"{path}: not a usable results store: {error}") from None
        store = cls(path, connection)
        version = store._meta("schema_version")
        if version is None:  # an empty SQLite file someone made: it is ours now
            store._set_meta("schema_version", str(SCHEMA_VERSION))
        elif int(version) > SCHEMA_VERSION:
            raise TestbedError(
                f"{path}: written by a newer testbed (schema {version} > {SCHEMA_VERSION})"
            )
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
                "phases": _json(record.phases),
                **{name: summary.get(name) for name in SUMMARY_FIELDS},
                "errors": _json(summary.get("errors", {})),
                "agents": _json(record.agents),
                "server": _json(record.server),
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

    def done_keys(self, sweep_id: str) -> set[str]:
        """Keys of points that need no further run (final status)."""
        marks = ",".join("?" * len(FINAL_STATUSES))
        rows = self.db.execute(
            f"SELECT key FROM points WHERE sweep = ? AND status IN ({marks})",
            (sweep_id, *FINAL_STATUSES),
        )
        return {row["key"] for row in rows}

    def points(self, sweep_id: str) -> list[dict[str, Any]]:
        """Every point of a sweep in run order, JSON columns decoded."""
        rows = self.db.execute("SELECT * FROM points WHERE sweep = ? ORDER BY seq", (sweep_id,))
        decoded = []
        for row in rows:
            item = dict(row)
            for key in ("cooldown_left", "phases", "errors", "agents", "server"):
                item[key] = json.loads(item[key]) if item[key] else {}
            decoded.append(item)
        return decoded

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
            for table in ("syscalls", "attempts", "points"):
                db.execute(f"DELETE FROM {table} WHERE sweep = ?", (sweep_id,))
            db.execute("DELETE FROM sweeps WHERE id = ?", (sweep_id,))

    # -- internals -------------------------------------------------------------------------------

    def _meta(self, key: str) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return str(row["value"]) if row else None

    def _set_meta(self, key: str, value: str) -> None:
        with self.transaction() as db:
            db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))


def _connect(path: Path) -> sqlite3.Connection:
    connection = sqlite3.connect(path, isolation_level=None, timeout=30)
    connection.row_factory = sqlite3.Row
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=FULL")
    return connection


def _create(path: Path) -> None:
    """Make a new store whole beside `path`, then link it into place: a reader (`export`, a
    watching script, a second orchestrator) never finds the file without its tables. If another
    process created it first, theirs stands."""
    partial = path.with_name(f".{path.name}.{os.getpid()}.new")
    try:
        connection = _connect(partial)
        connection.executescript(SCHEMA)
        connection.execute(
            "INSERT INTO meta (key, value) VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),)
        )
        connection.close()  # the last connection checkpoints the WAL into the file
        with suppress(FileExistsError):
            os.link(partial, path)
    except sqlite3.DatabaseError as error:
        raise TestbedError(f"{path}: cannot create a results store: {error}") from None
    finally:
        for leftover in (partial, *(partial.with_name(partial.name + s) for s in ("-wal", "-shm"))):
            leftover.unlink(missing_ok=True)


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
