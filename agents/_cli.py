"""What the agents' command lines share: one-line argument errors (exit 2), argument types that
name the bad value, logging to stderr, and the metrics endpoint."""

from __future__ import annotations

import argparse
import logging
import re
import sys
import threading
from collections.abc import Callable
from http.server import ThreadingHTTPServer
from typing import Any, NoReturn

from prometheus_client import CollectorRegistry, Gauge, start_http_server
from prometheus_client.exposition import MetricsHandler

__all__ = [
    "CONTROL_ID",
    "CONTROL_ID_RULE",
    "ArgumentParser",
    "Control",
    "PhaseGauge",
    "agent_parser",
    "control_port",
    "nonnegative_int",
    "port_number",
    "positive_float",
    "positive_int",
    "server_port",
    "setup_logging",
    "start_metrics",
]


class ArgumentParser(argparse.ArgumentParser):
    """argparse, but a bad argument prints one line naming it and its value, then exits 2, and
    a flag is only ever its whole name: argparse would take ``--ser`` for ``--server``."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["allow_abbrev"] = False  # subparsers too: they are made by this class
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        print(f"{self.prog}: error: {message}", file=sys.stderr)
        raise SystemExit(2)


def _number(kind: type[int] | type[float], text: str, minimum: float, strict: bool) -> float:
    try:
        value = kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a{'n integer' if kind is int else ' number'}"
        ) from None
    if value != value or value in (float("inf"), float("-inf")):
        raise argparse.ArgumentTypeError(f"{text!r} is not a finite number")
    if (strict and value <= minimum) or (not strict and value < minimum):
        relation = ">" if strict else ">="
        raise argparse.ArgumentTypeError(f"{text!r} must be {relation} {minimum:g}")
    return value


def positive_float(text: str) -> float:
    return float(_number(float, text, 0, strict=True))


def positive_int(text: str) -> int:
    return int(_number(int, text, 0, strict=True))


def nonnegative_int(text: str) -> int:
    return int(_number(int, text, 0, strict=False))


def port_number(text: str) -> int:
    value = int(_number(int, text, 0, strict=False))
    if value > 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number (0-65535)")
    return value


def server_port(text: str) -> int:
    value = port_number(text)
    if value == 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port to connect to (1-65535)")
    return value


def control_port(text: str) -> int:
    """A service's metrics port: it is told its work there, so it cannot be off (0)."""
    value = port_number(text)
    if value == 0:
        raise argparse.ArgumentTypeError(
            f"{text!r}: the service is told its work on this port, it cannot be off"
        )
    return value


def agent_parser(
    prog: str, description: str, metrics_port: int, *, service: bool = False
) -> ArgumentParser:
    """A parser with what every agent takes: --server, --port, the metrics endpoint, --host.
    Callers add their own arguments after --port. A `service` is controlled on its metrics
    port, which then cannot be 0."""
    p = ArgumentParser(prog=prog, description=description)
    p.add_argument("--server", required=True, help="server address (name or IP)")
    p.add_argument("--port", required=True, type=server_port)
    p.add_argument(
        "--metrics-address",
        default="127.0.0.1",
        help="address of the exporter (default: loopback; the sweep passes the host's"
        " management address)",
    )
    p.add_argument(
        "--metrics-port",
        type=control_port if service else port_number,
        default=metrics_port,
        help="also the control's port" if service else "0 disables the exporter",
    )
    p.add_argument("--host", help="this host's name, for the JSON and the logs")
    return p


def setup_logging(name: str, host: str | None) -> logging.Logger:
    """Log lines on stderr (stdout carries only the final JSON)."""
    tag = f"{name}[{host}]" if host else name
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(f"%(asctime)s {tag} %(levelname)s %(message)s"))
    logger = logging.getLogger(f"agents.{name}")
    logger.handlers[:] = [handler]
    logger.setLevel(logging.INFO)
    logger.propagate = False
    return logger


class PhaseGauge:
    """A state set: ``<prefix>_phase{phase="..."}`` is 1 for the current phase, 0 for the others,
    so a dashboard can show what an agent is doing and an alert can catch ``failed``."""

    def __init__(self, registry: CollectorRegistry, name: str, doc: str, phases: tuple[str, ...]):
        self._gauge = Gauge(name, doc, ["phase"], registry=registry)
        self._phases = phases
        self.current = ""

    def set(self, phase: str) -> None:
        if phase not in self._phases:
            raise ValueError(f"unknown phase {phase!r}")
        self.current = phase
        for p in self._phases:
            self._gauge.labels(phase=p).set(1 if p == phase else 0)


MAX_CONTROL_BODY = 65536  # bytes of a control request read at most (a load run's arguments)
CONTROL_ID = re.compile(r"[A-Za-z0-9_.-]{1,64}")  # a service's run or hold id
CONTROL_ID_RULE = "expected 1-64 letters, digits, '.', '_' or '-'"
Control = Callable[[str, str, str], "tuple[int, str] | None"]  # (method, path, body)


def start_metrics(
    registry: CollectorRegistry,
    address: str,
    port: int,
    control: Control | None = None,
) -> None:
    """Serve ``registry`` on http://address:port/metrics in a daemon thread (port 0: don't).
    With ``control``, every other request to the same server (``PUT``, ``POST``, a ``GET`` of
    another path) is answered by ``control(method, path, body)``: its ``(status, text)``, or
    404 for None. The orchestrator names a load run's start instant this way, and drives a load
    agent that serves a whole sweep (``agents.load_service``). Raises OSError when the port is
    taken."""
    if not port:
        return
    if control is None:
        start_http_server(port, addr=address, registry=registry)
        return
    handle = control

    class Handler(MetricsHandler.factory(registry)):  # type: ignore[misc]
        def _answer(self, method: str) -> None:
            length = min(int(self.headers.get("Content-Length") or 0), MAX_CONTROL_BODY)
            body = self.rfile.read(length).decode(errors="replace") if length else ""
            status, text = handle(method, self.path, body) or (404, "")
            data = text.encode() if status != 204 else b""
            self.send_response(status)
            self.send_header(
                "Content-Type", "application/json" if data[:1] == b"{" else "text/plain"
            )
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_PUT(self) -> None:
            self._answer("PUT")

        def do_POST(self) -> None:
            self._answer("POST")

        def do_GET(self) -> None:
            if self.path.split("?")[0] in ("/", "/metrics"):
                super().do_GET()
            else:
                self._answer("GET")

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer((address, port), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
