"""The one-shot load agent's command line (``python3 -m agents.load``; ``README.md`` beside this
file is its manual): the arguments parsed once into a frozen ``LoadArgs``, the metrics
endpoint started, one run done and its ``LoadResult`` printed as one JSON object."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from agents._cli import ArgumentParser, agent_parser, positive_float, setup_logging
from agents.control import read_key, serve
from agents.exporter import start_metrics
from agents.load.args import (
    DURATION,
    ENGINES,
    HTTPERF,
    MAX_INSTANT_DISTANCE_S,
    ONE_BYTE,
    PROCESSES,
    RATE,
    STARVED_BELOW,
    STARVED_BELOW_PCT,
    TBLOAD,
    TIMEOUT,
    WARMUP,
    WORKLOADS,
    ArgsError,
    Bound,
    LoadArgs,
)
from agents.load.build import build_result
from agents.load.plan import TBLOAD_PROGRAM, parse_cpus, read_sessions
from agents.load.run import run
from agents.load.runner import Metrics
from agents.load.start import StartSignal
from agents.workloads import ONE_BYTE_URI

__all__ = ["Serving", "main", "parse_args"]

log = logging.getLogger("agents.load")


@dataclass(frozen=True)
class Serving:
    """Where the one-shot agent serves its metrics (and, with a key, takes ``PUT /start``)."""

    address: str
    port: int
    control_key_file: str | None


def _bounded(bound: Bound) -> Callable[[str], float]:
    """An argparse type refusing a value outside `bound` with the line a run request gets."""

    def convert(text: str) -> float:
        refused = argparse.ArgumentTypeError(f"{text!r}: {bound.expected()}")
        try:
            value = float(text)
        except ValueError:
            raise refused from None
        try:
            return bound.check(int(value) if bound.integer and value.is_integer() else value)
        except ArgsError:
            raise refused from None

    return convert


def _processes(text: str) -> int | None:
    if text == "auto":
        return None
    return int(_bounded(PROCESSES)(text))


def _start_at(text: str) -> float:
    value = positive_float(text)
    if value > time.time() + MAX_INSTANT_DISTANCE_S:
        raise argparse.ArgumentTypeError(f"{text!r} is more than a day from now")
    return value


def _parser() -> ArgumentParser:
    p = agent_parser(
        "python3 -m agents.load",
        "Offer this client's share of the load with httperf; print one JSON result.",
        metrics_port=9181,
    )
    p.add_argument("--workload", required=True, choices=WORKLOADS)
    p.add_argument(
        "--rate",
        required=True,
        type=_bounded(RATE),
        help="this client's share: requests/s (one-byte) or sessions/s (specweb99)",
    )
    p.add_argument("--duration", required=True, type=_bounded(DURATION), help="seconds")
    p.add_argument("--timeout", required=True, type=_bounded(TIMEOUT), help="httperf's, seconds")
    p.add_argument("--uri", help=f"one-byte: the URI to request (default {ONE_BYTE_URI})")
    p.add_argument("--sessions", help="specweb99: an httperf --wsesslog session file")
    p.add_argument("--start-at", type=_start_at, help="Unix time to start at")
    p.add_argument(
        "--start-file", help="wait until this file exists; it holds START [MEASURE] Unix times"
    )
    p.add_argument("--warmup", type=_bounded(WARMUP), default=0.0, help="seconds, unmeasured")
    p.add_argument("--measure-at", type=_start_at, help="Unix time the measurement starts")
    p.add_argument("--processes", type=_processes, default=None, help="N or auto (default)")
    p.add_argument("--cpus", help="CPUs to pin the processes to, round robin: 2,3 or 2-5")
    p.add_argument(
        "--engine",
        choices=ENGINES,
        default=HTTPERF,
        help=f"the load generator (default {HTTPERF}; {TBLOAD}: {TBLOAD_PROGRAM} as built here)",
    )
    p.add_argument(
        "--control-key-file",
        help="with --start-file: the instants may also come by PUT /start on the metrics port,"
        " bearing the key this file holds (mode 0600; agents.control)",
    )
    p.add_argument(
        "--starved-below",
        type=_bounded(STARVED_BELOW),
        default=STARVED_BELOW_PCT,
        help=f"client-cpu-starved when a process got less than this %% of a CPU (default "
        f"{STARVED_BELOW_PCT:g}); 0 turns the check off where clients share CPUs by design",
    )
    return p


def _cpus(parser: ArgumentParser, text: str | None) -> tuple[int, ...] | None:
    """The CPUs `--cpus` names, every one of them this process's to use."""
    if text is None:
        return None
    try:
        cpus = parse_cpus(text)
    except ValueError as exc:
        parser.error(f"argument --cpus: {exc}")
    allowed = os.sched_getaffinity(0)
    missing = [c for c in cpus if c not in allowed]
    if missing:
        parser.error(
            f"argument --cpus: CPU(s) {missing} not available to this process "
            f"(allowed: {sorted(allowed)})"
        )
    return tuple(cpus)


