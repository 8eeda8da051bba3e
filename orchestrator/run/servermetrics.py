"""The server's own counters, read from its metrics listener on the management network.

    before = fetch(lab.server, SERVER_METRICS_PORT)
    ... load ...
    counters = difference(before, fetch(lab.server, SERVER_METRICS_PORT))

These are the numbers of the paper's Table 1 (time and calls per system call) and the check on
the agents (replies counted by the server). Parsing is a pure function of the exposition text.

Servers from before per-call CPU timing export only `testbed_server_syscall_seconds_total`
(wall time around each call); newer ones also export, per `syscall`,
`testbed_server_syscall_cpu_seconds_total` (the serving thread's CPU time inside the call) and
`testbed_server_syscall_blocked_seconds_total` (wall time inside it while not running), and
`testbed_server_epoll_ctl_operations_total{op, via}` (interest-set operations, apart from the
system calls that carried them). Both are accepted; what a name is missing from is absent from
the stored point, never zero (`syscall_timing` in `info` says how the server timed its calls).
"""

from __future__ import annotations

import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from orchestrator.config.model import Host
from orchestrator.errors import TestbedError
from orchestrator.ports import SERVER_METRICS_PORT

SYSCALL_CPU = "testbed_server_syscall_cpu_seconds_total"
SYSCALL_BLOCKED = "testbed_server_syscall_blocked_seconds_total"
EPOLL_OPERATIONS = "testbed_server_epoll_ctl_operations_total"


@dataclass
class ServerCounters:
    """A snapshot of the server's counters (totals since it started) and gauges."""

    replies: dict[str, float] = field(default_factory=dict)  # by status
    syscalls: dict[str, tuple[float, float]] = field(default_factory=dict)  # calls, seconds
    syscall_cpu: dict[str, float] = field(default_factory=dict)  # CPU seconds inside, by call
    syscall_blocked: dict[str, float] = field(default_factory=dict)  # seconds not running
    epoll_operations: dict[str, float] = field(default_factory=dict)  # "op/via": operations
    errors: dict[str, float] = field(default_factory=dict)  # by kind
    totals: dict[str, float] = field(default_factory=dict)  # other counters, by metric name
    gauges: dict[str, float] = field(default_factory=dict)
    info: dict[str, str] = field(default_factory=dict)

    @property
    def open_connections(self) -> int:
        return int(self.gauges.get("testbed_server_connections_open", 0))

    @property
    def replies_total(self) -> float:
        return sum(self.replies.values())


def parse(text: str) -> ServerCounters:
    """Counters from the server's Prometheus text exposition."""
    counters = ServerCounters()
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            name, labels, value = sample.name, sample.labels, float(sample.value)
            if name == "testbed_server_info":
                counters.info = dict(labels)
            elif name == "testbed_server_replies_total":
                counters.replies[labels.get("status", "?")] = value
            elif name == "testbed_server_errors_total":
                counters.errors[labels.get("kind", "?")] = value
            elif name in ("testbed_server_syscalls_total", "testbed_server_syscall_seconds_total"):
                calls, seconds = counters.syscalls.get(labels["syscall"], (0.0, 0.0))
                if name == "testbed_server_syscalls_total":
                    calls = value
                else:
                    seconds = value
                counters.syscalls[labels["syscall"]] = (calls, seconds)
            elif name == SYSCALL_CPU:
                counters.syscall_cpu[labels["syscall"]] = value
            elif name == SYSCALL_BLOCKED:
                counters.syscall_blocked[labels["syscall"]] = value
            elif name == EPOLL_OPERATIONS:
                key = f"{labels.get('op', '?')}/{labels.get('via', '?')}"
                counters.epoll_operations[key] = value
            elif family.type == "counter" or name.endswith("_total"):
                counters.totals[name] = value
            elif family.type == "gauge":
                counters.gauges[name] = value
    return counters


def difference(before: ServerCounters, after: ServerCounters) -> dict[str, Any]:
    """What the server did between two snapshots, as stored with a point."""

    def minus(new: dict[str, float], old: dict[str, float]) -> dict[str, float]:
        return {key: value - old.get(key, 0.0) for key, value in new.items()}

    syscalls = {
        name: (
            calls - before.syscalls.get(name, (0.0, 0.0))[0],
            seconds - before.syscalls.get(name, (0.0, 0.0))[1],
        )
        for name, (calls, seconds) in after.syscalls.items()
    }
    calls = {name: {"calls": c, "seconds": s} for name, (c, s) in syscalls.items()}
    for name, entry in calls.items():
        if name in after.syscall_cpu:
            entry["cpu_seconds"] = after.syscall_cpu[name] - before.syscall_cpu.get(name, 0.0)
        if name in after.syscall_blocked:
            blocked = after.syscall_blocked[name] - before.syscall_blocked.get(name, 0.0)
            entry["blocked_seconds"] = blocked
    return {
        "replies": minus(after.replies, before.replies),
        "replies_total": after.replies_total - before.replies_total,
        "errors": minus(after.errors, before.errors),
        "totals": minus(after.totals, before.totals),
        "syscalls": calls,
        "epoll_operations": minus(after.epoll_operations, before.epoll_operations),
        "cpu_seconds": after.totals.get("process_cpu_seconds_total", 0.0)
        - before.totals.get("process_cpu_seconds_total", 0.0),
        "open_connections_at_end": after.open_connections,
        "resident_memory_bytes": after.gauges.get("process_resident_memory_bytes"),
        "info": after.info,
    }


def fetch(host: Host, port: int = SERVER_METRICS_PORT, timeout: float = 5.0) -> ServerCounters:
    """Scrape the server's metrics; TestbedError if it does not answer."""
    url = f"http://{host.management}:{port}/metrics"
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            text = response.read().decode()
    except (urllib.error.URLError, OSError) as error:
        reason = getattr(error, "reason", error)
        raise TestbedError(f"server metrics at {url} do not answer: {reason}") from None
    try:
        return parse(text)
    except ValueError as error:
        raise TestbedError(f"server metrics at {url} do not parse: {error}") from None
