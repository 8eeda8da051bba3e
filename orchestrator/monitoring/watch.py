"""`orchestrate watch`: the live run in a terminal, from Prometheus, for users without Grafana.

    watch(lab, console)      # refreshes every second until Ctrl-C

`snapshot` asks Prometheus everything at once; `render` turns a snapshot into rich renderables
(a pure function, tested on plain dictionaries).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from rich.console import Console, Group
from rich.live import Live
from rich.panel import Panel
from rich.table import Table

from orchestrator.config.model import Lab
from orchestrator.errors import TestbedError
from orchestrator.monitoring.prometheus import Prometheus

QUERIES = {
    "phase": "testbed_point_phase == 1",
    "points": "max by (state) (testbed_sweep_points) or label_replace("
    'max(testbed_sweep_points_planned), "state", "planned", "", "")',
    "target": "sum(testbed_load_target_request_rate)",
    "requests": "sum(rate(testbed_server_requests_total[5s]))",
    "replies": "sum(rate(testbed_server_replies_total[5s]))",
    "agents": "sum(testbed_load_reply_rate)",
    "server_errors": "sum by (kind) (increase(testbed_server_errors_total[30s]))",
    "point_errors": "sum by (kind) (testbed_point_errors)",
    "server_open": "sum(testbed_server_connections_open)",
    "idle_open": "sum(testbed_idle_connections_open)",
    "idle_target": "sum(testbed_idle_connections_target)",
    "time_wait": "sum by (host) (node_sockstat_TCP_tw)",
    "cpu": '1 - avg by (host) (rate(node_cpu_seconds_total{mode="idle"}[5s]))',
    "up": "up",
}

Snapshot = dict[str, list[dict[str, Any]]]


def snapshot(prometheus: Prometheus) -> Snapshot:
    return {name: prometheus.client.query(expression) for name, expression in QUERIES.items()}


def _scalar(snap: Snapshot, name: str) -> float | None:
    results = snap.get(name) or []
    return float(results[0]["value"][1]) if results else None


def _by(snap: Snapshot, name: str, label: str) -> dict[str, float]:
    return {r["metric"].get(label, "?"): float(r["value"][1]) for r in snap.get(name) or []}


def _number(value: float | None, unit: str = "") -> str:
    return "-" if value is None else f"{value:,.0f}{unit}"


def render(snap: Snapshot, lab_name: str, when: float) -> Group:
    """What `watch` shows for one snapshot."""
    phases = snap.get("phase") or []
    if phases:
        labels = phases[0]["metric"]
        point = (
            f"{labels.get('workload')}/idle={labels.get('idle_connections')}"
            f"/accept={labels.get('accept_limit')}/{labels.get('mechanism')}"
            f"/rate={labels.get('rate')}/rep={labels.get('repetition')}"
        )
        heading = (
            f"[bold]{point}[/]  phase [bold cyan]{labels.get('phase')}[/]"
            f"  sweep {labels.get('sweep')}"
        )
    else:
        heading = "[dim]no point in progress[/]"
    points = _by(snap, "points", "state")
    progress = ", ".join(f"{state} {count:.0f}" for state, count in sorted(points.items()))

    columns = (
        "target req/s",
        "server req/s",
        "server replies/s",
        "agents replies/s",
        "open conns",
        "idle held",
    )
    rates = Table.grid(padding=(0, 3))
    for column in columns:
        rates.add_column(column, justify="right")
    rates.add_row(*[f"[dim]{column}[/]" for column in columns])
    idle = _scalar(snap, "idle_open")
    idle_target = _scalar(snap, "idle_target")
    rates.add_row(
        _number(_scalar(snap, "target")),
        _number(_scalar(snap, "requests")),
        _number(_scalar(snap, "replies")),
        _number(_scalar(snap, "agents")),
        _number(_scalar(snap, "server_open")),
        f"{_number(idle)} of {_number(idle_target)}" if idle_target else _number(idle),
    )

    errors = {f"server {k}": v for k, v in _by(snap, "server_errors", "kind").items() if v}
    errors |= {f"clients {k}": v for k, v in _by(snap, "point_errors", "kind").items() if v}
    error_text = ", ".join(f"{k} {v:,.0f}" for k, v in sorted(errors.items())) or "none"

    hosts = Table(show_edge=False, pad_edge=False)
    hosts.add_column("host")
    hosts.add_column("TIME_WAIT", justify="right")
    hosts.add_column("CPU busy", justify="right")
    hosts.add_column("exporters up", justify="right")
    waits = _by(snap, "time_wait", "host")
    cpus = _by(snap, "cpu", "host")
    up: dict[str, list[float]] = {}
    for result in snap.get("up") or []:
        up.setdefault(result["metric"].get("host", "?"), []).append(float(result["value"][1]))
    for host in sorted(set(waits) | set(cpus) | set(up)):
        flags = up.get(host, [])
        hosts.add_row(
            host,
            _number(waits.get(host)),
            "-" if host not in cpus else f"{cpus[host]:.0%}",
            f"{sum(flags):.0f}/{len(flags)}",
        )
    stamp = time.strftime("%H:%M:%S", time.localtime(when))
    return Group(
        Panel(f"{heading}\npoints: {progress or '-'}", title=f"testbed {lab_name} · {stamp}"),
        rates,
        f"errors (last 30 s / last point): {error_text}",
        hosts,
    )


def watch(
    lab: Lab,
    console: Console,
    refresh: float = 1.0,
    count: int | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """Show the live run until Ctrl-C (or `count` refreshes)."""
    prometheus = Prometheus.for_lab(lab)
    shown = 0
    with Live(console=console, auto_refresh=False) as live:
        while count is None or shown < count:
            try:
                view: Any = render(snapshot(prometheus), lab.name, time.time())
            except TestbedError as error:
                view = Panel(f"[red]{error.message}[/]", title=f"testbed {lab.name}")
            live.update(view, refresh=True)
            shown += 1
            sleep(refresh)
