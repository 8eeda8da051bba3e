"""The HTTP control plane the agents' services share: their metrics and, beside them, the
requests that tell them their work, answered only with the service's key.

    key = read_key(Path("run/control.key"))        # ValueError: one line, never the key itself
    serve(registry, "198.18.0.11", 9181, control, key, log)   # a daemon thread; OSError: port

``GET /metrics`` (and ``/``) answers anyone: Prometheus scrapes it. Every other request needs
``Authorization: Bearer <key>`` and is refused with 401 before its body is read, the key
compared in constant time (``hmac.compare_digest``). The orchestrator makes a key per host and
sweep and places it in a file only the agents' user can read (``orchestrator.run.controlkeys``);
the key never travels in a command line. A request that passes is answered by
``control(method, path, body)``: its ``(status, one line)``, or 404 for None.

Why this shape, and not more: the services listen on the management network, where anyone may
connect. So that no request can stop them or hold them:
- the request (line, headers and body) must arrive within REQUEST_TIMEOUT_S of the connection,
  whatever the pace of its bytes (a slow client gets 408 or is closed);
- a body is at most MAX_BODY bytes (413), its ``Content-Length`` plain digits (400: ``-1``, two
  of them, ``Transfer-Encoding``), and must be UTF-8;
- at most MAX_HANDLERS connections are served at once (the rest get 503 and are closed): each
  holds a thread and a descriptor, and the idle service's descriptors are its holds';
- whatever a control raises is a 500 with one line, and the server goes on.
One request per connection (HTTP/1.0), as the orchestrator and Prometheus ask.
"""

from __future__ import annotations

import contextlib
import hmac
import io
import logging
import os
import socket
import stat
import sys
import threading
import time
from collections.abc import Callable
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry
from prometheus_client.exposition import MetricsHandler

__all__ = [
    "MAX_BODY",
    "MAX_HANDLERS",
    "REQUEST_TIMEOUT_S",
    "Control",
    "read_key",
    "serve",
]

MAX_BODY = 65536  # bytes of a control request's body at most (a run request is ~200)
MAX_HANDLERS = 16  # connections served at once; well inside the idle service's FD_SLACK
REQUEST_TIMEOUT_S = 10.0  # for a whole request to arrive, from its connection's accept
WRITE_TIMEOUT_S = 10.0  # for an answer to leave (a peer that does not read)
LINGER_S = 1.0  # after an answer to a request whose body was not read: drain, then close
MIN_KEY_CHARS = 32
METRICS_PATHS = ("/", "/metrics")
Control = Callable[[str, str, str], "tuple[int, str] | None"]  # (method, path, body)

_BUSY = (
    b"HTTP/1.0 503 Service Unavailable\r\nContent-Type: text/plain\r\nContent-Length: 38\r\n"
    b"Connection: close\r\n\r\ntoo many control connections at once\r\n"
)


