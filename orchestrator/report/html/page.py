"""The report's one self-contained HTML page: inline CSS, the figures as data: URIs, and one
small inline script (sorting and filtering the every-point table).

    text = report_page(report, pngs={"figure-1-one-byte-idle0": b"\\x89PNG..."},
                       files=["points.csv"], store_link="../../testbed.sqlite")

It opens from the file system with nothing else (no network, no other file), so a report can be
mailed or archived as the one file; the SVGs and CSVs beside it are linked. Its building blocks,
shared with `compare`'s page, are in `htmlkit`; its larger sections in `htmlfigures`,
`htmltable1` and `htmllab`.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Mapping, Sequence

from orchestrator.report.build import Report
from orchestrator.report.costs import at_top, cost_comparisons
from orchestrator.report.data import MECHANISM_LABELS, Curve, SweepData
from orchestrator.report.findings import THRESHOLD
from orchestrator.report.htmlfigures import figures_section
from orchestrator.report.htmlkit import esc, page, table, when
from orchestrator.report.htmllab import lab_section, points_section
from orchestrator.report.htmlnetwork import network_section
from orchestrator.report.htmlpaper import paper_section
from orchestrator.report.htmltable1 import table1_section
from orchestrator.report.reach import reach_section
from orchestrator.report.servernotes import servers_note
from orchestrator.report.stats import DOES_NOT_HOLD, HOLDS, INCONCLUSIVE, MIN_RUNS
from orchestrator.results.records import PHASES

VERDICT_CLASSES = {HOLDS: "holds", DOES_NOT_HOLD: "fails", INCONCLUSIVE: "inconclusive"}


def report_page(
    report: Report,
    pngs: Mapping[str, bytes],
    files: Sequence[str],
    store_link: str | None = None,
) -> str:
    """The whole report page; `store_link`: the results store, relative to the page."""
    data = report.data
    details = data.details
    sections = [
        _header(report),
        '<nav><a href="#findings">Findings</a><a href="#figures">Figures</a>'
        '<a href="#table1">Table 1</a><a href="#paper">The paper beside us</a>'
        '<a href="#idle">Idle connections</a>'
        '<a href="#reach">Reach</a>'
        '<a href="#statistics">Statistics</a><a href="#phases">Time per phase</a>'
        '<a href="#lab">The lab</a>'
        '<a href="#points">Every point</a></nav>',
        _banner(report),
        _findings(report),
        figures_section(report, pngs),
        table1_section(report),
        paper_section(report),
        _idle(report),
        reach_section(data.settings, bool(data.experiment.get("knee"))),
        _statistics(report),
        _phases(report),
        lab_section(details),
        network_section(data.points),
        points_section(report, store_link),
        f'<p class="note">Data files beside this page: {_links(files)}. Generated '
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
    elif data.lab_kind == "machines":
        kind = (
            '<p class="notice"><b>Lab of machines.</b> Every host is a booted Debian container '
            "(its own root file system, systemd and sshd) on one machine, provisioned as a real "
            "host; they share that machine's kernel and CPUs, and the NICs are veth pairs on "
            "bridges. The numbers show that the real-host path works end to end; they are not "
            "those of a performance lab.</p>"
        )
    elif data.emulated is False:
        kind = '<p class="meta">Physical lab: hosts as listed under "The lab".</p>'
    else:
        kind = '<p class="notice">The kind of lab was not recorded with this sweep.</p>'
    return (
        f"<h1>Sweep {esc(data.id)}</h1>\n"
        f'<p class="meta">Lab <b>{esc(d.get("lab", "?"))}</b> · sweep {esc(d.get("status"))}'
        f" · {len(data.points) + len(data.profile)} of {esc(d.get('points_planned'))} points"
        f" stored ({esc(counts)}{esc(_profiled(data.profile))})"
        f" · {esc(started)} – {esc(ended)} · revision {esc(d.get('revision'))}</p>\n{kind}"
        f"{_load_note(data)}{servers_note(data)}"
    )


LOAD_ENGINES = {
    "httperf": (
        "Debian's httperf 0.9.0, the paper's client: select-based, each process spins a core and"
        " holds at most about 1,000 connections, so the clients' reach can end a curve before"
        " the server's knee"
    ),
    "tbload": (
        "tbload, the project's open-loop engine (epoll, connection starts on a fixed schedule,"
        " one process per client): a client is the limit only when tbload said it fell behind"
        " its schedule or ran out of ports or descriptors"
    ),
}


def _load_note(data: SweepData) -> str:
    """Which load generator produced the load (every figure's caption says it too)."""
    engine = data.load_engine
    what = LOAD_ENGINES.get(engine, "")
    return f'<p class="meta">Load generated by <b>{esc(engine)}</b>' + (
        f": {esc(what)}.</p>" if what else ".</p>"
    )


def _banner(report: Report) -> str:
    """Which findings were judged by throughput, which by cost, and why."""
    lines = []
    for finding in report.findings:
        basis = " and ".join(f"by {b}" for b in finding.basis) or "not judged"
        reason = finding.why or (finding.evidence[0] if finding.evidence else "")
        if not finding.basis and finding.evidence:
            reason = "; ".join(finding.evidence)
        why = f": {reason}" if reason else ""
        lines.append(
            f"<li><b>{esc(finding.source)}</b> ({esc(finding.verdict)}) {esc(basis)}{esc(why)}</li>"
        )
    return (
        '<div class="notice"><b>How the findings were judged.</b> Each claim rests on '
        "comparisons of two curves. By <i>throughput</i> (peak reply rates, as the paper) when "
        "either curve saturated; a curve that did not saturate peaks at the highest rate it was "
        "offered, only a lower bound, so its side of the interval is left open. Otherwise, or "
        "when that open side is what leaves it undecided, by <i>cost</i>: the server's CPU per "
        "reply at the highest rate both curves share, since a mechanism that costs more per "
        "reply saturates sooner. Each comparison's relative difference carries a 95 % "
        "confidence interval (Welch's t over the runs; each curve's own, Student's t). "
        f"<b>The rule</b>, at one threshold of {THRESHOLD:.0%}: a claim that something "
        "degrades, costs more or lifts holds only when the whole interval lies beyond the "
        "threshold; a claim of no difference (“as well as”, “does not "
        "degrade”, “little or no gain”) holds only when the whole interval lies "
        "on its side of the threshold (the one-sided halves of an equivalence test, TOST-style, "
        "at 95 %), so “nothing significant” never makes it hold. Either does not hold "
        "only when the whole interval lies on the other side of the threshold. Anything between "
        "is <i>inconclusive</i>, stated with the runs per curve that would likely decide it, "
        "estimated from the spread observed (the n at which t·s·√(2/n) fits "
        "between the difference and the threshold). A verdict needs at least "
        f"{MIN_RUNS} runs per curve at the rates it compares: single runs have no interval, and "
        "two leave it too wide to trust; with fewer the verdict is inconclusive and says so. A "
        "claim holds when every comparison holds on every workload measured; a verdict that "
        "rests on part of the paper's workloads names the rest. The idle table's "
        "<i>better</i> / <i>worse</i> are changes, not claims: a change counts when it is at "
        f"least {THRESHOLD:.0%} and its 95 % CI excludes zero (single runs: the threshold "
        f"alone, labelled).<ul>{''.join(lines)}</ul></div>"
    )


def _findings(report: Report) -> str:
    rows = []
    for finding in report.findings:
        kind = VERDICT_CLASSES.get(finding.verdict, "unmeasured")
        evidence = "".join(f"<li>{esc(line)}</li>" for line in finding.evidence)
        failed = "".join(f"<li>{esc(line)}</li>" for line in finding.failed)
        rows.append(
            [
                esc(finding.claim),
                esc(finding.source),
                f'<span class="verdict {kind}">{esc(finding.verdict)}</span>'
                + esc(finding.qualifier)
                + (f"<br>by {esc(' and '.join(finding.basis))}" if finding.basis else ""),
                (f"<p><b>Failed:</b></p><ul>{failed}</ul>" if failed else "")
                + (f"<ul>{evidence}</ul>" if evidence else ""),
            ]
        )
    return (
        '<h2 id="findings">The paper\'s findings, checked</h2>\n<p class="note">Each claim of '
        "the paper's section 5 judged on this sweep, by throughput or by cost, under the rule "
        "above; a claim is <i>not measured</i> when the sweep lacks the curves or counters to "
        "judge it, <i>inconclusive</i> when their intervals cannot decide it. Every <i>does "
        "not hold</i> names the comparison that failed. Data: "
        '<a href="findings.csv">findings.csv</a>.</p>\n'
        + table(["claim", "paper", "verdict", "the numbers behind it"], rows, raw=True)
        + _wan(report)
    )


def _wan(report: Report) -> str:
    if not report.wan:
        return ""
    lines = "".join(f"<li>{esc(line)}</li>" for line in report.wan)
    return (
        "<h3>Beyond the paper: WAN conditions (its section 7)</h3>"
        '<p class="note">Each mechanism\'s peak under a network profile against its LAN curve'
        " (change with its 95 % CI), and how many connections the load agents held at once at"
        " each peak: a longer round trip keeps every connection open longer.</p>"
        f"<ul>{lines}</ul>"
    )


def _cost_ratio(without: Curve, with_idle: Curve) -> str:
    top = at_top(cost_comparisons(without, with_idle, THRESHOLD))
    if top is None or top.ratio is None:
        return "-"
    return f"{top.ratio:.2f}× at {top.rate:,.0f}/s: {top.change.text()}, {top.verdict}"


def _links(files: Sequence[str]) -> str:
    return ", ".join(f'<a href="{esc(name)}">{esc(name)}</a>' for name in files)


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
                _cost_ratio(row.without, row.with_idle),
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
        "CPU per reply with / without, at the highest common rate [95 % CI]",
    ]
    return (
        head
        + "<p class=note>Each mechanism's peak reply rate with idle connections relative to its"
        " peak without (the paper: select and poll down by up to 79 % with 10,000 idle "
        "connections, epoll-ET unaffected). A curve that did not saturate peaks at the highest "
        "rate offered: its drop, if any, shows only once the rates stress the server (the CPU "
        "per reply shows it before: see the idle-degradation figure). The verdict uses the "
        f'findings\' threshold, {THRESHOLD:.0%}. Data: <a href="idle.csv">idle.csv</a>.</p>'
        + table(headers, rows)
    )


