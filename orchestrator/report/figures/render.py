"""Drawing a report figure with matplotlib (Agg, no display, no global pyplot state).

    png = render(figure)              # bytes of a PNG
    svg = render(figure, "svg")       # the same figure as SVG (vector, for papers)

A THROUGHPUT figure (the paper's Figures 1-7): the server's results are lines through the mean
of the runs that measured it (ok or saturated) at each rate, with 95 % CI error bars where there
are repetitions; a rate where the server saturated (at its cores' limit, short of the offered
rate) is marked with a black edge on the line, and each curve's measured knee (its saturation
rate, `Curve.saturation`) is a dashed vertical line in its colour, its rate in the legend. Runs
where the load generators were the bottleneck (client-limited) are hollow markers and failed
runs crosses, never joined to the line: they are not the server's result. The clients' ceiling
(the sweep's client-capacity record: from the most they kept up with or issued to the lowest
rate they fell behind at) is a grey band. A dotted diagonal is "replies = requests". The other
kinds are drawn by `panels` (cost, clients) and `bars` (idle degradation, repetitions).
"""

from __future__ import annotations

import io

from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure as MplFigure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from orchestrator.report.analysis.data import Curve
from orchestrator.report.analysis.layout import CLIENT, COST, IDLE_BARS, THROUGHPUT, Figure
from orchestrator.report.analysis.ordering import accept_order
from orchestrator.report.figures import bars, panels
from orchestrator.report.figures.style import (
    ACCEPT_STYLES,
    CEILING_ALPHA,
    CEILING_COLOUR,
    COLOURS,
    DPI,
    KNEE_STYLE,
    MARKERS,
    SATURATED_EDGE,
    SIZE,
)


def render(figure: Figure, fmt: str = "png") -> bytes:
    """The figure as a PNG (or `fmt`: "svg")."""
    canvas = FigureCanvasAgg(MplFigure(figsize=SIZE, dpi=DPI))
    mpl = canvas.figure
    if figure.kind == THROUGHPUT:
        _throughput(mpl, figure)
    elif figure.kind in (COST, CLIENT):
        panels.draw(mpl, figure)
    elif figure.kind == IDLE_BARS:
        bars.idle_bars(mpl, figure)
    else:
        bars.repetitions(mpl, figure)
    mpl.tight_layout(rect=panels.LEGEND_SPACE if figure.kind in (COST, CLIENT) else None)
    buffer = io.BytesIO()
    mpl.savefig(buffer, format=fmt, metadata=_metadata(fmt))
    return buffer.getvalue()


def _metadata(fmt: str) -> dict[str, str | None]:
    """No creation date: the same sweep draws the same files."""
    return {"Date": None} if fmt == "svg" else {}


def _throughput(mpl: MplFigure, figure: Figure) -> None:
    axes = mpl.add_subplot()
    limits = sorted({c.accept_limit for c in figure.curves}, key=accept_order)
    networks = sorted({c.network for c in figure.curves})  # WAN profiles: a line style each
    highest = 0.0
    for curve in figure.curves:
        variant = limits.index(curve.accept_limit) + networks.index(curve.network)
        style = ACCEPT_STYLES[variant % len(ACCEPT_STYLES)]
        highest = max(highest, _draw(axes, curve, figure.accept_variants, style))
    rates = [p.rate for c in figure.curves for p in c.points]
    top = max([*rates, highest, 1.0])
    _ceiling(axes, figure, top)
    axes.plot([0, top], [0, top], ":", color="#999999", linewidth=1, zorder=0)
    axes.set_xlim(0, top * 1.05)
    axes.set_ylim(0, top * 1.05)
    axes.set_xlabel("Requests/s (offered)")
    axes.set_ylabel("Replies/s")
    axes.set_title(
        f"Figure {figure.number}. {figure.title}\n({figure.caption_source})", fontsize=10
    )
    axes.grid(True, color="#e5e5e5")
    axes.legend(handles=_legend(axes, figure), fontsize=8, loc="upper left")
    note = (
        "single runs: no error bars"
        if figure.single_runs
        else f"mean ± 95 % CI (Student t) of up to {figure.runs_per_point} runs"
    )
    mpl.text(0.99, 0.01, note, ha="right", va="bottom", fontsize=8, color="#555555")


