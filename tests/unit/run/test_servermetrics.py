"""The server's counters parsed from its /metrics text: old servers (wall time per call only) and
new ones (per-call CPU and blocked time, epoll operations). The fixtures were captured from the
server of the interest-set state machine (`--syscall-timing cpu`) before and after 2,000
one-byte requests over loopback."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.run.servermetrics import difference, parse

FIXTURES = Path(__file__).parent / "fixtures"

OLD_SERVER = """\
# TYPE testbed_server_replies_total counter
testbed_server_replies_total{status="200"} 100
# TYPE testbed_server_syscalls_total counter
testbed_server_syscalls_total{syscall="select",mechanism="select"} 40
# TYPE testbed_server_syscall_seconds_total counter
testbed_server_syscall_seconds_total{syscall="select",mechanism="select"} 1.5
# TYPE testbed_server_events_fired_total counter
testbed_server_events_fired_total 300
# TYPE process_cpu_seconds_total counter
process_cpu_seconds_total 0.5
"""


def captured(name: str) -> str:
    return (FIXTURES / f"server-{name}.prom").read_text()


@pytest.mark.parametrize("mechanism", ["select", "epoll-lt"])
def test_a_new_servers_per_call_cpu_and_blocked_time_are_kept(mechanism: str) -> None:
    before, after = parse(captured(f"{mechanism}-before")), parse(captured(f"{mechanism}-after"))
    assert after.info["syscall_timing"] == "cpu"
    server = difference(before, after)
    calls = server["syscalls"]
    assert calls and all({"cpu_seconds", "blocked_seconds"} <= set(v) for v in calls.values())
    for name, entry in calls.items():
        assert entry["cpu_seconds"] >= 0 and entry["blocked_seconds"] >= 0, name
    # The thread's CPU time inside calls is part of the process's CPU time.
    assert sum(v["cpu_seconds"] for v in calls.values()) <= server["cpu_seconds"]
    assert server["replies_total"] >= 2000
    # The per-call series are not mistaken for unlabelled totals.
    assert not any("syscall_cpu" in name for name in server["totals"])
    assert server["totals"]["testbed_server_events_fired_total"] > 0


def test_epoll_operations_are_counted_apart_from_the_calls_that_carried_them() -> None:
    server = difference(parse(captured("epoll-lt-before")), parse(captured("epoll-lt-after")))
    operations = server["epoll_operations"]
    assert operations and all("/" in key for key in operations)
    assert sum(operations.values()) >= server["syscalls"]["epoll_ctl"]["calls"] > 0


def test_an_old_servers_counters_have_wall_time_only() -> None:
    server = difference(parse(""), parse(OLD_SERVER))
    assert server["syscalls"] == {"select": {"calls": 40.0, "seconds": 1.5}}
    assert server["epoll_operations"] == {}
    assert server["cpu_seconds"] == 0.5
