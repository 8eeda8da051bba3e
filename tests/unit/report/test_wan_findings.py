"""WAN curves against their LAN curves: peaks with CIs, connections held, and the paper's
findings still judged on the LAN alone."""

from __future__ import annotations

from pathlib import Path

from orchestrator.report.analysis.build import build
from orchestrator.report.analysis.sweep import SweepData
from orchestrator.results.store import Store
from tests.support.report_stores import P, sweep_with


def held(count: int) -> dict[str, object]:
    return {"client1": {"load": {"max_concurrent_connections": count}}}


def points() -> list[P]:
    found = []
    for rep, jitter in ((1, -10.0), (2, 0.0), (3, 10.0)):
        for mechanism, lan_peak, wan_peak in (
            ("select", 3000.0, 1500.0),
            ("epoll-et", 3000.0, 2950.0),
        ):
            found += [
                P(mechanism, 1000, 1000.0 + jitter, rep=rep, network="lan", agents=held(4)),
                P(mechanism, 4000, lan_peak + jitter, rep=rep, network="lan", agents=held(30)),
                P(mechanism, 1000, 1000.0 + jitter, rep=rep, network="wan", agents=held(60)),
                P(mechanism, 4000, wan_peak + jitter, rep=rep, network="wan", agents=held(900)),
            ]
    return found


def test_each_wan_curve_is_stated_against_its_lan_curve(tmp_path: Path) -> None:
    store = Store.open(tmp_path)
    report = build(SweepData.load(store, sweep_with(store, points())))
    assert {curve.label for curve in report.curves} >= {"select · wan", "epoll-ET · lan"}
    [epoll, select] = sorted(report.wan)
    assert select.startswith("select · wan") and epoll.startswith("epoll-ET · wan")
    assert "peak 1,500 ± " in select and "against 3,000 ± " in select and "-50.0%" in select
    assert "concurrent connections at the peak 900 " in select and "against 30 " in select
    # the paper's own findings see only the LAN curves: select and epoll-ET are comparable
    assert all("wan" not in line for finding in report.findings for line in finding.evidence)


def test_a_sweep_without_profiles_states_nothing(tmp_path: Path) -> None:
    store = Store.open(tmp_path)
    report = build(SweepData.load(store, sweep_with(store, [P("select", 1000, 990.0)])))
    assert report.wan == () and report.curves[0].label == "select"