def _statistics(report: Report) -> str:
    data = report.data
    repetitions = data.repetitions
    spreads = report.spreads()
    if repetitions <= 1:
        text = (
            "Every point is a single run: no confidence intervals, changes between curves are "
            "judged against thresholds alone, and no finding is more than inconclusive."
        )
    else:
        text = (
            f"{repetitions} repetitions per point planned: each plotted point is the mean of its"
            " ok runs with a 95 % confidence interval (Student t). A curve's peak is its best "
            "rate's mean, with that interval; its saturation rate is found in each repetition, "
            f"then averaged. A finding's verdict needs {MIN_RUNS} ok runs per curve at the rates"
            " it compares; the table below gives the runs each curve achieved, and each verdict"
            " names the n its intervals rest on."
        )
    top = data.experiment.get("repeat_top") if data.experiment.get("knee") else None
    if repetitions > 1 and top:
        text += (
            f" Knee search: only the top {top} rates each curve measured ok in its first "
            "repetition were measured again; the rates below them are single runs."
        )
    if spreads:
        text += (
            f" Spread between repetitions of a point (coefficient of variation of the reply "
            f"rate): mean {statistics.fmean(spreads):.1%}, largest {max(spreads):.1%}, over "
            f"{len(spreads)} points."
        )
    return f'<h2 id="statistics">Repetitions and spread</h2>\n<p>{esc(text)}</p>' + _achieved(
        report.curves
    )


def _achieved(curves: Sequence[Curve]) -> str:
    """The ok runs each curve achieved per rate, and at its peak: what its points, its peak and
    the verdicts on it rest on (planned repetitions can end client-limited or failed)."""
    rows = []
    for curve in curves:
        peak = curve.peak_point
        rows.append(
            [
                curve.workload,
                f"{curve.idle_connections:,}",
                curve.accept_limit,
                curve.label,
                " · ".join(f"{rate:,.0f}: {n}" for rate, n in curve.achieved),
                f"{len(peak.ok)} at {peak.rate:,.0f}" if peak is not None else "-",
            ]
        )
    headers = ["workload", "idle", "accept-limit", "curve", "ok runs per rate", "n at the peak"]
    return '<p class="note">Runs achieved (ok) per curve.</p>' + table(headers, rows)


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


# -- helpers -------------------------------------------------------------------------------------


def _profiled(profile: Sequence[Mapping[str, object]]) -> str:
    """'; and 10 profiling Table 1', when the sweep had a profiling pass."""
    return f"; and {len(profile)} profiling Table 1" if profile else ""


def _label(mechanism: str) -> str:
    return MECHANISM_LABELS.get(mechanism, mechanism)
