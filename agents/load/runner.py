"""The load agent's httperf processes: started on a pty each (httperf's stdio then flushes
every line, so its 5 s samples arrive as printed), streamed into the metrics, held to a
watchdog, and told to stop with SIGINT (httperf prints its statistics on SIGINT)."""

from __future__ import annotations

import contextlib
import fcntl
import functools
import logging
import os
import pty
import selectors
import signal
import subprocess
import termios
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge, ProcessCollector

from agents.exporter import PhaseGauge
from agents.load import httperf
from agents.load.plan import ProcessPlan

__all__ = ["KILL_GRACE_S", "PHASES", "Metrics", "Proc", "Runner"]

KILL_GRACE_S = 10.0
PHASES = ("waiting", "running", "done", "failed")

log = logging.getLogger("agents.load")


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        ProcessCollector(registry=r)
        gauge = functools.partial(Gauge, registry=r)
        counter = functools.partial(Counter, registry=r)
        self.phase = PhaseGauge(
            r, "testbed_load_phase", "What the load agent is doing (1 = current phase).", PHASES
        )
        self.target_request_rate = gauge(
            "testbed_load_target_request_rate", "Requests per second this client is asked to offer."
        )
        self.target_session_rate = gauge(
            "testbed_load_target_session_rate",
            "Sessions per second this client is asked to start (specweb99; 0 for one-byte).",
        )
        self.reply_rate = gauge(
            "testbed_load_reply_rate",
            "Replies per second: httperf's latest 5 s sample, summed over running processes.",
        )
        self.session_rate = gauge(
            "testbed_load_session_rate",
            "Sessions per second: httperf's latest 5 s sample, summed over running processes.",
        )
        self.processes = gauge("testbed_load_processes", "httperf processes this run uses.")
        self.running = gauge("testbed_load_processes_running", "httperf processes running now.")
        self.samples = counter(
            "testbed_load_rate_samples", "5 s rate samples received from httperf processes."
        )
        self.watchdog = counter(
            "testbed_load_watchdog_stops",
            "httperf processes stopped by the watchdog for overrunning their run.",
        )
        self.duration = gauge("testbed_load_duration_seconds", "Planned length of the run.")
        self.started = gauge(
            "testbed_load_start_time_seconds",
            "Unix time the httperf processes were started (0 before).",
        )


@dataclass
class Proc:
    """One running httperf: its pty (stdout, line-buffered by httperf's stdio on a terminal, so
    the 5 s samples arrive live), its stderr pipe, and what it printed."""

    plan: ProcessPlan
    argv: list[str]
    popen: subprocess.Popen[bytes]
    master: int
    started_at: float
    deadline: float
    out: bytearray = field(default_factory=bytearray)
    err: bytearray = field(default_factory=bytearray)
    partial: bytes = b""
    reply_samples: list[float] = field(default_factory=list)
    session_samples: list[float] = field(default_factory=list)
    ended_at: float | None = None
    interrupted_at: float | None = None
    overran: bool = False
    killed: bool = False
    open_streams: int = 2

    @property
    def done(self) -> bool:
        return self.open_streams == 0 and self.popen.poll() is not None


def _spawn(argv: list[str], cpus: tuple[int, ...] | None) -> tuple[subprocess.Popen[bytes], int]:
    master, slave = pty.openpty()
    attrs = termios.tcgetattr(slave)
    attrs[1] &= ~termios.OPOST  # no "\r\n" translation: the pty reads like a pipe
    termios.tcsetattr(slave, termios.TCSANOW, attrs)
    try:
        popen = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=slave,
            stderr=subprocess.PIPE,
            start_new_session=True,  # our SIGTERM is ours to forward, not theirs to catch
        )
    finally:
        os.close(slave)
    if cpus:
        with contextlib.suppress(ProcessLookupError):
            os.sched_setaffinity(popen.pid, cpus)
    fcntl.fcntl(master, fcntl.F_SETFL, fcntl.fcntl(master, fcntl.F_GETFL) | os.O_NONBLOCK)
    return popen, master


