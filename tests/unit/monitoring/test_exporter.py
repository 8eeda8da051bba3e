"""The orchestrator's own metrics (`monitoring.exporter`), checked by promtool."""

from __future__ import annotations

import subprocess

from prometheus_client import CollectorRegistry, generate_latest

from orchestrator.config.plan import Point
from orchestrator.monitoring.exporter import SweepExporter
from orchestrator.results.records import PointRecord, Sweep
from tests.support.labfiles import default_lab

LAB = default_lab(routes=list)


def test_the_orchestrators_metrics_pass_promtool() -> None:
    registry = CollectorRegistry()
    exporter = SweepExporter(LAB, registry=registry)
    sweep = Sweep(
        "emulated-20261126-120000", "emulated", "abc", 7, "running", 0.0, None, 28, "manual"
    )
    point = Point("epoll-et", "one-byte", 0, None, 2000.0, 1)
    exporter.sweep_started(sweep, 28, 0)
    exporter.point_started(0, point, 1)
    exporter.phase("measure")
    exporter.live(1990.0)
    exporter.point_finished(
        PointRecord(
            point,
            0,
            "ok",
            "",
            1,
            0.0,
            9.0,
            summary={"request_rate": 2000.0, "reply_rate": 1999.0, "errors": {"client-timo": 0}},
        )
    )
    saturated = Point("select", "one-byte", 0, None, 2000.0, 1)
    exporter.point_started(1, saturated, 1)
    exporter.point_finished(PointRecord(saturated, 1, "saturated", "server at 99 %", 1, 0.0, 9.0))
    exporter.point_started(2, point, 1)
    exporter.phase("warmup")
    text = generate_latest(registry).decode()
    assert (
        "testbed_point_phase{" in text
        and 'phase="warmup"' in text
        and 'phase="measure"' not in text
    )
    assert "testbed_point_reply_rate{" in text and "1999.0" in text
    assert 'testbed_sweep_points{state="ok",sweep="emulated-20261126-120000"} 1.0' in text
    # a saturated point is counted as such, neither ok nor the clients' limit
    assert 'testbed_sweep_points{state="saturated",sweep="emulated-20261126-120000"} 1.0' in text
    assert 'state="client_limited",sweep="emulated-20261126-120000"} 0.0' in text
    # The plan's size apart from the parts of the done count; an info metric stays 1.
    assert 'testbed_sweep_points_planned{sweep="emulated-20261126-120000"} 28.0' in text
    assert 'state="planned"' not in text and 'state="done"' not in text
    assert (
        'testbed_sweep_info{lab="emulated",seed="7",sweep="emulated-20261126-120000"} 1.0' in text
    )
    assert "_created" not in text
    checked = subprocess.run(
        ["promtool", "check", "metrics"], input=text, capture_output=True, text=True
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
