"""The one-shot idle agent's command line (``python3 -m agents.idle``; ``README.md`` beside this
file is its manual): hold N idle connections until SIGTERM or SIGINT, then print one JSON
object."""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import sys
import time
from collections.abc import Sequence
from types import FrameType
from typing import Any

from agents._cli import ArgumentParser, agent_parser, positive_int, setup_logging
from agents.exporter import start_metrics
from agents.idle.agent import FD_SLACK, IdleAgent, raise_nofile
from agents.idle.metrics import Metrics
from agents.idle.report import report

__all__ = ["main"]

log = logging.getLogger("agents.idle")


def _parser() -> ArgumentParser:
    p = agent_parser(
        "python3 -m agents.idle",
        "Hold N idle connections to a server until SIGTERM; print one JSON result.",
        metrics_port=9182,
    )
    p.add_argument("--connections", required=True, type=positive_int)
    return p


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
