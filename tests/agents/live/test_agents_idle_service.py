"""The idle service end to end: one process holds hold after hold told over HTTP, each counted
open and then closed by a real server; bad holds are refused with one line, an id is used once,
a stop can be asked again, a hold may be told before its server listens, and SIGTERM closes the
hold under way and ends the service."""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.agents import (
    AgentService,
    HoldingServer,
    free_port,
    metric_value,
    run_module,
    scrape,
)

# agents.idle's JSON object, in its order (schema testbed.idle/1)
KEYS = [
    "schema",
    "error",
    "host",
    "server",
    "port",
    "target",
    "max_open",
    "opened",
    "reopened",
    "closed_by_server",
    "ramp_up_s",
    "ramp_up_rate",
    "reopen_delay_s",
    "errors",
    "open_at_stop",
    "started_at",
    "stopped_at",
    "duration_s",
    "rlimit_nofile",
    "max_rss_bytes",
]


class Service(AgentService):
    """A running `python3 -m agents.idle.service` and its HTTP control."""

    def __init__(self, server_port: int, log: Path) -> None:
        argv = f"--server 127.0.0.1 --port {server_port} --host client5".split()
        super().__init__("idle.service", argv, log)

    def run(self, hold_id: str, connections: int) -> tuple[int, str]:
        return self.ask("POST", "/run", json.dumps({"id": hold_id, "connections": connections}))

    def stop(self, hold_id: str) -> tuple[int, str]:
        return self.ask("POST", f"/stop?id={hold_id}", "")

    def wait_open(self, hold_id: str, connections: int, timeout: float = 10) -> None:
        """Until the service's own count of the hold's open connections reaches `connections`
        (the server may count an accept a moment before the agent sees the connect done)."""
        deadline = time.monotonic() + timeout
        while True:
            status, text = self.ask("GET", "/hold")
            assert status == 200, (status, text)
            hold = json.loads(text)
            assert hold["id"] == hold_id and hold["target"] == connections
            if hold["open"] == connections:
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"hold {hold_id}: {hold['open']}/{connections} open")
            time.sleep(0.02)


@pytest.fixture
def service(holding_server: HoldingServer, tmp_path: Path) -> Iterator[Service]:
    with Service(holding_server.port, tmp_path / "service.log") as running:
        yield running


def one_line(text: str) -> bool:
    return bool(text) and "\n" not in text


def test_one_service_holds_hold_after_hold_each_counted_by_the_server(
    service: Service, holding_server: HoldingServer
) -> None:
    answers: dict[str, str] = {}
    for hold_id, connections, accepted in (("1-1", 300, 300), ("2-1", 500, 800)):
        assert service.run(hold_id, connections) == (202, "")
        holding_server.wait_for(connections, accepted=accepted, timeout=10)
        service.wait_open(hold_id, connections)
        text = scrape(service.port)  # the metrics are served beside the control
        assert metric_value(text, "testbed_idle_connections_target") == connections

        status, answers[hold_id] = service.stop(hold_id)
        assert status == 200, answers[hold_id]
        result: dict[str, Any] = json.loads(answers[hold_id])
        assert list(result) == KEYS
        assert result["schema"] == "testbed.idle/1" and result["error"] is None
        assert result["host"] == "client5" and result["server"] == "127.0.0.1"
        assert result["port"] == holding_server.port
        assert result["target"] == result["max_open"] == result["open_at_stop"] == connections
        assert result["opened"] == connections and result["reopened"] == 0
        assert result["errors"]["total"] == 0
        assert result["ramp_up_s"] > 0
        assert result["started_at"] <= result["stopped_at"]
        assert result["rlimit_nofile"] >= connections and result["max_rss_bytes"] > 0
        # The stop answered once every connection was closed: the server sees them all go.
        holding_server.wait_for(0, accepted=accepted, timeout=5)
        assert service.ask("GET", "/hold")[0] == 204

    assert service.proc.poll() is None  # one interpreter for both holds
    text = scrape(service.port)
    assert metric_value(text, "testbed_idle_connections_opened_total") == 800
    assert metric_value(text, "testbed_idle_connections_open") == 0
    assert metric_value(text, "testbed_idle_connections_target") == 0
    # A stop asked again (the orchestrator retrying) answers the same JSON.
    assert service.stop("1-1") == (200, answers["1-1"])
    assert service.stop("2-1") == (200, answers["2-1"])