def read_key(path: Path) -> bytes:
    """The key in `path`: a regular file (not a symlink) that only its owner can read, holding
    at least MIN_KEY_CHARS printable characters. ValueError with one line otherwise (naming
    the file, never its content)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK)
    except OSError as exc:
        raise ValueError(f"control key file {str(path)!r}: {exc.strerror or exc}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise ValueError(f"control key file {str(path)!r}: not a regular file")
        if info.st_mode & 0o077:
            raise ValueError(
                f"control key file {str(path)!r}: mode {stat.S_IMODE(info.st_mode):04o},"
                " expected 0600 (readable by its owner only)"
            )
        data = os.read(fd, 4096)
    finally:
        os.close(fd)
    key = data.strip()
    if len(key) < MIN_KEY_CHARS or not all(0x21 <= byte < 0x7F for byte in key):
        raise ValueError(
            f"control key file {str(path)!r}: expected at least {MIN_KEY_CHARS} printable"
            " characters on one line"
        )
    return key


class _DeadlineReader(io.RawIOBase):
    """A socket's bytes, each read given only what is left of one deadline: a client that
    sends a byte now and then cannot stretch a request past it (a per-read timeout alone
    would let it)."""

    def __init__(self, sock: socket.socket, deadline: float) -> None:
        super().__init__()
        self.sock = sock
        self.deadline = deadline

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("the request did not arrive in time")
        self.sock.settimeout(left)
        return self.sock.recv_into(buffer)


class _Server(ThreadingHTTPServer):
    """ThreadingHTTPServer with at most `slots` connections served at once."""

    daemon_threads = True
    block_on_close = False

    def __init__(self, address: tuple[str, int], handler: Any, slots: int, log: Any) -> None:
        self._slots = threading.BoundedSemaphore(slots)
        self.log = log
        super().__init__(address, handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self._slots.acquire(blocking=False):
            # Answered from the accepting thread without blocking: a fresh socket's send
            # buffer takes these bytes at once, and nothing is read.
            with contextlib.suppress(OSError):
                request.setblocking(False)
                request.send(_BUSY)
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:  # no thread to release it
            self._slots.release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._slots.release()

    def handle_error(self, request: Any, client_address: Any) -> None:
        # socketserver would print a traceback on stderr for what a peer did (a reset, say).
        self.log.warning(
            "control: a connection from %s failed: %r", client_address[0], sys.exc_info()[1]
        )


class _ControlHandler(MetricsHandler):
    """A connection to a service: ``GET /metrics`` for anyone, the service's `control` for a
    request bearing its `key` (see the module docstring). ``serve`` makes a subclass per server
    with its registry, control, key and log."""

    control: Control
    key: bytes
    log: logging.Logger
    unread = False  # a body left unread: drained before the close, so no reset loses the answer
    # An unreadable request line (TLS, binary) is answered with a status line too, not as
    # HTTP/0.9 (a bare page a client cannot tell from an answer).
    default_request_version = "HTTP/1.0"

    def setup(self) -> None:
        super().setup()
        buffered: io.BufferedIOBase = self.rfile
        raw = _DeadlineReader(self.connection, time.monotonic() + REQUEST_TIMEOUT_S)
        self.rfile: io.BufferedIOBase = io.BufferedReader(raw)
        buffered.close()  # the socket's own file: its reference would keep the socket open

    def do_GET(self) -> None:
        if self.path.split("?")[0] in METRICS_PATHS:
            self.connection.settimeout(WRITE_TIMEOUT_S)
            super().do_GET()
        else:
            self._control("GET")

    def do_PUT(self) -> None:
        self._control("PUT")

    def do_POST(self) -> None:
        self._control("POST")

    def _control(self, method: str) -> None:
        self.unread = True
        if not self._authorized():
            self._reply(401, "a control request needs this service's key (Bearer)")
            return
        body = self._body()
        if isinstance(body, tuple):
            self._reply(*body)
            return
        try:
            answer = self.control(method, self.path, body) or (404, "")
        except Exception as exc:  # a bug must not take the service down with it
            self.log.exception("control: %s %s failed", method, self.path[:100])
            answer = (500, f"internal error: {type(exc).__name__}")
        self._reply(*answer)

    def _authorized(self) -> bool:
        given = self.headers.get_all("Authorization") or []
        if len(given) != 1:
            return False
        scheme, _, token = given[0].strip().partition(" ")
        token_bytes = token.strip().encode("latin-1", "replace")
        # compare_digest whatever the scheme: the time taken says nothing either way.
        same = hmac.compare_digest(token_bytes, self.key)
        return same and scheme.lower() == "bearer"

    def _body(self) -> str | tuple[int, str]:
        """The request's body, or the (status, line) refusing it."""
        if self.headers.get("Transfer-Encoding") is not None:
            return 400, "Transfer-Encoding is not accepted: send Content-Length"
        lengths = self.headers.get_all("Content-Length") or ["0"]
        text = lengths[0].strip()
        if len(lengths) != 1 or not (text.isascii() and text.isdigit()):
            return 400, f"Content-Length {', '.join(lengths)[:40]!r}: expected one number"
        # Its digits are counted before int() reads them: int() refuses 4,300 and more.
        if len(text) > len(str(MAX_BODY)) or int(text) > MAX_BODY:
            return 413, f"Content-Length {text[:20]}: a body is at most {MAX_BODY} bytes"
        length = int(text)
        try:
            data = self.rfile.read(length)
        except TimeoutError:
            return 408, f"the request did not arrive within {REQUEST_TIMEOUT_S:g} s"
        except OSError as exc:
            return 400, f"the body could not be read: {exc.strerror or exc}"
        if len(data) < length:
            self.unread = False  # the peer closed its side: nothing left to drain
            return 400, f"the body ended after {len(data)} of {length} bytes"
        self.unread = False
        try:
            return data.decode()
        except UnicodeDecodeError:
            return 400, "the body is not UTF-8"

    def _reply(self, status: int, text: str) -> None:
        self.connection.settimeout(WRITE_TIMEOUT_S)
        data = text.encode() if status != 204 else b""
        self.send_response(status)
        self.send_header("Content-Type", "application/json" if data[:1] == b"{" else "text/plain")
        if status == 401:
            self.send_header("WWW-Authenticate", 'Bearer realm="testbed agent"')
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(data)
        self.close_connection = True

    def send_error(self, code: int, message: str | None = None, explain: Any = None) -> None:
        self.unread = True  # a malformed request: what is left of it is drained, not reset
        self.connection.settimeout(WRITE_TIMEOUT_S)
        super().send_error(code, message, explain)

    def finish(self) -> None:
        super().finish()
        if self.unread:
            _linger(self.connection)

    def log_message(self, format: str, *args: object) -> None:
        pass  # a request line is the peer's text; the orchestrator logs its own requests


def serve(
    registry: CollectorRegistry,
    address: str,
    port: int,
    control: Control,
    key: bytes,
    log: logging.Logger,
) -> ThreadingHTTPServer:
    """Serve `registry` on http://address:port/metrics and `control` beside it, with `key`
    (see the module docstring), in a daemon thread; returns the server (a test shuts it down).
    Raises OSError when the port is taken."""
    attributes = {"registry": registry, "control": staticmethod(control), "key": key, "log": log}
    handler = type("Handler", (_ControlHandler,), attributes)
    server = _Server((address, port), handler, MAX_HANDLERS, log)
    threading.Thread(target=server.serve_forever, name="control", daemon=True).start()
    return server


def _linger(sock: socket.socket) -> None:
    """Half-close, then read what the peer still sends (at most MAX_BODY bytes, LINGER_S):
    closing with unread bytes would reset the connection, and the peer could lose the answer
    already sent (a 401 to a request whose body was not read)."""
    deadline = time.monotonic() + LINGER_S
    drained = 0
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_WR)
        while drained <= MAX_BODY:
            left = deadline - time.monotonic()
            if left <= 0:
                return
            sock.settimeout(left)
            chunk = sock.recv(16384)
            if not chunk:
                return
            drained += len(chunk)
