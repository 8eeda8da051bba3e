"""What a sweep produces, as typed records: a point's attempt, a sweep, its summary.

    record = PointRecord(point=point, seq=3, status="ok", ...)   # the sweep hands it to the store
    SUMMARY_FIELDS                                                # a point's figures, in order

These cross rooms (run → results → report, monitoring, nightly), so they are defined once here;
the store's columns, the export's columns and the exporter's series all come from them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TypedDict

from orchestrator.config.plan import Point
from orchestrator.errors import EXIT_USAGE, TestbedError

# A sweep id is a name (`<lab>-<UTC stamp>[-n]`), never a path: it names report directories and
# comparison pages, and retention removes them by it. No '/', no leading '.', so never '..'.
SWEEP_ID_PATTERN = r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}"


def is_sweep_id(text: object) -> bool:
    return isinstance(text, str) and re.fullmatch(SWEEP_ID_PATTERN, text) is not None


def check_sweep_id(text: str, what: str = "sweep") -> str:
    """`text` if it is a sweep id; TestbedError (exit 2) naming `what` otherwise."""
    if not is_sweep_id(text):
        raise TestbedError(
            f"{what}: {text[:60]!r}: not a sweep id (letters, digits, '.', '_', '-';"
            " not starting with '.')",
            EXIT_USAGE,
        )
    return text


# A point's phases in the order they run (`PointRecord.phases`); they add up to its wall time.
PHASES = ("start", "idle", "warmup", "measure", "stop", "cooldown")
# A point in one of the final statuses is done: ok (the server's result), saturated (the
# server's result at its cores' limit, short of the offered rate), client-limited (the load
# generators were the bottleneck while the server had headroom) or failed (`run.limits`).
FINAL_STATUSES = ("ok", "saturated", "client-limited", "failed")
STATUSES = (*FINAL_STATUSES, "interrupted")
MEASURED = ("ok", "saturated")  # the server's own result: drawn on its curve, averaged


class PointSummary(TypedDict, total=False):
    """A point's figures summed over its load agents (`run.summary.summarise`), plus the
    server's own reply count."""

    target_rate: float
    request_rate: float
    reply_rate: float
    reply_rate_min: float | None
    reply_rate_max: float | None
    reply_rate_stddev: float | None
    reply_rate_samples: int
    replies: int
    connections: int
    errors: dict[str, int]
    errors_total: int
    client_timeouts: int
    reply_time_ms: float | None
    connection_time_ms: float | None
    server_replies: int


SUMMARY_FIELDS = (
    "request_rate",
    "reply_rate",
    "reply_rate_min",
    "reply_rate_max",
    "reply_rate_stddev",
    "replies",
    "errors_total",
    "client_timeouts",
    "reply_time_ms",
    "connection_time_ms",
    "server_replies",
)


@dataclass
class PointRecord:
    """Everything measured about one attempt at one point, as the sweep hands it over."""

    point: Point
    seq: int
    status: str
    reason: str
    attempt: int
    started_at: float
    ended_at: float
    warmup_seconds: float | None = None
    measure_seconds: float | None = None
    cooldown_seconds: float | None = None
    cooldown_left: dict[str, int] = field(default_factory=dict)
    phases: dict[str, float] = field(default_factory=dict)
    summary: PointSummary = field(default_factory=lambda: PointSummary())
    agents: dict[str, Any] = field(default_factory=dict)
    server: dict[str, Any] = field(default_factory=dict)
    syscalls: dict[str, tuple[int, float]] = field(default_factory=dict)
    near_miss: bool = False  # client-limited, but only just: the sweep measures it again
    network: str = ""  # the network profile(s) of the clients' links: 'lan', 'wan-50ms', ...
    rtts: dict[str, tuple[float, float]] = field(default_factory=dict)  # client: (expected, ms)


