"""`run.services.ask` against a real local HTTP endpoint: each request goes to the run's log with
its answer and time, except the answers its caller calls routine (a long poll's "still
running", a starting service's silence), which would fill the log."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from orchestrator.config.model import Host
from orchestrator.run.services import ask, ask_until
from tests.support.agents import free_port


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        status = 204 if self.path.startswith("/result") else 200
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def port() -> Iterator[int]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def host() -> Host:
    return Host("client1", "client", "127.0.0.1", 22, "root", None, (), "/tmp", "python3", ())


def logged(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "orchestrator.run.services"]


def test_each_request_is_logged_with_its_answer_and_time(
    port: int, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="orchestrator")
    assert ask(host(), port, "GET", "/cooldown?max=2", None, 5.0)[0] == 200
    assert ask(host(), port, "GET", "/result?id=1-1", None, 5.0, ("204",))[0] == 204
    assert ask(host(), port, "GET", "/result?id=1-1", None, 5.0)[0] == 204
    lines = logged(caplog)
    assert len(lines) == 2, lines  # the routine 204 was not logged
    assert lines[0].startswith(f"client1: GET :{port}/cooldown?max=2 -> 200 in ")
    assert lines[1].startswith(f"client1: GET :{port}/result?id=1-1 -> 204 in ")


def test_a_silent_service_is_logged_once_when_patience_runs_out(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="orchestrator")
    silent = free_port()  # nothing listens: every try (about ten) is refused
    assert ask_until(host(), silent, "GET", "/metrics", None, 0.5) is None
    lines = logged(caplog)
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"client1: GET :{silent}/metrics -> no answer within 0.5 s (")
