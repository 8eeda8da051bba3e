"""The report with several servers: curves named by server, the columns a server lacks."""

from __future__ import annotations

from typing import Any

from orchestrator.report.analysis.data import curves
from orchestrator.report.analysis.pointmetrics import CPU_PER_REPLY, point_metrics
from orchestrator.report.analysis.servernotes import lacking
from orchestrator.report.analysis.sweep import SweepData
from orchestrator.report.html.servers import servers_note
from tests.support.report_stores import stored_point

NGINX_SERVER = {"name": "nginx", "cpu_seconds": 0.5, "lacks": ["syscalls", "server_replies"]}


def point(name: str, mechanism: str, rate: float, **extra: Any) -> dict[str, Any]:
    series = mechanism if name == "userver" else name
    return {
        "key": f"one-byte/idle=0/accept=inf/{series}/rate={rate:g}/rep=1",
        "server_name": name,
        "mechanism": mechanism,
        "workload": "one-byte",
        "idle_connections": 0,
        "accept_limit": "inf",
        "target_rate": rate,
        "repetition": 1,
        "status": "ok",
        "reason": "",
        "reply_rate": rate,
        "request_rate": rate,
        **extra,
    }


def data(*rows: dict[str, Any]) -> SweepData:
    """A sweep of the points stored as `rows` (a row without a column: an older store's)."""
    return SweepData("s", {}, tuple(stored_point(**row) for row in rows), {})


def test_userver_and_nginx_are_curves_of_one_figure_labelled_by_server() -> None:
    found = curves(
        data(
            point("userver", "epoll-et", 100),
            point("nginx", "", 100, server=NGINX_SERVER),
            point("userver", "epoll-et", 200),
            point("nginx", "", 200, server=NGINX_SERVER),
        )
    )
    assert [c.label for c in found] == ["userver epoll-ET", "nginx"]
    assert [len(c.points) for c in found] == [2, 2]


def test_one_server_keeps_the_mechanism_labels_as_before() -> None:
    found = curves(data(point("userver", "epoll-et", 100), {**point("userver", "poll", 100)}))
    assert sorted(c.label for c in found) == ["epoll-ET", "poll"]
    old = point("userver", "poll", 100)
    del old["server_name"]  # a store from before servers
    assert [c.label for c in curves(data(old))] == ["poll"]


def test_a_server_without_counters_is_said_to_lack_them_not_shown_zero() -> None:
    sweep = data(point("userver", "poll", 100), point("nginx", "", 100, server=NGINX_SERVER))
    assert lacking(sweep) == {"nginx": ["syscalls", "server_replies"]}
    note = servers_note(sweep)
    assert "nginx" in note and "system calls (Table 1)" in note
    assert servers_note(data(point("userver", "poll", 100))) == ""


def test_cpu_per_reply_of_a_server_without_a_count_uses_the_clients_replies() -> None:
    metrics = point_metrics(
        stored_point(**point("nginx", "", 100, server=NGINX_SERVER, replies=1000))
    )
    assert metrics[CPU_PER_REPLY] == 1e6 * 0.5 / 1000


def test_table1_has_no_column_for_a_server_without_syscall_counters() -> None:
    from orchestrator.report.analysis.syscalls import syscall_table

    sweep = data(
        point("userver", "poll", 100, server={"cpu_seconds": 0.1}, status="ok"),
        point("nginx", "", 100, server=NGINX_SERVER),
        {**point("broken", "", 100), "status": "failed", "server": {}},
    )
    table = syscall_table(sweep, "one-byte", 0, "inf")
    assert table.mechanisms == ["poll"] and table.rate == 100
