"""Summing up: the load agents' results of one point, and the points of one sweep.

Pure functions. `check_load` decodes each load agent's JSON once, into the agents' own
`LoadResult` (agents/load/result.py states its schema); the others read its attributes.
`summarise` adds up the results of one point: rates add up over clients; the 5 s reply-rate
samples are added sample by sample, so the spread is that of the total offered to the server,
not of one client. `sweep_summary` says where a sweep's wall time went.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Iterable, Mapping, Sequence

from agents.load.result import LoadResult, LoadResultError
from orchestrator.results.records import PHASES, PointRecord, PointSummary, SweepSummary
from orchestrator.run.hostproc import Finished

ERROR_KINDS = (
    "client-timo",
    "socket-timo",
    "connrefused",
    "connreset",
    "fd-unavail",
    "addrunavail",
    "ftab-full",
    "other",
)


def summarise(agents: Mapping[str, LoadResult]) -> PointSummary:
    """The point's figures from {host: load agent's result}."""
    results = list(agents.values())
    errors = {kind: sum(r.error_count(kind) for r in results) for kind in ERROR_KINDS}
    samples = _summed_samples(results)
    return PointSummary(
        target_rate=sum(r.request_rate.target or 0.0 for r in results),
        request_rate=sum(r.request_rate.achieved or 0.0 for r in results),
        reply_rate=sum((r.reply_rate.total or 0.0) if r.reply_rate else 0.0 for r in results),
        reply_rate_min=min(samples) if samples else None,
        reply_rate_max=max(samples) if samples else None,
        reply_rate_stddev=statistics.pstdev(samples) if len(samples) > 1 else None,
        reply_rate_samples=len(samples),
        replies=sum(r.replies for r in results),
        connections=sum(r.connections for r in results),
        errors=errors,
        errors_total=sum(errors.values()),
        client_timeouts=errors["client-timo"],
        reply_time_ms=_weighted(
            [(r.reply_time_ms.response if r.reply_time_ms else None, r.replies) for r in results]
        ),
        connection_time_ms=_weighted(
            [
                (r.connection_time_ms.avg if r.connection_time_ms else None, r.connections)
                for r in results
            ]
        ),
    )


def check_load(
    finished: Mapping[str, Finished], name: str, limit: float, overran: bool
) -> tuple[dict[str, LoadResult], list[str]]:
    """The load agents' results from how each ended ({host: Finished}), each decoded once, and
    one problem per agent that did not give a usable result: unreachable, overran `limit`
    seconds (when `overran`: the run took that long), stopped, died without a result, gave one
    that cannot be read, or reported an error. Results that decode are returned even beside
    problems."""
    results: dict[str, LoadResult] = {}
    problems = []
    for client, done in finished.items():
        result, unreadable = _decoded(done.output)
        if done.ssh_error:
            problems.append(f"{client}: {done.ssh_error}")
        elif done.exit_code is None and overran:
            problems.append(f"{client}: {name} agent overran {limit:.0f} s and was stopped")
        elif done.exit_code is None:
            problems.append(f"{client}: {name} agent: {done.reason}")
        elif unreadable:
            problems.append(f"{client}: {name} agent's result cannot be read: {unreadable}")
        elif result is None:
            problems.append(f"{client}: {name} agent died without a result ({done.reason})")
        elif result.error:
            problems.append(f"{client}: {name} agent: {result.error}")
        if result is not None:
            results[client] = result
    return results, problems


def _decoded(output: str) -> tuple[LoadResult | None, str]:
    """The result an agent printed (None when it printed no JSON object), or why it cannot be
    read (a version this orchestrator does not know, a value of the wrong type)."""
    try:
        parsed = json.loads(output) if output.strip() else None
    except json.JSONDecodeError:
        return None, ""
    if not isinstance(parsed, dict):
        return None, ""
    try:
        return LoadResult.from_json(parsed), ""
    except LoadResultError as error:
        return None, str(error)


def start_lateness(results: Mapping[str, LoadResult]) -> float:
    """How late the latest agent was for the instant the orchestrator named: the warm-up's, or
    the measurement's when there was none, s. A measurement late after a warm-up is not counted:
    it was late because the warm-up's processes were ending on a busy core, which a later named
    instant does not change."""
    late = [0.0]
    for result in results.values():
        first = result.warmup or result
        if first.start_lateness_s is not None:
            late.append(float(first.start_lateness_s))
    return max(late)


# Reasons an agent gives when it fell behind its schedule without running out of descriptors or
# ports; a client that issued at least NEAR_MISS of its target that way was held up briefly.
SCHEDULE_REASONS = {
    "request-rate-below-target",
    "client-cpu-pegged",
    "client-cpu-starved",
    "behind-schedule",  # tbload's `kept no`
}
NEAR_MISS = 0.97


def near_miss(agents: Mapping[str, LoadResult]) -> bool:
    """True when every agent that limited the load only fell a little behind its schedule
    (>= 97 % of its target issued, no fd-unavail or addrunavail): a client descheduled for some
    tens of milliseconds, which a shared or busy client host does now and then. Such a point is
    worth measuring again; a clear shortfall is the clients' capacity and is not."""
    limiting = [result for result in agents.values() if result.client_limited]
    return bool(limiting) and all(
        set(result.client_limited_reasons or ["?"]) <= SCHEDULE_REASONS
        and (result.request_rate.issued or 0.0)
        >= NEAR_MISS * (result.request_rate.target or 0.0)
        > 0
        for result in limiting
    )


