"""httperf 0.9.0's output, as typed data. Pure: text in, dataclasses out, no I/O.

tbload (``agents.load.tbload``) prints the same summary, its command echoed as ``tbload --...``,
and one line of its own after it, which ``parse`` leaves to ``agents.load.tbload``.

``parse(text)`` reads what one httperf process printed (stdout, optionally with its stderr mixed
in, as ``2>&1`` gives it) and returns an ``HttperfResult``; it raises ``HttperfParseError`` naming
the missing line when the summary is absent or cut short (httperf killed before it printed).
``parse_progress(line)`` reads the ``reply-rate = X`` / ``session-rate = X`` lines that ``-v``
prints every 5 s while running, for live metrics. ``agents.load.merge`` sums the results of
several processes that ran side by side. ``to_dict(result)`` is the JSON form, with httperf's
own names for error counters and status classes.

Units are in the field names: ``_ms`` milliseconds, ``_s`` seconds, ``_bytes``; rates are per
second. What httperf's numbers mean (from its stat/basic.c):

* ``connections`` counts connections httperf created (not those refused a descriptor:
  ``fd-unavail`` failures happen before), ``requests`` requests fully sent, ``replies`` replies
  fully received; ``test_duration_s`` runs from the first connection to the end of the last one.
* Connection-time figures cover connections that ended normally; ``replies_per_connection`` is
  replies per such connection.
* ``reply_rate`` summarises the 5 s samples (``samples`` of them; none in a run shorter than
  5 s); ``reply_rate_total`` is ``replies / test_duration_s``, the rate to use for short runs.
* ``cpu.total_pct`` is httperf's CPU time over the test duration. httperf polls with a zero
  select() timeout, so a process that had its core to itself shows about 100 %; less means it
  shared the core.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any, cast

__all__ = [
    "ERROR_NAMES",
    "ConnectionTime",
    "CpuTime",
    "Errors",
    "HttperfParseError",
    "HttperfResult",
    "RateStats",
    "ReplySize",
    "ReplyTime",
    "Sessions",
    "StatusClasses",
    "parse",
    "parse_progress",
    "to_dict",
]


class HttperfParseError(ValueError):
    """The text is not a complete httperf summary; the message names what is missing."""


@dataclass(frozen=True)
class ConnectionTime:
    """``Connection time [ms]`` lines. ``median_ms`` is None in merged results (not additive)."""

    min_ms: float
    avg_ms: float
    max_ms: float
    median_ms: float | None
    stddev_ms: float
    connect_ms: float


@dataclass(frozen=True)
class RateStats:
    """min/avg/max/stddev over the 5 s samples of a rate (replies/s or sessions/s)."""

    min: float
    avg: float
    max: float
    stddev: float
    samples: int


@dataclass(frozen=True)
class ReplyTime:
    response_ms: float
    transfer_ms: float


@dataclass(frozen=True)
class ReplySize:
    """Average bytes per reply."""

    header_bytes: float
    content_bytes: float
    footer_bytes: float
    total_bytes: float


@dataclass(frozen=True)
class StatusClasses:
    s1xx: int
    s2xx: int
    s3xx: int
    s4xx: int
    s5xx: int

    def as_dict(self) -> dict[str, int]:
        return {f"{k[1:]}": v for k, v in asdict(self).items()}


# Field name -> httperf's name for it.
ERROR_NAMES: dict[str, str] = {
    "client_timo": "client-timo",
    "socket_timo": "socket-timo",
    "connrefused": "connrefused",
    "connreset": "connreset",
    "fd_unavail": "fd-unavail",
    "addrunavail": "addrunavail",
    "ftab_full": "ftab-full",
    "other": "other",
}


@dataclass(frozen=True)
class Errors:
    """httperf's error counters; ``total`` is their sum as httperf prints it."""

    total: int
    client_timo: int
    socket_timo: int
    connrefused: int
    connreset: int
    fd_unavail: int
    addrunavail: int
    ftab_full: int
    other: int

    def as_dict(self) -> dict[str, int]:
        out = {ERROR_NAMES[k]: getattr(self, k) for k in ERROR_NAMES}
        out["total"] = self.total
        return out


@dataclass(frozen=True)
class CpuTime:
    user_s: float
    system_s: float
    user_pct: float
    system_pct: float
    total_pct: float


@dataclass(frozen=True)
class Sessions:
    """The session lines of ``--wsess``/``--wsesslog`` runs. ``lifetime_s`` averages completed
    sessions, ``failtime_s`` failed ones; ``length_histogram[n]`` counts sessions that got n
    replies."""

    rate: RateStats
    completed: int
    started: int
    connections_per_session: float
    lifetime_s: float
    failtime_s: float
    length_histogram: tuple[int, ...]


