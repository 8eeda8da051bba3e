"""The load agents of a sweep: one load service per client for the whole sweep, each point's
runs told to them over HTTP.

    keys = ControlKeys(remote)
    services = LoadServices(lab, procs, keys, HttpLoadControl(keys))
    agents = LoadAgents.launch(services, point, settings, run_id="12-1", clock=time.time)
    ...                                          # the server's idle connections open meanwhile
    start_at, _ = agents.go(remote, delay)       # names the common instants to every agent
    finished, overran = agents.collect(on_wait)  # every agent's JSON, as {host: Finished}
    services.stop()                              # at the sweep's end

The services themselves (`agents.load.service`, one per client for the sweep) are kept by
`run.services`. A point costs each client one HTTP request to submit its run (`POST /run`, a
checked request, `agents.load.request`: nothing of it reaches a shell, and it cannot name the
target), one to name the instants (`PUT /start`; the start file over SSH for an agent that did
not take it), and polls for the result (`GET /result`). Every request bears the client's
control key (`run.controlkeys`). One run does the warm-up and the measurement. The pause after
the point is the service's too (`GET /cooldown`).
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Protocol

from agents.load.request import LoadRequest
from agents.workloads import mean_session_length
from orchestrator.config.model import Host, Lab
from orchestrator.config.plan import Point
from orchestrator.lab.remote import CommandResult, Remote
from orchestrator.ports import LOAD_METRICS_PORT
from orchestrator.run import commands
from orchestrator.run.commands import LoadRun
from orchestrator.run.controlkeys import ControlKeys
from orchestrator.run.hostproc import Finished, HostProcesses
from orchestrator.run.services import (
    AgentServices,
    ServiceFailure,
    ask,
    ask_until,
    wait_ready,
)

LOAD = "load"
HTTP_GO_PATIENCE = 1.0  # seconds to wait for an agent to take its instants over HTTP
GO_TIMEOUT = 30.0  # for writing the start file: an SSH command on a busy host can take seconds
WARMUP_GAP = 0.25  # from the warm-up's end to the measurement's start (agents.load's default)
AGENT_SLACK = 20.0  # beyond the planned run and timeouts before a load agent counts as overrunning
POLL = 1.0  # seconds a result request is held open: the live reply rate is reported this often
RUN_PATIENCE = 10.0  # for a stopped run's result, or for a busy service to take a new run
SUBMIT_TIMEOUT = 10.0  # for one control request (the service answers at once)
COOLDOWN_MOST = 30.0  # the longest cooldown a service waits (agents.load.service's MAX_WAIT_S)


class LoadControl(Protocol):
    """The HTTP control of the clients' load services (`agents.load.service`); the sweep's unit
    tests replace it. Each request raises OSError when the service does not answer."""

    def submit(self, host: Host, request: LoadRequest) -> tuple[int, str]:
        """POST /run: (202, "") when taken, else the status and the service's one line."""

    def tell(self, host: Host, line: str) -> bool:
        """PUT /start within HTTP_GO_PATIENCE: whether it took the instants."""

    def result(self, host: Host, run_id: str, wait: float) -> tuple[int | None, str] | None:
        """GET /result, held up to `wait` s: (exit status, the run's JSON) once it ended."""

    def stop(self, host: Host) -> None:
        """POST /stop: the run under way stops and reports what it measured."""

    def ready(self, hosts: list[Host], patience: float) -> list[str]:
        """Waits until each host's service answers; the names of those that never did."""

    def cooldown(self, host: Host, max_seconds: float) -> tuple[float, int] | None:
        """GET /cooldown: waits until the host holds no TIME_WAIT socket, at most
        `max_seconds`; (seconds waited, sockets left), or None when it did not answer."""


