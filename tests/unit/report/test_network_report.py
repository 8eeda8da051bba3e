"""The report names each curve's network profile and lists the measured round trips."""

from __future__ import annotations

from orchestrator.report.analysis.data import Curve
from orchestrator.report.analysis.wanfindings import measured_rtts
from orchestrator.report.html.network import network_section
from orchestrator.results import export
from tests.support.report_stores import stored_point


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
