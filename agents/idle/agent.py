"""Idle-connection agent: holds N silent TCP connections to the server, as the paper's idleconn
does, but epoll-based so one process holds 10,000 and more (Debian's idleconn is select()-based
and stops near 1,000).

Usage::

    python3 -m agents.idle --server ADDR --port P --connections N
        [--metrics-address A] [--metrics-port P] [--host NAME]

It opens the connections fast -- non-blocking connects, at most 256 in flight, so the server's
accept queue is not flooded -- never sends a byte, and reopens at once any connection the server
closes (idleconn's semantics). After a connect fails, one connect at a time probes the server,
after a back-off that starts at 10 ms and doubles (once per probe) up to 0.25 s while failures
continue, so a server that is down is polled, not hammered; the first connect that succeeds
ends the probing and the back-off. A connect still pending after 10 s counts as a timeout and
is retried. It raises RLIMIT_NOFILE to what N connections need (and fails at start, exit 1, if
the hard limit is lower). It runs until SIGTERM or SIGINT, then closes every connection, prints
one JSON object on stdout and exits 0 (logs go to stderr)::

    {
      "schema": "testbed.idle/1",
      "error": null | "why the agent could not run",
      "host": "client1" | null, "server": "198.18.1.1", "port": 80,
      "target": 10000,               # --connections
      "max_open": 10000,             # most connections open at once
      "open_at_stop": 10000,
      "opened": 10412,               # connects that succeeded, reopens included
      "reopened": 412,               # of those, replacements for connections the server closed
      "closed_by_server": 412,
      "ramp_up_s": 1.9 | null,       # start until N were first open (null: never)
      "ramp_up_rate": 5263.2 | null, # N / ramp_up_s, connections/s
      "reopen_delay_s": {"count": 412, "avg": 0.002, "max": 0.011},
                                     # server's close seen -> replacement open
      "errors": {"refused", "timeout", "reset", "unreachable", "addrnotavail", "fd-unavail",
                 "other", "total"},  # failed connects, by cause
      "started_at": 1764158400.0, "stopped_at": ..., "duration_s": ...,
      "rlimit_nofile": 10064, "max_rss_bytes": 31000000
    }

Exit status: 0 after SIGTERM/SIGINT; 1 when it cannot run (``error`` says why: name does not
resolve, descriptor limit, metrics port taken); 2 for bad arguments (one line on stderr).

Metrics (``--metrics-port`` default 9182, 0 disables): ``testbed_idle_connections_open``,
``testbed_idle_connections_target``, ``testbed_idle_connections_connecting``,
``testbed_idle_connections_opened_total``, ``testbed_idle_connections_reopened_total``,
``testbed_idle_connections_closed_by_server_total``,
``testbed_idle_connect_failures_total{reason}``, ``testbed_idle_reopen_delay_seconds``
(histogram), ``testbed_idle_ramp_up_seconds``, ``testbed_idle_phase{phase=ramping|holding|
stopping|failed}``, and the agent's own ``process_*`` metrics (its resident memory among them).
"""

from __future__ import annotations

import collections
import contextlib
import errno
import functools
import json
import logging
import os
import resource
import select
import signal
import socket
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import FrameType
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, ProcessCollector

from agents._cli import (
    ArgumentParser,
    PhaseGauge,
    agent_parser,
    positive_int,
    setup_logging,
    start_metrics,
)

__all__ = ["IdleAgent", "main", "raise_nofile", "report"]

SCHEMA = "testbed.idle/1"
MAX_PENDING = 256
CONNECT_TIMEOUT_S = 10.0
BACKOFF_MIN_S = 0.01
BACKOFF_MAX_S = 0.25  # one probe this often at most: a server starting is held soon after
FD_SLACK = 64  # descriptors beyond the connections: stdio, epoll, exporter sockets
PHASES = ("ramping", "holding", "stopping", "failed")
REASONS = ("refused", "timeout", "reset", "unreachable", "addrnotavail", "fd-unavail", "other")
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


