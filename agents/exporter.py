"""What the agents' exporters share: a phase gauge and the metrics endpoint of a one-shot agent
(a service serves its metrics beside its control, ``agents.control.serve``)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Gauge, start_http_server

__all__ = ["PhaseGauge", "start_metrics"]


class PhaseGauge:
    """A state set: ``<prefix>_phase{phase="..."}`` is 1 for the current phase, 0 for the others,
    so a dashboard can show what an agent is doing and an alert can catch ``failed``."""

    def __init__(self, registry: CollectorRegistry, name: str, doc: str, phases: tuple[str, ...]):
        self._gauge = Gauge(name, doc, ["phase"], registry=registry)
        self._phases = phases
        self.current = ""

    def set(self, phase: str) -> None:
        if phase not in self._phases:
            raise ValueError(f"unknown phase {phase!r}")
        self.current = phase
        for p in self._phases:
            self._gauge.labels(phase=p).set(1 if p == phase else 0)


def start_metrics(registry: CollectorRegistry, address: str, port: int) -> None:
    """Serve ``registry`` on http://address:port/metrics in a daemon thread (port 0: don't).
    Raises OSError when the port is taken. An agent told its work over HTTP serves its metrics
    with its control instead (``agents.control.serve``)."""
    if port:
        start_http_server(port, addr=address, registry=registry)
