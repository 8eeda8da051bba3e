"""The report page's figures: each embedded as a PNG, with its SVG and CSV linked beside it, and
under each throughput figure its curves' peaks and saturation, under each cost figure the CPU
per reply at every rate (with the *projected* capacity, labelled as such).

    html = figures_section(report, pngs={"figure-1-one-byte-idle0": b"\\x89PNG..."})
"""

from __future__ import annotations

from collections.abc import Mapping

from orchestrator.report.build import Report
from orchestrator.report.costs import projected_capacity
from orchestrator.report.htmlkit import data_uri, esc, table
from orchestrator.report.layout import CLIENT, COST, IDLE_BARS, REPETITIONS, THROUGHPUT, Figure
from orchestrator.report.pointmetrics import CPU_PER_REPLY

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


def figures_section(report: Report, pngs: Mapping[str, bytes]) -> str:
    parts = [
        '<h2 id="figures">Figures</h2><p class="note">Figures 1-7 show what the paper\'s Figures '
        "1-7 show, from what this sweep measured (a figure with no curve here is left out); "
        "Figures A1, A2, ... go beyond the paper. Beside each: its SVG (vector) and the CSV of "
        "what it draws.</p>"
    ]
    for figure in report.figures:
        png = pngs.get(figure.stem)
        image = (
            f'<img src="{data_uri(png)}" alt="Figure {esc(figure.number)}: {esc(figure.title)}"'
            ' width="800" height="500">'
            if png
            else ""
        )
        links = " · ".join(
            f'<a href="{esc(figure.stem)}.{ext}">{ext.upper()}</a>' for ext in ("png", "svg", "csv")
        )
        parts.append(
            f'<figure id="figure-{esc(figure.number)}">{image}<figcaption><b>Figure '
            f"{esc(figure.number)}.</b> {esc(figure.title)}: {esc(WHAT[figure.kind])} "
            f"({esc(figure.caption_source)}). {esc(_runs_note(figure))} {links}"
            "</figcaption></figure>"
        )
        if figure.kind == THROUGHPUT:
            parts.append(_curve_table(figure))
        elif figure.kind == COST:
            parts.append(_cost_table(figure))
    return "\n".join(parts)


def _runs_note(figure: Figure) -> str:
    if figure.kind in (IDLE_BARS, REPETITIONS):
        return ""
    if figure.single_runs:
        return "Single runs: each point is one measurement, without a confidence interval."
    return (
        f"Each point is the mean of up to {figure.runs_per_point} runs with its 95 % confidence"
        " interval (Student t)."
    )


def _curve_table(figure: Figure) -> str:
    rows = []
    for curve in figure.curves:
        peak = curve.peak
        runs = curve.runs
        rows.append(
            [
                curve.label + (f" accept={curve.accept_limit}" if figure.accept_variants else ""),
                peak.text() if peak else "no ok run",
                curve.saturation.text(),
                str(len(runs)),
                str(sum(1 for r in runs if r.status == "saturated")),
                str(sum(1 for r in runs if r.status == "client-limited")),
                str(sum(1 for r in runs if r.status == "failed")),
            ]
        )
    headers = [
        "curve",
        "peak replies/s (measured)",
        "saturation (requests/s)",
        "runs",
        "saturated",
        "client-limited",
        "failed",
    ]
    ceiling = f'<p class="note">{esc(_ceiling_note(figure))}</p>' if figure.clients else ""
    return table(headers, rows, numeric=(3, 4, 5, 6)) + ceiling


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


def _cost_table(figure: Figure) -> str:
    rates = sorted({p.rate for c in figure.curves for p in c.points})
    rows = []
    for curve in figure.curves:
        by_rate = {p.rate: p.metric(CPU_PER_REPLY) for p in curve.points}
        cells = [
            value.text(1) if (value := by_rate.get(rate)) is not None else "-" for rate in rates
        ]
        projected = projected_capacity(curve)
        rows.append(
            [
                curve.label,
                *cells,
                f"{projected[1].text()} (from {projected[0]:,.0f})" if projected else "-",
            ]
        )
    headers = [
        "CPU µs per reply at",
        *(f"{rate:,.0f}/s" for rate in rates),
        "projected capacity, replies/s (1 / CPU per reply; not measured)",
    ]
    return (
        table(headers, rows, numeric=range(1, len(headers)))
        + '<p class="note">The <i>projected</i> capacity is one CPU over the CPU per reply at the'
        " curve's highest rate: an extrapolation (the cost per reply changes with the rate as "
        "batching changes), never a measured peak, and never compared with one.</p>"
    )
