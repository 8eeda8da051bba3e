"""The nightly webhook's credentials do not follow a redirect to another server (issue 25,
finding 5): urllib copies every header, Basic Authorization included, to the redirected
request. Two local servers: the webhook on 127.0.0.1, which redirects, and a second one on
another port under another host name (`localhost`), which records what it was sent."""

from __future__ import annotations

import base64
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from orchestrator.nightly.alerts import post_webhook

USER, PASSWORD = "hook", "s3cr3t-pw"
BASIC = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()


@dataclass
class Recorder:
    """A local HTTP server that records each request's path and Authorization header and
    answers as `redirects` says (a path to a Location), else 204."""

    redirects: dict[str, str] = field(default_factory=dict)
    seen: list[tuple[str, str | None]] = field(default_factory=list)
    port: int = 0

    def handler(self) -> type[BaseHTTPRequestHandler]:
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(length)
                recorder.seen.append((self.path, self.headers.get("Authorization")))
                location = recorder.redirects.get(self.path)
                self.send_response(302 if location else 204)
                if location:
                    self.send_header("Location", location)
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_GET = do_POST = answer

            def log_message(self, *args: object) -> None:
                pass

        return Handler


@pytest.fixture
def servers() -> Iterator[tuple[Recorder, Recorder]]:
    hook, other = Recorder(), Recorder()
    running = []
    for recorder in (hook, other):
        server = ThreadingHTTPServer(("127.0.0.1", 0), recorder.handler())
        recorder.port = server.server_port
        serving = {"poll_interval": 0.05}  # a quick shutdown
        threading.Thread(target=server.serve_forever, kwargs=serving, daemon=True).start()
        running.append(server)
    try:
        yield hook, other
    finally:
        for server in running:
            server.shutdown()
            server.server_close()


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1"], ids=["other-host", "other-port"])
def test_credentials_are_dropped_on_a_redirect_to_another_server(
    servers: tuple[Recorder, Recorder], host: str
) -> None:
    hook, other = servers
    hook.redirects["/hook"] = f"http://{host}:{other.port}/landed"
    status = post_webhook(f"http://{USER}:{PASSWORD}@127.0.0.1:{hook.port}/hook", b"{}")
    assert status == 204
    assert hook.seen == [("/hook", BASIC)]  # the webhook itself gets them
    assert other.seen == [("/landed", None)]  # the server it redirected to does not


def test_credentials_stay_on_a_redirect_within_the_webhooks_server(
    servers: tuple[Recorder, Recorder],
) -> None:
    hook, _ = servers
    hook.redirects["/hook"] = f"http://127.0.0.1:{hook.port}/moved"
    post_webhook(f"http://{USER}:{PASSWORD}@127.0.0.1:{hook.port}/hook", b"{}")
    assert hook.seen == [("/hook", BASIC), ("/moved", BASIC)]
