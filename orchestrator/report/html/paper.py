"""The paper beside us, on the report page: its Table 1 column by column next to our profile,
and each figure's headline number next to ours.

    html = paper_table1(report.table1_paper)   # inside the Table 1 section
    html = paper_section(report)               # the section "The paper beside us"

Every number is computed in `beside`; this module only lays out and escapes.
"""

from __future__ import annotations

from orchestrator.report.beside import CALL, OURS_ONLY, ROLE, TOTAL, Table1Beside
from orchestrator.report.build import Report
from orchestrator.report.data import MECHANISM_LABELS
from orchestrator.report.htmlkit import esc, table
from orchestrator.report.paper import TABLE1_RATE, TABLE1_WORKLOAD


def paper_table1(beside: Table1Beside) -> str:
    """The paper's Table 1 beside ours: per mechanism, the paper's share and ours."""
    ours = beside.ours if not beside.missing else None
    head = (
        "<h3>The paper's Table 1 beside ours</h3><p class=note>The paper's gprof profile ("
        f"{esc(TABLE1_WORKLOAD)}, no idle connections, {TABLE1_RATE:,.0f} requests/s, % of the "
        "run time; its table leaves out calls and functions that contributed little) and ours "
        "(% of the server's CPU seconds"
        + (
            f", {esc(TABLE1_WORKLOAD)}, no idle connections, {ours.rate:,.0f} requests/s, from "
            f"the {esc(ours.source)}"
            if ours is not None and ours.rate is not None
            else ""
        )
        + '). "-": the call is not made. Our server accepts with accept4 (which sets '
        "O_NONBLOCK: no fcntl) and sends a small reply with one sendmsg where the µserver "
        "corked the socket (setsockopt), wrote the header and called sendfile: the second "
        "table compares what the calls are for. Data: table1-paper.csv.</p>"
    )
    if ours is None:
        head += f'<p class="notice">Ours: {esc(beside.missing)}.</p>'
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
    return (
        head
        + table(headers, calls, numeric=numeric)
        + "<p class=note>By what the calls are for (the paper's rows and ours that do the same "
        "work, summed).</p>" + table(["what the calls do", *headers[1:]], roles, numeric=numeric)
    )


def paper_section(report: Report) -> str:
    """Each figure's headline number from the paper's text beside ours."""
    rows = [[h.source, h.claim, h.paper, h.ours, h.runs or "-"] for h in report.paper]
    classes = ["" if h.measured else "unmeasured-row" for h in report.paper]
    return (
        '<h2 id="paper">The paper beside us</h2><p class="note">Each figure\'s headline number '
        "as the paper's text states it (nothing is read off its curves), beside ours from this "
        "sweep, with the runs ours rest on (a comparison of two peaks: the runs at each peak). "
        "A peak of a curve that did not saturate is the highest rate it served, a lower bound, "
        "and says so. The paper's verdicts on these claims are judged above (the paper's "
        "findings, checked); this table only sets the numbers side by side. Data: "
        '<a href="paper.csv">paper.csv</a>.</p>'
        + table(["paper", "what", "the paper", "ours", "runs"], rows, row_classes=classes)
    )


def _percent(value: float | None) -> str:
    return f"{value:.2f}" if value is not None else "-"


def _label(mechanism: str) -> str:
    return MECHANISM_LABELS.get(mechanism, mechanism)