class Runner:
    """Starts the planned httperf processes, streams their samples into the metrics, enforces
    the watchdog and forwards a stop request as SIGINT."""

    def __init__(
        self, metrics: Metrics, kill_grace_s: float = KILL_GRACE_S, name: str = "httperf"
    ) -> None:
        self.metrics = metrics
        self.name = name  # the engine, as the logs call its processes (httperf or tbload)
        self.kill_grace_s = kill_grace_s
        self.procs: list[Proc] = []
        self.stop_requested: str | None = None

    def request_stop(self, why: str) -> None:
        self.stop_requested = self.stop_requested or why

    def start(self, argvs: Sequence[tuple[ProcessPlan, list[str]]], budget_s: float) -> None:
        for proc_plan, argv in argvs:
            popen, master = _spawn(argv, proc_plan.cpus)
            now = time.time()
            self.procs.append(Proc(proc_plan, argv, popen, master, now, now + budget_s))
            log.info("started %s pid %d: %s", self.name, popen.pid, " ".join(argv))
        self.metrics.running.set(len(self.procs))

    def _line(self, proc: Proc, line: str) -> None:
        progress = httperf.parse_progress(line)
        if progress is None:
            return
        kind, value = progress
        (proc.reply_samples if kind == "reply-rate" else proc.session_samples).append(value)
        self.metrics.samples.inc()
        self._publish_rates()

    def _publish_rates(self) -> None:
        live = [p for p in self.procs if p.ended_at is None]
        self.metrics.reply_rate.set(sum(p.reply_samples[-1] for p in live if p.reply_samples))
        self.metrics.session_rate.set(sum(p.session_samples[-1] for p in live if p.session_samples))

    def _read(self, sel: selectors.BaseSelector, key: selectors.SelectorKey) -> None:
        proc, stream = key.data
        try:
            chunk = os.read(key.fd, 65536)
        except BlockingIOError:
            return
        except OSError:  # EIO: the pty's other end is gone (httperf exited)
            chunk = b""
        if not chunk:
            sel.unregister(key.fd)
            if stream == "out":
                os.close(key.fd)
                if proc.partial:
                    self._line(proc, proc.partial.decode(errors="replace"))
            proc.open_streams -= 1
            return
        if stream == "err":
            proc.err += chunk
            return
        proc.out += chunk
        data = proc.partial + chunk
        *lines, proc.partial = data.split(b"\n")
        for raw in lines:
            self._line(proc, raw.decode(errors="replace"))

    def kill(self) -> None:
        """SIGKILL every process started so far (when starting the others failed)."""
        for p in self.procs:
            self._signal(p, signal.SIGKILL)

    def _signal(self, proc: Proc, sig: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.popen.pid, sig)

    def wait(self) -> None:
        sel = selectors.DefaultSelector()
        for p in self.procs:
            sel.register(p.master, selectors.EVENT_READ, (p, "out"))
            assert p.popen.stderr is not None
            sel.register(p.popen.stderr.fileno(), selectors.EVENT_READ, (p, "err"))
        forwarded = False
        while not all(p.done for p in self.procs):
            for key, _ in sel.select(timeout=0.2):
                self._read(sel, key)
            now = time.time()
            if self.stop_requested and not forwarded:
                forwarded = True
                log.warning("%s: stopping %s processes (SIGINT)", self.stop_requested, self.name)
                for p in self.procs:
                    if p.popen.poll() is None:
                        p.interrupted_at = now
                        self._signal(p, signal.SIGINT)
            for p in self.procs:
                if p.popen.poll() is None:
                    if p.interrupted_at is None and now > p.deadline:
                        log.error("%s pid %d overran its run: SIGINT", self.name, p.popen.pid)
                        p.overran = True
                        p.interrupted_at = now
                        self.metrics.watchdog.inc()
                        self._signal(p, signal.SIGINT)
                    elif (
                        p.interrupted_at is not None
                        and now > p.interrupted_at + self.kill_grace_s
                        and not p.killed
                    ):
                        log.error("%s pid %d ignored SIGINT: SIGKILL", self.name, p.popen.pid)
                        p.killed = True
                        self._signal(p, signal.SIGKILL)
                elif p.ended_at is None:
                    p.ended_at = now
                    log.info("%s pid %d exited %s", self.name, p.popen.pid, p.popen.returncode)
                    self.metrics.running.set(sum(1 for q in self.procs if q.ended_at is None))
                    self._publish_rates()
        sel.close()
        for p in self.procs:
            if p.popen.stderr is not None:
                p.popen.stderr.close()
            if p.ended_at is None:
                p.ended_at = time.time()
        self.metrics.running.set(0)
