"""Where a sweep's points and time went: how many ended in each status, each phase's mean, max
and share of the wall time, and the spread between repetitions (pure; the page lays them out).

    counts = status_counts(points)            # {"ok": 40, "client-limited": 2}
    rows = phase_times(points)                # [PhaseTime] in the order the phases run
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from orchestrator.results.points import StoredPoint
from orchestrator.results.records import PHASES


def status_counts(points: Iterable[StoredPoint]) -> dict[str, int]:
    """{status: points in it}, sorted by status."""
    counts: dict[str, int] = {}
    for point in points:
        counts[point.status] = counts.get(point.status, 0) + 1
    return dict(sorted(counts.items()))


@dataclass(frozen=True)
class PhaseTime:
    """One phase over the points that had it (or the points' wall time: `share` None)."""

    name: str
    mean: float
    max: float
    share: float | None  # of the summed wall time of the points not failed


WALL = "point (wall)"


def phase_times(points: Iterable[StoredPoint]) -> list[PhaseTime]:
    """Each phase's seconds per point over the points not failed, then their wall time; [] when
    no such point recorded its phases."""
    seen: dict[str, list[float]] = {}
    walls = []
    for point in points:
        if point.status == "failed" or not point.phases:
            continue
        walls.append(point.wall_seconds)
        for name, seconds in point.phases.items():
            seen.setdefault(name, []).append(seconds)
    if not walls:
        return []
    total = sum(walls)
    order = [name for name in PHASES if name in seen] + sorted(set(seen) - set(PHASES))
    rows = [
        PhaseTime(name, statistics.fmean(seen[name]), max(seen[name]), sum(seen[name]) / total)
        for name in order
    ]
    return [*rows, PhaseTime(WALL, statistics.fmean(walls), max(walls), None)]


@dataclass(frozen=True)
class Spread:
    """The reply rate's coefficient of variation between repetitions, over `points` points."""

    mean: float
    largest: float
    points: int


def spread(cvs: Sequence[float]) -> Spread | None:
    return Spread(statistics.fmean(cvs), max(cvs), len(cvs)) if cvs else None