def _weighted(pairs: Sequence[tuple[float | None, int]]) -> float | None:
    """The mean of the values, each weighted by its count (values that are missing count 0)."""
    known = [(value or 0.0, weight) for value, weight in pairs if weight > 0]
    total = sum(weight for _, weight in known)
    return sum(value * weight for value, weight in known) / total if total else None


def _summed_samples(results: Sequence[LoadResult]) -> list[float]:
    """Reply-rate samples of all processes of all agents, added sample by sample."""
    series = [
        [float(x) for x in run.reply_rate_samples] for result in results for run in result.runs
    ]
    series = [s for s in series if s]
    if not series:
        return []
    length = min(len(s) for s in series)
    return [sum(s[index] for s in series) for index in range(length)]


def sweep_summary(
    records: Sequence[PointRecord], wall: float, interrupted: bool = False
) -> SweepSummary:
    """The summary of a sweep whose points ended as `records` (the last attempt of each)."""
    measured = sum(r.measure_seconds or 0.0 for r in records)
    forced = [
        (r.ended_at - r.started_at)
        - (r.measure_seconds or 0)
        - (r.warmup_seconds or 0)
        - (r.cooldown_seconds or 0)
        for r in records
        if r.status != "failed"
    ]
    statuses = [r.status for r in records]
    return SweepSummary(
        points_run=len(records),
        ok=statuses.count("ok"),
        client_limited=statuses.count("client-limited"),
        saturated=statuses.count("saturated"),
        failed=tuple(f"{r.point.key}: {r.reason}" for r in records if r.status == "failed"),
        wall_seconds=wall,
        measured_seconds=measured,
        measurement_fraction=measured / wall if wall > 0 else 0.0,
        overhead_seconds_mean=statistics.fmean(forced) if forced else None,
        overhead_seconds_max=max(forced) if forced else None,
        cooldown_seconds_mean=(
            statistics.fmean(r.cooldown_seconds or 0 for r in records) if records else None
        ),
        phase_seconds_mean=phase_means(r.phases for r in records if r.status != "failed"),
        interrupted=interrupted,
    )


def phase_means(phases: Iterable[Mapping[str, float]]) -> dict[str, float]:
    """The mean seconds of each phase, in run order, over the points that had it."""
    seen: dict[str, list[float]] = {}
    for point in phases:
        for name, seconds in point.items():
            seen.setdefault(name, []).append(seconds)
    order = [name for name in PHASES if name in seen] + sorted(set(seen) - set(PHASES))
    return {name: statistics.fmean(seen[name]) for name in order}
