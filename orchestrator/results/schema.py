"""The results store's file: its schema, how it is recognised, opened and created.

    connection = connect(path)                 # for writing (WAL, synchronous=FULL)
    connection = connect_readonly(path)        # changes nothing in or beside the file
    identify(connection, path, writable=False) # our store of a known version, or TestbedError

A file that is not a testbed store, or of another schema version, is refused before anything
touches it; only an empty SQLite file is taken over (when writing). `store.Store` is the one
module that uses these.
"""

from __future__ import annotations

import os
import re
import sqlite3
import urllib.parse
from contextlib import suppress
from pathlib import Path

from orchestrator.errors import EXIT_USAGE, TestbedError

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
    server_name TEXT NOT NULL DEFAULT 'userver',  -- the server under test (`servers:`)
    purpose TEXT NOT NULL DEFAULT 'throughput',   -- or 'profile': Table 1's profiling pass
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
CREATE TABLE IF NOT EXISTS networks (
    sweep TEXT NOT NULL,
    key TEXT NOT NULL,
    profile TEXT NOT NULL,         -- the clients' network profile(s) at the point: lan, wan-50ms
    host TEXT NOT NULL,            -- a client; '' when no round trip was measured
    expected_ms REAL,              -- the round trip its profile gives
    rtt_ms REAL,                   -- measured (ping, mean) before the profile's first point
    PRIMARY KEY (sweep, key, host)
);
"""
# Tables added after a store's first release: a store from before them reads as having none.
OPTIONAL_TABLES = frozenset({"networks"})


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
# Columns added after stores were first written: (table, column) -> its declaration. A store
# without them is still ours: opening it for writing adds them (`add_columns`), and readers
# take the declared default for a row that has none.
ADDED_COLUMNS = {
    ("points", "server_name"): "TEXT NOT NULL DEFAULT 'userver'",
    ("points", "purpose"): "TEXT NOT NULL DEFAULT 'throughput'",
}
THROUGHPUT, PROFILE = "throughput", "profile"  # a point's purpose (`points.purpose`)


def add_columns(connection: sqlite3.Connection) -> None:
    """Give a store from an earlier revision the columns added since (idempotent)."""
    for (table, column), declaration in ADDED_COLUMNS.items():
        present = {str(info[1]) for info in connection.execute(f"PRAGMA table_info({table})")}
        if column not in present:
            connection.execute(f"ALTER TABLE {table} ADD COLUMN {column} {declaration}")


def identify(connection: sqlite3.Connection, path: Path, *, writable: bool) -> int | None:
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
            if writable or table in OPTIONAL_TABLES:
                continue  # an earlier revision's store: opening it for writing adds the table
            raise refuse(f"table {table} is missing: not a store this testbed can read")
        columns = {str(info[1]) for info in connection.execute(f"PRAGMA table_info({table})")}
        added = {column for (name, column) in ADDED_COLUMNS if name == table}
        missing = sorted(expected - columns - added)
        if missing:
            raise refuse(
                f"its {table} table is not a testbed one (no column {', '.join(missing[:3])})"
            )
    return version


def connect_readonly(path: Path) -> sqlite3.Connection:
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
            identify(connection, path, writable=False)
        except TestbedError:
            connection.close()
            raise
        except sqlite3.OperationalError as error:  # cannot open the -shm on a read-only mount
            connection.close()
            problem = error
            continue
        return connection
    raise TestbedError(f"{path}: cannot read the results store: {problem}", EXIT_USAGE)


def connect(path: Path) -> sqlite3.Connection:
    connection = sqlite3.connect(path, isolation_level=None, timeout=30)
    connection.row_factory = sqlite3.Row
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=FULL")
    return connection


def create_file(path: Path) -> None:
    """Make a new store whole beside `path`, then link it into place: a reader (`export`, a
    watching script, a second orchestrator) never finds the file without its tables. If another
    process created it first, theirs stands."""
    partial = path.with_name(f".{path.name}.{os.getpid()}.new")
    try:
        connection = connect(partial)
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
