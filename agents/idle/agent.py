"""The idle-connection agent's epoll loop: holds N silent TCP connections to the server, as the
paper's idleconn does, but epoll-based so one process holds 10,000 and more (Debian's idleconn
is select()-based and stops near 1,000). ``README.md`` beside this file says how it opens,
probes, backs off and reopens; ``agents.idle.cli`` runs it once, ``agents.idle.service`` for
a whole sweep."""

from __future__ import annotations

import collections
import contextlib
import errno
import logging
import os
import resource
import select
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from agents.idle.metrics import REASONS, Metrics

__all__ = ["FD_SLACK", "IdleAgent", "Stats", "raise_nofile"]

MAX_PENDING = 256
CONNECT_TIMEOUT_S = 10.0
BACKOFF_MIN_S = 0.01
BACKOFF_MAX_S = 0.25  # one probe this often at most: a server starting is held soon after
FD_SLACK = 64  # descriptors beyond the connections: stdio, epoll, exporter sockets
_ERRNO_REASON = {
    errno.ECONNREFUSED: "refused",
    errno.ETIMEDOUT: "timeout",
    errno.ECONNRESET: "reset",
    errno.EHOSTUNREACH: "unreachable",
    errno.ENETUNREACH: "unreachable",
    errno.EADDRNOTAVAIL: "addrnotavail",
    errno.EMFILE: "fd-unavail",
    errno.ENFILE: "fd-unavail",
}

log = logging.getLogger("agents.idle")

_CONNECTING, _OPEN = 0, 1
_CLOSED_EVENTS = select.EPOLLIN | select.EPOLLRDHUP | select.EPOLLHUP | select.EPOLLERR


@dataclass
class _Conn:
    sock: socket.socket
    state: int
    started: float
    replaces: float | None  # when the server closed the connection this one replaces


@dataclass
class Stats:
    opened: int = 0
    reopened: int = 0
    closed_by_server: int = 0
    max_open: int = 0
    failures: dict[str, int] = field(default_factory=lambda: dict.fromkeys(REASONS, 0))
    reopen_delays: list[float] = field(default_factory=list)
    ramp_up_s: float | None = None


