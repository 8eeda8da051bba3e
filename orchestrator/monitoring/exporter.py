"""The orchestrator's own exporter: what the sweep is doing, for dashboards and `watch`.

    exporter = SweepExporter(lab)        # serves /metrics on the orchestrator's address
    Observers(progress, exporter)        # it is a SweepObserver

Metrics (prefix testbed_, labels with small fixed value sets; a point's parameters are labels,
bounded by the plan):

    testbed_sweep_info{lab, sweep, seed}                           1 (an info metric); the
                                                                   series ends with the sweep
    testbed_sweep_points_planned{sweep}                            points in the plan
    testbed_sweep_points{sweep, state}                             points done, by final state:
                                                                   ok, saturated,
                                                                   client_limited, failed,
                                                                   done_earlier (by a run this
                                                                   one resumed); their sum is
                                                                   the done count
    testbed_point_phase{sweep, <point>, attempt, phase}            1 for the current phase
                                                                   (the dashboards' annotation)
    testbed_point_request_rate{sweep, <point>, status}             achieved, finished points
    testbed_point_reply_rate{sweep, <point>, status}               likewise
    testbed_point_reply_rate_live{sweep}                           the server's, while measuring
    testbed_point_errors{sweep, <point>, kind}                     client-side errors by kind
    testbed_point_phase_started_timestamp_seconds{sweep}           when the phase began

<point> is mechanism, workload, idle_connections, accept_limit, rate, repetition.
"""

from __future__ import annotations

import time

from prometheus_client import CollectorRegistry, Gauge, ProcessCollector, start_http_server

from orchestrator.config.model import Lab
from orchestrator.config.plan import Point
from orchestrator.monitoring.prometheus import exporter_address
from orchestrator.ports import ORCHESTRATOR_METRICS_PORT
from orchestrator.results.records import PointRecord, Sweep, SweepSummary

POINT_LABELS = ("mechanism", "workload", "idle_connections", "accept_limit", "rate", "repetition")


class SweepExporter:
    """Exports the sweep's progress; see the module docstring."""

    def __init__(self, lab: Lab, registry: CollectorRegistry | None = None) -> None:
        self.lab = lab
        self.registry = registry or CollectorRegistry()
        if registry is None:
            ProcessCollector(registry=self.registry)
        r = self.registry
        self.info = Gauge(
            "testbed_sweep_info", "The sweep in progress (1).", ["lab", "sweep", "seed"], registry=r
        )
        self.planned = Gauge(
            "testbed_sweep_points_planned", "Points in the sweep's plan.", ["sweep"], registry=r
        )
        self.points = Gauge(
            "testbed_sweep_points",
            "Points of the sweep done, by final state (the parts of the done count).",
            ["sweep", "state"],
            registry=r,
        )
        self.phase_gauge = Gauge(
            "testbed_point_phase",
            "The phase of the point in progress (1).",
            ["sweep", *POINT_LABELS, "attempt", "phase"],
            registry=r,
        )
        self.phase_started = Gauge(
            "testbed_point_phase_started_timestamp_seconds",
            "When the current phase began.",
            ["sweep"],
            registry=r,
        )
        self.request_rate = Gauge(
            "testbed_point_request_rate",
            "Achieved request rate of a finished point, per second.",
            ["sweep", *POINT_LABELS, "status"],
            registry=r,
        )
        self.reply_rate = Gauge(
            "testbed_point_reply_rate",
            "Reply rate of a finished point, per second.",
            ["sweep", *POINT_LABELS, "status"],
            registry=r,
        )
        self.live_rate = Gauge(
            "testbed_point_reply_rate_live",
            "The server's reply rate while measuring, per second.",
            ["sweep"],
            registry=r,
        )
        self.errors = Gauge(
            "testbed_point_errors",
            "Client-side errors of a finished point, by kind.",
            ["sweep", *POINT_LABELS, "kind"],
            registry=r,
        )
        self.sweep: Sweep | None = None
        self.point: Point | None = None
        self.attempt = 1
        self.current: tuple[str, ...] | None = None
        self.counts: dict[str, int] = {}

    def serve(self) -> None:
        """Start the HTTP listener (a daemon thread; it ends with the process)."""
        start_http_server(
            ORCHESTRATOR_METRICS_PORT, addr=exporter_address(self.lab), registry=self.registry
        )

    # -- SweepObserver ---------------------------------------------------------------------------

    def sweep_started(self, sweep: Sweep, total: int, done: int) -> None:
        self.sweep = sweep
        self.info.labels(self.lab.name, sweep.id, str(sweep.seed)).set(1)
        self.planned.labels(sweep.id).set(total)
        # A resumed sweep's points done before this run are a part of their own: the parts add
        # up to the done count without guessing their states.
        self.counts = {
            "ok": 0,
            "saturated": 0,
            "client_limited": 0,
            "failed": 0,
            "done_earlier": done,
        }
        self._publish_counts()

    def point_started(self, seq: int, point: Point, attempt: int) -> None:
        self.point, self.attempt = point, attempt

    def phase(self, name: str) -> None:
        if self.sweep is None or self.point is None:
            return
        if self.current is not None:
            self.phase_gauge.remove(*self.current)
        self.current = (self.sweep.id, *self._point_values(self.point), str(self.attempt), name)
        self.phase_gauge.labels(*self.current).set(1)
        self.phase_started.labels(self.sweep.id).set(time.time())
        if name != "measure":
            self.live_rate.labels(self.sweep.id).set(0)

    def live(self, reply_rate: float) -> None:
        if self.sweep is not None:
            self.live_rate.labels(self.sweep.id).set(reply_rate)

    def point_finished(self, record: PointRecord) -> None:
        if self.sweep is None:
            return
        values = self._point_values(record.point)
        summary = record.summary
        if summary.get("request_rate") is not None:
            self.request_rate.labels(self.sweep.id, *values, record.status).set(
                summary["request_rate"]
            )
            self.reply_rate.labels(self.sweep.id, *values, record.status).set(
                summary.get("reply_rate") or 0.0
            )
        for kind, count in (summary.get("errors") or {}).items():
            self.errors.labels(self.sweep.id, *values, kind).set(count)
        final = record.status != "failed" or record.attempt > self.lab.experiment.retries
        key = record.status.replace("-", "_")
        if final and key in self.counts:
            self.counts[key] += 1
        self._publish_counts()

    def sweep_finished(self, summary: SweepSummary) -> None:
        if self.current is not None:
            self.phase_gauge.remove(*self.current)
            self.current = None
        if self.sweep is not None:
            self.live_rate.labels(self.sweep.id).set(0)
            self.info.remove(self.lab.name, self.sweep.id, str(self.sweep.seed))

    # -- helpers -----------------------------------------------------------------------------------

    def _point_values(self, point: Point) -> tuple[str, ...]:
        labels = point.labels()
        return tuple(labels[name] for name in POINT_LABELS)

    def _publish_counts(self) -> None:
        assert self.sweep is not None
        for state, count in self.counts.items():
            self.points.labels(self.sweep.id, state).set(count)
