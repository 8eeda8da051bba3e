"""The report page's figures: each embedded as a PNG, with its SVG and CSV linked beside it, and
under each throughput figure its curves' peaks and saturation, under each cost figure the CPU
per reply at every rate (with the *projected* capacity, labelled as such).

    html = figures_section(report, pngs={"figure-1-one-byte-idle0": b"\\x89PNG..."})
"""

from __future__ import annotations

from collections.abc import Mapping

from markupsafe import Markup

from orchestrator.report.analysis.build import Report
from orchestrator.report.analysis.costs import cost_table
from orchestrator.report.analysis.layout import (
    CLIENT,
    COST,
    IDLE_BARS,
    REPETITIONS,
    THROUGHPUT,
    Figure,
)
from orchestrator.report.html.kit import data_uri, render, table

WHAT = {
    THROUGHPUT: "reply rate against offered request rate",
    COST: (
        "the server's CPU per reply (its CPU seconds over the replies it sent in the same "
        "window), its CPU utilisation (of one CPU) and the events each wait returned, against the"
        " offered rate. Below saturation these tell the mechanisms apart where reply rates cannot"
    ),
    CLIENT: (
        "what the load generator saw (httperf or tbload, as the caption says; both print "
        "httperf's summary): its mean response time (request sent to the first byte of the reply)"
        " and the median of its per-process connection-time medians (the summary has no "
        "percentiles, and a median cannot be merged across processes), and its errors and "
        "client timeouts per connection attempted, against the offered rate"
    ),
    IDLE_BARS: (
        "each mechanism's peak reply rate with idle connections over its peak without, and its "
        "CPU per reply with idle connections over without at the highest rate both measured; "
        "error bars are the 95 % CI of the change (Welch t)"
    ),
    REPETITIONS: "every run's reply rate, so the spread between repetitions shows",
}


def figures_section(report: Report, pngs: Mapping[str, bytes]) -> Markup:
    figures = []
    for figure in report.figures:
        png = pngs.get(figure.stem)
        figures.append(
            {
                "number": figure.number,
                "title": figure.title,
                "stem": figure.stem,
                "image": data_uri(png) if png else "",
                "what": WHAT[figure.kind],
                "source": figure.caption_source,
                "runs": _runs_note(figure),
                "table": _table(figure),
            }
        )
    return render("figures.html", figures=figures)


def _table(figure: Figure) -> Markup | str:
    if figure.kind == THROUGHPUT:
        return _curve_table(figure)
    if figure.kind == COST:
        return _cost_table(figure)
    return ""


def _runs_note(figure: Figure) -> str:
    if figure.kind in (IDLE_BARS, REPETITIONS):
        return ""
    if figure.single_runs:
        return "Single runs: each point is one measurement, without a confidence interval."
    return (
        f"Each point is the mean of up to {figure.runs_per_point} runs with its 95 % confidence"
        " interval (Student t)."
    )


CURVE_HEADERS = [
    "curve",
    "peak replies/s (measured)",
    "saturation (requests/s)",
    "runs",
    "saturated",
    "client-limited",
    "failed",
]


def _curve_table(figure: Figure) -> Markup:
    rows = []
    for curve in figure.curves:
        peak = curve.peak
        counts = curve.status_counts
        rows.append(
            [
                curve.label + (f" accept={curve.accept_limit}" if figure.accept_variants else ""),
                peak.text() if peak else "no ok run",
                curve.saturation.text(),
                str(len(curve.runs)),
                *(str(counts.get(s, 0)) for s in ("saturated", "client-limited", "failed")),
            ]
        )
    return render(
        "curve_table.html",
        table=table(CURVE_HEADERS, rows, numeric=(3, 4, 5, 6)),
        ceiling=_ceiling_note(figure) if figure.clients else "",
    )


def _ceiling_note(figure: Figure) -> str:
    """What the figure's grey band is (the clients' ceiling, drawn when they fell behind
    somewhere), and what it rests on."""
    assert figure.clients is not None
    ceiling = figure.clients.ceiling
    band = (
        "Grey band: the clients' ceiling, the offered rates from the most they kept up with (or"
        " issued) to the lowest they fell behind at, their server having headroom; saturated"
        " points (black-edged, on the line: the server at its cores' limit) are the server's"
        " knee, not theirs. "
        if ceiling is not None and ceiling[1] is not None
        else ""
    )
    return f"{band}The clients' capacity: {figure.clients.describe()}."


def _cost_table(figure: Figure) -> Markup:
    rates, costs = cost_table(figure.curves)
    rows = [
        [
            row.label,
            *(value.text(1) if value is not None else "-" for value in row.cpu_per_reply),
            f"{row.projected[1].text()} (from {row.projected[0]:,.0f})" if row.projected else "-",
        ]
        for row in costs
    ]
    headers = [
        "CPU µs per reply at",
        *(f"{rate:,.0f}/s" for rate in rates),
        "projected capacity, replies/s (1 / CPU per reply; not measured)",
    ]
    return render("cost_table.html", table=table(headers, rows, numeric=range(1, len(headers))))