class HttpLoadControl:
    """`LoadControl` over HTTP to each client's management address, with its key."""

    def __init__(self, keys: ControlKeys) -> None:
        self.keys = keys

    def _ask(
        self,
        host: Host,
        method: str,
        path: str,
        body: str | None,
        timeout: float,
        routine: tuple[str, ...] = (),
    ) -> tuple[int, str]:
        key = self.keys.authorization(host)
        return ask(host, LOAD_METRICS_PORT, method, path, body, timeout, routine, key)

    def submit(self, host: Host, request: LoadRequest) -> tuple[int, str]:
        return self._ask(host, "POST", "/run", request.to_json(), SUBMIT_TIMEOUT)

    def tell(self, host: Host, line: str) -> bool:
        key = self.keys.authorization(host)
        told = ask_until(host, LOAD_METRICS_PORT, "PUT", "/start", line, HTTP_GO_PATIENCE, key)
        return told == 204

    def result(self, host: Host, run_id: str, wait: float) -> tuple[int | None, str] | None:
        path = f"/result?id={run_id}&wait={wait:g}"
        # "Still running" is the answer to all but the last long poll of a run: not logged.
        status, text = self._ask(host, "GET", path, None, wait + SUBMIT_TIMEOUT, ("204",))
        if status == 204:
            return None
        if status != 200:
            raise OSError(f"GET /result answered {status}: {text}")
        answer = json.loads(text)
        return answer.get("exit_status"), json.dumps(answer.get("result"))

    def stop(self, host: Host) -> None:
        with contextlib.suppress(OSError):  # gone already: nothing runs there to stop
            self._ask(host, "POST", "/stop", "", SUBMIT_TIMEOUT)

    def ready(self, hosts: list[Host], patience: float) -> list[str]:
        return wait_ready(hosts, LOAD_METRICS_PORT, patience)

    def cooldown(self, host: Host, max_seconds: float) -> tuple[float, int] | None:
        path = f"/cooldown?max={max_seconds:g}"
        try:
            status, text = self._ask(host, "GET", path, None, max_seconds + SUBMIT_TIMEOUT)
            answer = json.loads(text) if status == 200 else {}
            return float(answer["waited_s"]), int(answer["left"])
        except (OSError, ValueError, KeyError, TypeError):
            return None


