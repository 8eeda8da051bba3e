"""The report's one self-contained HTML page: inline CSS, the figures as data: URIs, no script.

    text = report_page(report, pngs={"one-byte-idle0": b"\\x89PNG..."}, files=["points.csv"])

It opens from the file system with nothing else (no network, no other file), so a report can be
mailed or archived as the one file. Its building blocks, shared with `compare`'s page, are in
`htmlkit`.
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Mapping, Sequence
from typing import Any

from orchestrator.config.redact import redact_yaml
from orchestrator.report.build import Report
from orchestrator.report.data import MECHANISM_LABELS
from orchestrator.report.findings import DOES_NOT_HOLD, HOLDS
from orchestrator.report.htmlkit import data_uri, esc, maybe, page, table, when
from orchestrator.report.layout import Figure
from orchestrator.report.syscalls import WAIT_CALLS, SyscallTable

VERDICT_CLASSES = {HOLDS: "holds", DOES_NOT_HOLD: "fails"}


def report_page(report: Report, pngs: Mapping[str, bytes], files: Sequence[str]) -> str:
    """The whole report page."""
    data = report.data
    details = data.details
    sections = [
        _header(report),
        '<nav><a href="#findings">Findings</a><a href="#figures">Figures</a>'
        '<a href="#table1">Table 1</a><a href="#idle">Idle connections</a>'
        '<a href="#statistics">Statistics</a><a href="#lab">The lab</a>'
        '<a href="#points">Every point</a></nav>',
        _findings(report),
        _figures(report, pngs),
        _tables(report),
        _idle(report),
        _statistics(report),
        _lab(details),
        _points(report),
        f'<p class="note">Data files beside this page: {esc(", ".join(files))}. Generated '
        f"{esc(time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime()))} by testbed.</p>",
    ]
    return page(f"testbed report: {data.id}", "\n".join(sections))


# -- sections ------------------------------------------------------------------------------------


def _header(report: Report) -> str:
    data = report.data
    d = data.details
    statuses: dict[str, int] = {}
    for point in data.points:
        statuses[point["status"]] = statuses.get(point["status"], 0) + 1
    counts = ", ".join(f"{n} {status}" for status, n in sorted(statuses.items()))
    started = when(d.get("started_at"))
    ended = when(d.get("ended_at"))
    if data.emulated:
        kind = (
            '<p class="notice"><b>Emulated lab.</b> Every host is a network namespace on one '
            "machine: the eight clients share one CPU beside the server on another, the NICs "
            "are veth pairs on bridges. The numbers show how the mechanisms compare on this "
            "machine and that the whole pipeline works; they are functional, not those of a "
            "performance lab, and are not comparable with the paper's absolute rates.</p>"
        )
    elif data.emulated is False:
        kind = '<p class="meta">Physical lab: hosts as listed under "The lab".</p>'
    else:
        kind = '<p class="notice">The kind of lab was not recorded with this sweep.</p>'
    return (
        f"<h1>Sweep {esc(data.id)}</h1>\n"
        f'<p class="meta">Lab <b>{esc(d.get("lab", "?"))}</b> · sweep {esc(d.get("status"))}'
        f" · {len(data.points)} of {esc(d.get('points_planned'))} points stored ({esc(counts)})"
        f" · {esc(started)} – {esc(ended)} · revision {esc(d.get('revision'))}</p>\n{kind}"
    )


def _findings(report: Report) -> str:
    rows = []
    for finding in report.findings:
        kind = VERDICT_CLASSES.get(finding.verdict, "unmeasured")
        evidence = "".join(f"<li>{esc(line)}</li>" for line in finding.evidence)
        rows.append(
            [
                esc(finding.claim),
                esc(finding.source),
                f'<span class="verdict {kind}">{esc(finding.verdict)}</span>',
                f"<ul>{evidence}</ul>" if evidence else "",
            ]
        )
    return (
        '<h2 id="findings">The paper\'s findings, checked</h2>\n<p class="note">Each claim of '
        "the paper's section 5 judged on this sweep from peak reply rates (each curve's best "
        "mean over its ok runs). A claim about behaviour under load is <i>not measured</i> when "
        "none of the curves it rests on saturated: at rates the server serves easily every "
        "mechanism looks alike.</p>\n"
        + table(["claim", "paper", "verdict", "the numbers behind it"], rows, raw=True)
    )


def _figures(report: Report, pngs: Mapping[str, bytes]) -> str:
    parts = ['<h2 id="figures">Figures</h2>']
    for figure in report.figures:
        png = pngs.get(figure.slug)
        image = (
            f'<img src="{data_uri(png)}" alt="{esc(figure.title)}" width="800" height="500">'
            if png
            else ""
        )
        parts.append(
            f'<figure id="figure-{figure.number}">{image}<figcaption><b>Figure {figure.number}.'
            f"</b> {esc(figure.title)}: reply rate against offered request rate (the paper's "
            f"{esc(figure.paper)}). {esc(_runs_note(figure))} Data: "
            f"figure-{figure.number}-{esc(figure.slug)}.csv.</figcaption></figure>"
        )
        parts.append(_curve_table(figure))
    return "\n".join(parts)


def _runs_note(figure: Figure) -> str:
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
        limited = sum(1 for r in runs if r.status == "client-limited")
        failed = sum(1 for r in runs if r.status == "failed")
        rows.append(
            [
                curve.label + (f" accept={curve.accept_limit}" if figure.accept_variants else ""),
                peak.text() if peak else "no ok run",
                curve.saturation.text(),
                str(len(runs)),
                str(limited),
                str(failed),
            ]
        )
    headers = [
        "curve",
        "peak replies/s",
        "saturation (requests/s)",
        "runs",
        "client-limited",
        "failed",
    ]
    return table(headers, rows, numeric=(3, 4, 5))


def _tables(report: Report) -> str:
    parts = [
        '<h2 id="table1">Table 1: server time per system call</h2>\n<p class="note">Seconds in '
        "each system call (wall-clock time around the call, as the server measures it) as a "
        "percentage of the server's CPU seconds over the measurement, "
        "mean over the ok runs at one rate; call counts per run below. Wait calls ("
        + esc(", ".join(WAIT_CALLS))
        + ") include time blocked waiting for events, which is not CPU time: below saturation "
        "they can exceed their CPU share, even 100 %. The paper profiled at 22,000 requests/s, "
        "near saturation, where waits rarely block. The counters cover each point's measure phase"
        " (starting the load agents, their run, collecting their results), longer than the "
        "httperf run itself: its quiet ends add to the waits.</p>"
    ]
    for item in report.tables:
        parts.append(_table1(item))
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
        return f"{title}<p>No ok run{esc(rate)}: {esc(item.choice)}.</p>"
    mechanisms = item.mechanisms
    headers = ["system call", *(_label(m) for m in mechanisms)]
    percent_rows = [
        [row.syscall, *(_cell(row.cells.get(m), "percent") for m in mechanisms)]
        for row in item.rows
    ]
    total = [
        "all system calls",
        *(f"{sum(r.cells[m].percent for r in item.rows if m in r.cells):.2f}" for m in mechanisms),
    ]
    percent_rows.append(total)
    columns = item.columns
    extra = [
        ["runs", *(str(c.runs) for c in columns)],
        ["counters' window (s)", *(f"{c.window:.1f}" for c in columns)],
        ["server CPU utilisation over it", *(f"{c.utilisation:.0%}" for c in columns)],
        ["replies per run (server)", *(f"{c.replies:,.0f}" for c in columns)],
        ["epoll_ctl + epoll_ctlv calls per run", *(f"{c.interest_calls:,.0f}" for c in columns)],
        ["event-loop waits per run", *(f"{c.waits:,.0f}" for c in columns)],
        ["events returned per wait", *(maybe(c.events_per_wait, ".2f") for c in columns)],
        ["events acted on", *(maybe(c.handled_share, ".1%") for c in columns)],
    ]
    call_rows = [
        [row.syscall, *(_cell(row.cells.get(m), "calls") for m in mechanisms)] for row in item.rows
    ]
    numeric = range(1, len(headers))
    preempted = [
        _label(m)
        for m in mechanisms
        if sum(
            r.cells[m].percent for r in item.rows if m in r.cells and r.syscall not in WAIT_CALLS
        )
        > 100
    ]
    warning = (
        f'<p class="notice">The calls that never wait add up to more than the server\'s CPU time '
        f"for {esc(', '.join(preempted))}: the server was preempted inside them, so it did not "
        "have its CPU to itself and these shares are not CPU time.</p>"
        if preempted
        else ""
    )
    return (
        f"{title}<p class=note>At {item.rate:,.0f} requests/s ({esc(item.choice)}). Data: "
        f"table1-{esc(item.workload)}-idle{item.idle_connections}.csv.</p>"
        + warning
        + table(headers, percent_rows, numeric=numeric)
        + "<p class=note>Per run: what the server did besides the system calls.</p>"
        + table(["", *headers[1:]], extra, numeric=numeric)
        + "<p class=note>Calls per run (mean).</p>"
        + table(headers, call_rows, numeric=numeric)
    )


def _idle(report: Report) -> str:
    head = '<h2 id="idle">Idle-connection degradation</h2>'
    if not report.idle:
        return head + "<p>No mechanism was measured both with and without idle connections.</p>"
    rows = []
    for row in report.idle:
        ratio = row.ratio
        rows.append(
            [
                row.workload,
                _label(row.mechanism),
                f"{row.idle_connections:,}",
                row.without.peak.text() if row.without.peak else "-",
                row.with_idle.peak.text() if row.with_idle.peak else "-",
                f"{ratio:.1%}" if ratio is not None else "-",
                row.change.text() if row.change else "-",
                row.change.verdict if row.change else "not measured",
                "yes" if row.with_idle.saturated else "no",
            ]
        )
    headers = [
        "workload",
        "mechanism",
        "idle connections",
        "peak without",
        "peak with",
        "with / without",
        "change [95 % CI]",
        "verdict",
        "saturated with idle",
    ]
    return (
        head
        + "<p class=note>Each mechanism's peak reply rate with idle connections relative to its"
        " peak without (the paper: select and poll down by up to 79 % with 10,000 idle "
        "connections, epoll-ET unaffected). A curve that did not saturate peaks at the highest "
        "rate offered: its drop, if any, shows only once the rates stress the server.</p>"
        + table(headers, rows)
    )


def _statistics(report: Report) -> str:
    data = report.data
    repetitions = data.repetitions
    spreads = report.spreads()
    if repetitions <= 1:
        text = (
            "Every point is a single run: no confidence intervals, and changes between curves "
            "are judged against thresholds alone."
        )
    else:
        text = (
            f"{repetitions} repetitions per point: each plotted point is the mean of its ok runs"
            " with a 95 % confidence interval (Student t). A curve's peak is its best rate's "
            "mean, with that interval; its saturation rate is found in each repetition, then "
            "averaged."
        )
    if spreads:
        text += (
            f" Spread between repetitions of a point (coefficient of variation of the reply "
            f"rate): mean {statistics.fmean(spreads):.1%}, largest {max(spreads):.1%}, over "
            f"{len(spreads)} points."
        )
    return f'<h2 id="statistics">Repetitions and spread</h2>\n<p>{esc(text)}</p>'


def _lab(details: Mapping[str, Any]) -> str:
    hosts = details.get("hosts") or {}
    rows = []
    for name, facts in sorted(hosts.items(), key=_server_first):
        nics = facts.get("nics") or {}
        rows.append(
            [
                name,
                facts.get("role", ""),
                facts.get("error") or facts.get("kernel", ""),
                facts.get("os", ""),
                facts.get("cpu_model", ""),
                f"{facts.get('cpus_allowed', '?')} of {facts.get('cpus_online', '?')}",
                _memory(facts.get("memory_kib")),
                "; ".join(f"{nic} {' '.join(addresses)}" for nic, addresses in nics.items()),
                facts.get("httperf", ""),
            ]
        )
    headers = ["host", "role", "kernel", "OS", "CPU", "CPUs", "memory", "NICs", "httperf"]
    settings = details.get("settings") or {}
    sysctls = {name: facts.get("sysctls") or {} for name, facts in hosts.items()}
    distinct = {json.dumps(s, sort_keys=True) for s in sysctls.values()}
    sysctl_text = (
        json.dumps(next(iter(sysctls.values())), indent=2, sort_keys=True)
        if len(distinct) == 1
        else json.dumps(sysctls, indent=2, sort_keys=True)
    )
    return (
        '<h2 id="lab">The lab</h2>\n'
        + table(headers, rows)
        + "<h3>The sweep's settings</h3>"
        + f"<pre>{esc(json.dumps(settings, indent=2, sort_keys=True))}</pre>"
        + "<h3>Sysctls"
        + (" (the same on every host)" if len(distinct) == 1 else " per host")
        + f"</h3><pre>{esc(sysctl_text)}</pre>"
        + "<h3>Workloads</h3>"
        + f"<pre>{esc(json.dumps(_brief_workloads(details.get('workloads')), indent=2))}</pre>"
        + "<details><summary>The lab file as run (secrets removed)</summary>"
        + f"<pre>{esc(redact_yaml(details.get('lab_file') or ''))}"
        + "</pre></details>"
        + "<details><summary>The inventory (secrets removed)</summary>"
        + f"<pre>{esc(redact_yaml(details.get('inventory') or ''))}"
        + "</pre></details>"
    )


def _points(report: Report) -> str:
    rows, classes = [], []
    for point in report.data.points:
        rows.append(
            [
                point["seq"],
                point["key"],
                point["status"],
                maybe(point.get("request_rate"), ",.1f"),
                maybe(point.get("reply_rate"), ",.1f"),
                point.get("errors_total") if point.get("errors_total") is not None else "-",
                maybe((point.get("server") or {}).get("cpu_seconds"), ".2f"),
                point.get("attempts"),
                point.get("reason") or "",
            ]
        )
        classes.append(point["status"])
    headers = [
        "#",
        "point",
        "status",
        "requests/s",
        "replies/s",
        "errors",
        "server CPU s",
        "attempts",
        "reason",
    ]
    return (
        '<h2 id="points">Every point</h2><p class="note">In run order; data: points.csv.</p>'
        + table(headers, rows, numeric=(0, 3, 4, 5, 6, 7), row_classes=classes)
    )


# -- helpers -------------------------------------------------------------------------------------


def _server_first(item: tuple[str, Any]) -> tuple[bool, str]:
    name, facts = item
    return (facts.get("role") != "server", name)


def _label(mechanism: str) -> str:
    return MECHANISM_LABELS.get(mechanism, mechanism)


def _cell(cell: Any, field: str) -> str:
    if cell is None:
        return "-"
    value = getattr(cell, field)
    return f"{value:.2f}" if field == "percent" else f"{value:,.0f}"


def _memory(kib: Any) -> str:
    try:
        return f"{int(kib) / 1024 / 1024:.1f} GiB"
    except (TypeError, ValueError):
        return ""


def _brief_workloads(workloads: Any) -> Any:
    """The workloads' seeds and file-set statistics, without per-file lists."""
    if not isinstance(workloads, dict):
        return workloads
    brief = dict(workloads)
    sessions = brief.get("sessions")
    if isinstance(sessions, dict) and sessions:
        brief["sessions"] = f"{len(sessions)} clients' traces (see the store)"
    return brief
