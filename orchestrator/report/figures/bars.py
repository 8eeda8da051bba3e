"""Two figures beyond the paper: the idle-connection degradation as bars, and each repetition's
reply rates as a scatter.

    idle_bars(mpl, figure)     peak with / without idle connections, and CPU per reply with /
                               without at the highest common rate, per mechanism, 95 % CIs
    repetitions(mpl, figure)   every run's reply rate against the offered rate

A peak ratio whose curve with idle connections did not saturate is only a bound (the rates did
not reach the server's limit): its bar is hatched. The CPU-per-reply ratio needs no saturation.
"""

from __future__ import annotations

from dataclasses import dataclass

from matplotlib.axes import Axes
from matplotlib.figure import Figure as MplFigure

from orchestrator.report.analysis.costs import at_top, cost_comparisons
from orchestrator.report.analysis.findings import THRESHOLD, idle_degradation
from orchestrator.report.analysis.layout import Figure
from orchestrator.report.figures.style import colour, marker


@dataclass(frozen=True)
class Bar:
    """One mechanism's ratio with idle connections against without, with its 95 % CI."""

    label: str  # "one-byte, select, 1,000 idle"
    mechanism: str
    measure: str  # "peak" or "cpu per reply"
    ratio: float
    low: float | None
    high: float | None
    bound: bool  # a peak whose curve did not saturate: a bound, not a measurement
    rate: float | None  # the offered rate of a CPU-per-reply ratio


def idle_bar_data(figure: Figure) -> list[Bar]:
    """The bars of the idle-degradation figure, peaks first then CPU per reply."""
    rows = idle_degradation(figure.curves)
    bars = []
    for row in rows:
        label = f"{row.workload}, {row.without.label}, {row.idle_connections:,} idle"
        change = row.change
        if change is not None and change.relative is not None:
            low = None if change.low is None else 1 + change.low
            high = None if change.high is None else 1 + change.high
            bound = not row.with_idle.saturated
            bars.append(
                Bar(label, row.mechanism, "peak", 1 + change.relative, low, high, bound, None)
            )
    for row in rows:
        label = f"{row.workload}, {row.without.label}, {row.idle_connections:,} idle"
        top = at_top(cost_comparisons(row.without, row.with_idle, THRESHOLD))
        relative = top.change.relative if top is not None else None
        if top is not None and relative is not None:
            c = top.change
            low = None if c.low is None else 1 + c.low
            high = None if c.high is None else 1 + c.high
            bars.append(
                Bar(
                    label,
                    row.mechanism,
                    "cpu per reply",
                    1 + relative,
                    low,
                    high,
                    False,
                    top.rate,
                )
            )
    return bars


def idle_bars(mpl: MplFigure, figure: Figure) -> None:
    bars = idle_bar_data(figure)
    panels = [
        ("peak", "Peak reply rate, with / without idle"),
        ("cpu per reply", "CPU per reply, with / without idle\n(at the highest common rate)"),
    ]
    axes_list = mpl.subplots(1, 2, squeeze=False)[0]
    for axes, (measure, title) in zip(axes_list, panels, strict=True):
        _bars(axes, [b for b in bars if b.measure == measure], title)
    mpl.suptitle(f"Figure {figure.number}. {figure.title} ({figure.caption_source})", fontsize=10)


def _bars(axes: Axes, bars: list[Bar], title: str) -> None:
    positions = list(range(len(bars)))
    for x, bar in zip(positions, bars, strict=True):
        error = None
        if bar.low is not None and bar.high is not None:
            error = [[bar.ratio - bar.low], [bar.high - bar.ratio]]
        axes.bar(
            x,
            bar.ratio,
            color="none" if bar.bound else colour(bar.mechanism),
            edgecolor=colour(bar.mechanism),
            hatch="//" if bar.bound else None,
            yerr=error,
            capsize=3,
        )
    axes.axhline(1.0, color="#555555", linewidth=1, linestyle=":")
    axes.set_xticks(positions, [b.label for b in bars], rotation=30, ha="right", fontsize=7)
    axes.set_title(title, fontsize=9)
    axes.set_ylabel("ratio (1 = unaffected)", fontsize=8)
    axes.grid(True, axis="y", color="#e5e5e5")
    if not bars:
        axes.text(0.5, 0.5, "not stored", ha="center", va="center", transform=axes.transAxes)
    elif any(b.bound for b in bars):
        axes.text(
            0.02,
            0.98,
            "hatched: did not saturate with idle connections (a bound)",
            transform=axes.transAxes,
            va="top",
            fontsize=7,
            color="#555555",
        )


def repetitions(mpl: MplFigure, figure: Figure) -> None:
    axes = mpl.add_subplot()
    count = max((len(c.repetitions) for c in figure.curves), default=1)
    top = 1.0
    for index, curve in enumerate(figure.curves):
        labelled = False
        for run in curve.runs:
            if run.reply_rate is None or run.status == "failed":
                continue
            offset = (index - len(figure.curves) / 2) * 0.004 * run.target_rate
            limited = run.status == "client-limited"
            axes.scatter(
                [run.target_rate + offset],
                [run.reply_rate],
                marker=marker(curve.mechanism),
                s=22,
                facecolors="none" if limited else colour(curve.mechanism),
                edgecolors=colour(curve.mechanism),
                label=None if labelled else curve.label,
            )
            labelled = True
            top = max(top, run.reply_rate, run.target_rate)
    axes.plot([0, top], [0, top], ":", color="#999999", linewidth=1, zorder=0)
    axes.set_xlabel("Requests/s (offered)")
    axes.set_ylabel("Replies/s, each run")
    axes.set_title(
        f"Figure {figure.number}. {figure.title} ({figure.caption_source})\n"
        f"up to {count} repetitions per rate; hollow: client-limited",
        fontsize=10,
    )
    axes.grid(True, color="#e5e5e5")
    axes.legend(fontsize=8, loc="upper left")


def repetition_rows(figure: Figure) -> list[list[object]]:
    """One row per run drawn (see write.RUN_COLUMNS)."""
    return [
        [
            figure.number,
            c.mechanism,
            c.accept_limit,
            r.target_rate,
            r.repetition,
            r.status,
            r.reply_rate,
            r.key,
        ]
        for c in figure.curves
        for r in c.runs
    ]


def bar_rows(figure: Figure) -> list[list[object]]:
    """One row per bar (see write.BAR_COLUMNS)."""
    return [
        [figure.number, b.label, b.mechanism, b.measure, b.ratio, b.low, b.high, b.bound, b.rate]
        for b in idle_bar_data(figure)
    ]
