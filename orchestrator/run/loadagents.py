"""The load agents of one point: launched early, started together, collected.

    agents = LoadAgents.launch(lab, procs, point, settings, run_id="12-1", clock=time.time)
    ...                                          # the server's idle connections open meanwhile
    start_at = agents.go(remote, delay)          # writes the start file on every client
    results, problems = agents.collect(on_wait)  # every agent's JSON, problems by host

A client's agent costs a Python interpreter and httperf's plan before it can offer load: on a
busy client host (eight of them share one core in the emulated lab) that takes seconds. So each
agent is launched right after the server is up (one SSH command per client, held open until the
agent ends, so its output comes back without another round trip), gets ready while the idle
connections open, and waits. Once the point is ready, `go` names the instant to every agent at
once -- by HTTP to the agent's metrics port (`PUT /start`: no SSH session to start on a client
whose core the httperf processes of a load keep busy), and in its start file over SSH for any
agent that did not take it that way. One agent run does the warm-up and the measurement.
"""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass

from agents.workloads import mean_session_length
from orchestrator.config.model import Host, Lab
from orchestrator.config.plan import Point
from orchestrator.lab.remote import CommandResult, Remote
from orchestrator.ports import LOAD_METRICS_PORT
from orchestrator.run import commands
from orchestrator.run.commands import LoadRun
from orchestrator.run.hostproc import Finished, HostProcesses

LOAD = "load"
HTTP_GO_PATIENCE = 1.0  # seconds to wait for an agent to take its instants over HTTP
READY_PATIENCE = 30.0  # at most this long for every agent to be ready (its metrics answer)
StartTeller = Callable[["Host", str], bool]  # tells one agent its instants; False: not taken
ReadyWait = Callable[[list["Host"], float], list[str]]  # waits for agents; those never ready
GO_TIMEOUT = 30.0  # for writing the start file: an SSH command on a busy host can take seconds
WARMUP_GAP = 0.5  # from the warm-up's end to the measurement's start (agents.load's default)
AGENT_SLACK = 20.0  # beyond the planned run and timeouts before a load agent counts as overrunning


@dataclass(frozen=True)
class LoadSettings:
    """What every load run of a sweep shares."""

    duration: float
    warmup: float
    timeout: float
    wait_limit: float  # at most this long between launch and the start instant, seconds
    starvation_check: bool
    session_lengths: dict[str, float]  # host -> mean requests per session (specweb99)

    @property
    def lead(self) -> float:
        """From the first instant (warm-up's) to the measurement's."""
        return self.warmup + WARMUP_GAP if self.warmup > 0 else 0.0


