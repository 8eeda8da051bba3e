"""The services' shared control server (`agents.control.serve`), in this process with a control
of the test's own: what only a fake control can show -- a control that raises is a 500 with one
line and the next request is served -- and that a refused request never reaches the control.
(The real services, walked with hostile requests: live/test_agents_control_hostile.py.)"""

from __future__ import annotations

import logging
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest
from prometheus_client import CollectorRegistry, Counter

from agents.control import serve
from tests.support.agents import free_port

KEY = "k" * 43


class Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str, str]] = []

    def __call__(self, method: str, path: str, body: str) -> tuple[int, str] | None:
        self.calls.append((method, path, body))
        if path == "/boom":
            raise ZeroDivisionError("a bug")
        if path == "/none":
            return None
        return 200, f"{method} {path} {body}"


@pytest.fixture
def served() -> Iterator[tuple[int, Recorder]]:
    registry = CollectorRegistry()
    Counter("testbed_test_requests", "a metric to scrape", registry=registry).inc()
    control = Recorder()
    port = free_port()
    server = serve(registry, "127.0.0.1", port, control, KEY.encode(), logging.getLogger("t"))
    yield port, control
    server.shutdown()
    server.server_close()


def ask(port: int, method: str, path: str, body: str | None, key: str | None) -> tuple[int, str]:
    headers = {} if key is None else {"Authorization": f"Bearer {key}"}
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}",
        data=None if body is None else body.encode(),
        method=method,
        headers=headers,
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def test_a_control_that_raises_is_a_500_and_the_next_request_is_served(
    served: tuple[int, Recorder], caplog: pytest.LogCaptureFixture
) -> None:
    port, control = served
    assert ask(port, "POST", "/boom", "x", KEY) == (500, "internal error: ZeroDivisionError")
    assert ask(port, "POST", "/run", "body", KEY) == (200, "POST /run body")
    assert ask(port, "GET", "/none", None, KEY)[0] == 404
    assert [path for _, path, _ in control.calls] == ["/boom", "/run", "/none"]
    assert "control: POST /boom failed" in caplog.text  # the bug is in the service's log


def test_without_the_key_the_control_is_never_called_and_metrics_stay_open(
    served: tuple[int, Recorder],
) -> None:
    port, control = served
    for key in (None, "", "x" * 43, KEY[:-1], KEY + "k"):
        for method, body in (("POST", "{}"), ("PUT", "1 2"), ("GET", None)):
            status, text = ask(port, method, "/run", body, key)
            assert status == 401 and "\n" not in text, (key, method, status)
    assert control.calls == []
    status, text = ask(port, "GET", "/metrics", None, None)
    assert status == 200 and "testbed_test_requests_total 1.0" in text
