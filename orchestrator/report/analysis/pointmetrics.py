"""What one stored point says besides its reply rate: the server's cost, its batching, and what
the clients saw. Pure functions of a stored point (`Store.points`), None when it was not stored.

    metrics = point_metrics(point)
    metrics[CPU_PER_REPLY]          # µs of server CPU per reply over the measurement

- CPU per reply: `server.cpu_seconds` / the server's replies over the same window, in µs. The
  counters are read just before and after the load agents' run, so both cover the same window.
  A server without counters of its own (`server.lacks`, CPU from /proc) is divided by the
  replies its clients counted over their run instead.
- CPU utilisation: `server.cpu_seconds` / that window (the measure phase; httperf's own test
  duration for points stored without phases), as a fraction of one CPU.
- Events per wait: `testbed_server_events_fired_total` / `testbed_server_loop_rounds_total`
  (one wait per round), or over the wait calls counted (select, poll, epoll_wait,
  io_uring_enter) when the rounds were not stored; without the events counter: not measured.
- Response and connection time: httperf's means (reply time "response": request sent to the
  first byte of the reply; connection time: connect to close), weighted over the agents. httperf
  prints no percentiles and the agents keep no histogram; its connection-time median is per
  httperf process, so the point's "median" here is the median of those per-process medians.
- Error and timeout rates: httperf's errors (and client timeouts) per connection it attempted.
"""

from __future__ import annotations

from orchestrator.results.points import ServerRecord, StoredPoint

CPU_PER_REPLY = "cpu_per_reply_us"
UTILISATION = "cpu_utilisation"
EVENTS_PER_WAIT = "events_per_wait"
RESPONSE_TIME = "response_time_ms"
CONNECTION_TIME = "connection_time_ms"
CONNECTION_MEDIAN = "connection_time_median_ms"
ERROR_RATE = "error_rate"
TIMEOUT_RATE = "timeout_rate"
METRICS = (
    CPU_PER_REPLY,
    UTILISATION,
    EVENTS_PER_WAIT,
    RESPONSE_TIME,
    CONNECTION_TIME,
    CONNECTION_MEDIAN,
    ERROR_RATE,
    TIMEOUT_RATE,
)
WAIT_CALLS = ("select", "poll", "epoll_wait", "io_uring_enter")  # one per event-loop round
LOOP_ROUNDS = "testbed_server_loop_rounds_total"
EVENTS_FIRED = "testbed_server_events_fired_total"


def point_metrics(point: StoredPoint) -> dict[str, float | None]:
    """Every metric above for one stored point (None: not stored or not defined)."""
    server = point.server
    cpu = server.cpu_seconds
    replies = server.replies_total
    if replies is None and point.server_replies is not None:
        replies = float(point.server_replies)
    if replies is None and server.lacks is not None and point.replies is not None:
        replies = float(point.replies)  # a server without a count: the clients' count
    window = window_seconds(point)
    rounds, fired = server.totals.get(LOOP_ROUNDS), server.totals.get(EVENTS_FIRED)
    if not rounds:
        rounds = _wait_calls(server)
    attempted = _connections(point)
    errors, timeouts = point.errors_total, point.client_timeouts
    return {
        CPU_PER_REPLY: 1e6 * cpu / replies if cpu and replies else None,
        UTILISATION: cpu / window if cpu is not None and window else None,
        EVENTS_PER_WAIT: fired / rounds if fired is not None and rounds else None,
        RESPONSE_TIME: point.reply_time_ms,
        CONNECTION_TIME: point.connection_time_ms,
        CONNECTION_MEDIAN: point.connection_median,
        ERROR_RATE: errors / attempted if errors is not None and attempted else None,
        TIMEOUT_RATE: timeouts / attempted if timeouts is not None and attempted else None,
    }


def window_seconds(point: StoredPoint) -> float | None:
    """How long the server's counters ran for a point: its measure phase (httperf's own
    duration for points stored without phases)."""
    return point.window_seconds


def _wait_calls(server: ServerRecord) -> float | None:
    waits = [entry.calls for name, entry in server.syscalls.items() if name in WAIT_CALLS]
    return sum(w for w in waits if w) or None


def _connections(point: StoredPoint) -> float | None:
    """Connections httperf attempted, over the agents; the offered rate × duration without."""
    total = point.agent_total("connections")
    if total > 0:
        return total
    duration = point.measure_seconds
    rate = point.target_rate
    return rate * duration if rate and duration else None