class Metrics:
    def __init__(self) -> None:
        self.registry = r = CollectorRegistry()
        ProcessCollector(registry=r)
        gauge = functools.partial(Gauge, registry=r)
        counter = functools.partial(Counter, registry=r)
        self.phase = PhaseGauge(
            r, "testbed_idle_phase", "What the idle agent is doing (1 = current phase).", PHASES
        )
        self.open = gauge("testbed_idle_connections_open", "Idle connections open.")
        self.target = gauge("testbed_idle_connections_target", "Idle connections to hold.")
        self.connecting = gauge("testbed_idle_connections_connecting", "Connects in flight.")
        self.opened = counter(
            "testbed_idle_connections_opened", "Connections opened, reopens included."
        )
        self.reopened = counter(
            "testbed_idle_connections_reopened",
            "Connections opened to replace one the server closed.",
        )
        self.closed = counter(
            "testbed_idle_connections_closed_by_server",
            "Open connections the server closed (or reset).",
        )
        self.failures = counter(
            "testbed_idle_connect_failures", "Connects that failed, by cause.", ["reason"]
        )
        for reason in REASONS:
            self.failures.labels(reason=reason)
        self.reopen_delay = Histogram(
            "testbed_idle_reopen_delay_seconds",
            "From seeing the server close a connection to its replacement being open.",
            buckets=(0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
            registry=r,
        )
        self.ramp_up = gauge(
            "testbed_idle_ramp_up_seconds",
            "Seconds from start until the target was first reached (0 until then).",
        )


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


def _parser() -> ArgumentParser:
    p = agent_parser(
        "python3 -m agents.idle",
        "Hold N idle connections to a server until SIGTERM; print one JSON result.",
        metrics_port=9182,
    )
    p.add_argument("--connections", required=True, type=positive_int)
    return p


def report(
    *,
    host: str | None,
    server: str,
    port: int,
    target: int,
    started_at: float,
    error: str | None = None,
    body: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The agent's JSON object (module docstring), stopped now. ``body``: the agent's
    ``summary()`` and ``open_at_stop``, or nothing when it could not run (``error`` says why).
    ``agents.idle_service`` answers each hold's stop with the same object."""
    stopped_at = time.time()
    out: dict[str, Any] = {
        "schema": SCHEMA,
        "error": error,
        "host": host or None,
        "server": server,
        "port": port,
        "target": target,
    }
    out.update(body or {})
    out.update(
        {
            "started_at": started_at,
            "stopped_at": stopped_at,
            "duration_s": round(stopped_at - started_at, 3),
            "rlimit_nofile": resource.getrlimit(resource.RLIMIT_NOFILE)[0],
            "max_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
        }
    )
    return out


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    setup_logging("idle", args.host)
    metrics = Metrics()
    started_at = time.time()

    def finish(error: str | None, body: dict[str, Any], status: int) -> int:
        if error:
            log.error("%s", error)
            metrics.phase.set("failed")
        out = report(
            host=args.host,
            server=args.server,
            port=args.port,
            target=args.connections,
            started_at=started_at,
            error=error,
            body=body,
        )
        sys.stdout.write(json.dumps(out, indent=2) + "\n")
        sys.stdout.flush()
        return status

    stopping: list[str] = []

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stopping.append(signal.Signals(signum).name)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    wake_r, wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
    signal.set_wakeup_fd(wake_w, warn_on_full_buffer=False)

    try:
        start_metrics(metrics.registry, args.metrics_address, args.metrics_port)
    except OSError as exc:
        where = f"{args.metrics_address}:{args.metrics_port}"
        return finish(f"cannot serve metrics on {where}: {exc}", {}, 1)
    try:
        info = socket.getaddrinfo(args.server, args.port, type=socket.SOCK_STREAM)[0]
    except OSError as exc:
        return finish(f"cannot resolve {args.server}: {exc.strerror or exc}", {}, 1)
    needed = args.connections + FD_SLACK
    limit = raise_nofile(needed)
    if limit < needed:
        return finish(
            f"RLIMIT_NOFILE hard limit is {limit}, {args.connections} connections need {needed}",
            {},
            1,
        )
    family, address = info[0], info[4]
    log.info("opening %d idle connections to %s:%d", args.connections, args.server, args.port)
    agent = IdleAgent(address, family, args.connections, metrics)
    agent.watch(wake_r)
    open_at_stop = 0

    def should_stop() -> bool:
        nonlocal open_at_stop
        if stopping:
            open_at_stop = agent.n_open
            return True
        return False

    agent.run(should_stop)
    log.info("%s: closed %d connections", stopping[0], open_at_stop)
    body = agent.summary()
    body["open_at_stop"] = open_at_stop
    return finish(None, body, 0)


if __name__ == "__main__":
    sys.exit(main())
