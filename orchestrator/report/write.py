"""Writing a sweep's report: `reports/<sweep-id>/` under the results directory.

    written = write_report(store, sweep_id, profile_rate=None)
    written.directory, written.report
    # index.html; per figure figure-<N>-<slug>.png, .svg and .csv (N: 1-7 as the paper's,
    # A1, A2, ... beyond it); table1-...csv, table1-paper.csv, paper.csv, curves.csv,
    # idle.csv, findings.csv, points.csv

The files are written into a fresh temporary directory and renamed into place at the end, so a
report directory is always a whole report (an older one is replaced, never mixed with).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from orchestrator.report.analysis.build import Report, build
from orchestrator.report.analysis.compare import Comparison
from orchestrator.report.analysis.costs import at_top, cost_comparisons
from orchestrator.report.analysis.data import Curve
from orchestrator.report.analysis.findings import THRESHOLD
from orchestrator.report.analysis.layout import CLIENT, COST, IDLE_BARS, THROUGHPUT, Figure
from orchestrator.report.analysis.stats import Estimate
from orchestrator.report.analysis.sweep import SweepData
from orchestrator.report.analysis.syscalls import NONE, NOT_PROFILED, SyscallTable
from orchestrator.report.html.compare import comparison_page
from orchestrator.report.html.page import report_page
from orchestrator.results import export
from orchestrator.results.records import check_sweep_id
from orchestrator.results.store import Store

REPORTS = "reports"
FIGURE_COLUMNS = (
    "figure",
    "mechanism",
    "accept_limit",
    "target_rate",
    "ok_runs",
    "reply_rate_mean",
    "reply_rate_ci_low",
    "reply_rate_ci_high",
    "reply_rate_stddev",
    "request_rate_mean",
    "client_limited_runs",
    "client_limited_reply_rates",
    "failed_runs",
    "keys",
    # beside the points, repeated on each row of the figure (later columns keep earlier places):
    "saturated_runs",  # runs where the server was at its cores' limit (in ok_runs' mean)
    "knee_rate",  # the curve's measured saturation (mean over repetitions), empty if none
    "clients_kept_up",  # the clients' ceiling, from the sweep's client-capacity record
    "clients_fell_behind",
    "clients_issued",
)


def reports_directory(store: Store) -> Path:
    """Where a store's reports go: `reports/` beside the store's file."""
    return store.path.parent / REPORTS


@dataclass(frozen=True)
class Written:
    directory: Path
    report: Report

    @property
    def index(self) -> Path:
        return self.directory / "index.html"


def write_report(
    store: Store,
    sweep_id: str,
    profile_rate: float | None = None,
    directory: Path | None = None,
) -> Written:
    """Write the report of `sweep_id` into `directory` (default: the store's reports/), in a
    directory named after the sweep (see the module docstring). The id is checked to be a name,
    also when it comes from the store: it decides what is replaced."""
    check_sweep_id(sweep_id)
    report = build(SweepData.load(store, sweep_id), profile_rate)
    target = (directory or reports_directory(store)) / sweep_id
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{sweep_id}-", dir=target.parent))
    staging.chmod(0o755)  # mkdtemp makes it private; a report is for reading
    try:
        # The page links the store relative to itself, wherever the report is written.
        store_link = os.path.relpath(store.path, target)
        write_files(report, staging, store_link=store_link)
        if target.is_symlink() or target.is_file():
            target.unlink()  # replace the link itself, never what it points to
        elif target.exists():
            shutil.rmtree(target)
        staging.rename(target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return Written(target, report)


def comparison_name(base: str, new: str) -> str:
    """The file name of a comparison's page (both ids checked to be names)."""
    return f"compare-{check_sweep_id(base, 'BASE')}--{check_sweep_id(new, 'NEW')}.html"


def write_comparison(store: Store, comparison: Comparison, directory: Path | None = None) -> Path:
    """Write a comparison's page as reports/compare-<base>--<new>.html; return its path."""
    name = comparison_name(comparison.base, comparison.new)
    directory = directory or reports_directory(store)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(comparison_page(comparison))
    return path


def write_files(report: Report, directory: Path, store_link: str | None = None) -> list[str]:
    """Every file of the report into `directory`; return their names, index.html last."""
    # matplotlib takes a second or more to import: only when drawing, not with every command.
    from orchestrator.report.figures import render as drawing

    files: dict[str, str] = {}
    pngs: dict[str, bytes] = {}
    images: list[str] = []
    for figure in report.figures:
        stem = figure.stem
        pngs[stem] = drawing.render(figure)
        (directory / f"{stem}.png").write_bytes(pngs[stem])
        (directory / f"{stem}.svg").write_bytes(drawing.render(figure, "svg"))
        images += [f"{stem}.png", f"{stem}.svg"]
        files[f"{stem}.csv"] = figure_csv(figure)
    for table in report.tables:
        name = f"table1-{table.workload}-idle{table.idle_connections}.csv"
        files[name] = export.csv_text(TABLE1_COLUMNS, table1_rows(table))
    if report.table1_paper is not None:
        files["table1-paper.csv"] = export.csv_text(PAPER_TABLE1_COLUMNS, paper_table1_rows(report))
    files["paper.csv"] = export.csv_text(
        ("paper", "what", "the_paper", "ours", "runs", "measured"),
        [[h.source, h.claim, h.paper, h.ours, h.runs, h.measured] for h in report.paper],
    )
    files["curves.csv"] = export.csv_text(CURVE_COLUMNS, curve_rows(report))
    files["idle.csv"] = export.csv_text(IDLE_COLUMNS, idle_rows(report))
    files["findings.csv"] = export.csv_text(
        ("claim", "paper", "verdict", "stated", "basis", "failed", "evidence"),
        [
            [
                f.claim,
                f.source,
                f.verdict,
                f.stated,
                " ".join(f.basis),
                *_joined(f.failed, f.evidence),
            ]
            for f in report.findings
        ],
    )
    files["points.csv"] = export.render([export.row(p) for p in report.data.points], "csv")
    for name, text in files.items():
        (directory / name).write_text(text)
    names = [*images, *files]
    (directory / "index.html").write_text(report_page(report, pngs, names, store_link))
    return [*names, "index.html"]


METRIC_COLUMNS = (
    "figure",
    "mechanism",
    "accept_limit",
    "target_rate",
    "metric",
    "ok_runs",
    "mean",
    "ci_low",
    "ci_high",
    "keys",
)
BAR_COLUMNS = (
    "figure",
    "bar",
    "mechanism",
    "measure",
    "ratio",
    "ci_low",
    "ci_high",
    "bound",
    "rate",
)
RUN_COLUMNS = (
    "figure",
    "mechanism",
    "accept_limit",
    "target_rate",
    "repetition",
    "status",
    "reply_rate",
    "key",
)


def figure_csv(figure: Figure) -> str:
    """The data a figure draws, as CSV (its columns depend on its kind)."""
    from orchestrator.report.figures import bars, panels  # they import matplotlib

    if figure.kind == THROUGHPUT:
        return export.csv_text(FIGURE_COLUMNS, figure_rows(figure))
    if figure.kind in (COST, CLIENT):
        return export.csv_text(METRIC_COLUMNS, panels.rows(figure))
    if figure.kind == IDLE_BARS:
        return export.csv_text(BAR_COLUMNS, bars.bar_rows(figure))
    return export.csv_text(RUN_COLUMNS, bars.repetition_rows(figure))


def figure_rows(figure: Figure) -> list[list[Any]]:
    """One row per curve and rate: the mean and CI of the runs that measured the server (ok or
    saturated), the other runs apart; the curve's knee and the clients' ceiling beside them."""
    rows = []
    clients = figure.clients
    ceiling = (
        [clients.kept_up, clients.fell_behind, clients.issued] if clients else [None, None, None]
    )
    for curve in figure.curves:
        knee = curve.saturation.estimate
        for point in curve.points:
            reply, request = point.reply, point.request
            limited = point.with_status("client-limited")
            rows.append(
                [
                    figure.number,
                    curve.mechanism,
                    curve.accept_limit,
                    point.rate,
                    len(point.ok),
                    *_interval(reply),
                    reply.stddev if reply else None,
                    request.mean if request else None,
                    len(limited),
                    " ".join(repr(r.reply_rate) for r in limited),
                    len(point.with_status("failed")),
                    " ".join(r.key for r in point.runs),
                    len(point.with_status("saturated")),
                    knee.mean if knee else None,
                    *ceiling,
                ]
            )
    return rows


CURVE_COLUMNS = (
    "workload",
    "idle_connections",
    "accept_limit",
    "mechanism",
    "runs",
    "peak_mean",
    "peak_ci_low",
    "peak_ci_high",
    "peak_runs",
    "saturation_mean",
    "saturation_ci_low",
    "saturation_ci_high",
    "saturation_above",
    "saturation_below",
    "network",  # the network profile (WAN conditions); empty when none was emulated
)


def curve_rows(report: Report) -> list[list[Any]]:
    rows = []
    for curve in report.curves:
        peak, saturation = curve.peak, curve.saturation
        estimate = saturation.estimate
        rows.append(
            [
                curve.workload,
                curve.idle_connections,
                curve.accept_limit,
                curve.mechanism,
                len(curve.runs),
                *_interval(peak),
                len(curve.peak_runs()),
                *_interval(estimate),
                saturation.above,
                saturation.below,
                curve.network,
            ]
        )
    return rows


IDLE_COLUMNS = (
    "workload",
    "accept_limit",
    "mechanism",
    "idle_connections",
    "peak_without",
    "peak_with",
    "ratio",
    "change",
    "change_ci_low",
    "change_ci_high",
    "verdict",
    "cpu_per_reply_ratio",
    "cpu_per_reply_ratio_rate",
    "cpu_per_reply_change_ci_low",
    "cpu_per_reply_change_ci_high",
)


def idle_rows(report: Report) -> list[list[Any]]:
    rows = []
    for row in report.idle:
        a, b, change = row.without.peak, row.with_idle.peak, row.change
        rows.append(
            [
                row.workload,
                row.accept_limit,
                row.mechanism,
                row.idle_connections,
                a.mean if a else None,
                b.mean if b else None,
                row.ratio,
                change.relative if change else None,
                change.low if change else None,
                change.high if change else None,
                change.verdict if change else "not measured",
                *_cost_columns(row.without, row.with_idle),
            ]
        )
    return rows


def _cost_columns(without: Curve, with_idle: Curve) -> list[Any]:
    """CPU per reply with idle connections over without, at the highest common rate."""
    top = at_top(cost_comparisons(without, with_idle, THRESHOLD))
    if top is None:
        return [None, None, None, None]
    return [top.ratio, top.rate, top.change.low, top.change.high]


TABLE1_COLUMNS = (
    "syscall",
    "mechanism",
    "percent",
    "calls",
    "seconds",
    "rate",
    "profile",
    "source",
)
PAPER_TABLE1_COLUMNS = ("row", "kind", "ours_as", "mechanism", "paper_percent", "our_percent")


def table1_rows(table: SyscallTable) -> list[list[Any]]:
    """One row per call and mechanism; in a CPU profile, one "waiting" row per mechanism too
    (its percent is of wall time, not CPU: see `syscalls`). `profile` is cpu, wall (not a CPU
    profile) or "not profiled in this sweep", whose percent is empty, never 0."""
    kind = table.profile if table.profile != NONE and table.columns else NOT_PROFILED
    if not table.columns:
        return [["", "", "", "", "", table.rate, kind, table.source]]
    rate, source = table.rate, table.source
    rows: list[list[Any]] = [
        [row.syscall, mechanism, cell.percent, cell.calls, cell.seconds, rate, kind, source]
        for row in table.rows
        for mechanism, cell in row.cells.items()
    ]
    for column in table.columns:
        if column.waiting is not None:
            waiting = 100 * column.waiting
            rows.append(["waiting", column.mechanism, waiting, "", "", table.rate, "wall"])
            rows[-1].append(table.source)
    return rows


def paper_table1_rows(report: Report) -> list[list[Any]]:
    """The paper's Table 1 beside ours, one row per row and mechanism (see `beside`)."""
    beside = report.table1_paper
    if beside is None:
        return []
    return [
        [row.name, row.kind, " ".join(row.ours_as), mechanism, share.paper, share.ours]
        for row in beside.rows
        for mechanism, share in row.shares.items()
    ]


def _joined(*lists: Sequence[str]) -> list[str]:
    return [" | ".join(items) for items in lists]


def _interval(estimate: Estimate | None) -> list[float | None]:
    """Mean, CI low, CI high: the three CSV columns of an estimate (empty when absent)."""
    if estimate is None:
        return [None, None, None]
    return [estimate.mean, estimate.low, estimate.high]
