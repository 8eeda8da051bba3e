"""Timeouts (idle, write stall, lingering close) and the metrics listener's deadline (issue 14)."""

from __future__ import annotations

import os
import socket
import threading
import time
from pathlib import Path

import pytest

from orchestrator.config.model import Host
from orchestrator.run import servermetrics
from tests.support.userver import MECHANISMS, Userver, read_response

TIMEOUTS = 'testbed_server_timeouts_total{{kind="{}"}}'


def connect(port: int, rcvbuf: int = 0) -> socket.socket:
    s = socket.socket()
    if rcvbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.settimeout(10)
    s.connect(("127.0.0.1", port))
    return s


def closed_by_server(s: socket.socket) -> bool:
    """True when the server has closed s (EOF or reset), without waiting."""
    s.setblocking(False)
    try:
        return s.recv(65536) == b""
    except BlockingIOError:
        return False
    except OSError:
        return True
    finally:
        s.setblocking(True)


@pytest.fixture(scope="module")
def bigroot(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("big")
    (root / "one").write_bytes(b"x")
    (root / "big").write_bytes(os.urandom(32 << 20))  # far more than the socket buffers hold
    return root


def test_idle_write_and_linger_timeouts_on_every_mechanism(
    userver_bin: Path, bigroot: Path
) -> None:
    """--idle-timeout 1 and --write-timeout 1 on all seven mechanisms at once, and a default one.

    Per server: a connection that never sends, one that trickles a never-ending head (a byte
    every 0.2 s: the idle timeout bounds the request as a whole), one idle after an answer,
    one that stops reading a 32 MiB reply, one lingering after a 405 to a body that never
    ends, and one busy every 0.4 s (never closed). The default server keeps its idle one.
    """
    servers = [
        Userver(m, bigroot, extra=["--idle-timeout", "1", "--write-timeout", "1"]).start()
        for m in MECHANISMS
    ]
    default = Userver("epoll-lt", bigroot).start()
    try:
        conns = []
        for srv in [*servers, default]:
            c = {
                "idle": connect(srv.port),
                "trickle": connect(srv.port),
                "answered": connect(srv.port),
                "stalled": connect(srv.port, rcvbuf=4096),
                "linger": connect(srv.port),
                "busy": connect(srv.port),
            }
            c["trickle"].sendall(b"GET /one HTTP/1.1\r\nX-Slow: ")
            c["answered"].sendall(b"GET /one HTTP/1.1\r\nHost: t\r\n\r\n")
            assert read_response(c["answered"], bytearray())[1] == b"x"
            c["stalled"].sendall(b"GET /big HTTP/1.1\r\nHost: t\r\n\r\n")
            c["linger"].sendall(b"POST /one HTTP/1.1\r\nHost: t\r\nContent-Length: 99999\r\n\r\n")
            assert c["linger"].recv(4096).startswith(b"HTTP/1.1 405")
            conns.append(c)
        t0 = time.monotonic()
        closed_at: list[dict[str, float]] = [{} for _ in conns]
        while time.monotonic() - t0 < 3.5:
            for c, at in zip(conns, closed_at, strict=True):
                try:
                    c["trickle"].send(b"a")
                except OSError:
                    at.setdefault("trickle", time.monotonic() - t0)
                c["linger"].send(b"b" * 10)  # the body goes on: the lingering close drops it
                for name in ("idle", "answered"):
                    if name not in at and closed_by_server(c[name]):
                        at[name] = time.monotonic() - t0
            if int((time.monotonic() - t0) / 0.2) % 2 == 0:
                for c in conns:
                    c["busy"].sendall(b"GET /one HTTP/1.1\r\nHost: t\r\n\r\n")
                    assert read_response(c["busy"], bytearray())[1] == b"x"
            time.sleep(0.2)
        for srv, at in zip(servers, closed_at[:-1], strict=True):
            for name in ("idle", "trickle", "answered"):
                assert name in at, (srv.mechanism, name, at)
                assert 0.9 < at[name] < 3.2, (srv.mechanism, name, at)
            m = srv.metrics()
            assert m[TIMEOUTS.format("idle")] == 3, srv.mechanism
            assert m[TIMEOUTS.format("write")] == 1, srv.mechanism
            assert m["testbed_server_connections_open"] == 2, srv.mechanism  # linger, busy
        assert closed_at[-1] == {}  # the default server: no idle timeout
        assert default.metrics()[TIMEOUTS.format("idle")] == 0
        # The lingering close ends at its own bound (5 s) even though the client goes on.
        for srv in servers:
            assert srv.wait_metric(TIMEOUTS.format("linger"), lambda v: v == 1, timeout=5) == 1
            # and the busy connection, left idle since the loop above ended, is gone too
            assert srv.wait_metric("testbed_server_connections_open", lambda v: v == 0) == 0
            assert srv.metrics()[TIMEOUTS.format("idle")] == 4, srv.mechanism
        for c in conns:
            for s in c.values():
                s.close()
    finally:
        for srv in [*servers, default]:
            assert srv.stop() == 0, srv.stderr_lines


def test_a_trickling_metrics_client_delays_no_scrape(userver_bin: Path, bigroot: Path) -> None:
    """Clients sending one byte a second are cut at the 2 s deadline; scrapes go on meanwhile.

    Before, the listener served one client at a time and waited for the trickler's request (35
    bytes: 35 s). The orchestrator's own counter reads (servermetrics.fetch) are the scrapes.
    """
    srv = Userver("epoll-lt", bigroot).start()
    host = Host(
        name="server", role="server", management="127.0.0.1", ssh_port=22, ssh_user="root",
        ssh_key=None, cpus=(), directory="/", python="/usr/bin/python3", nics=(),
    )  # fmt: skip
    cut_after: list[float] = []

    def trickle() -> None:
        with socket.create_connection(("127.0.0.1", srv.metrics_port), timeout=10) as s:
            t0 = time.monotonic()
            try:
                for byte in b"GET /metrics HTTP/1.1\r\nHost: t\r\n\r\n":
                    s.send(bytes([byte]))
                    time.sleep(1.0)
                    if closed_by_server(s):
                        break
            except OSError:
                pass
            cut_after.append(time.monotonic() - t0)

    try:
        tricklers = [threading.Thread(target=trickle) for _ in range(3)]
        for t in tricklers:
            t.start()
        time.sleep(0.3)
        for _ in range(4):
            t0 = time.monotonic()
            counters = servermetrics.fetch(host, srv.metrics_port, timeout=10)
            assert time.monotonic() - t0 < 1.0  # the trickler's request alone would take 35 s
            assert counters.info["mechanism"] == "epoll-lt"
            time.sleep(0.3)
        for t in tricklers:
            t.join(10)
        assert len(cut_after) == 3 and all(1.9 < d < 4.0 for d in cut_after), cut_after
        # More tricklers than the listener serves at once (8): a scrape waits for a slot, at
        # most one deadline.
        cut_after.clear()
        tricklers = [threading.Thread(target=trickle) for _ in range(10)]
        for t in tricklers:
            t.start()
        time.sleep(0.3)
        t0 = time.monotonic()
        servermetrics.fetch(host, srv.metrics_port, timeout=10)
        assert time.monotonic() - t0 < 3.0  # one 2 s deadline, and slack for a loaded machine
        for t in tricklers:
            t.join(10)
        assert len(cut_after) == 10 and all(d < 5.0 for d in cut_after), cut_after
    finally:
        assert srv.stop() == 0