# A POST /run's body, and what its one-line refusal says.
BAD_HOLDS = [
    ("not json", "expected a JSON object"),
    ('["1-1", 5]', "expected a JSON object"),
    ('{"id": "1-1"}', "expected a JSON object"),
    ('{"id": "1-1", "connections": 5, "rate": 1}', "expected a JSON object"),
    ('{"id": "bad id!", "connections": 5}', "hold id 'bad id!'"),
    ('{"id": "", "connections": 5}', "hold id ''"),
    ('{"id": "a\\nb", "connections": 5}', "hold id"),
    (json.dumps({"id": "x" * 65, "connections": 5}), "hold id"),
    ('{"id": 12, "connections": 5}', "hold id 12"),
    ('{"id": "1-1", "connections": 0}', "connections 0: expected an integer from 1 to 20000"),
    ('{"id": "1-1", "connections": -5}', "connections -5"),
    ('{"id": "1-1", "connections": 20001}', "connections 20001: expected an integer from 1 to"),
    ('{"id": "1-1", "connections": true}', "connections true"),
    ('{"id": "1-1", "connections": 1.5}', "connections 1.5"),
    ('{"id": "1-1", "connections": "10"}', 'connections "10"'),
]


def test_a_bad_hold_is_refused_with_one_line(service: Service) -> None:
    # More than --max-connections (20,000 by default) never reaches the descriptor limit.
    for body, expected in BAD_HOLDS:
        status, text = service.ask("POST", "/run", body)
        assert status == 400 and one_line(text) and expected in text, (body, status, text)
    assert service.ask("GET", "/hold")[0] == 204  # nothing began
    # A refused hold used up no id.
    assert service.run("1-1", 5) == (202, "")
    assert service.stop("1-1")[0] == 200


def test_one_hold_at_a_time_each_id_once_and_unknown_ids(
    service: Service, holding_server: HoldingServer
) -> None:
    assert service.run("1-1", 200) == (202, "")
    status, text = service.run("1-2", 200)
    assert status == 409 and one_line(text) and text == "hold 1-1 is under way", text
    assert service.run("1-1", 200)[0] == 409
    status, text = service.stop("9-9")
    assert status == 404 and one_line(text) and "9-9" in text, text
    assert service.ask("POST", "/stop")[0] == 404  # no id at all
    assert service.ask("GET", "/nothing-here")[0] == 404
    assert service.ask("PUT", "/run", '{"id": "1-3", "connections": 1}')[0] == 404
    holding_server.wait_for(200, timeout=10)
    assert service.stop("1-1")[0] == 200
    status, text = service.run("1-1", 200)
    assert status == 409 and one_line(text) and "1-1" in text, text

    # A stop told while connections are still opening ends the hold just as well.
    assert service.run("2-1", 3000) == (202, "")
    status, text = service.stop("2-1")
    assert status == 200, text
    result = json.loads(text)
    assert result["error"] is None and result["target"] == 3000
    assert 0 <= result["open_at_stop"] <= 3000
    holding_server.wait_for(0, timeout=5)


def test_a_hold_told_before_its_server_listens_waits_for_it(tmp_path: Path) -> None:
    port = free_port()
    service = Service(port, tmp_path / "service.log")
    server = None
    try:
        assert service.run("1-1", 300) == (202, "")
        time.sleep(0.5)  # refused meanwhile: the agent backs off and retries
        server = HoldingServer(port)
        server.wait_for(300, timeout=10)
        service.wait_open("1-1", 300)
        status, text = service.stop("1-1")
        assert status == 200, text
        result = json.loads(text)
        assert result["open_at_stop"] == 300 and result["errors"]["refused"] > 0
        server.wait_for(0, timeout=5)
    finally:
        service.close()
        if server is not None:
            server.stop()


def test_sigterm_closes_the_hold_under_way_and_ends_the_service(
    service: Service, holding_server: HoldingServer
) -> None:
    assert service.run("1-1", 300) == (202, "")
    holding_server.wait_for(300, timeout=10)
    service.proc.send_signal(signal.SIGTERM)
    assert service.proc.wait(timeout=15) == 0
    holding_server.wait_for(0, timeout=5)
    assert service.log.read_text().rstrip().endswith("stopped")


def test_the_service_needs_its_port_and_its_server() -> None:
    done = run_module(
        "agents.idle.service",
        ["--server", "127.0.0.1", "--port", "80", "--metrics-port", "0"],
        timeout=30,
    )
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.count("\n") == 1 and "--metrics-port" in done.stderr
    done = run_module(
        "agents.idle.service",
        [
            "--server",
            "no-such-host.invalid",
            "--port",
            "80",
            "--metrics-port",
            str(free_port()),
            "--control-key-file",
            "/nonexistent",
        ],
        timeout=30,
    )
    assert done.returncode == 1
    assert done.stderr.count("\n") == 1 and "no-such-host.invalid" in done.stderr
