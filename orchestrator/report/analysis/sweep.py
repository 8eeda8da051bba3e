"""A sweep as the report reads it: its recorded context, its points in run order (throughput and
Table 1's profiling pass apart), their system calls, and what its settings say.

    data = SweepData.load(store, sweep_id)
    data.points, data.profile, data.settings, data.repetitions, data.load_engine

`load` is the report's one reader of the store; everything else in `analysis` is pure.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from orchestrator.results.points import StoredPoint
from orchestrator.results.store import Store


@dataclass(frozen=True)
class SweepData:
    """A sweep as stored: its recorded context, its points in run order, their syscalls."""

    id: str
    details: dict[str, Any]
    points: tuple[StoredPoint, ...]  # the throughput points: the curves, peaks, findings
    syscalls: dict[str, dict[str, tuple[int, float]]]  # by point key, both kinds of point
    # The points of Table 1's profiling pass (`experiment.profile`): never part of a curve.
    profile: tuple[StoredPoint, ...] = ()

    @classmethod
    def load(cls, store: Store, sweep_id: str) -> SweepData:
        """The sweep, each point with its `network` (its profile, "" when none was emulated)
        and `rtts` ({client: (expected, measured) ms})."""
        networks = store.networks(sweep_id)

        def with_network(point: StoredPoint) -> StoredPoint:
            network = networks.get(point.key)
            if network is None:
                return point
            return replace(point, network=network.profile, rtts=dict(network.rtts))

        return cls(
            sweep_id,
            store.sweep_details(sweep_id),
            tuple(with_network(p) for p in store.points(sweep_id)),
            store.syscalls(sweep_id),
            tuple(with_network(p) for p in store.profile_points(sweep_id)),
        )

    @property
    def settings(self) -> dict[str, Any]:
        return dict(self.details.get("settings") or {})

    @property
    def experiment(self) -> dict[str, Any]:
        return dict(self.settings.get("experiment") or {})

    @property
    def emulated(self) -> bool | None:
        value = self.settings.get("emulate")
        return bool(value) if value is not None else None

    @property
    def load_engine(self) -> str:
        """The load generator every client ran (`load: {engine: ...}`): 'httperf' or 'tbload';
        'httperf' for a sweep recorded before there was a choice (it was the only one)."""
        load = self.settings.get("load") or {}
        return str(load.get("engine") or "httperf")

    @property
    def server_cpu_limit(self) -> float | None:
        """The cap on the server's CPU in cores (`server_cpu: {limit: ...}`); None: not capped,
        or recorded before caps."""
        limit = (self.settings.get("server_cpu") or {}).get("limit")
        return float(limit) if limit is not None else None

    @property
    def lab_kind(self) -> str | None:
        """'emulated', 'machines' or 'physical'; None for a sweep recorded before kinds."""
        value = self.settings.get("lab_kind")
        return str(value) if value is not None else None

    @property
    def repetitions(self) -> int:
        planned = self.experiment.get("repetitions")
        if isinstance(planned, int):
            return planned
        return max((p.repetition for p in self.points), default=0)


def memory_gib(kib: Any) -> float | None:
    """A host's memory as recorded (`memory_kib`, text or a number) in GiB; None if unreadable."""
    try:
        return int(kib) / 1024 / 1024
    except (TypeError, ValueError):
        return None
