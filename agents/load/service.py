"""The load agent as a service: one process per client for a whole sweep, told each run over HTTP.

Usage (run on a lab host from its deploy directory, once per sweep)::

    python3 -m agents.load.service --server ADDR --port P --control-key-file FILE
        --start-file FILE [--sessions FILE] [--engine httperf|tbload]
        [--metrics-address A] [--metrics-port 9181] [--host NAME]

Why: a one-shot ``agents.load`` costs a Python interpreter, its imports and an SSH session per
point on every client. In the emulated lab eight clients share one core, and those starts took
6-10 s per point before the first request could be sent. The service starts once; a point then
costs each client one HTTP request to begin and one to collect.

What no request can change is fixed here, on the command line the orchestrator gives: the
server and port every run loads (the only target), the load generator every run uses
(``--engine``, from the lab file's ``load: {engine: ...}``), the sessions file of specweb99
runs, the start file a run may read its instants from (removed when a run is accepted, so a
stale one is never read), and the key every control request must bear
(``--control-key-file``, mode 0600: a path, so the key is in no command line).

The control, on the metrics port (the same server that serves ``/metrics``; every request but
``GET /metrics`` needs ``Authorization: Bearer <key>``, else 401: ``agents.control``)::

    POST /run     a run request, ``agents.load.request``'s JSON object: {"id": "12-1",
                  "workload": "one-byte", "rate": 625, "duration": 20, "timeout": 2, ...}
                  202: accepted, the run plans and waits for its instants
                  400: one line naming the field and its value (unknown, fixed at start, out
                       of its bounds, CPUs not this service's, specweb99 without --sessions)
                  409: another run is under way, or this id was used already
    PUT /start    START MEASURE (Unix times, within a day of now), as in a start file
                  204: taken; 400: not such a line; 409: no run is waiting
    GET /result?id=12-1&wait=S
                  200: {"exit_status": 0 | 1, "result": <agents.load.result's JSON>} once the
                  run ended
                  204: not within S seconds (0 to 30); 404: no such run; 400: S not seconds
    POST /stop    204: the run under way stops as SIGTERM stops a one-shot agent (its partial
                  result is then collected as usual)
    GET /cooldown?max=S
                  200: {"waited_s": W, "left": N} once this host holds no TIME_WAIT socket,
                  or after S seconds (0 to 30) with N left (``agents.load.cooldown``): the pause
                  between points, without an SSH session per point; 400: S not seconds

Runs happen one at a time, in the main thread (httperf's processes and their watchdog are the
one-shot agent's own code). SIGTERM or SIGINT stops the run under way and then the service;
exit status 0. Bad arguments to the service itself: one line on stderr, exit 2; a key file
that is missing, not 0600 or too short: one line, exit 1.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import math
import os
import queue
import signal
import sys
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from urllib.parse import parse_qs, urlsplit

from agents._cli import agent_parser, setup_logging
from agents.control import read_key, serve
from agents.load.args import ENGINES, HTTPERF, ONE_BYTE, SPECWEB99, ArgsError, LoadArgs
from agents.load.cooldown import cool_down
from agents.load.plan import read_sessions
from agents.load.request import LoadRequest, RequestError, parse_run
from agents.load.result import LoadResult
from agents.load.run import engine_program, run
from agents.load.runner import Metrics
from agents.load.start import StartSignal
from agents.workloads import ONE_BYTE_URI

__all__ = ["Fixed", "LoadService", "main"]

MAX_WAIT_S = 30.0  # the longest a GET /result is held open, or a cooldown waits
KEPT_RESULTS = 4  # finished runs whose results can still be fetched

log = logging.getLogger("agents.load")


@dataclass(frozen=True)
class Fixed:
    """What every run of the service gets, from its command line; no request can change it."""

    server: str
    port: int
    start_file: str
    sessions: str | None = None
    host: str | None = None
    engine: str = HTTPERF


@dataclass
class Job:
    """One run: its arguments, its control, and once ended its result."""

    id: str
    args: LoadArgs
    control: StartSignal = field(default_factory=StartSignal)
    done: threading.Event = field(default_factory=threading.Event)
    result: LoadResult | None = None
    exit_status: int | None = None


class LoadService:
    """The HTTP control of a load service and its queue of runs; see the module docstring."""

    def __init__(
        self, fixed: Fixed, cool_down: Callable[[float], tuple[float, int]] = cool_down
    ) -> None:
        self.fixed = fixed
        self.cool_down = cool_down
        self.jobs: queue.Queue[Job] = queue.Queue()
        self.stopping = threading.Event()
        self._lock = threading.Lock()
        self._current: Job | None = None
        self._finished: OrderedDict[str, Job] = OrderedDict()

    # -- HTTP (the control server's threads) -------------------------------------------------

    def control(self, method: str, path: str, body: str) -> tuple[int, str] | None:
        url = urlsplit(path)
        query = parse_qs(url.query)
        if (method, url.path) == ("POST", "/run"):
            return self.submit(body)
        if (method, url.path) == ("PUT", "/start"):
            job = self._current
            if job is None or job.done.is_set():
                return 409, "no run is waiting for its instants"
            return job.control.put(body)
        if (method, url.path) == ("GET", "/result"):
            wait = _seconds(query, "wait")
            if isinstance(wait, str):
                return 400, wait
            return self.result(query.get("id", [""])[0], wait)
        if (method, url.path) == ("POST", "/stop"):
            self.stop_current("stopped by the orchestrator")
            return 204, ""
        if (method, url.path) == ("GET", "/cooldown"):
            most = _seconds(query, "max")
            if isinstance(most, str):
                return 400, most
            waited, left = self.cool_down(most)
            return 200, json.dumps({"waited_s": round(waited, 3), "left": left})
        return None

    def submit(self, body: str) -> tuple[int, str]:
        try:
            request = parse_run(body)
            args = self.arguments(request)
        except RequestError as error:
            return 400, str(error)
        with self._lock:
            current = self._current
            if current is not None and not current.done.is_set():
                return 409, f"run {current.id} is under way"
            if request.id in self._finished:
                return 409, f"run {request.id} was submitted already"
            # The orchestrator writes the start file only after this answer: one there now was
            # left by an earlier run, and would start this one at its instant.
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.fixed.start_file)
            self._current = Job(request.id, args)
            self.jobs.put(self._current)
        return 202, ""

    def arguments(self, request: LoadRequest) -> LoadArgs:
        """`request` with what the service fixed, as ``agents.load.run.run`` takes it;
        RequestError for what only this host can refuse (its CPUs, its sessions file)."""
        if request.cpus is not None:
            allowed = os.sched_getaffinity(0)
            missing = [cpu for cpu in request.cpus if cpu not in allowed]
            if missing:
                raise RequestError(
                    f"cpus {json.dumps(list(request.cpus))[:40]}: CPU(s) {missing[:8]} are not"
                    f" this service's (allowed: {sorted(allowed)[:64]})"
                )
        specweb99 = request.workload == SPECWEB99
        fixed = self.fixed
        try:
            return LoadArgs(
                server=fixed.server,
                port=fixed.port,
                workload=request.workload,
                rate=request.rate,
                duration=request.duration,
                timeout=request.timeout,
                uri=ONE_BYTE_URI if request.workload == ONE_BYTE else None,
                sessions=fixed.sessions if specweb99 else None,
                session_list=self._sessions() if specweb99 else (),
                warmup=request.warmup,
                processes=request.processes,
                cpus=request.cpus,
                starved_below=request.starved_below,
                engine=fixed.engine,
                host=fixed.host,
                start_file=fixed.start_file,
            )
        except ArgsError as error:  # the request was checked against the same bounds
            raise RequestError(str(error)) from None

    def _sessions(self) -> tuple[tuple[str, ...], ...]:
        where = self.fixed.sessions
        if where is None:
            raise RequestError('workload "specweb99": this service was started without --sessions')
        try:
            found = read_sessions(Path(where))
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8"
            raise RequestError(f'workload "specweb99": cannot read {where!r}: {reason}') from None
        if not found:
            raise RequestError(f'workload "specweb99": {where!r} holds no session')
        return tuple(found)

    def result(self, run_id: str, wait: float) -> tuple[int, str]:
        with self._lock:
            current = self._current
            job = current if current is not None and current.id == run_id else None
            job = job or self._finished.get(run_id)
        if job is None:
            return 404, f"no run {run_id[:64]!r}"
        if not job.done.wait(wait):
            return 204, ""
        result = job.result.to_json() if job.result is not None else None
        return 200, json.dumps({"exit_status": job.exit_status, "result": result})

    def stop_current(self, why: str) -> None:
        job = self._current
        if job is not None and not job.done.is_set():
            job.control.stop(why)

    # -- the main thread ---------------------------------------------------------------------

    def serve(self, metrics: Metrics) -> None:
        """Run each submitted run in turn until ``stopping`` is set."""
        while not self.stopping.is_set():
            try:
                job = self.jobs.get(timeout=0.2)
            except queue.Empty:
                continue
            try:
                result, status = run(job.args, metrics, job.control, signals=False)
            except Exception as exc:  # the run fails, saying so; the service goes on
                log.exception("run %s failed", job.id)
                result, status = LoadResult(error=f"run {job.id} failed: {exc!r}"[:300]), 1
            with self._lock:
                job.result, job.exit_status = result, status
                job.done.set()
                self._finished[job.id] = job
                while len(self._finished) > KEPT_RESULTS:
                    self._finished.popitem(last=False)


def _seconds(query: dict[str, list[str]], name: str) -> float | str:
    """Query parameter `name` as seconds from 0 to MAX_WAIT_S (0 when absent), or the one line
    refusing it."""
    values = query.get(name, ["0"])
    try:
        value = float(values[0]) if len(values) == 1 else math.nan
    except ValueError:
        value = math.nan
    if not 0 <= value <= MAX_WAIT_S:  # NaN too
        return f"{name} {','.join(values)[:40]!r}: expected seconds from 0 to {MAX_WAIT_S:g}"
    return value


def _parser() -> argparse.ArgumentParser:
    p = agent_parser(
        "python3 -m agents.load.service",
        "Serve load runs for a whole sweep: each told over HTTP, each offering this client's"
        " share of the load with httperf.",
        metrics_port=9181,
        service=True,
    )
    p.add_argument(
        "--start-file",
        required=True,
        help="where a run's START [MEASURE] may be written instead of PUT /start (a run"
        " accepted removes the one there)",
    )
    p.add_argument("--sessions", help="specweb99 runs: the httperf --wsesslog session file")
    p.add_argument(
        "--engine",
        choices=ENGINES,
        default=HTTPERF,
        help=f"the load generator of every run (default {HTTPERF})",
    )
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    setup_logging("load", args.host)
    try:
        key = read_key(Path(args.control_key_file))
    except ValueError as exc:
        log.error("%s", exc)
        return 1
    service = LoadService(
        Fixed(
            args.server, args.port, args.start_file, args.sessions, args.host or None, args.engine
        )
    )
    if engine_program(args.engine) is None:  # each run fails saying so; the service still serves
        log.warning("%s not found: every run will fail until it is installed", args.engine)
    metrics = Metrics()
    try:
        serve(metrics.registry, args.metrics_address, args.metrics_port, service.control, key, log)
    except OSError as exc:
        log.error("cannot serve on %s:%s: %s", args.metrics_address, args.metrics_port, exc)
        return 1

    def on_signal(signum: int, frame: FrameType | None) -> None:
        service.stopping.set()
        service.stop_current(f"interrupted by {signal.Signals(signum).name}")

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    log.info("serving %s load runs on %s:%d", args.engine, args.metrics_address, args.metrics_port)
    service.serve(metrics)
    log.info("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
