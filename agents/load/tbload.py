"""tbload's own line after its httperf-format summary, as typed data. Pure: text in, data out.

tbload (``tbload/`` at the top of the project, C, epoll) prints httperf 0.9.0's summary exactly,
so ``agents.load.httperf.parse`` reads its figures unchanged, then one line of its own::

  tbload: schedule late-max-ms 0.4 late-p99-ms 0.1 late-bound-ms 40.0 late-starts 3 of 8000 kept yes

``late-starts K of N``: of the N connection (session) starts its schedule planned, K began
more than ``late-bound-ms`` after their planned instant: 1 % of the schedule's span, at least
10 ms (tbload/README.md says why: a slipping schedule, not a shared core's jitter).
``late-max-ms`` and ``late-p99-ms`` are the largest and the 99th percentile lateness. ``kept
no`` is tbload's verdict that it did not offer the load it was asked to: more than 1 % of its
starts were late, or it left planned connections unstarted (out of descriptors or local ports).
Lines of tbload before 2026-12-07 have no ``late-bound-ms``: their bound was 10 ms.

Unlike httperf, which spins a core and whose CPU share is what shows it fell behind, tbload
sleeps between starts: its own verdict is the only sign of a client limit it gives
(``agents.load.plan.tbload_verdict``).

    schedule = parse_schedule(text)      # None when the line is absent
    merge_schedules([a, b])              # several processes side by side, as one client
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

__all__ = ["Schedule", "merge_schedules", "parse_schedule", "schedule_dict"]

# The bound of lines printed before it was part of the line.
LATE_BOUND_BEFORE_MS = 10.0
_NUM = r"(\d+(?:\.\d+)?)"
_SCHEDULE = re.compile(
    rf"^tbload: schedule late-max-ms {_NUM} late-p99-ms {_NUM}(?: late-bound-ms {_NUM})?"
    r" late-starts (\d+) of (\d+) kept (yes|no)$"
)


@dataclass(frozen=True)
class Schedule:
    """How closely tbload's connection starts followed its schedule (see the module
    docstring); ``kept`` is its own verdict."""

    late_max_ms: float
    late_p99_ms: float
    late_starts: int
    starts: int
    kept: bool
    late_bound_ms: float = LATE_BOUND_BEFORE_MS


def parse_schedule(text: str) -> Schedule | None:
    """The last ``tbload: schedule`` line of `text` (one tbload's output), None when none."""
    found = None
    for raw in text.splitlines():
        m = _SCHEDULE.match(raw.strip())
        if m:
            found = m
    if found is None:
        return None
    late_max, p99, bound, late, starts, kept = found.groups()
    return Schedule(
        float(late_max),
        float(p99),
        int(late),
        int(starts),
        kept == "yes",
        float(bound) if bound is not None else LATE_BOUND_BEFORE_MS,
    )


def merge_schedules(schedules: Sequence[Schedule]) -> Schedule:
    """Processes that ran side by side as one client: the worst lateness (the p99 of the
    merged starts is not known; the largest of the processes' is its upper bound), the starts
    added up, kept only when every process kept its schedule."""
    if not schedules:
        raise ValueError("nothing to merge")
    return Schedule(
        late_max_ms=max(s.late_max_ms for s in schedules),
        late_p99_ms=max(s.late_p99_ms for s in schedules),
        late_starts=sum(s.late_starts for s in schedules),
        starts=sum(s.starts for s in schedules),
        kept=all(s.kept for s in schedules),
        late_bound_ms=max(s.late_bound_ms for s in schedules),
    )


def schedule_dict(schedule: Schedule | None) -> dict[str, Any] | None:
    """The JSON form (None stays None)."""
    return None if schedule is None else asdict(schedule)
