"""The report page's note on servers without counters of their own: which columns each lacks
(`analysis.servernotes.lacking`), said rather than shown as zeros.

    html = servers_note(data)      # '' when every server has them all
"""

from __future__ import annotations

from markupsafe import Markup

from orchestrator.report.analysis.servernotes import COLUMN_NAMES, lacking
from orchestrator.report.analysis.sweep import SweepData
from orchestrator.report.html.kit import render


def servers_note(data: SweepData) -> Markup:
    """A paragraph per server lacking columns, or nothing when every server has them all."""
    servers = [
        (server, ", ".join(COLUMN_NAMES.get(column, column) for column in columns))
        for server, columns in lacking(data).items()
    ]
    return render("servers.html", servers=servers)
