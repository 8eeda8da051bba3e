"""The load agent as a service: one process per client for a whole sweep, told each run over HTTP.

Usage (run on a lab host from its deploy directory, once per sweep)::

    python3 -m agents.load_service --server ADDR --port P [--metrics-address A]
        [--metrics-port 9181] [--host NAME]

Why: a one-shot ``agents.load`` costs a Python interpreter, its imports and an SSH session per
point on every client. In the emulated lab eight clients share one core, and those starts took
6-10 s per point before the first request could be sent. The service starts once; a point then
costs each client one HTTP request to begin and one to collect.

The control, on the metrics port (the same server that serves ``/metrics``)::

    POST /run     {"id": "12-1", "args": ["--workload", "one-byte", "--rate", "625", ...]}
                  202: accepted, the run plans and waits for its instants
                  400: one line saying which argument is wrong (``agents.load``'s own checks)
                  409: another run is under way, or this id was used already
    PUT /start    START MEASURE (Unix times), as for a one-shot agent's ``--start-file``
    GET /result?id=12-1&wait=S
                  200: {"exit_status": 0 | 1, "result": <agents.load's JSON>} once the run ended
                  204: not within S seconds (at most 30); 404: no such run
    POST /stop    204: the run under way stops as SIGTERM stops a one-shot agent (its partial
                  result is then collected as usual)
    GET /cooldown?max=S
                  200: {"waited_s": W, "left": N} once this host holds no TIME_WAIT socket,
                  or after S seconds (at most 30) with N left (``agents.cooldown``): the
                  pause between points, without an SSH session per point

``args`` are ``agents.load``'s arguments for one run (see its docstring), without the ones fixed
when the service starts: ``--server`` and ``--port`` (a run can only offer load to the server
the service was started for), ``--metrics-*`` and ``--host``. Runs happen one at a time, in the
main thread (httperf's processes and their watchdog are the one-shot agent's own code). SIGTERM
or SIGINT stops the run under way and then the service; exit status 0. Bad arguments to the
service itself: one line on stderr, exit 2.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import logging
import queue
import signal
import sys
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from types import FrameType
from typing import Any
from urllib.parse import parse_qs, urlsplit

from agents._cli import CONTROL_ID, CONTROL_ID_RULE, agent_parser, setup_logging, start_metrics
from agents.cooldown import cool_down
from agents.load import StartSignal, parse_args, run
from agents.load_runner import Metrics

__all__ = ["LoadService", "main"]

FIXED = ("--server", "--port", "--metrics-address", "--metrics-port", "--host")
MAX_WAIT_S = 30.0  # the longest a GET /result is held open
KEPT_RESULTS = 4  # finished runs whose results can still be fetched

log = logging.getLogger("agents.load")


@dataclass
class Job:
    """One run: its arguments, its control, and once ended its result."""

    id: str
    args: argparse.Namespace
    control: StartSignal = field(default_factory=StartSignal)
    done: threading.Event = field(default_factory=threading.Event)
    result: dict[str, Any] | None = None
    exit_status: int | None = None


class LoadService:
    """The HTTP control of a load service and its queue of runs; see the module docstring.
    ``fixed`` are the arguments every run gets (server, port, host; no metrics of its own)."""

    def __init__(
        self, fixed: Sequence[str], cool_down: Callable[[float], tuple[float, int]] = cool_down
    ) -> None:
        self.fixed = list(fixed)
        self.cool_down = cool_down
        self.jobs: queue.Queue[Job] = queue.Queue()
        self.stopping = threading.Event()
        self._lock = threading.Lock()
        self._current: Job | None = None
        self._finished: OrderedDict[str, Job] = OrderedDict()

    # -- HTTP (the metrics server's threads) -------------------------------------------------

    def control(self, method: str, path: str, body: str) -> tuple[int, str] | None:
        url = urlsplit(path)
        query = parse_qs(url.query)
        if (method, url.path) == ("POST", "/run"):
            return self.submit(body)
        if (method, url.path) == ("PUT", "/start"):
            job = self._current
            return (204, "") if job is not None and job.control.put(url.path, body) else None
        if (method, url.path) == ("GET", "/result"):
            wait = _number(query.get("wait", ["0"])[0])
            return self.result(query.get("id", [""])[0], min(wait, MAX_WAIT_S))
        if (method, url.path) == ("POST", "/stop"):
            self.stop_current("stopped by the orchestrator")
            return 204, ""
        if (method, url.path) == ("GET", "/cooldown"):
            most = min(_number(query.get("max", ["0"])[0]), MAX_WAIT_S)
            waited, left = self.cool_down(max(0.0, most))
            return 200, json.dumps({"waited_s": round(waited, 3), "left": left})
        return None

    def submit(self, body: str) -> tuple[int, str]:
        try:
            request = json.loads(body)
            run_id, extra = str(request["id"]), [str(a) for a in request["args"]]
        except (ValueError, KeyError, TypeError):
            return 400, 'expected a JSON object {"id": "...", "args": ["--flag", "value", ...]}'
        if not CONTROL_ID.fullmatch(run_id):
            return 400, f"run id {run_id!r}: {CONTROL_ID_RULE}"
        fixed = [a for a in extra if a.split("=", 1)[0] in FIXED]
        if fixed:
            return 400, f"argument {fixed[0]}: fixed when the service starts"
        try:
            args = _parse(self.fixed + extra)
        except ValueError as error:
            return 400, str(error)
        with self._lock:
            current = self._current
            if current is not None and not current.done.is_set():
                return 409, f"run {current.id} is under way"
            if run_id in self._finished:
                return 409, f"run {run_id} was submitted already"
            self._current = Job(run_id, args)
            self.jobs.put(self._current)
        return 202, ""

    def result(self, run_id: str, wait: float) -> tuple[int, str]:
        with self._lock:
            current = self._current
            job = current if current is not None and current.id == run_id else None
            job = job or self._finished.get(run_id)
        if job is None:
            return 404, f"no run {run_id!r}"
        if not job.done.wait(max(0.0, wait)):
            return 204, ""
        return 200, json.dumps({"exit_status": job.exit_status, "result": job.result})

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
            result, status = run(job.args, metrics, job.control, signals=False)
            with self._lock:
                job.result, job.exit_status = result, status
                job.done.set()
                self._finished[job.id] = job
                while len(self._finished) > KEPT_RESULTS:
                    self._finished.popitem(last=False)


def _number(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        return 0.0
    return value if value == value else 0.0  # NaN waits not at all


def _parse(argv: list[str]) -> argparse.Namespace:
    """``agents.load``'s own parse and checks; its one-line error as ValueError."""
    printed = io.StringIO()
    try:
        with contextlib.redirect_stderr(printed):
            return parse_args(argv)
    except SystemExit:
        lines = printed.getvalue().strip().splitlines()
        raise ValueError(lines[-1] if lines else "bad arguments") from None


def _parser() -> argparse.ArgumentParser:
    return agent_parser(
        "python3 -m agents.load_service",
        "Serve load runs for a whole sweep: each told over HTTP, each offering this client's"
        " share of the load with httperf.",
        metrics_port=9181,
        service=True,
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    setup_logging("load", args.host)
    fixed = ["--server", args.server, "--port", str(args.port)]
    fixed += ["--host", args.host] if args.host else []
    service = LoadService(fixed)
    metrics = Metrics()
    try:
        start_metrics(metrics.registry, args.metrics_address, args.metrics_port, service.control)
    except OSError as exc:
        log.error("cannot serve on %s:%s: %s", args.metrics_address, args.metrics_port, exc)
        return 1

    def on_signal(signum: int, frame: FrameType | None) -> None:
        service.stopping.set()
        service.stop_current(f"interrupted by {signal.Signals(signum).name}")

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    log.info("serving load runs on %s:%d", args.metrics_address, args.metrics_port)
    service.serve(metrics)
    log.info("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
