"""The load agent's result: the one JSON object it prints, as a frozen, versioned ``LoadResult``.
Pure (standard library only, no process started), so the orchestrator decodes the agents'
results with it, once, where they arrive, and reads attributes from then on.

    result = LoadResult.from_json(json.loads(text))   # LoadResultError: one line
    json.dumps(result.to_json())                      # what the agent prints, key for key

Schema (version 1; ``agents.load.build`` makes it from the processes' outputs)::

    {
      "schema": "testbed.load/1", "version": 1,
      "engine": "httperf" | "tbload",                  # the load generator that ran
      "error": null | "what went wrong (unreachable server, httperf failed, interrupted...)",
      "host": "client1" | null, "server": "198.18.1.1", "port": 80,
      "workload": "one-byte" | "specweb99", "uri": "/one-byte" | null,
      "sessions_file": "/path" | null,
      "rate": 2000.0, "rate_unit": "requests/s" | "sessions/s",
      "duration_s": 120.0, "timeout_s": 5.0,
      "processes": 1, "cpus": [[2]] | null,               # CPUs of each process
      "start_at": 1764158400.0 | null, "started_at": ..., "ended_at": ...,
      "start_lateness_s": 0.003 | null,
      "test_duration_s": 120.01,                         # longest httperf test-duration
      "request_rate": {"target": 2000.0, "achieved": 1999.8, "issued": 2000.0},
      "session_rate": {"target", "issued", "min", "avg", "max", "stddev", "samples"} | null,
      "reply_rate": {"min", "avg", "max", "stddev", "samples",   # 5 s samples, summed over
                     "total"},                                   # processes; replies/duration
      "totals": {"connections", "requests", "replies", "sessions_started",
                 "sessions_completed"},
      "replies_by_status": {"1xx", "2xx", "3xx", "4xx", "5xx"},
      "errors": {"client-timo", "socket-timo", "connrefused", "connreset", "fd-unavail",
                 "addrunavail", "ftab-full", "other", "total"},
      "connection_rate": 2000.1, "max_concurrent_connections": 12,
      "connection_time_ms": {"min", "avg", "max", "median" (null if >1 process), "stddev",
                             "connect"},
      "reply_time_ms": {"response", "transfer"},
      "reply_size_bytes": {"header", "content", "footer", "total"},
      "client_cpu": {"user_s", "system_s", "per_process_pct": [...],
                     "starved_below_pct": 90.0},
      "max_connect_burst_length": 3, "max_schedule_lag_s": 0.001,
      "schedule": {"late_max_ms", "late_p99_ms", "late_starts", "starts", "kept",
                   "late_bound_ms"} | null,
                                                         # tbload's own line; null with httperf
      "client_limited": false, "client_limited_reasons": [],
      "warnings": ["..."],
      "runs": [{"index": 0, "client": "0/1", "pid", "cpus", "argv", "rate", "count",
                "started_at", "ended_at", "exit_status", "overran", "killed",
                "issued_rate", "reply_rate_samples": [...],
                "result": {agents.load.httperf.to_dict(...)} | null, "schedule": {...} | null,
                "parse_error": null | "...",
                "stdout": "raw httperf output", "stderr": "..."}],
      "warmup": {"error", "request_rate", "reply_rate", "errors", "client_limited",
                 "test_duration_s", "start_at", "started_at", "start_lateness_s"} (--warmup)
    }

Figures (``test_duration_s`` to ``client_limited_reasons``) are null when no process produced a
summary. ``link_emulator`` is not the agent's: the orchestrator adds it (``run.conditions``)
when the client's link emulator fell behind, with the reason it adds to
``client_limited_reasons``.

Older results: stores are kept forever, so ``from_json`` reads every result an agent ever
printed. A result without ``version`` is version 1 (its ``schema`` says ``testbed.load/1``, or
it predates the field). Any field it lacks decodes as its default: ``None`` for a figure or a
part (``session_rate``, ``totals``, ``schedule``, ``warmup``...), ``engine`` "httperf" (the only
engine before tbload), ``processes`` 0, empty lists and an empty
``request_rate``; keys it does not know are dropped. A version this module does not know is
refused with one line: an older orchestrator never guesses at a newer agent's result.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from agents.load.tbload import Schedule

__all__ = [
    "SCHEMA",
    "VERSION",
    "ClientCpu",
    "ConnectionTime",
    "LoadResult",
    "LoadResultError",
    "ReplyRate",
    "ReplySize",
    "ReplyTime",
    "RequestRate",
    "Run",
    "Schedule",
    "SessionRate",
    "Totals",
    "Warmup",
]

VERSION = 1
SCHEMA = f"testbed.load/{VERSION}"
VERSIONS = (1,)  # the versions from_json reads
OMITTED_WHEN_NONE = ("warmup", "link_emulator")  # keys the agent prints only when they hold


class LoadResultError(ValueError):
    """A load result refused; the message is one line saying what and where."""


@dataclass(frozen=True)
class RequestRate:
    target: float | None = None
    achieved: float | None = None  # httperf's own: requests sent / test duration
    issued: float | None = None  # attempts over the issue window (one-byte; null: specweb99)


@dataclass(frozen=True)
class SessionRate:
    target: float | None = None
    issued: float | None = None
    min: float | None = None
    avg: float | None = None
    max: float | None = None
    stddev: float | None = None
    samples: int | None = None


@dataclass(frozen=True)
class ReplyRate:
    """The 5 s samples summed over the processes, and replies / test duration (``total``)."""

    min: float | None = None
    avg: float | None = None
    max: float | None = None
    stddev: float | None = None
    samples: int | None = None
    total: float | None = None


@dataclass(frozen=True)
class Totals:
    connections: int | None = None
    requests: int | None = None
    replies: int | None = None
    sessions_started: int | None = None
    sessions_completed: int | None = None


@dataclass(frozen=True)
class ConnectionTime:
    min: float | None = None
    avg: float | None = None
    max: float | None = None
    median: float | None = None  # null with more than one process (not additive)
    stddev: float | None = None
    connect: float | None = None


@dataclass(frozen=True)
class ReplyTime:
    response: float | None = None
    transfer: float | None = None


@dataclass(frozen=True)
class ReplySize:
    header: float | None = None
    content: float | None = None
    footer: float | None = None
    total: float | None = None


@dataclass(frozen=True)
class ClientCpu:
    user_s: float | None = None
    system_s: float | None = None
    per_process_pct: tuple[float, ...] = ()
    starved_below_pct: float | None = None


@dataclass(frozen=True)
class Warmup:
    """The warm-up's brief result (``--warmup``): the same fields as the measurement's."""

    error: str | None = None
    request_rate: RequestRate = RequestRate()
    reply_rate: ReplyRate | None = None
    errors: dict[str, int] | None = None
    client_limited: bool | None = None
    test_duration_s: float | None = None
    start_at: float | None = None
    started_at: float | None = None
    start_lateness_s: float | None = None

    def to_json(self) -> dict[str, Any]:
        """The JSON object the agent prints under ``"warmup"`` (the orchestrator stores it
        beside the measurement's)."""
        return _encode_object(self)


@dataclass(frozen=True)
class Run:
    """One load-generator process: how it was started, how it ended, what it printed."""

    index: int = 0
    client: str = ""
    pid: int | None = None
    cpus: tuple[int, ...] | None = None
    argv: tuple[str, ...] = ()
    rate: float | None = None
    count: int | None = None
    started_at: float | None = None
    ended_at: float | None = None
    exit_status: int | None = None
    overran: bool = False
    killed: bool = False
    issued_rate: float | None = None
    reply_rate_samples: tuple[float, ...] = ()
    result: dict[str, Any] | None = None  # agents.load.httperf.to_dict's form
    schedule: Schedule | None = None
    parse_error: str | None = None
    stdout: str = ""
    stderr: str = ""


@dataclass(frozen=True)
class LoadResult:
    """One load agent's result (see the module docstring for each field)."""

    schema: str = SCHEMA
    version: int = VERSION
    engine: str = "httperf"
    error: str | None = None
    host: str | None = None
    server: str | None = None
    port: int | None = None
    workload: str | None = None
    uri: str | None = None
    sessions_file: str | None = None
    rate: float | None = None
    rate_unit: str | None = None
    duration_s: float | None = None
    timeout_s: float | None = None
    processes: int = 0
    cpus: tuple[tuple[int, ...], ...] | None = None
    start_at: float | None = None
    started_at: float | None = None
    ended_at: float | None = None
    start_lateness_s: float | None = None
    test_duration_s: float | None = None
    request_rate: RequestRate = RequestRate()
    session_rate: SessionRate | None = None
    reply_rate: ReplyRate | None = None
    totals: Totals | None = None
    replies_by_status: dict[str, int] | None = None
    errors: dict[str, int] | None = None  # keyed by httperf's names: "fd-unavail", "total"
    connection_rate: float | None = None
    max_concurrent_connections: int | None = None
    connection_time_ms: ConnectionTime | None = None
    reply_time_ms: ReplyTime | None = None
    reply_size_bytes: ReplySize | None = None
    client_cpu: ClientCpu | None = None
    max_connect_burst_length: int | None = None
    max_schedule_lag_s: float | None = None
    schedule: Schedule | None = None
    client_limited: bool | None = None  # null when no process produced a summary
    client_limited_reasons: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    runs: tuple[Run, ...] = field(default=(), repr=False)
    warmup: Warmup | None = None
    link_emulator: str | None = None  # the orchestrator's, not the agent's (module docstring)

    @classmethod
    def from_json(cls, data: object) -> LoadResult:
        """The result `data` (``json.loads`` of what an agent printed, or a stored one) holds;
        LoadResultError with one line for an unknown version or a value of the wrong type."""
        if not isinstance(data, Mapping):
            raise LoadResultError(f"a load result is a JSON object, not {type(data).__name__}")
        version = _version(data)
        result: LoadResult = _decode(cls, {**data, "schema": SCHEMA, "version": version}, "")
        return result

    def to_json(self) -> dict[str, Any]:
        """The JSON object the agent prints (what ``json.loads`` gives back of it)."""
        out = _encode_object(self)
        for key in OMITTED_WHEN_NONE:
            if out[key] is None:
                del out[key]
        return out

    def error_count(self, kind: str) -> int:
        """The errors of one kind (httperf's name: "fd-unavail", "client-timo", "total")."""
        return int((self.errors or {}).get(kind) or 0)

    @property
    def replies(self) -> int:
        return (self.totals.replies or 0) if self.totals else 0

    @property
    def connections(self) -> int:
        return (self.totals.connections or 0) if self.totals else 0


def _version(data: Mapping[str, Any]) -> int:
    """The result's version: its ``version``, else the one its ``schema`` names, else 1."""
    schema = data.get("schema")
    if schema is not None and not (isinstance(schema, str) and schema.startswith("testbed.load/")):
        raise LoadResultError(f"schema {str(schema)[:40]!r}: not a load agent's result")
    version = data.get("version")
    if version is None and isinstance(schema, str):
        number = schema.removeprefix("testbed.load/")
        version = int(number) if number.isdigit() else number
    if version is None:
        version = 1
    if type(version) is not int or version not in VERSIONS:
        known = ", ".join(str(v) for v in VERSIONS)
        raise LoadResultError(
            f"load result version {str(version)[:20]!r}: this orchestrator reads version {known};"
            " update it to read a newer agent's results"
        )
    return version


def _decode(cls: type[Any], data: object, where: str) -> Any:
    if not isinstance(data, Mapping):
        raise LoadResultError(f"{where or 'result'}: expected a JSON object")
    hints = typing.get_type_hints(cls)
    values = {}
    for part in dataclasses.fields(cls):
        if part.name in data and data[part.name] is not None:
            path = f"{where}.{part.name}" if where else part.name
            values[part.name] = _value(hints[part.name], data[part.name], path)
    return cls(**values)


def _value(hint: Any, raw: object, where: str) -> Any:
    """`raw` as `hint` says (a part, a tuple, a number...), or LoadResultError naming `where`."""
    args = [arg for arg in typing.get_args(hint) if arg is not type(None)]
    if isinstance(hint, types.UnionType):  # X | None: raw is not None here
        return _value(args[0], raw, where)
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return _decode(hint, raw, where)
    origin = typing.get_origin(hint)
    if origin is tuple:
        if not isinstance(raw, list | tuple):
            raise LoadResultError(f"{where}: expected a list, not {_shown(raw)}")
        return tuple(_value(args[0], item, f"{where}[{i}]") for i, item in enumerate(raw))
    if origin is dict:
        if not isinstance(raw, Mapping):
            raise LoadResultError(f"{where}: expected a JSON object, not {_shown(raw)}")
        return dict(raw)
    if hint is Any:
        return raw
    kinds = {float: (int, float), int: (int,), str: (str,), bool: (bool,)}[hint]
    if not isinstance(raw, kinds) or (hint is not bool and isinstance(raw, bool)):
        raise LoadResultError(f"{where}: expected {hint.__name__}, not {_shown(raw)}")
    return raw


def _shown(raw: object) -> str:
    return repr(raw)[:40]


def _encode_object(part: object) -> dict[str, Any]:
    out = _encode(part)
    assert isinstance(out, dict)
    return out


def _encode(value: object) -> object:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {part.name: _encode(getattr(value, part.name)) for part in dataclasses.fields(value)}
    if isinstance(value, tuple | list):
        return [_encode(item) for item in value]
    if isinstance(value, dict):
        return {key: _encode(item) for key, item in value.items()}
    return value
