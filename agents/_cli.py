"""What the agents' command lines share: one-line argument errors (exit 2), no abbreviated
flags, argument types that name the bad value, and logging to stderr. Standard library only
(the metrics endpoint is ``agents.exporter``'s)."""

from __future__ import annotations

import argparse
import logging
import sys
from typing import Any, NoReturn

__all__ = [
    "ArgumentParser",
    "agent_parser",
    "control_port",
    "nonnegative_int",
    "port_number",
    "positive_float",
    "positive_int",
    "server_port",
    "setup_logging",
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
    port, which then cannot be 0, and only with the key in its --control-key-file."""
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
    if service:
        p.add_argument(
            "--control-key-file",
            required=True,
            help="the file holding the key every control request must bear (mode 0600; a"
            " path, so the key is never in a command line)",
        )
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
