"""Several httperf (or tbload) processes that ran side by side (``--client I/N``) as one client's
result, as if one client had run. Pure: ``agents.load.httperf``'s dataclasses in, one out."""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Sequence

from agents.load.httperf import (
    ERROR_NAMES,
    ConnectionTime,
    CpuTime,
    Errors,
    HttperfResult,
    RateStats,
    ReplySize,
    ReplyTime,
    Sessions,
    StatusClasses,
)

__all__ = ["merge", "rate_stats"]


def rate_stats(samples: Sequence[float]) -> RateStats:
    """min/avg/max and sample standard deviation, as httperf computes them (0 when n < 2)."""
    if not samples:
        return RateStats(0.0, 0.0, 0.0, 0.0, 0)
    stddev = statistics.stdev(samples) if len(samples) > 1 else 0.0
    return RateStats(min(samples), statistics.fmean(samples), max(samples), stddev, len(samples))


def _sum_aligned(series: Iterable[Sequence[float]]) -> tuple[float, ...]:
    """Element-wise sum of sample series over the samples all of them have."""
    series = list(series)
    if not series:
        return ()
    length = min(len(s) for s in series)
    return tuple(sum(s[i] for s in series) for i in range(length))


def _weighted(pairs: Iterable[tuple[float, float]]) -> float:
    pairs = [(v, w) for v, w in pairs if w > 0]
    total = sum(w for _, w in pairs)
    return sum(v * w for v, w in pairs) / total if total else 0.0


def _lifetimes(r: HttperfResult) -> float:
    """Connections that ended normally (the population of the connection-time figures)."""
    return r.replies / r.replies_per_connection if r.replies_per_connection > 0 else 0.0


def merge(results: Sequence[HttperfResult]) -> HttperfResult:
    """Combine httperf processes that ran at the same time into one client's result.

    Counts, rates and CPU add up; ``test_duration_s`` is the longest; the reply-rate (and
    session-rate) samples are added sample by sample over the samples every process has, and
    their statistics recomputed; connection, reply-time and size averages are weighted by how
    many connections, requests or replies each process had; the connection-time median cannot be
    combined and is None. ``max_concurrent_connections`` is the sum of the per-process peaks (an
    upper bound)."""
    if not results:
        raise ValueError("nothing to merge")
    if len(results) == 1:
        return results[0]
    rs = list(results)
    reply_samples = _sum_aligned(r.reply_rate_samples for r in rs)
    life = sum(_lifetimes(r) for r in rs)
    replies = sum(r.replies for r in rs)
    conn_rate = sum(r.connection_rate for r in rs)
    req_rate = sum(r.request_rate for r in rs)
    messages: list[str] = []
    for r in rs:
        messages.extend(m for m in r.messages if m not in messages)
    descriptors = [r.max_open_descriptors for r in rs]
    sessions = _sessions(rs)
    return HttperfResult(
        command=None,
        max_open_descriptors=None if None in descriptors else sum(d or 0 for d in descriptors),
        reply_rate_samples=reply_samples,
        session_rate_samples=_sum_aligned(r.session_rate_samples for r in rs) if sessions else (),
        max_connect_burst_length=max(r.max_connect_burst_length for r in rs),
        connections=sum(r.connections for r in rs),
        requests=sum(r.requests for r in rs),
        replies=replies,
        test_duration_s=max(r.test_duration_s for r in rs),
        connection_rate=conn_rate,
        connection_period_ms=1e3 / conn_rate if conn_rate else 0.0,
        max_concurrent_connections=sum(r.max_concurrent_connections for r in rs),
        connection_time=_connection_time(rs),
        replies_per_connection=replies / life if life else 0.0,
        request_rate=req_rate,
        request_period_ms=1e3 / req_rate if req_rate else 0.0,
        request_size_bytes=_weighted((r.request_size_bytes, r.requests) for r in rs),
        reply_rate=rate_stats(reply_samples),
        reply_rate_total=sum(r.reply_rate_total for r in rs),
        reply_time=ReplyTime(
            response_ms=_weighted((r.reply_time.response_ms, r.replies) for r in rs),
            transfer_ms=_weighted((r.reply_time.transfer_ms, r.replies) for r in rs),
        ),
        reply_size=_reply_size(rs),
        status=StatusClasses(*(sum(getattr(r.status, f"s{i}xx") for r in rs) for i in range(1, 6))),
        cpu=CpuTime(
            user_s=sum(r.cpu.user_s for r in rs),
            system_s=sum(r.cpu.system_s for r in rs),
            user_pct=sum(r.cpu.user_pct for r in rs),
            system_pct=sum(r.cpu.system_pct for r in rs),
            total_pct=sum(r.cpu.total_pct for r in rs),
        ),
        net_io_kib_per_s=sum(r.net_io_kib_per_s for r in rs),
        net_io_mbps=sum(r.net_io_mbps for r in rs),
        errors=Errors(
            **{k: sum(getattr(r.errors, k) for r in rs) for k in ("total", *ERROR_NAMES)}
        ),
        sessions=sessions,
        messages=tuple(messages),
    )


def _connection_time(rs: Sequence[HttperfResult]) -> ConnectionTime:
    """Averages weighted by the connections that ended normally; the spread recombined from
    each process's mean and deviation; the median, not additive, None."""
    ok = [(r, w) for r in rs if (w := _lifetimes(r)) > 0]
    avg = _weighted((r.connection_time.avg_ms, w) for r, w in ok)
    square = _weighted(
        (r.connection_time.stddev_ms**2 + r.connection_time.avg_ms**2, w) for r, w in ok
    )
    return ConnectionTime(
        min_ms=min((r.connection_time.min_ms for r, _ in ok), default=0.0),
        avg_ms=avg,
        max_ms=max(r.connection_time.max_ms for r in rs),
        median_ms=None,
        stddev_ms=math.sqrt(max(square - avg**2, 0.0)),
        connect_ms=_weighted((r.connection_time.connect_ms, r.connections) for r in rs),
    )


def _reply_size(rs: Sequence[HttperfResult]) -> ReplySize:
    return ReplySize(
        header_bytes=_weighted((r.reply_size.header_bytes, r.replies) for r in rs),
        content_bytes=_weighted((r.reply_size.content_bytes, r.replies) for r in rs),
        footer_bytes=_weighted((r.reply_size.footer_bytes, r.replies) for r in rs),
        total_bytes=_weighted((r.reply_size.total_bytes, r.replies) for r in rs),
    )


def _sessions(rs: Sequence[HttperfResult]) -> Sessions | None:
    """The processes' session figures as one client's (None without sessions)."""
    with_sessions = [r.sessions for r in rs if r.sessions is not None]
    if not with_sessions:
        return None
    width = max(len(s.length_histogram) for s in with_sessions)
    return Sessions(
        rate=rate_stats(_sum_aligned(r.session_rate_samples for r in rs)),
        completed=sum(s.completed for s in with_sessions),
        started=sum(s.started for s in with_sessions),
        connections_per_session=_weighted(
            (s.connections_per_session, s.started) for s in with_sessions
        ),
        lifetime_s=_weighted((s.lifetime_s, s.completed) for s in with_sessions),
        failtime_s=_weighted((s.failtime_s, s.started - s.completed) for s in with_sessions),
        length_histogram=tuple(
            sum(s.length_histogram[i] for s in with_sessions if i < len(s.length_histogram))
            for i in range(width)
        ),
    )
