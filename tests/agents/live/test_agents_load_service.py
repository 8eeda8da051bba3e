"""The load service end to end: one process serves several runs told over HTTP, each with real
httperf against our own nginx and checked against what nginx counted; bad runs are refused with
one line, a run under way can be stopped and the service keeps serving, and SIGTERM ends it.
(Hostile requests: test_agents_control_hostile.py.)"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.agents import REPO, AgentService, Nginx, make_time_wait


class Service(AgentService):
    """A running `python3 -m agents.load.service` and its HTTP control."""

    def __init__(self, server_port: int, log: Path) -> None:
        self.start_file = log.parent / "load.start"
        argv = f"--server 127.0.0.1 --port {server_port} --host client1".split()
        super().__init__("load.service", [*argv, "--start-file", str(self.start_file)], log)

    def submit(self, run_id: str, run: dict[str, Any]) -> tuple[int, str]:
        return self.ask("POST", "/run", json.dumps({"id": run_id, **run}))

    def start_now(self) -> None:
        now = time.time() + 0.2
        assert self.ask("PUT", "/start", f"{now:.3f} {now:.3f}")[0] == 204

    def result(self, run_id: str, patience: float = 60) -> dict[str, Any]:
        deadline = time.monotonic() + patience
        while time.monotonic() < deadline:
            status, text = self.ask("GET", f"/result?id={run_id}&wait=5")
            if status == 200:
                answer: dict[str, Any] = json.loads(text)
                return answer
            assert status == 204, (status, text)
        raise AssertionError(f"run {run_id} never ended")


@pytest.fixture
def service(nginx: Nginx, tmp_path: Path) -> Iterator[Service]:
    with Service(nginx.port, tmp_path / "service.log") as running:
        yield running


RUN = {"workload": "one-byte", "rate": 100, "duration": 2, "timeout": 2}
LONG_RUN = {**RUN, "rate": 50, "duration": 60}


def test_one_service_serves_run_after_run_each_as_nginx_counted(
    service: Service, nginx: Nginx
) -> None:
    totals = []
    for run_id in ("1-1", "2-1"):
        before = nginx.stub_status()["requests"]
        assert service.submit(run_id, RUN) == (202, "")
        service.start_now()
        answer = service.result(run_id)
        assert answer["exit_status"] == 0, answer["result"]["error"]
        result = answer["result"]
        assert result["host"] == "client1" and result["server"] == "127.0.0.1"
        counted = nginx.stub_status()["requests"] - before - 1  # less the stub_status request
        assert result["totals"]["replies"] == counted == 200
        totals.append(result["totals"]["replies"])
    assert service.proc.poll() is None  # still serving, one interpreter for both runs
    assert totals == [200, 200]
    # a finished run's result can be fetched again, an unknown one cannot
    assert service.ask("GET", "/result?id=1-1&wait=0")[0] == 200
    assert service.ask("GET", "/result?id=9-9&wait=0")[0] == 404


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"rate": 0}, "rate 0: expected a number > 0"),
        ({"workload": "two-byte"}, 'workload "two-byte"'),
        ({"server": "198.18.9.9"}, "field 'server': fixed when the service starts"),
        ({"port": 81}, "field 'port': fixed when the service starts"),
        ({"cpus": [4096]}, "cpus [4096]"),
        ({"workload": "specweb99"}, "started without --sessions"),
    ],
)
def test_a_bad_run_is_refused_with_one_line_naming_its_field(
    service: Service, changes: dict[str, Any], expected: str
) -> None:
    status, text = service.submit("1-1", {**RUN, **changes})
    assert status == 400 and expected in text and "\n" not in text.strip(), text
    assert service.ask("POST", "/run", "not json")[0] == 400
    assert service.submit("bad id!", RUN)[0] == 400
    assert service.submit("1-1", RUN)[0] == 202  # a refused run used up no id


def test_a_run_under_way_can_be_stopped_and_the_service_serves_the_next(service: Service) -> None:
    assert service.submit("1-1", LONG_RUN)[0] == 202
    assert service.submit("1-2", RUN)[0] == 409  # one run at a time
    service.start_now()
    time.sleep(1.5)
    started = time.monotonic()
    assert service.ask("POST", "/stop")[0] == 204
    answer = service.result("1-1", patience=20)
    assert time.monotonic() - started < 15
    assert answer["exit_status"] == 1
    assert answer["result"]["error"] == "stopped by the orchestrator"
    assert answer["result"]["totals"]["replies"] > 0  # what ran until then is reported
    assert service.submit("1-1", RUN)[0] == 409  # an id is used once
    assert service.submit("2-1", RUN)[0] == 202
    service.start_now()
    assert service.result("2-1")["exit_status"] == 0


def test_sigterm_stops_the_run_under_way_and_then_the_service(service: Service) -> None:
    assert service.submit("1-1", LONG_RUN)[0] == 202
    time.sleep(0.5)
    service.proc.send_signal(signal.SIGTERM)
    assert service.proc.wait(timeout=15) == 0
    assert service.log.read_text().rstrip().endswith("stopped")


def test_the_service_needs_its_port() -> None:
    argv = ["--server", "127.0.0.1", "--port", "80", "--metrics-port", "0"]
    argv += ["--control-key-file", "/nonexistent", "--start-file", "/nonexistent"]
    done = subprocess.run(
        [sys.executable, "-m", "agents.load.service", *argv],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "--metrics-port" in done.stderr


def test_the_cooldown_waits_its_maximum_while_sockets_are_left_and_says_how_many(
    nginx: Nginx, tmp_path: Path
) -> None:
    """`GET /cooldown` on the host's own TIME_WAIT sockets: five made here, for 60 s (the host
    may hold others besides)."""
    make_time_wait(5)
    with Service(nginx.port, tmp_path / "service.log") as service:
        started = time.monotonic()
        status, text = service.ask("GET", "/cooldown?max=0.6")
        assert status == 200, text
        answer = json.loads(text)
        assert answer["left"] >= 5 and 0.6 <= answer["waited_s"] <= time.monotonic() - started
        status, text = service.ask("GET", "/cooldown?max=soon")  # no number: refused
        assert status == 400 and text == "max 'soon': expected seconds from 0 to 30", text
