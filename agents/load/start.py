"""When a load run starts: the instants the orchestrator names (in a start file, or by
``PUT /start`` on the metrics port through ``StartSignal``), and the wait until them.

With a start file the agent waits (polling every 10 ms) until that file exists, or the instants
arrive over HTTP, and reads ``START [MEASURE]``: the orchestrator launches agents early, while
the server and the idle connections come up, and names the common instant once everything is
ready. Without a warm-up the start is the measurement's; with one, the measurement starts at
MEASURE (or ``measure_at``), by default ``warmup + WARMUP_GAP_S`` after the start.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import urlsplit

from agents.load.args import LoadArgs
from agents.load.request import RequestError, parse_instants
from agents.load.runner import Runner

__all__ = ["WARMUP_GAP_S", "StartSignal", "instants", "wait_until"]

WARMUP_GAP_S = 0.25  # from the end of the warm-up to the measurement's start, by default


class StartSignal:
    """What the orchestrator tells one run over HTTP on the metrics port: its start instants
    (``PUT /start``, body ``START MEASURE``) instead of the start file, and, for a run of the
    load service (``agents.load.service``), a stop (as SIGTERM stops a one-shot agent)."""

    def __init__(self) -> None:
        self.instants: tuple[float, float | None] | None = None
        self._lock = threading.Lock()
        self._runners: Sequence[Runner] = ()
        self._stop: str | None = None

    def put(self, body: str) -> tuple[int, str]:
        """``PUT /start``: 204 once taken, 400 with one line for text that is not two instants."""
        try:
            self.instants = parse_instants(body, time.time())
        except RequestError as error:
            return 400, f"start {error}"
        return 204, ""

    def control(self, method: str, path: str, body: str) -> tuple[int, str] | None:
        """``agents.control.serve``'s control of a one-shot agent: ``PUT /start`` only."""
        return self.put(body) if (method, urlsplit(path).path) == ("PUT", "/start") else None

    def attach(self, runners: Sequence[Runner]) -> None:
        """The run's process runners: a stop asked for before or after reaches them."""
        with self._lock:
            self._runners = runners
            if self._stop is not None:
                for runner in runners:
                    runner.request_stop(self._stop)

    def stop(self, why: str) -> None:
        with self._lock:
            self._stop = self._stop or why
            for runner in self._runners:
                runner.request_stop(why)


def wait_until(when: float, runners: Sequence[Runner]) -> None:
    """Sleep until `when` (a Unix time), or until one of `runners` is asked to stop."""
    while not any(r.stop_requested for r in runners):
        left = when - time.time()
        if left <= 0:
            return
        time.sleep(min(left, 0.1))


def instants(
    args: LoadArgs, runners: Sequence[Runner], signal_: StartSignal
) -> tuple[float | None, float | None]:
    """(warm-up start, measurement start) as Unix times; None where not given (start at once).
    See the module docstring. RequestError or OSError when the start file cannot be read."""
    start, measure = args.start_at, args.measure_at
    if args.start_file:
        path = Path(args.start_file)
        while signal_.instants is None and not path.exists():
            if any(r.stop_requested for r in runners):
                return None, None
            time.sleep(0.01)
        told = signal_.instants
        if told is None:  # RequestError (or OSError) fails the run, saying so
            with path.open(errors="replace") as file:
                told = parse_instants(file.read(200), time.time())
        start, measure = told[0], told[1] if told[1] is not None else measure
    if not args.warmup:
        return None, start
    if measure is None:
        measure = (start or time.time()) + args.warmup + WARMUP_GAP_S
    return start, measure
