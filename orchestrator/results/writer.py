"""What a sweep writes to the results store, as a Protocol: the seam the sweep's code is typed by.

    def run(store: SweepWriter, ...):          # `Store` is one; the sweep's unit tests pass a
        store.record_point(sweep.id, record)   # fake that mypy checks against this Protocol

`results.store.Store` (SQLite, the only real writer) implements it; every method commits before
it returns, so a crash loses at most the point in progress. Reading a sweep back (its points,
the report) is the store's own business, not this seam's.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from orchestrator.results.records import PointRecord, Sweep, SweepSummary


class SweepWriter(Protocol):
    """Records a sweep as it runs: created, each point's attempts, what it learnt, its end."""

    def create_sweep(
        self,
        *,
        lab: str,
        digest: str,
        seed: int,
        points_planned: int,
        lab_file: str,
        inventory: str,
        revision: str,
        hosts: Mapping[str, Any],
        settings: Mapping[str, Any],
        workloads: Mapping[str, Any],
        kind: str = "manual",
        now: float | None = None,
    ) -> Sweep:
        """A new running sweep with a fresh id (the lab's name and the start time)."""

    def set_sweep_status(self, sweep_id: str, status: str) -> None:
        """running again (resumed), or abandoned (its plan changed)."""

    def record_point(self, sweep_id: str, record: PointRecord) -> None:
        """One attempt at a point, made the point's current row, atomically."""

    def update_settings(self, sweep_id: str, values: Mapping[str, Any]) -> None:
        """Add or replace top-level keys of the sweep's settings (curve endings, capacity)."""

    def set_verdict(self, sweep_id: str, key: str, status: str, reason: str) -> None:
        """A point's status and reason judged again at the end of its sweep."""

    def finish_sweep(
        self, sweep_id: str, status: str, summary: SweepSummary, now: float | None = None
    ) -> None:
        """The sweep's final status and summary."""
