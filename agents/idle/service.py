"""The idle agent as a service: one process per client for a whole sweep, told each hold over HTTP.

Usage (run on a lab host from its deploy directory, once per sweep)::

    python3 -m agents.idle.service --server ADDR --port P --control-key-file FILE
        [--max-connections N] [--metrics-address A] [--metrics-port 9182] [--host NAME]

Why: a one-shot ``agents.idle`` per point cost every client an SSH session and a Python
interpreter start per point, on the one core the eight emulated clients share: about 4 s to
start and 5 s to stop per point with idle connections. The service starts once; a point then
costs each client one HTTP request to begin its hold and one to end it.

The control, on the metrics port (the same server that serves ``/metrics``; every request but
``GET /metrics`` needs ``Authorization: Bearer <key>``, the key in ``--control-key-file``, else
401: ``agents.control``)::

    POST /run     {"id": "12-1", "connections": 1250}
                  202: the hold began; its connections open in the background, retried until
                       the server listens (``agents.idle``'s loop, in a thread of its own)
                  400: one line: not that JSON object, a bad id (1-64 letters, digits, '.', '_'
                       or '-'), connections not an integer from 1 to ``--max-connections``, or
                       RLIMIT_NOFILE cannot be raised to what they need
                  409: another hold is under way, or this id was used already
                  503: the service is stopping
    POST /stop?id=12-1
                  200: once every connection of that hold is closed, ``agents.idle``'s JSON
                       object for it (schema ``testbed.idle/1``); the same again for a hold
                       stopped already (the last 4 are kept)
                  404: no such hold
    GET /hold     200: {"id": "12-1", "target": 1250, "open": 1187}, the hold under way;
                  204: none

Holds happen one at a time, each to the server the service was started for (``--server`` is
resolved once, at start: a name that does not resolve is logged, exit 1), of at most
``--max-connections`` (default 20,000, at most MAX_CONNECTIONS): the service raises its
descriptor limit to a hold's connections plus FD_SLACK, so never past that bound plus
FD_SLACK (the control's own connections, at most ``agents.control.MAX_HANDLERS``, fit in the
slack). In the JSON,
``max_rss_bytes`` is the service's peak so far, not the hold's own. The metrics are
``agents.idle``'s, one set for the service's life: counters add up over the holds,
``testbed_idle_connections_target`` is 0 between holds. SIGTERM or SIGINT closes the hold
under way and ends the service; exit status 0. Bad arguments to the service itself: one line
on stderr, exit 2.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import signal
import socket
import sys
import threading
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from agents._cli import agent_parser, positive_int, setup_logging
from agents.control import read_key, serve
from agents.idle.agent import FD_SLACK, IdleAgent, raise_nofile
from agents.idle.metrics import Metrics
from agents.idle.report import report
from agents.ids import CONTROL_ID, CONTROL_ID_RULE

__all__ = ["Hold", "IdleService", "main"]

KEPT_HOLDS = 4  # stopped holds whose JSON a repeated stop still answers
MAX_CONNECTIONS = 1_000_000  # the most --max-connections may say (the lab file's own bound)
DEFAULT_MAX_CONNECTIONS = 20_000

log = logging.getLogger("agents.idle")


@dataclass
class Hold:
    """One hold: its agent, the thread running the agent's loop, and once ended its JSON."""

    id: str
    agent: IdleAgent
    started_at: float
    wake_r: int  # a byte written to wake_w wakes the agent's epoll loop to see `stopping`
    wake_w: int
    stopping: threading.Event = field(default_factory=threading.Event)
    done: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread = field(init=False)
    result: str = ""  # agents.idle's JSON object, once done