@dataclass(frozen=True)
class ServerCpu:
    """How busy the server was over a point's measurement, as stored in its `server` data
    under "cpu_use" (`run.serverundertest`): its CPU seconds between the two counter reads, the
    counters' window, the load's own duration (the counters are read just before it starts and
    after the agents' results, so the window is a little longer), the cores it was given (the
    pinned CPUs, or the host's CPU count) and those it could use (a single-threaded server
    such as userver: one of them), and the cap on its CPU in cores (`server_cpu.limit`;
    None: not capped). Its use is judged against the smaller of the cores and the cap."""

    seconds: float
    window_seconds: float
    load_seconds: float
    cores_given: int
    cores: int
    limit: float | None = None

    @property
    def capacity(self) -> float:
        """The cores' worth of CPU it could use: its cores, or its cap when lower."""
        return min(self.cores, self.limit) if self.limit else float(self.cores)

    @property
    def utilisation(self) -> float:
        """CPU seconds over the counters' window, per core it could use (1.0: all of them)."""
        return self.seconds / (self.capacity * self.window_seconds)

    @property
    def busy(self) -> float:
        """CPU seconds over the load's own duration (or the window, if shorter), per core it
        could use: a server idles outside the load unless its backlog keeps it working, so a
        saturated server shows about 1.0 here where the window shows about 0.93."""
        return self.seconds / (self.capacity * min(self.window_seconds, self.load_seconds))

    @property
    def busy_percent(self) -> float:
        """`busy` in % of the cores it could use."""
        return 100 * self.busy

    def as_dict(self) -> dict[str, float | int]:
        out: dict[str, float | int] = {
            "seconds": self.seconds,
            "window_seconds": self.window_seconds,
            "load_seconds": self.load_seconds,
            "cores_given": self.cores_given,
            "cores": self.cores,
            "utilisation": self.utilisation,
            "busy": self.busy,
        }
        if self.limit is not None:
            out["limit"] = self.limit
        return out

    @classmethod
    def from_server(cls, server: Mapping[str, Any] | None) -> ServerCpu | None:
        """The CPU use stored in a point's server data; None for points stored before it was
        (or when the server's CPU could not be read)."""
        stored = (server or {}).get("cpu_use")
        if not isinstance(stored, Mapping):
            return None
        try:
            cpu = cls(
                float(stored["seconds"]),
                float(stored["window_seconds"]),
                float(stored["load_seconds"]),
                int(stored["cores_given"]),
                int(stored["cores"]),
                float(stored["limit"]) if stored.get("limit") is not None else None,
            )
        except (KeyError, TypeError, ValueError):
            return None
        return cpu if cpu.window_seconds > 0 and cpu.load_seconds > 0 and cpu.cores > 0 else None


@dataclass(frozen=True)
class PointNetwork:
    """The network conditions a point ran under, as stored: its profile(s) and each client's
    (expected, measured) round trip in ms (empty when nothing was emulated or measured)."""

    profile: str
    rtts: dict[str, tuple[float, float | None]] = field(default_factory=dict)


@dataclass(frozen=True)
class Sweep:
    id: str
    lab: str
    digest: str
    seed: int
    status: str
    started_at: float
    ended_at: float | None
    points_planned: int
    kind: str


@dataclass(frozen=True)
class SweepSummary:
    """Where a sweep's wall time went, for `up`'s summary, the exporter and nightly runs."""

    points_run: int = 0
    ok: int = 0
    client_limited: int = 0
    saturated: int = 0  # the server at its cores' limit, short of the offered rate
    failed: tuple[str, ...] = field(default_factory=tuple)  # "point key: reason" of each
    wall_seconds: float = 0.0
    measured_seconds: float = 0.0
    measurement_fraction: float = 0.0
    overhead_seconds_mean: float | None = None  # wall - warm-up - measurement - cooldown
    overhead_seconds_max: float | None = None
    cooldown_seconds_mean: float | None = None
    phase_seconds_mean: dict[str, float] = field(default_factory=dict)  # over points that had it
    interrupted: bool = False
    client_capacity: str = ""  # what the load agents' verdicts say of it (run.knee), a sentence
    curve_endings: tuple[str, ...] = ()  # "curve: saturated at 12,000 requests/s (evidence)"
    skipped: int = 0  # points of the plan past the end of their curve, not run (knee search)
