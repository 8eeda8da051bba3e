"""The report's one self-contained HTML page: inline CSS, the figures as data: URIs, no script.

    text = report_page(report, pngs={"one-byte-idle0": b"\\x89PNG..."}, files=["points.csv"])

It opens from the file system with nothing else (no network, no other file), so a report can be
mailed or archived as the one file. `page` and `table` are shared with `compare`'s page.
"""

from __future__ import annotations

import base64
import html
import json
import statistics
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from orchestrator.report.build import Report
from orchestrator.report.data import MECHANISM_LABELS, Figure
from orchestrator.report.findings import DOES_NOT_HOLD, HOLDS
from orchestrator.report.syscalls import WAIT_CALLS, SyscallTable
from orchestrator.results.records import PHASES

CSS = """
body { font: 15px/1.45 system-ui, sans-serif; margin: 2em auto; max-width: 1100px; padding: 0 1em;
       color: #222; }
h1 { font-size: 1.6em; margin-bottom: .2em; } h2 { margin-top: 2em; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; margin: .6em 0 1.2em; font-size: 13px; }
th, td { border: 1px solid #ddd; padding: 3px 7px; text-align: left; vertical-align: top; }
th { background: #f4f4f4; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
.meta { color: #555; } .note { color: #555; font-size: 13px; }
.notice { background: #fff8e1; border: 1px solid #f0d37a; padding: .6em .9em; }
.verdict { font-weight: 600; white-space: nowrap; }
.holds, .better { color: #1b7f2a; } .fails, .worse { color: #b3261e; }
.unmeasured, .same { color: #666; }
figure { margin: 1.5em 0; } figure img { max-width: 100%; border: 1px solid #eee; }
figcaption { font-size: 13px; color: #444; }
pre { background: #f7f7f7; padding: .7em; overflow-x: auto; font-size: 12px; }
nav a { margin-right: 1em; }
tr.client-limited td { background: #fffbea; }
tr.failed td, tr.interrupted td { background: #fdecea; }
"""

VERDICT_CLASSES = {HOLDS: "holds", DOES_NOT_HOLD: "fails"}


def esc(value: object) -> str:
    return html.escape(str(value), quote=True)


def page(title: str, body: str) -> str:
    """A complete HTML document with the shared style."""
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{esc(title)}</title>\n<style>{CSS}</style>\n</head>\n<body>\n{body}\n"
        "</body>\n</html>\n"
    )


def table(
    headers: Sequence[str],
    rows: Iterable[Sequence[object]],
    *,
    numeric: Iterable[int] = (),
    row_classes: Sequence[str] | None = None,
    raw: bool = False,
) -> str:
    """An HTML table; cells are escaped unless `raw` (the caller built them as HTML)."""
    right = set(numeric)
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    lines = []
    for index, row in enumerate(rows):
        cells = "".join(
            f"<td{' class=num' if column in right else ''}>{cell if raw else esc(cell)}</td>"
            for column, cell in enumerate(row)
        )
        kind = row_classes[index] if row_classes and index < len(row_classes) else ""
        lines.append(f"<tr{f' class={esc(kind)}' if kind else ''}>{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(lines)}</tbody></table>"


def report_page(report: Report, pngs: Mapping[str, bytes], files: Sequence[str]) -> str:
    """The whole report page."""
    data = report.data
    details = data.details
    sections = [
        _header(report),
        '<nav><a href="#findings">Findings</a><a href="#figures">Figures</a>'
        '<a href="#table1">Table 1</a><a href="#idle">Idle connections</a>'
        '<a href="#statistics">Statistics</a><a href="#phases">Time per phase</a>'
        '<a href="#lab">The lab</a>'
        '<a href="#points">Every point</a></nav>',
        _findings(report),
        _figures(report, pngs),
        _tables(report),
        _idle(report),
        _statistics(report),
        _phases(report),
        _lab(details),
        _points(report),
        f'<p class="note">Data files beside this page: {esc(", ".join(files))}. Generated '
        f"{esc(time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime()))} by testbed.</p>",
    ]
    return page(f"testbed report: {data.id}", "\n".join(sections))


def data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode()


# -- sections ------------------------------------------------------------------------------------


def _header(report: Report) -> str:
    data = report.data
    d = data.details
    statuses: dict[str, int] = {}
    for point in data.points:
        statuses[point["status"]] = statuses.get(point["status"], 0) + 1
    counts = ", ".join(f"{n} {status}" for status, n in sorted(statuses.items()))
    started = _when(d.get("started_at"))
    ended = _when(d.get("ended_at"))
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
        ["events returned per wait", *(_maybe(c.events_per_wait, ".2f") for c in columns)],
        ["events acted on", *(_maybe(c.handled_share, ".1%") for c in columns)],
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


def _phases(report: Report) -> str:
    """Where the sweep's time went: each phase's mean and max over the points that had it."""
    seen: dict[str, list[float]] = {}
    walls = []
    for point in report.data.points:
        if point["status"] == "failed" or not point.get("phases"):
            continue
        walls.append(point["ended_at"] - point["started_at"])
        for name, seconds in point["phases"].items():
            seen.setdefault(name, []).append(seconds)
    if not walls:
        return ""
    total = sum(walls)
    order = [name for name in PHASES if name in seen] + sorted(set(seen) - set(PHASES))
    rows = [
        [
            name,
            f"{statistics.fmean(seen[name]):.2f}",
            f"{max(seen[name]):.2f}",
            f"{sum(seen[name]) / total:.1%}",
        ]
        for name in order
    ]
    rows.append(["point (wall)", f"{statistics.fmean(walls):.2f}", f"{max(walls):.2f}", ""])
    return (
        '<h2 id="phases">Time per phase</h2><p class="note">Seconds per point, over the points'
        " not failed; a phase's share is of their summed wall time.</p>"
        + table(["phase", "mean s", "max s", "share"], rows, numeric=(1, 2, 3))
    )


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
        + f"<details><summary>The lab file as run</summary><pre>{esc(details.get('lab_file', ''))}"
        + "</pre></details>"
        + f"<details><summary>The inventory</summary><pre>{esc(details.get('inventory', ''))}"
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
                _maybe(point.get("request_rate"), ",.1f"),
                _maybe(point.get("reply_rate"), ",.1f"),
                point.get("errors_total") if point.get("errors_total") is not None else "-",
                _maybe((point.get("server") or {}).get("cpu_seconds"), ".2f"),
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


def _maybe(value: Any, fmt: str) -> str:
    return format(value, fmt) if isinstance(value, int | float) else "-"


def _when(stamp: Any) -> str:
    if not isinstance(stamp, int | float):
        return "?"
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(stamp))


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
