"""Table 1 on the report page: each system call's share of the server's CPU, per mechanism.

    html = table1_section(report)

A CPU profile (each column ≤ 100 %, with a separate "waiting" row) when the store has each call's
CPU time; otherwise the wall-clock table of older stores, marked as such (see `syscalls`). Every
number comes from `analysis.syscalls`; this module formats them for `templates/table1.html`.
"""

from __future__ import annotations

from typing import Any

from markupsafe import Markup

from orchestrator.report.analysis.build import Report
from orchestrator.report.analysis.data import MECHANISM_LABELS
from orchestrator.report.analysis.pointmetrics import WAIT_CALLS
from orchestrator.report.analysis.syscalls import CPU, NONE, NOT_PROFILED, Column, SyscallTable
from orchestrator.report.html.kit import maybe, render, table
from orchestrator.report.html.paper import paper_table1


def table1_section(report: Report) -> Markup:
    """Table 1 per workload × idle count, as the paper's CPU profile where the sweep has one,
    then the paper's Table 1 beside ours."""
    return render(
        "table1_section.html",
        tables=[_table1(item) for item in report.tables],
        paper=paper_table1(report.table1_paper) if report.table1_paper is not None else "",
    )


def _table1(item: SyscallTable) -> Markup:
    mechanisms = item.mechanisms
    headers = ["system call", *(_label(m) for m in mechanisms)]
    numeric = range(1, len(headers))
    values: dict[str, Any] = {
        "workload": item.workload,
        "idle": f"{item.idle_connections:,}" if item.idle_connections else "",
        "accept": item.accept_limit if item.accept_limit != "inf" else "",
        "not_profiled": NOT_PROFILED.capitalize(),
        "not_profiled_plain": NOT_PROFILED,
        "unprofiled": item.unprofiled,
        "rate": f"{item.rate:,.0f}" if item.rate is not None else "",
        "choice": item.choice,
        "source": item.source,
        "wait_calls": ", ".join(WAIT_CALLS),
        "kind": "missing",
    }
    if item.rate is None or not item.columns:
        return render("table1.html", **values)
    calls = table(headers, _call_rows(item), numeric=numeric)
    if item.profile == NONE:
        return render("table1.html", **{**values, "kind": "untimed", "calls": calls})
    percent_rows = [
        [row.syscall, *(_cell(row.cells.get(m), "percent") for m in mechanisms)]
        for row in item.rows
    ]
    percent_rows.append(["all system calls", *(f"{item.total(m):.2f}" for m in mechanisms)])
    columns = item.columns
    if item.profile == CPU:
        percent_rows.append(
            ["outside system calls", *(f"{item.outside(m):.2f}" for m in mechanisms)]
        )
        percent_rows.append(
            ["waiting (% of wall time, not CPU)", *(f"{c.waiting_percent:.2f}" for c in columns)]
        )
    values["kind"] = "cpu" if item.profile == CPU else "wall"
    return render(
        "table1.html",
        **values,
        idle_count=item.idle_connections,
        preempted=", ".join(_label(m) for m in item.preempted),
        shares=table(headers, percent_rows, numeric=numeric),
        extra=table(["", *headers[1:]], _extra_rows(columns), numeric=numeric),
        calls=calls,
    )


def _extra_rows(columns: tuple[Column, ...]) -> list[list[str]]:
    return [
        ["runs", *(_runs(c) for c in columns)],
        ["counters' window (s)", *(f"{c.window:.1f}" for c in columns)],
        ["server CPU utilisation over it", *(f"{c.utilisation:.0%}" for c in columns)],
        ["replies per run (server)", *(f"{c.replies:,.0f}" for c in columns)],
        ["epoll_ctl + epoll_ctlv calls per run", *(f"{c.interest_calls:,.0f}" for c in columns)],
        [
            "interest-set operations they carried",
            *(maybe(c.interest_operations, ",.0f") for c in columns),
        ],
        ["event-loop waits per run", *(f"{c.waits:,.0f}" for c in columns)],
        ["events returned per wait", *(maybe(c.events_per_wait, ".2f") for c in columns)],
        ["events acted on", *(maybe(c.handled_share, ".1%") for c in columns)],
    ]


def _call_rows(item: SyscallTable) -> list[list[str]]:
    return [
        [row.syscall, *(_cell(row.cells.get(m), "calls") for m in item.mechanisms)]
        for row in item.rows
    ]


def _runs(column: Column) -> str:
    """'2', or '1 (client-limited)' for a profiling run that was not ok."""
    others = [status for status in column.statuses if status != "ok"]
    return f"{column.runs} ({', '.join(others)})" if others else str(column.runs)


def _cell(cell: Any, field: str) -> str:
    if cell is None:
        return "-"
    value = getattr(cell, field)
    if value is None:
        return "-"
    return f"{value:.2f}" if field == "percent" else f"{value:,.0f}"


def _label(mechanism: str) -> str:
    return MECHANISM_LABELS.get(mechanism, mechanism)
