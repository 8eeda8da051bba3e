"""10,000 idle connections held open while the server keeps answering (the paper's 5.1)."""

from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path

import pytest

from tests.support.userver import Userver, parse_httperf, raise_nofile, raw_request

IDLE = 10_000


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def open_idle(port: int, n: int) -> list[socket.socket]:
    """n connections that never send, like idleconn's."""
    socks = []
    try:
        for _ in range(n):
            socks.append(socket.create_connection(("127.0.0.1", port), timeout=10))
    except BaseException:
        for s in socks:
            s.close()
        raise
    return socks


@pytest.mark.parametrize("mechanism", ["select", "poll", "epoll-et", "io_uring"])
def test_ten_thousand_idle_connections_while_serving(
    mechanism: str, userver_bin: Path, docroot: Path
) -> None:
    assert raise_nofile() > IDLE + 100
    srv = Userver(mechanism, docroot).start()
    idle: list[socket.socket] = []
    try:
        rss0 = rss_bytes(srv.pid)
        idle = open_idle(srv.port, IDLE)
        opened = srv.wait_metric("testbed_server_connections_open", lambda v: v >= IDLE, 30)
        assert opened == IDLE
        rss1 = rss_bytes(srv.pid)
        assert (rss1 - rss0) / IDLE <= 1024, f"{(rss1 - rss0) / IDLE:.0f} B per idle connection"

        slowest = 0.0
        for _ in range(50):
            t0 = time.monotonic()
            assert raw_request(srv.port, b"GET /one HTTP/1.0\r\n\r\n").endswith(b"\r\n\r\nx")
            slowest = max(slowest, time.monotonic() - t0)
        assert slowest < 1.0
        out = subprocess.run(
            ["httperf", "--server", "127.0.0.1", "--port", str(srv.port), "--uri", "/one",
             "--rate", "200", "--num-conns", "300", "--timeout", "5"],
            capture_output=True, text=True, timeout=30, check=True,
        ).stdout  # fmt: skip
        res = parse_httperf(out)
        assert (res.replies, res.errors) == (300, 0)
        # Not one idle connection was dropped on the way.
        assert srv.wait_metric("testbed_server_connections_open", lambda v: v == IDLE) == IDLE
        assert srv.metrics()["testbed_server_connections_accepted_total"] == IDLE + 50 + 300
    finally:
        for s in idle:
            s.close()
        assert srv.stop(timeout=20) == 0
