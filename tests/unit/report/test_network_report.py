"""The report names each curve's network profile and lists the measured round trips."""

from __future__ import annotations

from pathlib import Path

from orchestrator.report.analysis.data import Curve, curves
from orchestrator.report.analysis.sweep import SweepData
from orchestrator.report.analysis.wanfindings import measured_rtts, wan_statements
from orchestrator.report.html.network import network_section
from orchestrator.results import export
from orchestrator.results.store import Store
from tests.support.report_stores import P, stored_point, sweep_with


def test_a_curve_label_carries_its_profile() -> None:
    assert Curve("epoll-et", "one-byte", 0, "inf", ()).label == "epoll-ET"
    assert Curve("epoll-et", "one-byte", 0, "inf", (), "wan-50ms").label == "epoll-ET · wan-50ms"


def test_round_trips_are_listed_once_per_measurement() -> None:
    points = [
        stored_point(network="wan", rtts={"client1": (50.0, 50.4)}),
        stored_point(network="wan", rtts={"client1": (50.0, 50.4)}),  # same measurement
        stored_point(network="wan", rtts={"client1": (50.0, 49.8)}),  # the next repetition
        stored_point(network="lan", rtts={"client1": (0.0, 0.05)}),
        stored_point(network="", rtts={}),
    ]
    assert measured_rtts(points) == {("wan", "client1"): [50.4, 49.8], ("lan", "client1"): [0.05]}
    html = network_section(points)
    assert "49.80–50.40 (2 measurements)" in html and "0.05" in html
    assert network_section([stored_point(network="", rtts={})]) == ""


def test_the_reports_points_csv_names_each_points_network() -> None:
    """The report's points.csv is export rows of the sweep's points, which carry their network
    (SweepData.load); a point under no emulated network has an empty cell, as `export`'s."""
    assert export.row(stored_point(network="wan-50ms"))["network"] == "wan-50ms"
    assert export.row(stored_point(network=""))["network"] is None


def test_a_wan_peak_cut_short_by_the_clients_is_reported_as_a_lower_bound(tmp_path: Path) -> None:
    """epoll-ET's WAN curve stops at 2,000 only because its clients were the limit above it
    (measured on wan.yml here: the clients' core also runs every client's link emulator); a
    curve whose server saturated above its peak keeps its plain peak."""
    points = [
        P(mechanism, rate, rate, rep=rep, network="lan")
        for mechanism in ("epoll-et", "select")
        for rate in (1000.0, 2000.0, 4000.0)
        for rep in (1, 2)
    ]
    for rep in (1, 2):
        points += [
            P("epoll-et", 1000.0, 990.0, rep=rep, network="wan"),
            P("epoll-et", 2000.0, 1960.0 + rep, rep=rep, network="wan"),
            P("epoll-et", 4000.0, 2900.0, rep=rep, network="wan", status="client-limited"),
            P("select", 1000.0, 990.0, rep=rep, network="wan"),
            P("select", 2000.0, 1960.0 + rep, rep=rep, network="wan"),
            P("select", 4000.0, 3100.0, rep=rep, network="wan", status="saturated"),
        ]
    store = Store.open(tmp_path)
    data = SweepData.load(store, sweep_with(store, points))
    lines = {line.split(" (")[0]: line for line in wan_statements(data, curves(data))}
    epoll, select = lines["epoll-ET · wan"], lines["select · wan"]
    assert "peak at least 1,962" in epoll and "client-limited from 4,000 req/s" in epoll
    assert "at least" not in select and "peak 3,100" in select