class IdleAgent:
    """The epoll loop. ``run(should_stop)`` holds ``target`` connections to ``address`` until
    ``should_stop()`` is true, then closes them. Usage::

        agent = IdleAgent(("127.0.0.1", 8080), socket.AF_INET, 10_000, Metrics())
        agent.run(lambda: stopping)
    """

    def __init__(
        self,
        address: Any,  # a socket address of ``family``
        family: int,
        target: int,
        metrics: Metrics,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_pending: int = MAX_PENDING,
        connect_timeout_s: float = CONNECT_TIMEOUT_S,
    ) -> None:
        self.address = address
        self.family = family
        self.target = target
        self.metrics = metrics
        self.clock = clock
        self.max_pending = max_pending
        self.connect_timeout_s = connect_timeout_s
        self.ep = select.epoll()
        self.conns: dict[int, _Conn] = {}
        self.pending: collections.deque[tuple[float, int, socket.socket]] = collections.deque()
        self.closed_at: collections.deque[float] = collections.deque()  # awaiting replacement
        self.n_open = 0
        self.n_connecting = 0
        self.retry_at = 0.0
        self.backoff = BACKOFF_MIN_S
        self.probing = False  # since a connect failed: one connect in flight until one opens
        self.stats = Stats()
        self.wake_fd: int | None = None
        self.started = clock()

    # -- connections ----------------------------------------------------------------------

    def _fail(self, reason: str, now: float) -> None:
        self.stats.failures[reason] += 1
        self.metrics.failures.labels(reason=reason).inc()
        self.probing = True
        if now >= self.retry_at:  # one back-off step per round: a burst of refusals (every
            # connect in flight when the server was not listening) is one failed round, not 256
            self.retry_at = now + self.backoff
            self.backoff = min(self.backoff * 2, BACKOFF_MAX_S)

    def _start_connect(self, now: float) -> None:
        try:
            sock = socket.socket(self.family, socket.SOCK_STREAM | socket.SOCK_NONBLOCK)
        except OSError as exc:
            self._fail(_ERRNO_REASON.get(exc.errno or 0, "other"), now)
            return
        replaces = self.closed_at.popleft() if self.closed_at else None
        err = sock.connect_ex(self.address)
        if err not in (0, errno.EINPROGRESS):
            sock.close()
            if replaces is not None:
                self.closed_at.appendleft(replaces)
            self._fail(_ERRNO_REASON.get(err, "other"), now)
            return
        conn = _Conn(sock, _CONNECTING, now, replaces)
        self.conns[sock.fileno()] = conn
        self.n_connecting += 1
        if err == 0:  # connected at once (possible on loopback)
            self.ep.register(sock.fileno(), select.EPOLLIN | select.EPOLLRDHUP)
            self._opened(sock.fileno(), conn, now)
        else:
            self.ep.register(sock.fileno(), select.EPOLLOUT)
            self.pending.append((now, sock.fileno(), sock))

    def _opened(self, fd: int, conn: _Conn, now: float) -> None:
        conn.state = _OPEN
        self.n_connecting -= 1
        self.n_open += 1
        self.backoff = BACKOFF_MIN_S
        self.probing = False
        self.stats.opened += 1
        self.metrics.opened.inc()
        if conn.replaces is not None:
            delay = now - conn.replaces
            self.stats.reopened += 1
            self.stats.reopen_delays.append(delay)
            self.metrics.reopened.inc()
            self.metrics.reopen_delay.observe(delay)
            conn.replaces = None
        if self.n_open > self.stats.max_open:
            self.stats.max_open = self.n_open
        if self.stats.ramp_up_s is None and self.n_open >= self.target:
            self.stats.ramp_up_s = now - self.started
            self.metrics.ramp_up.set(self.stats.ramp_up_s)
            self.metrics.phase.set("holding")
            log.info(
                "holding %d connections after %.3fs (%.0f connections/s)",
                self.n_open,
                self.stats.ramp_up_s,
                self.target / max(self.stats.ramp_up_s, 1e-9),
            )

    def _drop(self, fd: int, conn: _Conn) -> None:
        with contextlib.suppress(OSError):
            self.ep.unregister(fd)
        del self.conns[fd]
        conn.sock.close()
        if conn.state == _OPEN:
            self.n_open -= 1
        else:
            self.n_connecting -= 1

    def _on_connecting(self, fd: int, conn: _Conn, now: float) -> None:
        err = conn.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if err:
            replaces = conn.replaces
            self._drop(fd, conn)
            if replaces is not None:
                self.closed_at.appendleft(replaces)
            self._fail(_ERRNO_REASON.get(err, "other"), now)
            return
        self.ep.modify(fd, select.EPOLLIN | select.EPOLLRDHUP)
        self._opened(fd, conn, now)

    def _on_open(self, fd: int, conn: _Conn, now: float) -> None:
        try:
            data = conn.sock.recv(4096)
        except BlockingIOError:
            return
        except OSError:
            data = b""  # reset by the server: closed all the same
        if data:
            return  # the server said something; we stay silent and keep the connection
        self._drop(fd, conn)
        self.stats.closed_by_server += 1
        self.metrics.closed.inc()
        self.closed_at.append(now)

    def _expire_connects(self, now: float) -> None:
        while self.pending:
            started, fd, sock = self.pending[0]
            conn = self.conns.get(fd)
            if conn is None or conn.sock is not sock or conn.state != _CONNECTING:
                self.pending.popleft()  # done already (the fd may have been reused)
                continue
            if now - started < self.connect_timeout_s:
                return
            self.pending.popleft()
            replaces = conn.replaces
            self._drop(fd, conn)
            if replaces is not None:
                self.closed_at.appendleft(replaces)
            self._fail("timeout", now)

    # -- loop -----------------------------------------------------------------------------

    def run(self, should_stop: Callable[[], bool]) -> None:
        self.metrics.target.set(self.target)
        self.metrics.phase.set("ramping")
        self.started = self.clock()
        last_report = self.started
        while not should_stop():
            now = self.clock()
            in_flight = 1 if self.probing else self.max_pending
            while (
                self.n_open + self.n_connecting < self.target
                and self.n_connecting < in_flight
                and now >= self.retry_at
            ):
                self._start_connect(now)
            if self.n_open + self.n_connecting < self.target and now < self.retry_at:
                timeout = self.retry_at - now
            elif self.n_connecting:
                timeout = 0.1
            else:
                timeout = 1.0
            for fd, events in self.ep.poll(timeout, 1024):
                conn = self.conns.get(fd)
                if conn is None:
                    if fd == self.wake_fd:
                        with contextlib.suppress(OSError):
                            os.read(fd, 512)
                    continue
                now = self.clock()
                if conn.state == _CONNECTING:
                    self._on_connecting(fd, conn, now)
                elif events & _CLOSED_EVENTS:
                    self._on_open(fd, conn, now)
            now = self.clock()
            self._expire_connects(now)
            self.metrics.open.set(self.n_open)
            self.metrics.connecting.set(self.n_connecting)
            if now - last_report >= 10:
                last_report = now
                failed = sum(self.stats.failures.values())
                log.info(
                    "%d open, %d connecting; %d closed by the server, %d reopened, "
                    "%d connects failed so far",
                    self.n_open,
                    self.n_connecting,
                    self.stats.closed_by_server,
                    self.stats.reopened,
                    failed,
                )
        self.close()

    def watch(self, fd: int) -> None:
        """Wake the loop when ``fd`` (the signal wake-up pipe) becomes readable."""
        self.wake_fd = fd
        self.ep.register(fd, select.EPOLLIN)

    def close(self) -> None:
        self.metrics.phase.set("stopping")
        for fd, conn in list(self.conns.items()):
            self._drop(fd, conn)
        self.metrics.open.set(0)
        self.metrics.connecting.set(0)
        self.ep.close()

    def summary(self) -> dict[str, Any]:
        s = self.stats
        delays = s.reopen_delays
        failures = dict(s.failures)
        failures["total"] = sum(s.failures.values())
        return {
            "target": self.target,
            "max_open": s.max_open,
            "opened": s.opened,
            "reopened": s.reopened,
            "closed_by_server": s.closed_by_server,
            "ramp_up_s": None if s.ramp_up_s is None else round(s.ramp_up_s, 4),
            "ramp_up_rate": None if not s.ramp_up_s else round(self.target / s.ramp_up_s, 1),
            "reopen_delay_s": {
                "count": len(delays),
                "avg": round(sum(delays) / len(delays), 4) if delays else None,
                "max": round(max(delays), 4) if delays else None,
            },
            "errors": failures,
        }


def raise_nofile(needed: int) -> int:
    """Raise RLIMIT_NOFILE's soft limit (and the hard one, if allowed) to ``needed``; returns
    the new soft limit, which may still be lower when the hard limit cannot move."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft >= needed or soft == resource.RLIM_INFINITY:
        return soft if soft != resource.RLIM_INFINITY else needed
    if hard != resource.RLIM_INFINITY and hard < needed:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (needed, needed))
            return needed
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        return hard
    resource.setrlimit(resource.RLIMIT_NOFILE, (needed, hard))
    return needed
