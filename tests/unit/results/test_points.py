"""A stored point comes back typed: its columns, its agents' records and the server's counters;
a row of an older store (columns missing, JSON columns empty) reads with the declared defaults."""

from __future__ import annotations

import json

from orchestrator.results.points import StoredPoint
from tests.support.report_stores import ROW

SERVER = {
    "cpu_seconds": 0.5,
    "totals": {"testbed_server_loop_rounds_total": 100, "not a number": "x"},
    "syscalls": {
        "epoll_wait": {"calls": 100, "seconds": 2.0, "cpu_seconds": 0.1, "blocked_seconds": 1.9},
        "read": {"calls": 900, "seconds": 0.2},
    },
    "info": {"syscall_timing": "cpu"},
    "cpu_use": {
        "seconds": 0.5,
        "window_seconds": 5.0,
        "load_seconds": 4.0,
        "cores_given": 1,
        "cores": 1,
    },
}
AGENTS = {
    "client1": {"load": {"totals": {"connections": 600, "sessions_started": 10}}},
    "client2": {"load": {"totals": {"connections": 400}, "max_concurrent_connections": 7}},
    "client3": {"idle": {"held": 1000}},  # an idle agent's record: no load part
    "client4": {"load": {"version": 99}},  # written by a newer agent than this orchestrator
}


def test_the_json_columns_come_back_typed() -> None:
    row = {**ROW, "server": json.dumps(SERVER), "agents": json.dumps(AGENTS)}
    point = StoredPoint.from_row({**row, "phases": json.dumps({"start": 1.0, "measure": 5.0})})
    assert point.agent_total("connections") == 1000 and point.agent_total("sessions_started") == 10
    assert point.agents["client2"].max_concurrent_connections == 7
    assert (
        point.agents["client3"].load is None
        and point.agents["client3"].total("connections") is None
    )
    unreadable = point.agents["client4"]
    assert unreadable.load is None and unreadable.load_error and "99" in unreadable.load_error
    assert unreadable.stored == AGENTS["client4"]  # kept as stored, never lost
    assert point.server.cpu_seconds == 0.5 and point.server.syscall_timing == "cpu"
    assert point.server.totals == {"testbed_server_loop_rounds_total": 100.0}  # numbers only
    wait, read = point.server.syscalls["epoll_wait"], point.server.syscalls["read"]
    assert wait.blocked_seconds == 1.9 and read.cpu_seconds is None  # not timed apart
    assert point.server.cpu_use is not None and point.server.cpu_use.busy == 0.125
    assert list(point.phases) == ["start", "measure"] and point.window_seconds == 5.0


def test_a_row_of_an_older_store_reads_with_the_declared_defaults() -> None:
    old = {
        **ROW,
        "phases": None,
        "errors": "",
        "agents": None,
        "server": "",
        "measure_seconds": 4.0,
    }
    point = StoredPoint.from_row(old)
    assert (point.server_name, point.purpose, point.network) == ("userver", "throughput", "")
    assert point.phases == {} and point.errors == {} and point.agents == {}
    assert point.server.cpu_use is None and point.server.syscalls == {}
    assert point.window_seconds == 4.0  # httperf's own duration, without phases