@dataclass(frozen=True)
class HttperfResult:
    """Everything one httperf run printed (or several, after ``merge``)."""

    command: str | None
    max_open_descriptors: int | None
    reply_rate_samples: tuple[float, ...]
    session_rate_samples: tuple[float, ...]
    max_connect_burst_length: int
    connections: int
    requests: int
    replies: int
    test_duration_s: float
    connection_rate: float
    connection_period_ms: float
    max_concurrent_connections: int
    connection_time: ConnectionTime
    replies_per_connection: float
    request_rate: float
    request_period_ms: float
    request_size_bytes: float
    reply_rate: RateStats
    reply_rate_total: float
    reply_time: ReplyTime
    reply_size: ReplySize
    status: StatusClasses
    cpu: CpuTime
    net_io_kib_per_s: float
    net_io_mbps: float
    errors: Errors
    sessions: Sessions | None = None
    messages: tuple[str, ...] = field(default=())


# ---------------------------------------------------------------------------------------------
# Parsing
# ---------------------------------------------------------------------------------------------

_NUM = r"(-?\d+(?:\.\d+)?)"
_INT = r"(\d+)"

_PROGRESS = re.compile(rf"^(reply-rate|session-rate)\s*=\s*{_NUM}\s*$")

# name -> pattern of one summary line; all required unless listed in _OPTIONAL.
_LINES: dict[str, re.Pattern[str]] = {
    "burst": re.compile(rf"^Maximum connect burst length: {_INT}$"),
    "total": re.compile(
        rf"^Total: connections {_INT} requests {_INT} replies {_INT} test-duration {_NUM} s$"
    ),
    "conn_rate": re.compile(
        rf"^Connection rate: {_NUM} conn/s \({_NUM} ms/conn, <={_INT} concurrent connections\)$"
    ),
    "conn_time": re.compile(
        rf"^Connection time \[ms\]: min {_NUM} avg {_NUM} max {_NUM} median {_NUM} "
        rf"stddev {_NUM}$"
    ),
    "connect": re.compile(rf"^Connection time \[ms\]: connect {_NUM}$"),
    "conn_length": re.compile(rf"^Connection length \[replies/conn\]: {_NUM}$"),
    "req_rate": re.compile(rf"^Request rate: {_NUM} req/s \({_NUM} ms/req\)$"),
    "req_size": re.compile(rf"^Request size \[B\]: {_NUM}$"),
    "reply_rate": re.compile(
        rf"^Reply rate \[replies/s\]: min {_NUM} avg {_NUM} max {_NUM} stddev {_NUM} "
        rf"\({_INT} samples\)$"
    ),
    "reply_time": re.compile(rf"^Reply time \[ms\]: response {_NUM} transfer {_NUM}$"),
    "reply_size": re.compile(
        rf"^Reply size \[B\]: header {_NUM} content {_NUM} footer {_NUM} \(total {_NUM}\)$"
    ),
    "status": re.compile(
        rf"^Reply status: 1xx={_INT} 2xx={_INT} 3xx={_INT} 4xx={_INT} 5xx={_INT}$"
    ),
    "cpu": re.compile(
        rf"^CPU time \[s\]: user {_NUM} system {_NUM} \(user {_NUM}% system {_NUM}% "
        rf"total {_NUM}%\)$"
    ),
    "net_io": re.compile(rf"^Net I/O: {_NUM} KB/s \({_NUM}\*10\^6 bps\)$"),
    "errors1": re.compile(
        rf"^Errors: total {_INT} client-timo {_INT} socket-timo {_INT} connrefused {_INT} "
        rf"connreset {_INT}$"
    ),
    "errors2": re.compile(
        rf"^Errors: fd-unavail {_INT} addrunavail {_INT} ftab-full {_INT} other {_INT}$"
    ),
    "sess_rate": re.compile(
        rf"^Session rate \[sess/s\]: min {_NUM} avg {_NUM} max {_NUM} stddev {_NUM} "
        rf"\({_INT}/{_INT}\)$"
    ),
    "sess_conns": re.compile(rf"^Session: avg {_NUM} connections/session$"),
    "sess_life": re.compile(rf"^Session lifetime \[s\]: {_NUM}$"),
    "sess_fail": re.compile(rf"^Session failtime \[s\]: {_NUM}$"),
    "sess_hist": re.compile(r"^Session length histogram:((?: \d+)*)$"),
}
_SESSION_LINES = ("sess_rate", "sess_conns", "sess_life", "sess_fail", "sess_hist")
_DESCRIPTORS = re.compile(rf"^httperf: maximum number of open descriptors = {_INT}$")


def parse_progress(line: str) -> tuple[str, float] | None:
    """``("reply-rate", 200.0)`` for a ``reply-rate = 200.0`` line (likewise session-rate),
    None for any other line."""
    m = _PROGRESS.match(line.strip())
    return (m.group(1), float(m.group(2))) if m else None