class IdleService:
    """The HTTP control of an idle service and its one hold at a time; see the module
    docstring. ``address`` and ``family`` are the server's, resolved once; ``server``, ``port``
    and ``host`` are what the JSON says."""

    def __init__(
        self,
        address: Any,  # a socket address of ``family``
        family: int,
        metrics: Metrics,
        *,
        server: str,
        port: int,
        host: str | None,
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
    ) -> None:
        self.max_connections = max_connections
        self.address = address
        self.family = family
        self.metrics = metrics
        self.server = server
        self.port = port
        self.host = host
        self._lock = threading.Lock()
        self._current: Hold | None = None  # from its POST /run until its thread ends
        self._finished: OrderedDict[str, Hold] = OrderedDict()
        self._used: set[str] = set()  # every id ever run: an id names one hold only
        self._closing = False

    # -- HTTP (the metrics server's threads) -------------------------------------------------

    def control(self, method: str, path: str, body: str) -> tuple[int, str] | None:
        url = urlsplit(path)
        if (method, url.path) == ("POST", "/run"):
            return self.run(body)
        if (method, url.path) == ("POST", "/stop"):
            return self.stop(parse_qs(url.query).get("id", [""])[0])
        if (method, url.path) == ("GET", "/hold"):
            return self.status()
        return None

    def run(self, body: str) -> tuple[int, str]:
        request = _parse_run(body, self.max_connections)
        if isinstance(request, str):
            return 400, request
        hold_id, connections = request
        with self._lock:
            if self._closing:
                return 503, "the service is stopping"
            current = self._current
            if current is not None:
                return 409, f"hold {current.id} is under way"
            if hold_id in self._used:
                return 409, f"hold {hold_id} was run already"
            # Under the lock: two requests raising the limit at once could lower it again.
            needed = connections + FD_SLACK
            try:
                limit = raise_nofile(needed)
            except (ValueError, OSError) as exc:
                return 400, f"RLIMIT_NOFILE cannot be raised to {needed}: {exc}"
            if limit < needed:
                return 400, (
                    f"RLIMIT_NOFILE hard limit is {limit}, {connections} connections need {needed}"
                )
            try:
                hold = self._begin(hold_id, connections)
            except (OSError, RuntimeError) as exc:  # out of descriptors, or of threads
                log.error("hold %s: cannot begin: %s", hold_id, exc)
                return 500, f"hold {hold_id} cannot begin: {exc}"
            self._used.add(hold_id)
            self._current = hold
        return 202, ""

    def stop(self, hold_id: str) -> tuple[int, str]:
        with self._lock:
            current = self._current
            hold = current if current is not None and current.id == hold_id else None
            hold = hold or self._finished.get(hold_id)
            if hold is None:
                return 404, f"no hold {hold_id!r}"
            self._wake(hold)
        # Not under the lock: closing thousands of connections takes a while, and the other
        # requests (GET /hold, a scrape's neighbours) must not wait for it.
        hold.thread.join()
        return 200, hold.result

    def status(self) -> tuple[int, str]:
        with self._lock:
            hold = self._current
        if hold is None:
            return 204, ""
        return 200, json.dumps(
            {"id": hold.id, "target": hold.agent.target, "open": hold.agent.n_open}
        )

    # -- the main thread ---------------------------------------------------------------------

    def close(self) -> None:
        """Refuse new holds, stop the one under way and wait until its connections are closed."""
        with self._lock:
            self._closing = True
            hold = self._current
            if hold is not None:
                self._wake(hold)
        if hold is not None:
            hold.thread.join()

    # -- holds -------------------------------------------------------------------------------

    def _begin(self, hold_id: str, connections: int) -> Hold:
        """A hold's agent and thread, started (called under the lock)."""
        wake_r, wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        try:
            agent = IdleAgent(self.address, self.family, connections, self.metrics)
            agent.watch(wake_r)
        except OSError:
            os.close(wake_r)
            os.close(wake_w)
            raise
        hold = Hold(hold_id, agent, time.time(), wake_r, wake_w)
        hold.thread = threading.Thread(
            target=self._hold, args=(hold,), name=f"hold-{hold_id}", daemon=True
        )
        self.metrics.ramp_up.set(0)  # "0 until the target is reached", for this hold
        log.info(
            "hold %s: opening %d idle connections to %s:%d",
            hold_id,
            connections,
            self.server,
            self.port,
        )
        try:
            hold.thread.start()
        except RuntimeError:
            agent.close()
            os.close(wake_r)
            os.close(wake_w)
            raise
        return hold

    def _wake(self, hold: Hold) -> None:
        """Tell a hold to stop and wake its loop at once (called under the lock, so the pipe
        is still open: the hold's thread closes it under the lock, after ``done``)."""
        hold.stopping.set()
        if not hold.done.is_set():
            with contextlib.suppress(BlockingIOError):  # full: the loop is woken already
                os.write(hold.wake_w, b"x")

    def _hold(self, hold: Hold) -> None:
        """A hold's thread: the agent's loop until stopped, then the hold's JSON."""
        agent = hold.agent
        open_at_stop = 0

        def should_stop() -> bool:
            nonlocal open_at_stop
            if hold.stopping.is_set():
                open_at_stop = agent.n_open
                return True
            return False

        error: str | None = None
        body: dict[str, Any] = {}
        try:
            agent.run(should_stop)
        except Exception as exc:  # the stop must still answer, saying why
            log.exception("hold %s failed", hold.id)
            error = f"hold {hold.id} failed: {exc}"
            self.metrics.phase.set("failed")
            with contextlib.suppress(OSError, ValueError):
                agent.close()  # whatever it still held
        else:
            log.info("hold %s: closed %d connections", hold.id, open_at_stop)
            body = agent.summary()
            body["open_at_stop"] = open_at_stop
        self.metrics.target.set(0)
        out = report(
            host=self.host,
            server=self.server,
            port=self.port,
            target=agent.target,
            started_at=hold.started_at,
            error=error,
            body=body,
        )
        with self._lock:
            hold.result = json.dumps(out, indent=2)
            hold.done.set()
            os.close(hold.wake_r)
            os.close(hold.wake_w)
            self._finished[hold.id] = hold
            while len(self._finished) > KEPT_HOLDS:
                self._finished.popitem(last=False)
            if self._current is hold:
                self._current = None


