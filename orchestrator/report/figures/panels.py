"""Figures of a per-point metric against the offered rate, one line per mechanism, one panel per
metric: the server's cost (COST) and what the clients saw (CLIENT).

    COST    CPU per reply (µs), CPU utilisation (% of one CPU), events returned per wait
    CLIENT  httperf's response time and connection-time median (ms), errors and timeouts (%)

Each point is the mean of the ok runs at that rate with its 95 % CI (Student t) as error bars
when there are repetitions; client-limited and failed runs are left out, as in the throughput
figures. `PANELS` says which metric each panel draws, so the CSV beside a figure has the same
columns (`series`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from matplotlib.axes import Axes
from matplotlib.figure import Figure as MplFigure

from orchestrator.report.analysis.data import Curve
from orchestrator.report.analysis.layout import COST, Figure
from orchestrator.report.analysis.pointmetrics import (
    CONNECTION_MEDIAN,
    CPU_PER_REPLY,
    ERROR_RATE,
    EVENTS_PER_WAIT,
    RESPONSE_TIME,
    TIMEOUT_RATE,
    UTILISATION,
)
from orchestrator.report.figures.style import colour, marker


@dataclass(frozen=True)
class Series:
    """One metric drawn in a panel: `scale` turns stored values into the axis' unit."""

    metric: str
    label: str
    scale: float = 1.0
    style: str = "-"


@dataclass(frozen=True)
class Panel:
    title: str
    unit: str
    series: tuple[Series, ...]


PANELS = {
    COST: (
        Panel("Server CPU per reply", "µs", (Series(CPU_PER_REPLY, "CPU per reply"),)),
        Panel("Server CPU utilisation", "% of one CPU", (Series(UTILISATION, "CPU", 100.0),)),
        Panel("Events returned per wait", "events", (Series(EVENTS_PER_WAIT, "per wait"),)),
    ),
    "client": (
        Panel(
            "Response and connection time",
            "ms",
            (
                Series(RESPONSE_TIME, "mean response time (solid)"),
                Series(CONNECTION_MEDIAN, "connection time, median (dashed)", style="--"),
            ),
        ),
        Panel(
            "Errors and timeouts per connection",
            "%",
            (
                Series(ERROR_RATE, "errors (solid)", 100.0),
                Series(TIMEOUT_RATE, "client timeouts (dotted)", 100.0, ":"),
            ),
        ),
    ),
}


def series(figure: Figure) -> list[Series]:
    """Every metric the figure draws, in panel order."""
    return [s for panel in PANELS[figure.kind] for s in panel.series]


LEGEND_SPACE = (0.0, 0.07, 1.0, 1.0)  # the area tight_layout may use: the legend goes below


def draw(mpl: MplFigure, figure: Figure) -> None:
    panels = PANELS[figure.kind]
    axes_list = mpl.subplots(1, len(panels), squeeze=False)[0]
    for axes, panel in zip(axes_list, panels, strict=True):
        drawn = any([_line(axes, curve, s) for curve in figure.curves for s in panel.series])
        axes.set_title(panel.title, fontsize=9)
        axes.set_xlabel("Requests/s (offered)", fontsize=8)
        axes.set_ylabel(panel.unit, fontsize=8)
        axes.tick_params(labelsize=7)
        axes.grid(True, color="#e5e5e5")
        axes.set_ylim(bottom=0)
        if not drawn:
            axes.text(0.5, 0.5, "not stored", ha="center", va="center", transform=axes.transAxes)
        if len(panel.series) > 1:
            axes.text(
                0.02,
                0.98,
                "\n".join(s.label for s in panel.series),
                transform=axes.transAxes,
                va="top",
                fontsize=7,
                color="#555555",
            )
    handles, labels = axes_list[0].get_legend_handles_labels()
    if handles:  # below the panels, where it hides no data
        mpl.legend(handles, labels, loc="lower center", ncol=min(len(handles), 7), fontsize=7)
    mpl.suptitle(f"Figure {figure.number}. {figure.title} ({figure.caption_source})", fontsize=10)


def _line(axes: Axes, curve: Curve, item: Series) -> bool:
    xs, ys, errors = [], [], []
    for point in curve.points:
        value = point.metric(item.metric)
        if value is not None:
            xs.append(point.rate)
            ys.append(value.mean * item.scale)
            errors.append((value.half_width or 0.0) * item.scale)
    if not xs:
        return False
    axes.errorbar(
        xs,
        ys,
        yerr=errors if any(errors) else None,
        fmt=item.style,
        marker=marker(curve.mechanism),
        color=colour(curve.mechanism),
        label=curve.label if item.style == "-" else None,
        capsize=2,
        markersize=4,
        linewidth=1.2,
    )
    return True


def rows(figure: Figure) -> list[list[object]]:
    """The figure's data: one row per curve, rate and metric (see write.METRIC_COLUMNS)."""
    found: list[list[object]] = []
    for curve in figure.curves:
        for point in curve.points:
            for item in series(figure):
                value = point.metric(item.metric)
                found.append(
                    [
                        figure.number,
                        curve.mechanism,
                        curve.accept_limit,
                        point.rate,
                        item.metric,
                        len(point.values(item.metric)),
                        *(_interval(value)),
                        " ".join(r.key for r in point.ok),
                    ]
                )
    return found


def _interval(value: object) -> Sequence[float | None]:
    if value is None:
        return [None, None, None]
    return [value.mean, value.low, value.high]  # type: ignore[attr-defined]
