"""The report's one self-contained HTML page: inline CSS, the figures as data: URIs, and one
small inline script (sorting and filtering the every-point table).

    text = report_page(report, pngs={"figure-1-one-byte-idle0": b"\\x89PNG..."},
                       files=["points.csv"], store_link="../../testbed.sqlite")

It opens from the file system with nothing else (no network, no other file), so a report can be
mailed or archived as the one file; the SVGs and CSVs beside it are linked. Each section is a
template under `templates/` fed values the analysis computed (this module only picks and
formats them); the building blocks, shared with `compare`'s page, are in `kit`, the larger
sections in `figures`, `table1`, `paper`, `reach`, `lab` and `network`.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

from markupsafe import Markup

from orchestrator.report.analysis.build import Report
from orchestrator.report.analysis.costs import at_top, cost_comparisons
from orchestrator.report.analysis.data import MECHANISM_LABELS, Curve
from orchestrator.report.analysis.findings import THRESHOLD
from orchestrator.report.analysis.phases import phase_times, spread, status_counts
from orchestrator.report.analysis.stats import DOES_NOT_HOLD, HOLDS, INCONCLUSIVE, MIN_RUNS
from orchestrator.report.analysis.sweep import SweepData
from orchestrator.report.html.figures import figures_section
from orchestrator.report.html.kit import page, render, table, when
from orchestrator.report.html.lab import lab_section, points_section
from orchestrator.report.html.network import network_section
from orchestrator.report.html.paper import paper_section
from orchestrator.report.html.reach import reach_section
from orchestrator.report.html.servers import servers_note
from orchestrator.report.html.table1 import table1_section

VERDICT_CLASSES = {HOLDS: "holds", DOES_NOT_HOLD: "fails", INCONCLUSIVE: "inconclusive"}


def report_page(
    report: Report,
    pngs: Mapping[str, bytes],
    files: Sequence[str],
    store_link: str | None = None,
) -> str:
    """The whole report page; `store_link`: the results store, relative to the page."""
    data = report.data
    body = render(
        "report.html",
        header=_header(data),
        servers=servers_note(data),
        banner=_banner(report),
        findings=_findings(report),
        figures=figures_section(report, pngs),
        table1=table1_section(report),
        paper=paper_section(report),
        idle=_idle(report),
        reach=reach_section(data.settings, bool(data.experiment.get("knee"))),
        statistics=_statistics(report),
        phases=_phases(report),
        lab=lab_section(data.details),
        network=network_section(data.points),
        points=points_section(report, store_link),
        files=list(files),
        generated=time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
    )
    return page(f"testbed report: {data.id}", body)


# -- sections ------------------------------------------------------------------------------------


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


def _header(data: SweepData) -> dict[str, Any]:
    """The sweep's title line, the kind of lab it ran on and the load generator it used."""
    d = data.details
    counts = ", ".join(f"{n} {status}" for status, n in status_counts(data.points).items())
    if data.emulated:
        kind = "emulated"
    elif data.lab_kind == "machines":
        kind = "machines"
    elif data.emulated is False:
        kind = "physical"
    else:
        kind = "unknown"
    return {
        "id": data.id,
        "lab": d.get("lab", "?"),
        "status": d.get("status"),
        "stored": len(data.points) + len(data.profile),
        "planned": d.get("points_planned"),
        "counts": counts,
        "profiled": f"; and {len(data.profile)} profiling Table 1" if data.profile else "",
        "started": when(d.get("started_at")),
        "ended": when(d.get("ended_at")),
        "revision": d.get("revision"),
        "kind": kind,
        "engine": data.load_engine,
        "engine_note": LOAD_ENGINES.get(data.load_engine, ""),
        "server_cpu_limit": data.server_cpu_limit,
    }


def _banner(report: Report) -> Markup:
    """Which findings were judged by throughput, which by cost, and why."""
    lines = []
    for finding in report.findings:
        reason = finding.why or (finding.evidence[0] if finding.evidence else "")
        if not finding.basis and finding.evidence:
            reason = "; ".join(finding.evidence)
        lines.append(
            {
                "source": finding.source,
                "verdict": finding.verdict,
                "basis": " and ".join(f"by {b}" for b in finding.basis) or "not judged",
                "reason": reason,
            }
        )
    return render("banner.html", lines=lines, threshold=f"{THRESHOLD:.0%}", min_runs=MIN_RUNS)


def _findings(report: Report) -> Markup:
    findings = [
        {
            "claim": finding.claim,
            "source": finding.source,
            "kind": VERDICT_CLASSES.get(finding.verdict, "unmeasured"),
            "verdict": finding.verdict,
            "qualifier": finding.qualifier,
            "basis": " and ".join(finding.basis),
            "failed": finding.failed,
            "evidence": finding.evidence,
        }
        for finding in report.findings
    ]
    return render("findings.html", findings=findings, wan=report.wan)


def _cost_ratio(without: Curve, with_idle: Curve) -> str:
    top = at_top(cost_comparisons(without, with_idle, THRESHOLD))
    if top is None or top.ratio is None:
        return "-"
    return f"{top.ratio:.2f}× at {top.rate:,.0f}/s: {top.change.text()}, {top.verdict}"


IDLE_HEADERS = [
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


def _idle(report: Report) -> Markup:
    rows = [
        [
            row.workload,
            MECHANISM_LABELS.get(row.mechanism, row.mechanism),
            f"{row.idle_connections:,}",
            row.without.peak.text() if row.without.peak else "-",
            row.with_idle.peak.text() if row.with_idle.peak else "-",
            f"{row.ratio:.1%}" if row.ratio is not None else "-",
            row.change.text() if row.change else "-",
            row.change.verdict if row.change else "not measured",
            "yes" if row.with_idle.saturated else "no",
            _cost_ratio(row.without, row.with_idle),
        ]
        for row in report.idle
    ]
    shown = table(IDLE_HEADERS, rows) if rows else ""
    return render("idle.html", table=shown, threshold=f"{THRESHOLD:.0%}")


def _statistics(report: Report) -> Markup:
    data = report.data
    repetitions = data.repetitions
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
    found = spread(report.spreads())
    if found is not None:
        text += (
            f" Spread between repetitions of a point (coefficient of variation of the reply "
            f"rate): mean {found.mean:.1%}, largest {found.largest:.1%}, over "
            f"{found.points} points."
        )
    return render("statistics.html", text=text, table=_achieved(report.curves))


def _achieved(curves: Sequence[Curve]) -> Markup:
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
    return table(headers, rows)


def _phases(report: Report) -> Markup | str:
    """Where the sweep's time went: each phase's mean and max over the points that had it."""
    times = phase_times(report.data.points)
    if not times:
        return ""
    rows = [
        [
            phase.name,
            f"{phase.mean:.2f}",
            f"{phase.max:.2f}",
            f"{phase.share:.1%}" if phase.share is not None else "",
        ]
        for phase in times
    ]
    shown = table(["phase", "mean s", "max s", "share"], rows, numeric=(1, 2, 3))
    return render("phases.html", table=shown)
