"""Summing up: the load agents' results of one point, and the points of one sweep.

Pure functions. `summarise` adds up the agents' JSON of one point (see agents/load.py for its
schema): rates add up over clients; the 5 s reply-rate samples are added sample by sample, so
the spread is that of the total offered to the server, not of one client. `sweep_summary` says
where a sweep's wall time went.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

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


def summarise(agents: Mapping[str, Mapping[str, Any]]) -> PointSummary:
    """The point's figures from {host: load agent JSON}."""
    results = [result for result in agents.values() if result]
    errors = {kind: sum(_get(r, "errors", kind) for r in results) for kind in ERROR_KINDS}
    replies = sum(_get(r, "totals", "replies") for r in results)
    connections = sum(_get(r, "totals", "connections") for r in results)
    samples = _summed_samples(results)
    return PointSummary(
        target_rate=sum(_get(r, "request_rate", "target") for r in results),
        request_rate=sum(_get(r, "request_rate", "achieved") for r in results),
        reply_rate=sum(_get(r, "reply_rate", "total") for r in results),
        reply_rate_min=min(samples) if samples else None,
        reply_rate_max=max(samples) if samples else None,
        reply_rate_stddev=statistics.pstdev(samples) if len(samples) > 1 else None,
        reply_rate_samples=len(samples),
        replies=int(replies),
        connections=int(connections),
        errors={kind: int(count) for kind, count in errors.items()},
        errors_total=int(sum(errors.values())),
        client_timeouts=int(errors["client-timo"]),
        reply_time_ms=_weighted(results, ("reply_time_ms", "response"), ("totals", "replies")),
        connection_time_ms=_weighted(
            results, ("connection_time_ms", "avg"), ("totals", "connections")
        ),
    )


def check_load(
    finished: Mapping[str, Finished], name: str, limit: float, overran: bool
) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """The load agents' JSON results from how each ended ({host: Finished}), and one problem
    per agent that did not give a usable result: unreachable, overran `limit` seconds (when
    `overran`: the run took that long), stopped, died without a result, or reported an error.
    Results that parse are returned even beside problems."""
    results: dict[str, dict[str, Any]] = {}
    problems = []
    for client, done in finished.items():
        try:
            parsed = json.loads(done.output) if done.output.strip() else None
        except json.JSONDecodeError:
            parsed = None
        result = parsed if isinstance(parsed, dict) else None
        if done.ssh_error:
            problems.append(f"{client}: {done.ssh_error}")
        elif done.exit_code is None and overran:
            problems.append(f"{client}: {name} agent overran {limit:.0f} s and was stopped")
        elif done.exit_code is None:
            problems.append(f"{client}: {name} agent: {done.reason}")
        elif result is None:
            problems.append(f"{client}: {name} agent died without a result ({done.reason})")
        elif result.get("error"):
            problems.append(f"{client}: {name} agent: {result['error']}")
        if result is not None:
            results[client] = result
    return results, problems


def start_lateness(results: Mapping[str, Mapping[str, Any]]) -> float:
    """How late the latest agent was for the instant the orchestrator named: the warm-up's, or
    the measurement's when there was none, s. A measurement late after a warm-up is not counted:
    it was late because the warm-up's processes were ending on a busy core, which a later named
    instant does not change."""
    late = [0.0]
    for result in results.values():
        first = result.get("warmup") or result
        value = first.get("start_lateness_s")
        if isinstance(value, int | float):
            late.append(float(value))
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


def near_miss(agents: Mapping[str, Mapping[str, Any]]) -> bool:
    """True when every agent that limited the load only fell a little behind its schedule
    (>= 97 % of its target issued, no fd-unavail or addrunavail): a client descheduled for some
    tens of milliseconds, which a shared or busy client host does now and then. Such a point is
    worth measuring again; a clear shortfall is the clients' capacity and is not."""
    limiting = [result for result in agents.values() if result.get("client_limited")]
    return bool(limiting) and all(
        set(result.get("client_limited_reasons") or ["?"]) <= SCHEDULE_REASONS
        and _get(result, "request_rate", "issued")
        >= NEAR_MISS * _get(result, "request_rate", "target")
        > 0
        for result in limiting
    )


def _get(result: Mapping[str, Any], *path: str) -> float:
    value: Any = result
    for key in path:
        value = value.get(key) if isinstance(value, Mapping) else None
    return float(value) if isinstance(value, int | float) else 0.0


def _weighted(
    results: list[Mapping[str, Any]], value: tuple[str, ...], weight: tuple[str, ...]
) -> float | None:
    pairs = [(_get(r, *value), _get(r, *weight)) for r in results if _get(r, *weight) > 0]
    total = sum(w for _, w in pairs)
    return sum(v * w for v, w in pairs) / total if total else None


def _summed_samples(results: list[Mapping[str, Any]]) -> list[float]:
    """Reply-rate samples of all processes of all agents, added sample by sample."""
    series = [
        [float(x) for x in run.get("reply_rate_samples") or []]
        for result in results
        for run in result.get("runs") or []
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