def _parse_run(body: str, most: int) -> tuple[str, int] | str:
    """A POST /run's (id, connections), or the one line saying what is wrong with it; `most`
    connections at most."""
    expected = 'expected a JSON object {"id": "...", "connections": N}'
    try:
        request = json.loads(body)
    except (ValueError, RecursionError):  # RecursionError: "[[[[..." nested too deeply
        return expected
    if not isinstance(request, dict) or set(request) != {"id", "connections"}:
        return expected
    hold_id, connections = request["id"], request["connections"]
    if not isinstance(hold_id, str) or not CONTROL_ID.fullmatch(hold_id):
        return f"hold id {hold_id!r:.70}: {CONTROL_ID_RULE}"
    # bool is an int to Python, never a count of connections here.
    if type(connections) is not int or not 0 < connections <= most:
        return f"connections {json.dumps(connections):.40}: expected an integer from 1 to {most}"
    return hold_id, connections


def _parser() -> argparse.ArgumentParser:
    p = agent_parser(
        "python3 -m agents.idle.service",
        "Serve idle-connection holds for a whole sweep: each told over HTTP, each holding this"
        " client's share of the idle connections until told to stop.",
        metrics_port=9182,
        service=True,
    )
    p.add_argument(
        "--max-connections",
        type=_max_connections,
        default=DEFAULT_MAX_CONNECTIONS,
        help=f"the most connections a hold may ask for (default {DEFAULT_MAX_CONNECTIONS:,},"
        f" at most {MAX_CONNECTIONS:,})",
    )
    return p


def _max_connections(text: str) -> int:
    value = positive_int(text)
    if value > MAX_CONNECTIONS:
        raise argparse.ArgumentTypeError(f"{text!r}: at most {MAX_CONNECTIONS}")
    return value


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    setup_logging("idle", args.host)
    try:
        info = socket.getaddrinfo(args.server, args.port, type=socket.SOCK_STREAM)[0]
    except OSError as exc:
        log.error("cannot resolve %s: %s", args.server, exc.strerror or exc)
        return 1
    try:
        key = read_key(Path(args.control_key_file))
    except ValueError as exc:
        log.error("%s", exc)
        return 1
    metrics = Metrics()
    service = IdleService(
        info[4],
        info[0],
        metrics,
        server=args.server,
        port=args.port,
        host=args.host,
        max_connections=args.max_connections,
    )
    # The signals are taken by sigwait below, not by a handler: a handler runs in the main
    # thread between any two bytecodes and could not wait for a hold's thread safely. Blocked
    # before any thread starts, so every thread inherits the mask and none is interrupted.
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT})
    try:
        serve(metrics.registry, args.metrics_address, args.metrics_port, service.control, key, log)
    except OSError as exc:
        log.error("cannot serve on %s:%s: %s", args.metrics_address, args.metrics_port, exc)
        return 1
    log.info("serving idle holds on %s:%d", args.metrics_address, args.metrics_port)
    signum = signal.sigwait({signal.SIGTERM, signal.SIGINT})
    log.info("%s: closing the hold under way, if any", signal.Signals(signum).name)
    service.close()
    log.info("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
