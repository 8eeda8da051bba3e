"""The idle agent's metrics (one set per process: a service's counters add up over its holds)."""

from __future__ import annotations

import functools

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, ProcessCollector

from agents.exporter import PhaseGauge

__all__ = ["PHASES", "REASONS", "Metrics"]

PHASES = ("ramping", "holding", "stopping", "failed")
REASONS = ("refused", "timeout", "reset", "unreachable", "addrnotavail", "fd-unavail", "other")


class Metrics:
    def __init__(self) -> None:
        self.registry = r = CollectorRegistry()
        ProcessCollector(registry=r)
        gauge = functools.partial(Gauge, registry=r)
        counter = functools.partial(Counter, registry=r)
        self.phase = PhaseGauge(
            r, "testbed_idle_phase", "What the idle agent is doing (1 = current phase).", PHASES
        )
        self.open = gauge("testbed_idle_connections_open", "Idle connections open.")
        self.target = gauge("testbed_idle_connections_target", "Idle connections to hold.")
        self.connecting = gauge("testbed_idle_connections_connecting", "Connects in flight.")
        self.opened = counter(
            "testbed_idle_connections_opened", "Connections opened, reopens included."
        )
        self.reopened = counter(
            "testbed_idle_connections_reopened",
            "Connections opened to replace one the server closed.",
        )
        self.closed = counter(
            "testbed_idle_connections_closed_by_server",
            "Open connections the server closed (or reset).",
        )
        self.failures = counter(
            "testbed_idle_connect_failures", "Connects that failed, by cause.", ["reason"]
        )
        for reason in REASONS:
            self.failures.labels(reason=reason)
        self.reopen_delay = Histogram(
            "testbed_idle_reopen_delay_seconds",
            "From seeing the server close a connection to its replacement being open.",
            buckets=(0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
            registry=r,
        )
        self.ramp_up = gauge(
            "testbed_idle_ramp_up_seconds",
            "Seconds from start until the target was first reached (0 until then).",
        )
