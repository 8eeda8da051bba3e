"""What a sweep tells while it runs, and the timing of a point's phases.

observer = Observers(progress, exporter)     # several SweepObservers as one
phase = PhaseTimer(record, observer, clock)  # phase("start") ... phase.end()
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from orchestrator.config.plan import Point
from orchestrator.results.records import PointRecord, Sweep, SweepSummary


class SweepObserver(Protocol):
    """What the progress display and the metrics exporter are told while a sweep runs."""

    def sweep_started(self, sweep: Sweep, total: int, done: int) -> None: ...
    def point_started(self, seq: int, point: Point, attempt: int) -> None: ...
    def phase(self, name: str) -> None: ...
    def live(self, reply_rate: float) -> None: ...
    def point_finished(self, record: PointRecord) -> None: ...
    def sweep_finished(self, summary: SweepSummary) -> None: ...


class Observers:
    """Several observers as one."""

    def __init__(self, *observers: SweepObserver) -> None:
        self.observers = observers

    def __getattr__(self, name: str) -> Callable[..., None]:
        def fan_out(*args: Any) -> None:
            for observer in self.observers:
                getattr(observer, name)(*args)

        return fan_out


class PhaseTimer:
    """Tells the observer each phase of a point and records how long each took, on `clock`;
    the phases cover the point from its start to `end()` without a gap."""

    def __init__(
        self, record: PointRecord, observer: SweepObserver, clock: Callable[[], float]
    ) -> None:
        self.record = record
        self.observer = observer
        self.clock = clock
        self.name: str | None = None
        self.since = record.started_at

    def __call__(self, name: str) -> None:
        self.end()
        self.name = name
        self.observer.phase(name)

    def end(self) -> float:
        now = self.clock()
        if self.name is not None:
            self.record.phases[self.name] = self.record.phases.get(self.name, 0.0) + (
                now - self.since
            )
            self.name = None
        self.since = now
        return now
