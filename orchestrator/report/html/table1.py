"""Table 1 on the report page: each system call's share of the server's CPU, per mechanism.

    html = table1_section(report)

A CPU profile (each column ≤ 100 %, with a separate "waiting" row) when the store has each call's
CPU time; otherwise the wall-clock table of older stores, marked as such (see `syscalls`).
"""

from __future__ import annotations

from typing import Any

from orchestrator.report.build import Report
from orchestrator.report.data import MECHANISM_LABELS
from orchestrator.report.htmlkit import esc, maybe, table
from orchestrator.report.htmlpaper import paper_table1
from orchestrator.report.pointmetrics import WAIT_CALLS
from orchestrator.report.syscalls import CPU, NONE, NOT_PROFILED, WALL, Column, SyscallTable


def table1_section(report: Report) -> str:
    """Table 1 per workload × idle count, as the paper's CPU profile where the sweep has one,
    then the paper's Table 1 beside ours."""
    parts = [
        '<h2 id="table1">Table 1: the server\'s CPU per system call</h2>\n<p class="note">As the '
        "paper's Table 1 (a gprof profile): each system call's share of the server's CPU seconds "
        "over the measurement, mean over the runs at one rate; call counts per run below. The "
        "paper profiled at 22,000 requests/s, near saturation, apart from its throughput runs; "
        "so does the sweep's profiling pass (<code>experiment.profile</code>): one point per "
        "mechanism whose server times each call's CPU, which costs it about 30 % more CPU per "
        "reply, so those points are never part of a curve. The counters cover each point's "
        "measure phase (starting the load agents, their run, collecting their results), longer "
        "than the httperf run itself.</p>"
    ]
    for item in report.tables:
        parts.append(_table1(item))
    if report.table1_paper is not None:
        parts.append(paper_table1(report.table1_paper))
    return "\n".join(parts)


def _table1(item: SyscallTable) -> str:
    title = (
        f"<h3>{esc(item.workload)}, "
        + (f"{item.idle_connections:,} idle connections" if item.idle_connections else "no idle")
        + (f", accept-limit {esc(item.accept_limit)}" if item.accept_limit != "inf" else "")
        + "</h3>"
    )
    if item.rate is None or not item.columns:
        rate = f" at {item.rate:,.0f} requests/s" if item.rate is not None else ""
        return (
            f'{title}<p class="notice">{esc(NOT_PROFILED.capitalize())}: no ok run{esc(rate)}'
            f" ({esc(item.choice)}){esc(_unprofiled(item))}.</p>"
        )
    if item.profile == NONE:
        return _not_timed(title, item)
    mechanisms = item.mechanisms
    headers = ["system call", *(_label(m) for m in mechanisms)]
    percent_rows = [
        [row.syscall, *(_cell(row.cells.get(m), "percent") for m in mechanisms)]
        for row in item.rows
    ]
    total = ["all system calls", *(f"{item.total(m):.2f}" for m in mechanisms)]
    percent_rows.append(total)
    columns = item.columns
    if item.profile == CPU:
        percent_rows.append(
            ["outside system calls", *(f"{max(0.0, 100 - item.total(m)):.2f}" for m in mechanisms)]
        )
        percent_rows.append(
            [
                "waiting (% of wall time, not CPU)",
                *(maybe(100 * (c.waiting or 0), ".2f") for c in columns),
            ]
        )
    extra = [
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
    call_rows = _call_rows(item)
    numeric = range(1, len(headers))
    preempted = [
        _label(m)
        for m in mechanisms
        if item.profile == WALL
        and sum(
            r.cells[m].percent or 0.0
            for r in item.rows
            if m in r.cells and r.syscall not in WAIT_CALLS
        )
        > 100
    ]
    warning = _profile_note(item) + (
        f'<p class="notice">The calls that never wait add up to more than the server\'s CPU time '
        f"for {esc(', '.join(preempted))}: the server was preempted inside them, so it did not "
        "have its CPU to itself and these shares are not CPU time.</p>"
        if preempted
        else ""
    )
    return (
        f"{title}<p class=note>At {item.rate:,.0f} requests/s, from the {esc(item.source)}"
        f" ({esc(item.choice)}). Data: "
        f"table1-{esc(item.workload)}-idle{item.idle_connections}.csv.</p>"
        + warning
        + table(headers, percent_rows, numeric=numeric)
        + "<p class=note>Per run: what the server did besides the system calls.</p>"
        + table(["", *headers[1:]], extra, numeric=numeric)
        + "<p class=note>Calls per run (mean).</p>"
        + table(headers, call_rows, numeric=numeric)
    )


def _not_timed(title: str, item: SyscallTable) -> str:
    """A group whose servers counted their calls without timing them: no shares at all."""
    headers = ["system call", *(_label(m) for m in item.mechanisms)]
    return (
        f'{title}<p class="notice">{esc(NOT_PROFILED.capitalize())}: the server counted its '
        f"system calls at {item.rate:,.0f} requests/s but did not time them "
        f"(<code>syscall_timing: none</code>){esc(_unprofiled(item))}, so there is no share to "
        "show; the call counts stand.</p><p class=note>Calls per run (mean), from the "
        f"{esc(item.source)}.</p>"
        + table(headers, _call_rows(item), numeric=range(1, len(headers)))
    )


def _call_rows(item: SyscallTable) -> list[list[str]]:
    return [
        [row.syscall, *(_cell(row.cells.get(m), "calls") for m in item.mechanisms)]
        for row in item.rows
    ]


def _unprofiled(item: SyscallTable) -> str:
    """Why the profiling pass did not measure the group, when it was to."""
    return f"; the profiling pass did not run: {item.unprofiled}" if item.unprofiled else ""


def _runs(column: Column) -> str:
    """'2', or '1 (client-limited)' for a profiling run that was not ok."""
    others = [status for status in column.statuses if status != "ok"]
    return f"{column.runs} ({', '.join(others)})" if others else str(column.runs)


def _profile_note(item: SyscallTable) -> str:
    if item.profile == CPU:
        return (
            "<p class=note>A CPU profile: the serving thread's CPU time inside each call "
            "(its CPU clock before and after the call), so each column sums to at most 100 %; "
            "the rest is the server's own code. Time blocked inside the wait calls ("
            + esc(", ".join(WAIT_CALLS))
            + ") is not CPU time: it is the separate <i>waiting</i> row, a share of the "
            "counters' wall-clock window.</p>"
        )
    return (
        f'<p class="notice"><b>Not a CPU profile</b> ({esc(NOT_PROFILED)}'
        f"{esc(_unprofiled(item))}): its servers timed each call by the wall clock only "
        "(<code>syscall_timing: wall</code>, or a server older than per-call CPU timing), so a "
        "cell is the time around the call over the server's CPU time. Wait calls ("
        + esc(", ".join(WAIT_CALLS))
        + ") include time blocked waiting for events, which is not CPU time: below saturation "
        "they can exceed 100 %. <code>experiment.profile</code> adds the paper's CPU profile to "
        "a sweep.</p>"
    )


def _cell(cell: Any, field: str) -> str:
    if cell is None:
        return "-"
    value = getattr(cell, field)
    if value is None:
        return "-"
    return f"{value:.2f}" if field == "percent" else f"{value:,.0f}"


def _label(mechanism: str) -> str:
    return MECHANISM_LABELS.get(mechanism, mechanism)
