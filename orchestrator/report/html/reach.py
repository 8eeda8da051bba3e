"""The report page's section on how far the curves reached: the clients' capacity, and where the
knee search ended each curve and why (the numbers come from `analysis.reach`).

    html = reach_section(data.settings, knee=True)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from markupsafe import Markup

from orchestrator.report.analysis.data import BUSY_PERCENT, TRACKING_PERCENT
from orchestrator.report.analysis.reach import describe_capacity, ending_rows
from orchestrator.report.html.kit import render, table


def reach_section(settings: Mapping[str, Any], knee: bool) -> Markup:
    """The report's section: the clients' capacity, and each curve's ending (knee search)."""
    endings: Markup | str = ""
    if knee:
        repetitions, rows = ending_rows(settings)
        headers = ["workload", "idle", "accept-limit", "mechanism", *repetitions]
        endings = table(headers, rows)
    return render(
        "reach.html",
        busy=f"{BUSY_PERCENT:.0f}",
        tracking=f"{TRACKING_PERCENT:.0f}",
        capacity=describe_capacity(settings.get("client_capacity")),
        knee=knee,
        endings=endings,
    )