@dataclass
class _Lines:
    """What one run printed, sorted: its summary lines by name (their numbers as text), its
    5 s samples, its command, its descriptor limit and its other messages."""

    found: dict[str, tuple[str, ...]] = field(default_factory=dict)
    samples: dict[str, list[float]] = field(
        default_factory=lambda: {"reply-rate": [], "session-rate": []}
    )
    command: str | None = None
    descriptors: int | None = None
    messages: list[str] = field(default_factory=list)

    def read(self, line: str) -> None:
        progress = parse_progress(line)
        if progress:
            self.samples[progress[0]].append(progress[1])
            return
        if line.startswith(("httperf --", "tbload --")):  # tbload echoes its command alike
            self.command = line
            return
        m = _DESCRIPTORS.match(line)
        if m:
            self.descriptors = int(m.group(1))
            return
        for name, pattern in _LINES.items():
            m = pattern.match(line)
            if m:
                self.found[name] = m.groups()
                return
        if line.startswith("httperf") or (
            line.startswith("tbload") and not line.startswith("tbload: schedule")
        ):
            self.messages.append(line)

    def check(self) -> bool:
        """Whether the summary has session lines; HttperfParseError naming what is missing."""
        found = self.found
        if "total" not in found:
            raise HttperfParseError(
                "no 'Total:' line: httperf did not print its statistics (killed, or it failed: "
                + ("; ".join(self.messages) or "no message")
                + ")"
            )
        missing = [n for n in _LINES if n not in found and n not in _SESSION_LINES]
        if missing:
            raise HttperfParseError(f"httperf summary is incomplete: no {', '.join(missing)} line")
        has_sessions = [n for n in _SESSION_LINES if n in found]
        if has_sessions and len(has_sessions) != len(_SESSION_LINES):
            absent = [n for n in _SESSION_LINES if n not in found]
            raise HttperfParseError(
                f"httperf session summary is incomplete: no {', '.join(absent)}"
            )
        return bool(has_sessions)


def parse(text: str) -> HttperfResult:
    """Parse the complete output of one httperf run."""
    lines = _Lines()
    for raw in text.splitlines():
        if raw.strip():
            lines.read(raw.strip())
    has_sessions = lines.check()
    found, samples = lines.found, lines.samples

    def f(name: str, i: int) -> float:
        return float(found[name][i])

    def n(name: str, i: int) -> int:
        return int(found[name][i])

    def rates(name: str, samples: int) -> RateStats:
        return RateStats(f(name, 0), f(name, 1), f(name, 2), f(name, 3), samples)

    sessions = None
    if has_sessions:
        sessions = Sessions(
            rate=rates("sess_rate", len(samples["session-rate"])),
            completed=n("sess_rate", 4),
            started=n("sess_rate", 5),
            connections_per_session=f("sess_conns", 0),
            lifetime_s=f("sess_life", 0),
            failtime_s=f("sess_fail", 0),
            length_histogram=tuple(int(x) for x in found["sess_hist"][0].split()),
        )
    duration = f("total", 3)
    replies = n("total", 2)
    return HttperfResult(
        command=lines.command,
        max_open_descriptors=lines.descriptors,
        reply_rate_samples=tuple(samples["reply-rate"]),
        session_rate_samples=tuple(samples["session-rate"]),
        max_connect_burst_length=n("burst", 0),
        connections=n("total", 0),
        requests=n("total", 1),
        replies=replies,
        test_duration_s=duration,
        connection_rate=f("conn_rate", 0),
        connection_period_ms=f("conn_rate", 1),
        max_concurrent_connections=n("conn_rate", 2),
        connection_time=ConnectionTime(
            min_ms=f("conn_time", 0),
            avg_ms=f("conn_time", 1),
            max_ms=f("conn_time", 2),
            median_ms=f("conn_time", 3),
            stddev_ms=f("conn_time", 4),
            connect_ms=f("connect", 0),
        ),
        replies_per_connection=f("conn_length", 0),
        request_rate=f("req_rate", 0),
        request_period_ms=f("req_rate", 1),
        request_size_bytes=f("req_size", 0),
        reply_rate=rates("reply_rate", n("reply_rate", 4)),
        reply_rate_total=replies / duration if duration > 0 else 0.0,
        reply_time=ReplyTime(f("reply_time", 0), f("reply_time", 1)),
        reply_size=ReplySize(
            f("reply_size", 0), f("reply_size", 1), f("reply_size", 2), f("reply_size", 3)
        ),
        status=StatusClasses(*(n("status", i) for i in range(5))),
        cpu=CpuTime(*(f("cpu", i) for i in range(5))),
        net_io_kib_per_s=f("net_io", 0),
        net_io_mbps=f("net_io", 1),
        errors=Errors(
            total=n("errors1", 0),
            client_timo=n("errors1", 1),
            socket_timo=n("errors1", 2),
            connrefused=n("errors1", 3),
            connreset=n("errors1", 4),
            fd_unavail=n("errors2", 0),
            addrunavail=n("errors2", 1),
            ftab_full=n("errors2", 2),
            other=n("errors2", 3),
        ),
        sessions=sessions,
        messages=tuple(lines.messages),
    )


# ---------------------------------------------------------------------------------------------
# JSON form
# ---------------------------------------------------------------------------------------------


def to_dict(result: HttperfResult) -> dict[str, Any]:
    """The result as JSON-ready data; error counters and status classes keyed by httperf's
    names (``fd-unavail``, ``2xx``)."""
    out = asdict(result)
    out["status"] = result.status.as_dict()
    out["errors"] = result.errors.as_dict()
    return cast("dict[str, Any]", _jsonable(out))


def _jsonable(value: object) -> object:
    """Tuples become lists, so the result equals what json.loads gives back."""
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value
