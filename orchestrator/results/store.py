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
import re
import sqlite3
import time
import urllib.parse
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import asdict
from pathlib import Path
from typing import Any

from orchestrator.config.plan import accept_label
from orchestrator.errors import EXIT_USAGE, TestbedError
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
            return cls(path, _connect_readonly(path))
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists():
            _create(path)
        try:
            probe = sqlite3.connect(path, isolation_level=None, timeout=30)
            try:
                version = _identify(probe, path, writable=True)
            finally:
                probe.close()
            connection = _connect(path)
            connection.executescript(SCHEMA)  # a store from an earlier revision gains new tables
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


def _expected_columns() -> dict[str, set[str]]:
    """{table: its columns} as SCHEMA declares them."""
    tables: dict[str, set[str]] = {}
    for name, body in re.findall(r"CREATE TABLE IF NOT EXISTS (\w+) \((.*?)\);", SCHEMA, re.S):
        lines = [line.split("--")[0].strip() for line in body.splitlines()]
        tables[name] = {
            line.split()[0]
            for line in lines
            if line and not line.startswith(("PRIMARY", "UNIQUE", "FOREIGN"))
        }
    return tables


EXPECTED_COLUMNS = _expected_columns()


def _identify(connection: sqlite3.Connection, path: Path, *, writable: bool) -> int | None:
    """The store's schema version, None for an empty SQLite file (ours to take when writing).

    Raises TestbedError (exit 2) for anything else: not SQLite, another program's database, a
    schema_version that is not a number or not ours, a table whose columns are not ours."""

    def refuse(why: str) -> TestbedError:
        return TestbedError(f"{path}: {why}", EXIT_USAGE)

    try:
        rows = connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
    except sqlite3.DatabaseError as error:
        raise refuse(f"not a testbed results store ({error})") from None
    tables = {str(row[0]) for row in rows}
    if not tables:
        if writable:
            return None
        raise refuse("an empty SQLite file, not a testbed results store")
    if "meta" not in tables or "sweeps" not in tables:
        found = ", ".join(sorted(tables)[:5])
        raise refuse(f"not a testbed results store (its tables: {found})")
    try:
        row = connection.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    except sqlite3.DatabaseError as error:
        raise refuse(f"not a testbed results store (meta: {error})") from None
    if row is None:
        raise refuse("not a testbed results store (no schema_version)")
    text = str(row[0])
    if not re.fullmatch(r"\d{1,9}", text.strip()):
        raise refuse(f"schema_version {text[:40]!r} is not a number: not a testbed results store")
    version = int(text)
    if version > SCHEMA_VERSION:
        raise refuse(f"written by a newer testbed (schema {version} > {SCHEMA_VERSION})")
    if version != SCHEMA_VERSION:
        raise refuse(f"unknown schema version {version} (this testbed reads {SCHEMA_VERSION})")
    for table, expected in EXPECTED_COLUMNS.items():
        if table not in tables:
            if writable:
                continue  # an earlier revision's store: opening it for writing adds the table
            raise refuse(f"table {table} is missing: not a store this testbed can read")
        columns = {str(info[1]) for info in connection.execute(f"PRAGMA table_info({table})")}
        missing = sorted(expected - columns)
        if missing:
            raise refuse(
                f"its {table} table is not a testbed one (no column {', '.join(missing[:3])})"
            )
    return version


def _connect_readonly(path: Path) -> sqlite3.Connection:
    """A read-only connection that changes nothing on disk.

    SQLite's `mode=ro` on a WAL store still creates -wal and -shm files beside it when they are
    absent (and cannot on a read-only mount). Absent, they mean no writer is connected and the
    file holds everything: it is then opened `immutable`, which creates nothing. Present (a
    sweep is writing right now), `mode=ro` reads through them."""
    quoted = urllib.parse.quote(str(path.resolve()))
    live = path.with_name(path.name + "-wal").exists()
    modes = ["mode=ro"] if live else []
    modes.append("mode=ro&immutable=1")
    problem: Exception | None = None
    for mode in modes:
        try:
            connection = sqlite3.connect(
                f"file:{quoted}?{mode}", uri=True, isolation_level=None, timeout=30
            )
        except sqlite3.Error as error:
            problem = error
            continue
        connection.row_factory = sqlite3.Row
        try:
            _identify(connection, path, writable=False)
        except TestbedError:
            connection.close()
            raise
        except sqlite3.OperationalError as error:  # cannot open the -shm on a read-only mount
            connection.close()
            problem = error
            continue
        return connection
    raise TestbedError(f"{path}: cannot read the results store: {problem}", EXIT_USAGE)


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