def _sessions(parser: ArgumentParser, path: str | None) -> tuple[tuple[str, ...], ...]:
    if not path:
        return ()
    try:
        return tuple(read_sessions(Path(path)))
    except (OSError, UnicodeDecodeError) as exc:
        parser.error(f"argument --sessions: cannot read {path!r}: {exc}")


def parse_args(argv: Sequence[str] | None) -> tuple[LoadArgs, Serving]:
    """The run `argv` asks for, and where to serve the metrics; a bad argument exits 2 with one
    line on stderr."""
    parser = _parser()
    ns = parser.parse_args(argv)
    one_byte = ns.workload == ONE_BYTE
    try:
        args = LoadArgs(
            server=ns.server,
            port=ns.port,
            workload=ns.workload,
            rate=ns.rate,
            duration=ns.duration,
            timeout=ns.timeout,
            uri=(ns.uri or ONE_BYTE_URI) if one_byte else ns.uri,
            sessions=ns.sessions,
            session_list=() if one_byte else _sessions(parser, ns.sessions),
            warmup=ns.warmup,
            processes=ns.processes,
            cpus=_cpus(parser, ns.cpus),
            starved_below=ns.starved_below,
            engine=ns.engine,
            host=ns.host or None,
            start_at=ns.start_at,
            measure_at=ns.measure_at,
            start_file=ns.start_file,
        )
    except ArgsError as error:
        flag = f"argument --{error.field.replace('_', '-')}: " if error.field else ""
        parser.error(f"{flag}{error}")
    return args, Serving(ns.metrics_address, ns.metrics_port, ns.control_key_file)


def _serve(serving: Serving, metrics: Metrics, start: StartSignal) -> None:
    """The metrics endpoint (with ``PUT /start`` beside it when there is a key); OSError or
    ValueError when it cannot be served."""
    if serving.control_key_file and serving.port:
        key = read_key(Path(serving.control_key_file))
        serve(metrics.registry, serving.address, serving.port, start.control, key, log)
    else:
        start_metrics(metrics.registry, serving.address, serving.port)


def main(argv: Sequence[str] | None = None) -> int:
    args, serving = parse_args(argv)
    setup_logging("load", args.host)
    metrics = Metrics()
    start = StartSignal()
    try:
        _serve(serving, metrics, start)
    except (OSError, ValueError) as exc:
        error = f"cannot serve metrics on {serving.address}:{serving.port}: {exc}"
        log.error("%s", error)
        out = build_result(args, None, [], error=error, started_at=None, warnings=[])
        print(json.dumps(out.to_json(), indent=2))
        return 1
    out, status = run(args, metrics, start)
    sys.stdout.write(json.dumps(out.to_json(), indent=2) + "\n")
    sys.stdout.flush()
    return status
