"""Start, query and stop ``server/userver`` for the functional tests; parse client outputs.

Every process started here is tracked by PID and stopped by PID (never by name: the machine
runs other people's servers and load generators).
"""

from __future__ import annotations

import os
import random
import re
import resource
import select
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
USERVER = REPO / "server" / "userver"
MECHANISMS = ["select", "poll", "epoll-lt", "epoll-et", "epoll2", "epoll-ctlv", "io_uring"]
PORTS = range(18000, 19000)
SYSCALL_KEY = re.compile(r'testbed_server_syscalls_total\{syscall="(\w+)",mechanism="[^"]+"\}')


def free_port() -> int:
    """Return a port of 18000-18999 that nothing listens on now (tried in random order)."""
    for port in random.sample(PORTS, len(PORTS)):
        with socket.socket() as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind(("0.0.0.0", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port in 18000-18999")


def parse_metrics(text: str) -> dict[str, float]:
    """Prometheus text to {'name{labels}': value}; label order as exposed."""
    out: dict[str, float] = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            out[name] = float(value)
    return out


@dataclass
class Userver:
    """One running userver; ``stop()`` sends SIGTERM and checks the clean exit."""

    mechanism: str
    docroot: Path
    extra: list[str] = field(default_factory=list)
    preexec: Callable[[], None] | None = None
    port: int = 0
    metrics_port: int = 0
    proc: subprocess.Popen[bytes] | None = None
    stderr_lines: list[str] = field(default_factory=list)

    def start(self) -> Userver:
        """Start on free ports; tried again on new ports if one was taken in between."""
        for _ in range(3):
            self.port, self.metrics_port = free_port(), free_port()
            while self.metrics_port == self.port:
                self.metrics_port = free_port()
            cmd = [
                str(USERVER),
                "--mechanism", self.mechanism,
                "--address", "127.0.0.1",
                "--port", str(self.port),
                "--docroot", str(self.docroot),
                "--metrics-port", str(self.metrics_port),
                *self.extra,
            ]  # fmt: skip
            self.proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, preexec_fn=self.preexec)
            self.stderr_lines = []
            line = self._read_line(5.0)
            if "started" in line:
                return self
            self.kill()
            if "Address already in use" not in line:
                break
        raise RuntimeError(f"userver did not start: {line!r}")

    def _read_line(self, timeout: float) -> str:
        assert self.proc is not None and self.proc.stderr is not None
        ready, _, _ = select.select([self.proc.stderr], [], [], timeout)
        if not ready:
            return ""
        line = self.proc.stderr.readline().decode()
        self.stderr_lines.append(line)
        return line

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def metrics_text(self) -> str:
        with urllib.request.urlopen(
            f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=5
        ) as r:
            assert r.status == 200
            return str(r.read().decode())

    def metrics(self) -> dict[str, float]:
        return parse_metrics(self.metrics_text())

    def syscalls(self) -> dict[str, float]:
        """{syscall: calls} from the metrics."""
        out = {}
        for key, value in self.metrics().items():
            m = re.fullmatch(
                r'testbed_server_syscalls_total\{syscall="(\w+)",mechanism="[^"]+"\}', key
            )
            if m:
                out[m.group(1)] = value
        return out

    def wait_metric(self, name: str, pred: Callable[[float], bool], timeout: float = 10.0) -> float:
        deadline = time.monotonic() + timeout
        while True:
            value = self.metrics().get(name, float("nan"))
            if pred(value) or time.monotonic() > deadline:
                return value
            time.sleep(0.05)

    def stop(self, timeout: float = 10.0) -> int:
        """SIGTERM, wait; returns the exit status (and kills by PID if it hangs)."""
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise
        assert self.proc.stderr is not None
        self.stderr_lines += self.proc.stderr.read().decode().splitlines(keepends=True)
        self.proc.stderr.close()
        return rc

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        if self.proc and self.proc.stderr and not self.proc.stderr.closed:
            self.proc.stderr.close()


def raw_request(port: int, data: bytes, timeout: float = 5.0) -> bytes:
    """Send data on a new connection and read until the server closes it."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(data)
        chunks = []
        while chunk := s.recv(65536):
            chunks.append(chunk)
        return b"".join(chunks)


def read_response(s: socket.socket, buf: bytearray, head_only: bool = False) -> tuple[bytes, bytes]:
    """Read one response (head, body) from a keep-alive socket, Content-Length framed.

    head_only: the request was HEAD (no body follows). Bytes past it stay in buf.
    """
    while b"\r\n\r\n" not in buf:
        chunk = s.recv(65536)
        if not chunk:
            raise ConnectionError("closed before a full response head")
        buf += chunk
    end = buf.index(b"\r\n\r\n") + 4
    head = bytes(buf[:end])
    m = re.search(rb"Content-Length: (\d+)", head)
    length = int(m.group(1)) if m and not head_only else 0
    del buf[:end]
    return head, _take(s, buf, length)


def _take(s: socket.socket, buf: bytearray, n: int) -> bytes:
    while len(buf) < n:
        chunk = s.recv(65536)
        if not chunk:
            raise ConnectionError("closed inside a body")
        buf += chunk
    body = bytes(buf[:n])
    del buf[:n]
    return body


def raise_nofile() -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


# ---------------------------------------------------------------------------- client outputs


@dataclass(frozen=True)
class HttperfResult:
    connections: int
    requests: int
    replies: int
    errors: int
    status_2xx: int
    sessions_done: int | None
    sessions_total: int | None


def parse_httperf(text: str) -> HttperfResult:
    """The counts of httperf's summary: Total:, Errors:, Reply status: and Session rate lines."""
    total = re.search(r"^Total: connections (\d+) requests (\d+) replies (\d+)", text, re.M)
    errors = re.search(r"^Errors: total (\d+)", text, re.M)
    status = re.search(r"^Reply status: 1xx=\d+ 2xx=(\d+)", text, re.M)
    if not (total and errors and status):
        raise ValueError(f"not an httperf summary: {text[-500:]!r}")
    sess = re.search(r"^Session rate \[sess/s\]:.*\((\d+)/(\d+)\)", text, re.M)
    return HttperfResult(
        connections=int(total.group(1)),
        requests=int(total.group(2)),
        replies=int(total.group(3)),
        errors=int(errors.group(1)),
        status_2xx=int(status.group(1)),
        sessions_done=int(sess.group(1)) if sess else None,
        sessions_total=int(sess.group(2)) if sess else None,
    )


@dataclass(frozen=True)
class WrkResult:
    requests: int
    socket_errors: int
    non_2xx: int


def parse_wrk(text: str) -> WrkResult:
    """Requests, socket errors (connect+read+write+timeout) and non-2xx replies from wrk."""
    req = re.search(r"^\s*(\d+) requests in", text, re.M)
    if not req:
        raise ValueError(f"not a wrk summary: {text[-500:]!r}")
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    return WrkResult(
        requests=int(req.group(1)),
        socket_errors=sum(int(g) for g in sock.groups()) if sock else 0,
        non_2xx=int(non2xx.group(1)) if non2xx else 0,
    )
