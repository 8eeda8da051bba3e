"""The report page's network conditions: each profile's round trips as measured per client,
beside what the profile should give (in the lab section; nothing when nothing was emulated).

    html = network_section(report.data.points)
"""

from __future__ import annotations

from collections.abc import Iterable

from markupsafe import Markup

from orchestrator.report.analysis.wanfindings import RoundTrips, round_trips
from orchestrator.report.html.kit import render, table
from orchestrator.results.points import StoredPoint

HEADERS = [
    "network profile",
    "client",
    "expected RTT (ms)",
    "measured RTT (ms, median of 5 pings)",
]


def network_section(points: Iterable[StoredPoint]) -> Markup | str:
    rows = [
        [trips.profile, trips.client, f"{trips.expected:.1f}", _measured(trips)]
        for trips in round_trips(points)
    ]
    if not rows:
        return ""
    return render("network.html", table=table(HEADERS, rows, numeric=(2, 3)))


def _measured(trips: RoundTrips) -> str:
    if trips.lowest is None or trips.highest is None:
        return "-"
    if trips.measurements > 1:
        return f"{trips.lowest:.2f}–{trips.highest:.2f} ({trips.measurements} measurements)"
    return f"{trips.lowest:.2f}"