def _draw(axes: Axes, curve: Curve, with_accept: bool, style: str) -> float:
    """Draw one curve; return the highest reply rate drawn."""
    colour = COLOURS.get(curve.mechanism, "#333333")
    marker = MARKERS.get(curve.mechanism, "o")
    label = curve.label + (f" accept={curve.accept_limit}" if with_accept else "")
    knee = curve.saturation.estimate
    if knee is not None:
        label += f" (knee {knee.mean:,.0f})"
        axes.axvline(knee.mean, color=colour, linestyle=KNEE_STYLE, linewidth=1, alpha=0.7)
    xs, ys, errors = [], [], []
    saturated_x, saturated_y = [], []
    highest = 0.0
    for point in curve.points:
        reply = point.reply
        if reply is not None:
            xs.append(point.rate)
            ys.append(reply.mean)
            errors.append(reply.half_width or 0.0)
            highest = max(highest, reply.high or reply.mean)
            if point.with_status("saturated"):
                saturated_x.append(point.rate)
                saturated_y.append(reply.mean)
    if xs:
        axes.errorbar(
            xs,
            ys,
            yerr=errors if any(errors) else None,
            fmt=style,
            marker=marker,
            color=colour,
            label=label,
            capsize=3,
            markersize=6,
            linewidth=1.5,
        )
    if saturated_x:  # the server's own result at its limit: on the line, filled, black-edged
        axes.scatter(
            saturated_x,
            saturated_y,
            marker=marker,
            s=70,
            color=colour,
            edgecolors=SATURATED_EDGE,
            linewidths=1.5,
            zorder=4,
        )
    for point in curve.points:
        for run in point.with_status("client-limited"):
            if run.reply_rate is not None:
                axes.scatter(
                    [point.rate],
                    [run.reply_rate],
                    marker=marker,
                    s=50,
                    linewidths=1.5,
                    facecolors="none",
                    edgecolors=colour,
                    zorder=3,
                )
                highest = max(highest, run.reply_rate)
        for run in point.with_status("failed"):
            y = run.reply_rate or 0.0
            axes.scatter([point.rate], [y], marker="x", s=50, color=colour, zorder=3)
            highest = max(highest, y)
    return highest


def _ceiling(axes: Axes, figure: Figure, top: float) -> None:
    """The clients' ceiling as a grey band over the offered rates it lies in (see `reach`), when
    the clients fell behind somewhere in the sweep; cut at the figure's right edge."""
    ceiling = figure.clients.ceiling if figure.clients is not None else None
    low, high = ceiling or (0.0, None)
    if high is None:
        return
    axes.axvspan(
        min(low, top * 1.05),
        min(max(high, low + top * 0.005), top * 1.05),
        color=CEILING_COLOUR,
        alpha=CEILING_ALPHA,
        linewidth=0,
        zorder=0,
    )


def _legend(axes: Axes, figure: Figure) -> list[Artist]:
    handles: list[Artist]
    handles, _ = axes.get_legend_handles_labels()
    statuses = {run.status for c in figure.curves for p in c.points for run in p.runs}
    if "saturated" in statuses:
        handles.append(
            Line2D(
                [],
                [],
                marker="o",
                linestyle="",
                color="#555555",
                markeredgecolor=SATURATED_EDGE,
                markeredgewidth=1.5,
                label="saturated (the server at its cores' limit)",
            )
        )
    if any(c.saturation.estimate is not None for c in figure.curves):
        handles.append(
            Line2D(
                [], [], linestyle=KNEE_STYLE, color="#555555", label="measured knee (saturation)"
            )
        )
    ceiling = figure.clients.ceiling if figure.clients is not None else None
    low, high = ceiling or (0.0, None)
    if high is not None:
        handles.append(
            Patch(
                facecolor=CEILING_COLOUR,
                alpha=CEILING_ALPHA,
                label=f"clients' ceiling ({low:,.0f}-{high:,.0f} requests/s offered)",
            )
        )
    if "client-limited" in statuses:
        handles.append(
            Line2D(
                [],
                [],
                marker="o",
                linestyle="",
                markerfacecolor="none",
                color="#555555",
                label="client-limited run (not the server's result)",
            )
        )
    if "failed" in statuses:
        handles.append(
            Line2D([], [], marker="x", linestyle="", color="#555555", label="failed run")
        )
    handles.append(Line2D([], [], linestyle=":", color="#999999", label="replies = requests"))
    return handles
