"""The idle-connection agent end to end: 10,000 connections from one process against a server
that closes some of them on command, nginx closing idle connections on its own, a server that
is not up yet, SIGTERM/SIGINT, bad arguments and limits."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.support.agents import (
    REPO,
    HoldingServer,
    Nginx,
    free_port,
    metric_value,
    promtool_check,
    run_module,
    scrape,
)


def start_agent(
    port: int, connections: int, metrics_port: int = 0, python: str = sys.executable
) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            python,
            "-m",
            "agents.idle",
            *f"--server 127.0.0.1 --port {port} --connections {connections} --host client5"
            f" --metrics-port {metrics_port} --metrics-address 127.0.0.1".split(),
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def stop_agent(agent: subprocess.Popen[str], sig: int = signal.SIGTERM) -> dict[str, Any]:
    os.kill(agent.pid, sig)
    started = time.monotonic()
    stdout, stderr = agent.communicate(timeout=20)
    assert time.monotonic() - started < 5
    assert agent.returncode == 0, stderr
    result: dict[str, Any] = json.loads(stdout)
    return result


def test_holds_10000_connections_and_reopens_those_the_server_closes(
    holding_server: HoldingServer,
) -> None:
    metrics_port = free_port()
    agent = start_agent(holding_server.port, 10_000, metrics_port)
    try:
        holding_server.wait_for(10_000)
        time.sleep(0.3)  # let the agent's gauges catch up with the last accepts
        text = scrape(metrics_port)
        check = promtool_check(text)
        assert check.returncode == 0 and not check.stdout.strip(), check.stdout + check.stderr
        assert metric_value(text, "testbed_idle_connections_open") == 10_000
        assert metric_value(text, "testbed_idle_connections_target") == 10_000
        assert metric_value(text, "testbed_idle_phase", 'phase="holding"') == 1

        # The server closes 500 of them: all are back within a second.
        assert holding_server.ask("close 500") == ["closed", "500"]
        elapsed = holding_server.wait_for(10_000, accepted=10_500, timeout=5)
        assert elapsed < 1.0
        time.sleep(0.3)
        text = scrape(metrics_port)
        assert metric_value(text, "testbed_idle_connections_reopened_total") == 500
        assert metric_value(text, "testbed_idle_connections_closed_by_server_total") == 500
        assert metric_value(text, "testbed_idle_reopen_delay_seconds_count") == 500
        assert metric_value(text, "testbed_idle_reopen_delay_seconds_bucket", 'le="1.0"') == 500
        assert metric_value(text, "testbed_idle_connections_open") == 10_000
        # Idle means silent: nothing was sent, so the server never dropped one on its own.
        assert holding_server.count() == (10_000, 10_500)
        result = stop_agent(agent)
    finally:
        if agent.poll() is None:
            agent.kill()
            agent.communicate()
    assert result["error"] is None and result["host"] == "client5"
    assert result["target"] == result["max_open"] == result["open_at_stop"] == 10_000
    assert result["opened"] == 10_500
    assert result["reopened"] == result["closed_by_server"] == 500
    assert result["reopen_delay_s"]["count"] == 500
    assert result["reopen_delay_s"]["max"] < 1.0
    assert result["errors"]["total"] == 0
    assert result["ramp_up_s"] > 0
    assert result["ramp_up_rate"] == pytest.approx(10_000 / result["ramp_up_s"], rel=0.01)
    assert result["max_rss_bytes"] > 0  # reported; its size is a benchmark target (bench-agents)
    # Everything was closed on the way out.
    holding_server.wait_for(0, timeout=5)


def test_reopens_what_nginx_closes_on_its_own(docroot: Path) -> None:
    """nginx drops connections that send no request within client_header_timeout (1 s here):
    the agent keeps reopening them, as idleconn does. SIGINT stops it like SIGTERM. Run on
    Debian's python3 (prometheus-client 0.16), as on lab hosts."""
    with Nginx(docroot, client_header_timeout=1) as ngx:
        before = ngx.stub_status()["accepts"]
        agent = start_agent(ngx.port, 200, free_port(), python="/usr/bin/python3")
        time.sleep(3.6)
        result = stop_agent(agent, signal.SIGINT)
        accepts = ngx.stub_status()["accepts"] - before - 1
    assert result["closed_by_server"] >= 2 * 200
    assert result["reopened"] >= 2 * 200
    assert result["opened"] == 200 + result["reopened"]
    assert accepts == result["opened"]
    assert result["reopen_delay_s"]["max"] < 1.0
    assert result["errors"]["total"] == 0


def test_waits_for_a_server_that_is_not_up_yet() -> None:
    port = free_port()
    agent = start_agent(port, 300)
    server = None
    try:
        time.sleep(1.5)
        server = HoldingServer(port)
        assert server.wait_for(300, timeout=5) < 2  # back-off is at most 0.25 s
        result = stop_agent(agent)
    finally:
        if agent.poll() is None:
            agent.kill()
            agent.communicate()
        if server is not None:
            server.stop()
    assert result["errors"]["refused"] > 0
    # Backing off, not hammering: after the first round (at most 256 connects in flight), one
    # probe at a time, 10 ms, 20 ms, ... up to 0.25 s apart: about 12 in 1.5 s.
    assert result["errors"]["refused"] < 256 + 30
    assert result["opened"] == result["max_open"] == 300


@pytest.mark.parametrize(
    ("args", "expect"),
    [
        (["--server", "127.0.0.1", "--port", "80", "--connections", "0"], "--connections"),
        (["--server", "127.0.0.1", "--port", "80", "--connections", "ten"], "'ten'"),
        (["--server", "127.0.0.1", "--port", "0", "--connections", "10"], "--port"),
        (
            ["--server", "127.0.0.1", "--port", "80", "--connections", "1", "--metrics-port", "-1"],
            "'-1'",
        ),
        (["--port", "80", "--connections", "10"], "--server"),
    ],
)
def test_bad_arguments_exit_2_with_one_line(args: list[str], expect: str) -> None:
    out = run_module("agents.idle", args, timeout=30)
    assert out.returncode == 2
    assert out.stdout == ""
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and expect in lines[0], out.stderr


def test_cannot_run_is_an_error_in_the_json() -> None:
    out = run_module(
        "agents.idle",
        [
            "--server",
            "no-such-host.invalid",
            "--port",
            "80",
            "--connections",
            "5",
            "--metrics-port",
            "0",
        ],
        timeout=30,
    )
    assert out.returncode == 1
    assert "no-such-host.invalid" in json.loads(out.stdout)["error"]
    # More connections than any descriptor limit can be raised to (fs.nr_open).
    nr_open = int(Path("/proc/sys/fs/nr_open").read_text())
    out = run_module(
        "agents.idle",
        f"--server 127.0.0.1 --port 80 --connections {nr_open + 1} --metrics-port 0".split(),
        timeout=30,
    )
    assert out.returncode == 1
    assert "RLIMIT_NOFILE" in json.loads(out.stdout)["error"]
