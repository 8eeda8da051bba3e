"""The report page's reference sections: the lab as recorded, and every point (sortable and
filterable in the page, by plain JavaScript with no network).

    html = lab_section(report.data.details) + points_section(report)
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from markupsafe import Markup

from orchestrator.config.redact import redact_yaml
from orchestrator.report.analysis.build import Report
from orchestrator.report.analysis.pointmetrics import CPU_PER_REPLY, point_metrics
from orchestrator.report.analysis.sweep import memory_gib
from orchestrator.report.html.kit import maybe, render, table
from orchestrator.results.points import StoredPoint

HOST_HEADERS = ["host", "role", "kernel", "OS", "CPU", "CPUs", "memory", "NICs", "httperf"]


def lab_section(details: Mapping[str, Any]) -> Markup:
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
                _memory(memory_gib(facts.get("memory_kib"))),
                "; ".join(f"{nic} {' '.join(addresses)}" for nic, addresses in nics.items()),
                facts.get("httperf", ""),
            ]
        )
    settings = details.get("settings") or {}
    sysctls = {name: facts.get("sysctls") or {} for name, facts in hosts.items()}
    same = len({json.dumps(s, sort_keys=True) for s in sysctls.values()}) == 1
    return render(
        "lab.html",
        idle_note=idle_counts_note(settings),
        hosts=table(HOST_HEADERS, rows),
        settings=json.dumps(settings, indent=2, sort_keys=True),
        same=same,
        sysctls=json.dumps(
            next(iter(sysctls.values())) if same else sysctls, indent=2, sort_keys=True
        ),
        workloads=json.dumps(_brief_workloads(details.get("workloads")), indent=2),
        lab_file=redact_yaml(details.get("lab_file") or ""),
        inventory=redact_yaml(details.get("inventory") or ""),
    )


POINT_HEADERS = [
    "#",
    "point",
    "mechanism",
    "idle",
    "offered/s",
    "status",
    "requests/s",
    "replies/s",
    "errors",
    "server CPU s",
    "server busy %",
    "CPU µs/reply",
    "attempts",
    "reason",
]


def points_section(report: Report, store_link: str | None = None) -> Markup:
    """Every point in run order, with the CPU per reply; sortable and filterable."""
    rows, classes = [], []
    for point, metrics in zip(report.data.points, _metrics(report), strict=True):
        rows.append(
            [
                point.seq,
                point.key,
                point.mechanism,
                point.idle_connections,
                maybe(point.target_rate, ",.0f"),
                point.status,
                maybe(point.request_rate, ",.1f"),
                maybe(point.reply_rate, ",.1f"),
                point.errors_total if point.errors_total is not None else "-",
                maybe(point.server.cpu_seconds, ".2f"),
                _busy(point),
                maybe(metrics.get(CPU_PER_REPLY), ".1f"),
                point.attempts,
                point.reason or "",
            ]
        )
        classes.append(point.status)
    numeric = (0, 3, 4, 6, 7, 8, 9, 10, 11, 12)
    return render(
        "points.html",
        store_link=store_link or "",
        table=table(POINT_HEADERS, rows, numeric=numeric, row_classes=classes),
    )


def _busy(point: StoredPoint) -> str:
    """The server's CPU over the load, in % of the cores it could use (`ServerCpu.busy`)."""
    cpu = point.server.cpu_use
    return f"{cpu.busy_percent:.0f}" if cpu is not None else "-"


def _metrics(report: Report) -> list[dict[str, float | None]]:
    return [point_metrics(point) for point in report.data.points]


def idle_counts_note(settings: Mapping[str, Any]) -> Markup | str:
    """Why the sweep ran the idle counts it did, when one was `max` (the most the hosts' open-file
    limits allow, found by preflight): the paper's 10,000 may not bring select's and poll's
    knee within the clients' reach on a small lab, and the report says what was used instead."""
    experiment = settings.get("experiment") or {}
    value = experiment.get("idle_max_value")
    if not experiment.get("idle_max") or not isinstance(value, int):
        return ""
    counts = sorted({*(experiment.get("idle_connections") or []), value})
    return render(
        "idle_counts.html",
        listed=", ".join(f"{count:,}" for count in counts),
        most=f"{value:,}",
        why=experiment.get("idle_max_why") or "",
    )


def _server_first(item: tuple[str, Any]) -> tuple[bool, str]:
    name, facts = item
    return (facts.get("role") != "server", name)


def _memory(gib: float | None) -> str:
    return f"{gib:.1f} GiB" if gib is not None else ""


def _brief_workloads(workloads: Any) -> Any:
    """The workloads' seeds and file-set statistics, without per-file lists."""
    if not isinstance(workloads, dict):
        return workloads
    brief = dict(workloads)
    sessions = brief.get("sessions")
    if isinstance(sessions, dict) and sessions:
        brief["sessions"] = f"{len(sessions)} clients' traces (see the store)"
    return brief