@dataclass
class LoadAgents:
    """One point's load agents; see the module docstring."""

    lab: Lab
    settings: LoadSettings
    start_file: str
    limit: float
    launched: float
    pool: ThreadPoolExecutor
    runs: dict[str, Future[Finished]]
    clock: Callable[[], float]

    @classmethod
    def launch(
        cls,
        lab: Lab,
        procs: HostProcesses,
        point: Point,
        settings: LoadSettings,
        run_id: str,
        clock: Callable[[], float],
    ) -> LoadAgents:
        """Launch every client's agent (returns at once; the agents wait for `go`)."""
        start_file = commands.start_file(run_id)
        limit = settings.wait_limit + settings.lead + settings.duration + AGENT_SLACK
        limit += 3 * settings.timeout
        share = point.rate / len(lab.clients)
        pool = ThreadPoolExecutor(max_workers=len(lab.clients))
        runs = {}
        for host in lab.clients:
            run = LoadRun(
                point=point,
                share=share,
                duration=settings.duration,
                warmup=settings.warmup,
                start_file=start_file,
                timeout=settings.timeout,
                session_length=settings.session_lengths.get(host.name, mean_session_length()),
                starvation_check=settings.starvation_check,
            )
            command = commands.load_command(lab, host, run)
            runs[host.name] = pool.submit(procs.run, host, LOAD, command, limit)
        return cls(lab, settings, start_file, limit, clock(), pool, runs, clock)

    def go(
        self, remote: Remote, delay: float, tell: StartTeller, ready: ReadyWait
    ) -> tuple[float, dict[str, CommandResult]]:
        """Once every agent is ready (or READY_PATIENCE passed), name the first instant,
        `delay` from then, to every waiting agent (and the measurement's, `lead` after it):
        over HTTP to the agent's metrics port (no SSH session to start on a busy client), and
        in its start file for any agent that did not take it that way. Returns the instant and
        the start-file commands' results."""
        ready(list(self.lab.clients), READY_PATIENCE)  # one that is not: the file, late
        start_at = self.clock() + delay
        measure_at = start_at + self.settings.lead
        line = f"{start_at:.3f} {measure_at:.3f}"
        with ThreadPoolExecutor(max_workers=len(self.lab.clients)) as pool:
            told = dict(
                zip(
                    [host.name for host in self.lab.clients],
                    pool.map(lambda host: tell(host, line), self.lab.clients),
                    strict=True,
                )
            )
        missed = [host for host in self.lab.clients if not told[host.name]]
        path = self.start_file
        results = remote.run_all(
            missed,
            lambda host: commands.start_command(host, path, start_at, measure_at),
            timeout=GO_TIMEOUT,
        )
        return start_at, results

    def collect(self, while_waiting: Callable[[], None]) -> tuple[dict[str, Finished], bool]:
        """Wait for every agent's end, calling `while_waiting` about once a second; how each
        ended, and whether the run took the whole limit (the agents overran)."""
        futures = list(self.runs.values())
        while len(wait(futures, timeout=1.0)[0]) < len(futures):
            while_waiting()
        finished = {host: future.result() for host, future in self.runs.items()}
        self.pool.shutdown()
        return finished, self.clock() - self.launched >= self.limit

    def abandon(self) -> None:
        """After the agents were stopped (a point that failed before its load ended): wait for
        their SSH commands to return."""
        self.pool.shutdown(wait=True)


def wait_ready(hosts: list[Host], patience: float) -> list[str]:
    """Wait until every host's load agent serves its metrics (its interpreter started, its
    plan made), at most `patience` seconds; the names of those that never did."""

    def ready(host: Host) -> bool:
        deadline = time.monotonic() + patience
        url = f"http://{host.management}:{LOAD_METRICS_PORT}/metrics"
        while True:
            try:
                with urllib.request.urlopen(url, timeout=2.0):
                    return True
            except (urllib.error.URLError, OSError):
                if time.monotonic() >= deadline:
                    return False
                time.sleep(0.05)

    with ThreadPoolExecutor(max_workers=max(1, len(hosts))) as pool:
        answers = list(pool.map(ready, hosts))
    return [host.name for host, ok in zip(hosts, answers, strict=True) if not ok]


def put_start(host: Host, line: str) -> bool:
    """Tell `host`'s load agent its start instants by HTTP; False when it did not take them
    within HTTP_GO_PATIENCE (its interpreter may still be starting: the file then serves)."""
    request = urllib.request.Request(
        f"http://{host.management}:{LOAD_METRICS_PORT}/start", data=line.encode(), method="PUT"
    )
    deadline = time.monotonic() + HTTP_GO_PATIENCE
    while True:
        try:
            with urllib.request.urlopen(request, timeout=HTTP_GO_PATIENCE) as response:
                return bool(response.status == 204)
        except (urllib.error.URLError, OSError):
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.05)


def clients_share_cpus(lab: Lab) -> bool:
    """Whether the lab's clients share CPUs by design (a lab built on one small machine).

    httperf busy-polls, so clients sharing a core each get a fraction of it by construction;
    the agents' starvation check would then flag every point. Where they share, it is turned
    off and the other checks (issued rate, fd-unavail, addrunavail) decide alone.
    """
    if not lab.built_here:
        return False
    pinned = [set(client.cpus) for client in lab.clients]
    if any(not cpus for cpus in pinned):
        return True
    return any(a & b for index, a in enumerate(pinned) for b in pinned[index + 1 :])