class LoadServices(AgentServices):
    """The clients' load services over a sweep (`run.services`), and each point's runs."""

    def __init__(
        self, lab: Lab, procs: HostProcesses, keys: ControlKeys, control: LoadControl
    ) -> None:
        super().__init__(
            lab, procs, keys, LOAD, "load service", commands.load_service_command, control.ready
        )
        self.control = control

    def submit(self, requests: dict[str, LoadRequest]) -> None:
        """Give every client its part of a run ({host name: its request}); a service that
        does not answer is started again once; ServiceFailure naming every client that refused."""
        self.ensure()
        hosts = [self.lab.host(name) for name in requests]

        def one(host: Host) -> str | None:
            """None once taken, else why not."""
            deadline = time.monotonic() + RUN_PATIENCE
            while True:
                try:
                    status, text = self.control.submit(host, requests[host.name])
                except OSError as error:
                    self.up.discard(host.name)
                    return f"the load service does not answer ({error})"
                if status == 202:
                    return None
                if status != 409 or time.monotonic() >= deadline:
                    return f"the load service refused the run: {text or status}"
                self.control.stop(host)  # an earlier run still under way: end it first
                time.sleep(0.2)

        def submit_all(targets: list[Host]) -> dict[str, str]:
            with ThreadPoolExecutor(max_workers=max(1, len(targets))) as pool:
                found = dict(zip([h.name for h in targets], pool.map(one, targets), strict=True))
            return {name: why for name, why in found.items() if why}

        problems = submit_all(hosts)
        dead = [host for host in hosts if host.name in problems and host.name not in self.up]
        if dead:
            self.ensure()  # started again where it had died; one more try there
            for host in dead:
                del problems[host.name]
            problems.update(submit_all(dead))
        if problems:
            with ThreadPoolExecutor(max_workers=len(hosts)) as pool:  # free the others
                list(pool.map(self.control.stop, [h for h in hosts if h.name not in problems]))
            raise ServiceFailure("; ".join(f"{name}: {why}" for name, why in problems.items()))

    def cooldown(self, host: Host, max_seconds: float) -> tuple[float, int] | None:
        """The pause between points on `host` by its service, with no SSH session: (seconds
        waited, TIME_WAIT sockets left), or None when no service there can do it (the caller
        then cools the host down over SSH)."""
        if host.name not in self.up or max_seconds > COOLDOWN_MOST:
            return None
        return self.control.cooldown(host, max_seconds)


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
    """One point's load runs on the clients' services; see the module docstring."""

    services: LoadServices
    settings: LoadSettings
    run_id: str
    limit: float
    launched: float
    clock: Callable[[], float]
    sleep: Callable[[float], None]

    @classmethod
    def launch(
        cls,
        services: LoadServices,
        point: Point,
        settings: LoadSettings,
        run_id: str,
        clock: Callable[[], float],
        sleep: Callable[[float], None] = time.sleep,
    ) -> LoadAgents:
        """Submit every client's part of the point's load (the runs wait for `go`)."""
        lab = services.lab
        limit = settings.wait_limit + settings.lead + settings.duration + AGENT_SLACK
        limit += 3 * settings.timeout
        share = point.rate / len(lab.clients)
        requests = {}
        for host in lab.clients:
            run = LoadRun(
                point=point,
                share=share,
                duration=settings.duration,
                warmup=settings.warmup,
                timeout=settings.timeout,
                session_length=settings.session_lengths.get(host.name, mean_session_length()),
                starvation_check=settings.starvation_check,
            )
            requests[host.name] = commands.load_run_request(lab, host, run_id, run)
        services.submit(requests)
        return cls(services, settings, run_id, limit, clock(), clock, sleep)

    @property
    def clients(self) -> list[Host]:
        return list(self.services.lab.clients)

    def go(self, remote: Remote, delay: float) -> tuple[float, dict[str, CommandResult]]:
        """Name the first instant, `delay` from now, to every waiting run (and the
        measurement's, `lead` after it): over HTTP, and in its start file for any agent that
        did not take it that way. Returns the instant and the start-file commands' results."""
        start_at = self.clock() + delay
        measure_at = start_at + self.settings.lead
        line = f"{start_at:.3f} {measure_at:.3f}"
        tell = self.services.control.tell
        with ThreadPoolExecutor(max_workers=len(self.clients)) as pool:
            told = list(pool.map(lambda host: tell(host, line), self.clients))
        missed = [host for host, ok in zip(self.clients, told, strict=True) if not ok]
        results = remote.run_all(
            missed,
            lambda host: commands.start_command(host, start_at, measure_at),
            timeout=GO_TIMEOUT,
        )
        return start_at, results

    def collect(self, while_waiting: Callable[[], None]) -> tuple[dict[str, Finished], bool]:
        """Wait for every run's end, calling `while_waiting` about once a second; how each
        ended, and whether the wait took the whole limit (the runs still going are then
        stopped: they overran)."""
        pending = {host.name: host for host in self.clients}
        finished: dict[str, Finished] = {}
        silent_since: dict[str, float] = {}
        overran = False
        with ThreadPoolExecutor(max_workers=len(pending)) as pool:
            while pending:
                if self.clock() - self.launched >= self.limit:
                    overran = True
                    self._stop_overrun(pool, pending, finished)
                    break
                polls = {
                    name: pool.submit(self._poll, host, POLL) for name, host in pending.items()
                }
                for name, poll in polls.items():
                    answer = poll.result()
                    if isinstance(answer, Finished):
                        finished[name] = answer
                        del pending[name]
                    elif isinstance(answer, str):  # did not answer
                        since = silent_since.setdefault(name, self.clock())
                        gone = self.services.gone(pending[name], answer, self.clock() - since)
                        if gone is not None:
                            finished[name] = Finished(LOAD, None, "", "", gone)
                            del pending[name]
                    else:
                        silent_since.pop(name, None)
                while_waiting()
        return {host.name: finished[host.name] for host in self.clients}, overran

    def _poll(self, host: Host, wait: float) -> Finished | str | None:
        """The run's end (Finished), None while it runs, or why the service did not answer."""
        try:
            answer = self.services.control.result(host, self.run_id, wait)
        except (OSError, ValueError) as error:
            self.sleep(min(wait, 0.5))  # do not spin on a service that refuses at once
            return str(error) or type(error).__name__
        if answer is None:
            return None
        status, output = answer
        return Finished(LOAD, status, output, "")

    def _stop_overrun(
        self, pool: ThreadPoolExecutor, pending: dict[str, Host], finished: dict[str, Finished]
    ) -> None:
        """Stop the runs that overran: they count as overrun (no exit status); the next
        point's submit waits until their services are free."""
        list(pool.map(self.services.control.stop, pending.values()))
        finished.update({name: Finished(LOAD, None, "", "") for name in pending})
        pending.clear()

    def abandon(self) -> None:
        """A point that failed before its load ended: stop its runs and wait (briefly) until
        each service is free for the next point's."""
        control = self.services.control
        with ThreadPoolExecutor(max_workers=len(self.clients)) as pool:
            list(pool.map(control.stop, self.clients))
            list(pool.map(lambda host: self._wait_free(host), self.clients))

    def _wait_free(self, host: Host) -> None:
        deadline = time.monotonic() + RUN_PATIENCE
        while time.monotonic() < deadline:
            try:
                if self.services.control.result(host, self.run_id, 1.0) is not None:
                    return
            except (OSError, ValueError):
                return  # not there (never taken, or gone): nothing to wait for


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
