"""A point as the store returns it: typed columns, and typed agent and server parts.

    for point in store.points(sweep_id):                  # [StoredPoint], in run order
        point.status, point.reply_rate, point.phases["measure"]
        point.server.cpu_seconds, point.server.cpu_use    # ServerRecord (ServerCpu or None)
        point.agents["client1"].total("connections")      # AgentRecord per host

Old stores read too: a column a store does not have takes the default its schema declares
(`server_name` userver, `purpose` throughput), JSON columns that are empty read as {}. The agent
JSON is read in one place, `read_agent`: its `load` part is the load agent's own versioned
`LoadResult`, decoded once.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from agents.load.result import LoadResult, LoadResultError
from orchestrator.config.servers import USERVER
from orchestrator.results.records import ServerCpu
from orchestrator.results.schema import THROUGHPUT


def number(value: Any) -> float | None:
    """A stored number as a float; None for anything else (booleans included)."""
    if isinstance(value, bool):
        return None
    return float(value) if isinstance(value, int | float) else None


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _numbers(value: Any) -> dict[str, float]:
    """{name: number} of a stored mapping, without what is not a number."""
    found = {str(name): number(item) for name, item in _mapping(value).items()}
    return {name: item for name, item in found.items() if item is not None}


@dataclass(frozen=True)
class AgentRecord:
    """What one host's agents returned for a point, as stored. `load` is the load agent's result
    (None when the host stored none, or one this orchestrator cannot read: `load_error` says
    why, and the report shows the point without that agent's figures)."""

    load: LoadResult | None = None
    stored: Mapping[str, Any] = field(default_factory=dict)  # the whole record, as stored
    load_error: str | None = None

    def total(self, name: str) -> float | None:
        """One of the load agent's totals (connections, sessions_started, ...)."""
        totals = self.load.totals if self.load else None
        return number(getattr(totals, name, None)) if totals else None

    @property
    def max_concurrent_connections(self) -> float | None:
        return number(self.load.max_concurrent_connections) if self.load else None

    @property
    def connection_medians(self) -> list[float]:
        """The median connection time the agent reported (ms), or each of its httperf runs'
        when it reported none of its own."""
        if self.load is None:
            return []
        own = self.load.connection_time_ms
        if own is not None and (median := number(own.median)) is not None:
            return [median]
        found = []
        for run in self.load.runs:
            times = run.result.get("connection_time") if run.result else None
            if isinstance(times, Mapping) and (value := number(times.get("median_ms"))) is not None:
                found.append(value)
        return found


def read_agent(stored: Any) -> AgentRecord:
    """The one place a stored agent record is decoded."""
    if not isinstance(stored, Mapping):
        return AgentRecord()
    load = stored.get("load")
    if not load:
        return AgentRecord(None, stored)
    try:
        return AgentRecord(LoadResult.from_json(load), stored)
    except LoadResultError as error:
        return AgentRecord(None, stored, str(error))


@dataclass(frozen=True)
class SyscallEntry:
    """One system call as the server counted it over the measurement."""

    calls: float = 0.0
    seconds: float = 0.0  # wall-clock time around the calls
    cpu_seconds: float | None = None  # CPU time inside them (a CPU-timed server)
    blocked_seconds: float | None = None  # time blocked inside them (a CPU-timed server)

    @classmethod
    def read(cls, stored: Mapping[str, Any]) -> SyscallEntry:
        return cls(
            number(stored.get("calls")) or 0.0,
            number(stored.get("seconds")) or 0.0,
            number(stored.get("cpu_seconds")) if "cpu_seconds" in stored else None,
            number(stored.get("blocked_seconds")) if "blocked_seconds" in stored else None,
        )


@dataclass(frozen=True)
class ServerRecord:
    """The server's counters over a point's measurement, as stored (`run.servers`)."""

    cpu_seconds: float | None = None
    replies_total: float | None = None
    totals: Mapping[str, float] = field(default_factory=dict)  # its counters, by series name
    syscalls: Mapping[str, SyscallEntry] = field(default_factory=dict)
    epoll_operations: Mapping[str, float] | None = None  # None: not counted apart from calls
    syscall_timing: str | None = None  # what it declared: cpu, wall or none
    lacks: tuple[str, ...] | None = None  # a server without counters: the columns it lacks
    cpu_use: ServerCpu | None = None
    resident_memory_bytes: float | None = None
    stored: Mapping[str, Any] = field(default_factory=dict)  # the whole record, as stored

    @classmethod
    def read(cls, stored: Any) -> ServerRecord:
        if not isinstance(stored, Mapping):
            return cls()
        operations = _numbers(stored.get("epoll_operations"))
        lacks = stored.get("lacks")
        timing = _mapping(stored.get("info")).get("syscall_timing")
        return cls(
            cpu_seconds=number(stored.get("cpu_seconds")),
            replies_total=number(stored.get("replies_total")),
            totals=_numbers(stored.get("totals")),
            syscalls={
                str(name): SyscallEntry.read(entry)
                for name, entry in _mapping(stored.get("syscalls")).items()
                if isinstance(entry, Mapping)
            },
            epoll_operations=operations or None,
            syscall_timing=str(timing) if timing is not None else None,
            lacks=tuple(str(c) for c in lacks) if isinstance(lacks, list) else None,
            cpu_use=ServerCpu.from_server(stored),
            resident_memory_bytes=number(stored.get("resident_memory_bytes")),
            stored=stored,
        )


@dataclass(frozen=True)
class StoredPoint:
    """One point of a sweep as stored: its latest attempt's columns, decoded."""

    sweep: str
    key: str
    seq: int
    mechanism: str
    workload: str
    idle_connections: int
    accept_limit: str
    target_rate: float
    repetition: int
    status: str
    reason: str
    attempts: int
    started_at: float
    ended_at: float
    warmup_seconds: float | None = None
    measure_seconds: float | None = None
    cooldown_seconds: float | None = None
    cooldown_left: Mapping[str, int] = field(default_factory=dict)
    phases: Mapping[str, float] = field(default_factory=dict)  # in the order they ran
    request_rate: float | None = None
    reply_rate: float | None = None
    reply_rate_min: float | None = None
    reply_rate_max: float | None = None
    reply_rate_stddev: float | None = None
    replies: int | None = None
    errors_total: int | None = None
    client_timeouts: int | None = None
    errors: Mapping[str, int] = field(default_factory=dict)
    reply_time_ms: float | None = None
    connection_time_ms: float | None = None
    server_replies: int | None = None
    agents: Mapping[str, AgentRecord] = field(default_factory=dict)  # by host
    server: ServerRecord = field(default_factory=ServerRecord)
    server_name: str = USERVER
    purpose: str = THROUGHPUT
    # The network conditions it ran under (the store's `networks` table, `with_network`).
    network: str = ""
    rtts: Mapping[str, tuple[float, float | None]] = field(default_factory=dict)

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> StoredPoint:
        """A point from the store's row (or a test's dict of the same names); JSON columns as
        text or already decoded, missing columns at their defaults."""
        names = {f.name for f in fields(cls)}
        values = {name: value for name, value in row.items() if name in names}
        for name in ("cooldown_left", "phases", "errors", "agents", "server"):
            value = values.get(name)
            values[name] = (json.loads(value) if value else {}) if isinstance(value, str) else value
            if values[name] is None:
                values[name] = {}
        values["agents"] = {
            host: read_agent(agent) for host, agent in dict(values["agents"]).items()
        }
        values["server"] = ServerRecord.read(values["server"])
        values["server_name"] = values.get("server_name") or USERVER
        values["purpose"] = values.get("purpose") or THROUGHPUT
        values["network"] = values.get("network") or ""
        values["rtts"] = {host: tuple(pair) for host, pair in (values.get("rtts") or {}).items()}
        return cls(**values)

    def column(self, name: str) -> Any:
        """A scalar column by its name (the export's columns), None for one it does not have;
        `network` is None when the point carries none (it comes from another table)."""
        if name == "network":
            return self.network or None
        value = getattr(self, name, None)
        return value if value is None or isinstance(value, str | int | float) else None

    @property
    def wall_seconds(self) -> float:
        return self.ended_at - self.started_at

    @property
    def window_seconds(self) -> float | None:
        """How long the server's counters ran: the measure phase (httperf's own duration for
        points stored without phases)."""
        return number(self.phases.get("measure")) or self.measure_seconds

    def agent_total(self, name: str) -> float:
        """One of the load agents' totals summed over the hosts (0 when none reported it)."""
        return sum(agent.total(name) or 0.0 for agent in self.agents.values())

    @property
    def connection_median(self) -> float | None:
        """The median of the agents' connection-time medians (ms): a median cannot be merged
        across processes, so this is the median of theirs."""
        medians = [m for agent in self.agents.values() for m in agent.connection_medians]
        return statistics.median(medians) if medians else None
