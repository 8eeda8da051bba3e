"""The paper beside us, on the report page: its Table 1 column by column next to our profile,
and each figure's headline number next to ours.

    html = paper_table1(report.table1_paper)   # inside the Table 1 section
    html = paper_section(report)               # the section "The paper beside us"

Every number is computed in `beside`; this module only lays out and escapes.
"""

from __future__ import annotations

from markupsafe import Markup

from orchestrator.report.analysis.beside import CALL, OURS_ONLY, ROLE, TOTAL, Table1Beside
from orchestrator.report.analysis.build import Report
from orchestrator.report.analysis.data import MECHANISM_LABELS
from orchestrator.report.analysis.paper import TABLE1_RATE, TABLE1_WORKLOAD
from orchestrator.report.html.kit import render, table


def paper_table1(beside: Table1Beside) -> Markup:
    """The paper's Table 1 beside ours: per mechanism, the paper's share and ours."""
    ours = beside.ours if not beside.missing else None
    mechanisms = beside.mechanisms
    headers = ["system call"]
    for mechanism in mechanisms:
        headers.append(f"{_label(mechanism)}: paper")
        if ours is not None:
            headers.append(f"{_label(mechanism)}: ours")

    def line(name: str, row_shares: dict[str, tuple[float | None, float | None]]) -> list[str]:
        cells = [name]
        for mechanism in mechanisms:
            theirs, mine = row_shares[mechanism]
            cells.append(_percent(theirs))
            if ours is not None:
                cells.append(_percent(mine))
        return cells

    calls, roles = [], []
    for row in beside.rows:
        shares = {m: (s.paper, s.ours) for m, s in row.shares.items()}
        if row.kind == CALL:
            ours_name = row.ours_as[0]
            name = row.name if ours_name == row.name else f"{row.name} (ours: {ours_name})"
            calls.append(line(name, shares))
        elif row.kind == OURS_ONLY:
            calls.append(line(f"{row.name} (ours only)", shares))
        elif row.kind == TOTAL:
            calls.append(line("all listed calls", shares))
        elif row.kind == ROLE:
            roles.append(line(row.name, shares))
    if ours is not None:
        runs = ["runs (ours)"]
        for mechanism in mechanisms:
            runs += ["", str(beside.runs(mechanism) or "-")]
        calls.append(runs)
    numeric = range(1, len(headers))
    return render(
        "paper_table1.html",
        workload=TABLE1_WORKLOAD,
        paper_rate=f"{TABLE1_RATE:,.0f}",
        ours_rate=f"{ours.rate:,.0f}" if ours is not None and ours.rate is not None else "",
        ours_source=ours.source if ours is not None else "",
        missing=beside.missing if ours is None else "",
        calls=table(headers, calls, numeric=numeric),
        roles=table(["what the calls do", *headers[1:]], roles, numeric=numeric),
    )


def paper_section(report: Report) -> Markup:
    """Each figure's headline number from the paper's text beside ours."""
    rows = [[h.source, h.claim, h.paper, h.ours, h.runs or "-"] for h in report.paper]
    classes = ["" if h.measured else "unmeasured-row" for h in report.paper]
    headers = ["paper", "what", "the paper", "ours", "runs"]
    return render("paper.html", table=table(headers, rows, row_classes=classes))


def _percent(value: float | None) -> str:
    return f"{value:.2f}" if value is not None else "-"


def _label(mechanism: str) -> str:
    return MECHANISM_LABELS.get(mechanism, mechanism)
