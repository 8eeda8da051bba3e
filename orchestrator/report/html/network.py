"""The report page's network conditions: each profile's round trips as measured per client,
beside what the profile should give (in the lab section; nothing when nothing was emulated).

    html = network_section(report.data.points)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from orchestrator.report.htmlkit import table


def measured_rtts(points: Iterable[Mapping[str, Any]]) -> dict[tuple[str, str], list[float]]:
    """{(profile, client): [each distinct round trip measured, ms]}; a measurement is stored
    with every point of its group, so repeats of one value are one measurement."""
    found: dict[tuple[str, str], list[float]] = {}
    for point in points:
        for client, (_, measured) in (point.get("rtts") or {}).items():
            values = found.setdefault((point["network"], client), [])
            if measured is not None and measured not in values:
                values.append(measured)
    return found


def network_section(points: Iterable[Mapping[str, Any]]) -> str:
    rows = []
    listed = list(points)
    wanted = {
        (point["network"], client): values[0]
        for point in listed
        for client, values in (point.get("rtts") or {}).items()
    }
    for (profile, client), values in sorted(measured_rtts(listed).items()):
        shown = (
            f"{min(values):.2f}–{max(values):.2f} ({len(values)} measurements)"
            if len(values) > 1
            else f"{values[0]:.2f}"
            if values
            else "-"
        )
        rows.append([profile, client, f"{wanted[(profile, client)]:.1f}", shown])
    if not rows:
        return ""
    headers = [
        "network profile",
        "client",
        "expected RTT (ms)",
        "measured RTT (ms, median of 5 pings)",
    ]
    return (
        "<h3>Network conditions: round trips to the server</h3>"
        "<p class=\"note\">Measured from each client before a profile's first point; a profile's"
        " points fail when a client is off by more than 10 % (1 ms at least).</p>"
        + table(headers, rows, numeric=(2, 3))
    )
