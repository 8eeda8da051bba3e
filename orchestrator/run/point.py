"""One attempt at one point of a sweep, on the lab's hosts; `run.sweep` sequences the points.

    points = PointRunner(lab, remote, observer)
    record = points.run_point(seq, point, attempt, evidence)  # failures in the record
    points.close()                                            # the sweep's end: services, keys

A point, as in the paper's section 4.3 but with the cooldown ended by the kernel:
    start:    start the point's server (`run.serverundertest`) and tell the clients' idle
              services their shares at once (`run.idleagents`), wait until it is ready
              (userver: its metrics; others: their probe), then submit each client's load run
              to its load service (`run.loadagents`; both kinds of service start once per
              sweep: `run.services`)
    idle:     until the server's own counter shows the idle connections
    warmup:   name the common instant to every agent; load at the point's rate for `warmup`,
              not measured, then a short gap
    measure:  every agent starts its measurement at one instant with its share of the rate, for
              `duration`; the server's counters are read just before and just after; every
              agent's JSON is collected over HTTP
    stop:     stop the server, and release the idle connections (collecting their reports);
    cooldown: then each host waits until it holds no TIME_WAIT socket (<= `cooldown.max`): the
              server in the same SSH command, the clients in their load services, over HTTP
    judged:   ok, saturated (the server at its cores' limit served less than offered),
              client-limited (a load generator was the bottleneck while the server had
              headroom) or failed, by `run.limits` with the evidence of the sweep so far
Phases' durations are stored with the point, adding up to its wall time. All hosts at once.

A point that cannot be measured (a host unreachable, an agent or the server dying, an overrun,
links not as its network profile says: `conditions`) comes back failed, with its reason. Ctrl-C
stops everything the point started on the hosts and raises PointInterrupted, which carries the
point in progress.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Any

from agents.load.result import LoadResult
from orchestrator.config.model import Host, Lab
from orchestrator.config.plan import Point
from orchestrator.errors import TestbedError
from orchestrator.lab.remote import CommandResult, Remote
from orchestrator.results.records import PointRecord
from orchestrator.run import commands, conditions, limits, servermetrics
from orchestrator.run.controlkeys import ControlKeys
from orchestrator.run.hostproc import THEN, HostProcesses, RemoteProcesses
from orchestrator.run.idleagents import HttpIdleControl, IdleControl, IdleServices
from orchestrator.run.loadagents import (
    LOAD,
    WARMUP_GAP,
    HttpLoadControl,
    LoadAgents,
    LoadControl,
    LoadServices,
    LoadSettings,
    clients_share_cpus,
)
from orchestrator.run.observe import PhaseTimer, SweepObserver
from orchestrator.run.serverundertest import ServerUnderTest
from orchestrator.run.services import ServiceFailure
from orchestrator.run.summary import check_load, near_miss, start_lateness, summarise

START_DELAY = 0.15  # from naming the instant to the agents (already waiting) to it, seconds
MAX_START_DELAY = 5.0  # the delay grows when agents are late for the start, up to this
BEFORE_READ = 0.1  # the server's counters are read this long before the measurement starts
SERVER_START_TIMEOUT = 10.0
IDLE_OPEN_TIMEOUT = 15.0  # plus one second per 1,000 idle connections
STOP_TIMEOUT = 10.0
SERVER = "server"

CounterReader = Callable[[Host], servermetrics.ServerCounters]


class PointFailure(Exception):
    """The point cannot be measured; the message is the reason stored with it."""


class PointInterrupted(Exception):
    """Ctrl-C during a point: carries what was measured so far, after the hosts were cleaned."""

    def __init__(self, record: PointRecord) -> None:
        super().__init__(record.point.key)
        self.record = record


class PointRunner:
    """Runs one point at a time on a lab (see the module docstring), keeping what lasts from
    point to point: the agents' services and keys, the server under test, the start delay.
    Clock, sleep, counter reader, host processes and the agents' control are parameters."""

    def __init__(
        self,
        lab: Lab,
        remote: Remote,
        observer: SweepObserver,
        *,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        counters: CounterReader | None = None,
        procs: HostProcesses | None = None,
        load_control: LoadControl | None = None,
        idle_control: IdleControl | None = None,
    ) -> None:
        self.lab = lab
        self.remote = remote
        self.observer = observer
        self.clock = clock
        self.sleep = sleep
        self.server = ServerUnderTest(
            lab, remote, counters or (lambda host: servermetrics.fetch(host, timeout=1.0))
        )
        self.procs = procs or RemoteProcesses(remote, tag=lab.name)
        self.keys = ControlKeys(remote)  # the services' keys: this sweep's, in memory only
        load_control = load_control or HttpLoadControl(self.keys)
        self.services = LoadServices(lab, self.procs, self.keys, load_control)
        idle_control = idle_control or HttpIdleControl(self.keys)
        self.idle = IdleServices(lab, self.procs, self.keys, idle_control)
        self.experiment = lab.experiment
        self.start_delay = START_DELAY
        self.starvation_check = not clients_share_cpus(lab)
        self.started: dict[str, list[str]] = {}  # host -> processes this point started
        self.session_lengths: dict[str, float] = {}  # host -> mean requests per session
        self.loads: LoadAgents | None = None
        self.last_replies: tuple[float, float] | None = None
        self.conditions = conditions.NetworkConditions(lab, remote)  # tests may replace it

    def close(self) -> None:
        """The sweep's end: stop the agents' services and remove their keys from the hosts."""
        self.services.stop()
        self.idle.stop()
        self.keys.remove()

    # -- one point ---------------------------------------------------------------------------

    def run_point(
        self, seq: int, point: Point, attempt: int, evidence: list[limits.PointFacts]
    ) -> PointRecord:
        """One attempt at `point`, failures in the record, judged with `evidence` (the sweep's
        points so far, `run.limits`); Ctrl-C raises PointInterrupted."""
        now = self.clock()
        record = PointRecord(point, seq, "failed", "", attempt, started_at=now, ended_at=now)
        agents: dict[str, dict[str, Any]] = {host.name: {} for host in self.lab.clients}
        phase = PhaseTimer(record, self.observer, self.clock)
        try:
            phase("start")
            self.conditions.enter(point, record)
            self._start_server(point, f"{seq}-{attempt}")
            self._launch_load(point, f"{seq}-{attempt}")
            if point.idle_connections:
                phase("idle")
                self._open_idle(point)
            self._measure(point, record, agents, phase, evidence)
        except (PointFailure, conditions.NetworkFailure) as failure:
            record.status, record.reason = "failed", str(failure)
        except KeyboardInterrupt:
            record.status, record.reason = "interrupted", "interrupted by the user (Ctrl-C)"
            phase("stop")
            self._stop_point(agents, cooldown=False)
            record.agents, record.ended_at = agents, phase.end()
            raise PointInterrupted(record) from None
        phase("stop")
        waited, record.cooldown_left = self._stop_point(agents, cooldown=True)
        # One command per host stopped and then cooled down: the hosts' own clocks split it.
        record.ended_at = phase.end()
        record.phases["stop"] -= waited
        record.phases["cooldown"], record.cooldown_seconds = waited, waited
        record.agents = agents
        return record

    def _measure(
        self,
        point: Point,
        record: PointRecord,
        agents: dict[str, dict[str, Any]],
        phase: PhaseTimer,
        evidence: list[limits.PointFacts],
    ) -> None:
        """Warm-up and measurement: name the instants, read the counters around the run."""
        warmup = self.experiment.warmup
        if warmup > 0:
            phase("warmup")
            record.warmup_seconds = warmup
        start_at = self._go()
        measure_at = start_at + (warmup + WARMUP_GAP if warmup > 0 else 0.0)
        self.sleep(max(0.0, measure_at - BEFORE_READ - self.clock()))
        phase("measure")
        before = self._server_counters("before the measurement")
        read_before = self.clock()
        loads = self._collect_load()
        after = self._server_counters("by the end of the measurement")
        self.conditions.mark_behind(loads)
        window = self.clock() - read_before
        for host, result in loads.items():
            if result.warmup is not None:
                agents[host]["warmup"] = result.warmup.to_json()
            agents[host]["load"] = replace(result, warmup=None).to_json()
        record.measure_seconds = max(r.test_duration_s or 0.0 for r in loads.values())
        record.summary = summarise(loads)
        record.agents = agents
        cpu = self.server.cpu_use(before, after, window, self.experiment.duration)
        self.server.record(record, servermetrics.difference(before, after), cpu)
        verdict = limits.judge(limits.PointFacts.of_record(record), evidence)
        record.status = verdict.status
        record.reason = verdict.evidence if verdict.status != "ok" else ""
        record.near_miss = verdict.status == "client-limited" and near_miss(loads)

    # -- steps -------------------------------------------------------------------------------

    def _start_server(self, point: Point, run_id: str) -> None:
        """Start the server and, at the same time, the idle connections' holds (they retry
        their connects until it listens), then wait until the server is ready."""
        server = self.lab.server
        command = self.server.select(point)
        self.started[server.name] = [SERVER]
        shares = commands.split(point.idle_connections, len(self.lab.clients))
        holds = {h: n for h, n in zip(self.lab.clients, shares, strict=True) if n > 0}
        with ThreadPoolExecutor(max_workers=2) as pool:
            held = pool.submit(self.idle.hold, run_id, holds) if holds else None
            started = self.procs.start(server, SERVER, command)
        if not started.ok:
            raise PointFailure(f"{server.name}: starting the server failed: {started.reason()}")
        if held is not None:
            try:
                held.result()
            except ServiceFailure as failure:
                raise PointFailure(f"starting the idle connections failed: {failure}") from None
        try:  # not up yet: did it die? (an SSH round trip, so about once a second)
            self.server.wait_ready(
                point,
                lambda: self._check_server_alive("at start"),
                self.clock,
                self.sleep,
                SERVER_START_TIMEOUT,
            )
        except (TestbedError, ValueError) as error:
            raise PointFailure(f"{self.server.spec.name} did not come up: {error}") from None

    def _open_idle(self, point: Point) -> None:
        """Wait until the server's own counter holds the point's idle connections."""
        timeout = IDLE_OPEN_TIMEOUT + point.idle_connections / 1000
        deadline = self.clock() + timeout
        held = 0
        while self.clock() < deadline:
            held = self._server_counters("while opening idle connections").open_connections
            if held >= point.idle_connections:
                return
            self.sleep(0.05)
        raise PointFailure(
            f"idle connections: the server holds {held} of {point.idle_connections}"
            f" after {timeout:.0f} s"
        )

    def _launch_load(self, point: Point, run_id: str) -> None:
        experiment = self.experiment
        profile = experiment.profile
        settings = LoadSettings(
            duration=profile.duration if point.profiling and profile else experiment.duration,
            warmup=experiment.warmup,
            timeout=experiment.timeout,
            wait_limit=IDLE_OPEN_TIMEOUT + point.idle_connections / 1000 + MAX_START_DELAY,
            starvation_check=self.starvation_check,
            session_lengths=self.session_lengths,
        )
        try:
            self.loads = LoadAgents.launch(
                self.services, point, settings, run_id, self.clock, self.sleep
            )
        except ServiceFailure as failure:
            raise PointFailure(str(failure)) from None

    def _go(self) -> float:
        """Name the common start instant to every waiting load agent."""
        assert self.loads is not None
        start_at, results = self.loads.go(self.remote, self.start_delay)
        _require_all("naming the start instant", results)
        return start_at

    def _collect_load(self) -> dict[str, LoadResult]:
        """Every load agent's JSON result, reporting the live reply rate meanwhile; or
        PointFailure naming every agent that failed."""
        assert self.loads is not None
        loads, self.loads = self.loads, None
        self.last_replies = None
        finished, overran = loads.collect(self._report_live_rate)
        results, problems = check_load(finished, LOAD, loads.limit, overran)
        if problems:
            # A dead server makes every agent fail: name the cause, not its symptoms.
            self._check_server_alive("during the load run")
            raise PointFailure("; ".join(problems))
        self._adapt_start_delay(start_lateness(results))
        return results

    def _report_live_rate(self) -> None:
        """Tell the observer the server's reply rate since the last call."""
        if not self.server.spec.has_metrics:
            return  # no count of its own: the agents' results say after the run
        try:
            replies = self.server.counters().replies_total
        except TestbedError:
            return  # a dead server shows in the agents' results and the checks after
        now = self.clock()
        last = self.last_replies
        if last is not None and now > last[0]:
            self.observer.live((replies - last[1]) / (now - last[0]))
        self.last_replies = (now, replies)

    def _adapt_start_delay(self, lateness: float) -> None:
        """Start later next time if an agent was not ready at the common start instant (a cold
        first start, a loaded host), and come back down while they are on time."""
        if lateness > 0.02:
            self.start_delay = min(MAX_START_DELAY, self.start_delay + lateness + 0.1)
        else:
            self.start_delay = max(START_DELAY, self.start_delay * 0.7)

    def _server_counters(self, when: str) -> servermetrics.ServerCounters:
        try:
            return self.server.counters()
        except TestbedError as error:
            self._check_server_alive(when)
            raise PointFailure(f"server stopped answering {when}: {error}") from None

    def _check_server_alive(self, when: str) -> None:
        state = self.procs.alive(self.lab.server, SERVER)
        if state.ssh_error:
            raise PointFailure(f"{self.lab.server.name}: unreachable {when}: {state.ssh_error}")
        if state.exit_code is not None:
            raise PointFailure(f"server exited {when} ({state.reason})")

    def _stop_point(
        self, agents: dict[str, dict[str, Any]], *, cooldown: bool
    ) -> tuple[float, dict[str, int]]:
        """Stop what this point started (server, agents), keeping the idle agents' reports, and
        with `cooldown` wait on every host until no TIME_WAIT socket is left, at most
        `cooldown.max`. Returns (seconds waited, {host: sockets left or -1})."""
        if self.loads is not None:  # a point that failed before its load ended
            loads, self.loads = self.loads, None
            loads.abandon()
        started, self.started = self.started, {}
        then = commands.cooldown_script(self.experiment.cooldown_max) if cooldown else None

        def stop_host(host: Host) -> tuple[dict[str, Any] | None, tuple[float, int]]:
            """Stop and cool down `host`: its idle hold's report (if it held one), and
            (seconds cooled, sockets left). The clients do both through their services, with
            no SSH session; the server, and a client whose service did not answer, over SSH."""
            idle = self.idle.release(host)
            names = started.get(host.name, [])
            if then is not None and not names:
                cooled = self.services.cooldown(host, self.experiment.cooldown_max)
                if cooled is not None:
                    return idle, cooled
            how = self.server.stop_how() if host is self.lab.server else None
            stopped = self.procs.stop(
                host, names, STOP_TIMEOUT, then, self.experiment.cooldown_max, how
            )
            report = stopped.get(THEN)
            said = report.output if report is not None and report.exit_code == 0 else ""
            return idle, commands.parse_cooldown(said) if then is not None else (0.0, 0)

        waited, left = 0.0, {}
        holding = [self.lab.host(name) for name in self.idle.holding]
        hosts = [h for h in self.lab.hosts if started.get(h.name) or then is not None]
        hosts += [h for h in holding if h not in hosts]
        with ThreadPoolExecutor(max_workers=max(1, len(hosts))) as pool:
            stops = {host.name: pool.submit(stop_host, host) for host in hosts}
            for host_name, future in stops.items():
                idle, (seconds, count) = future.result()
                if idle is not None and host_name in agents:
                    agents[host_name]["idle"] = idle
                waited = max(waited, seconds)
                if count:
                    left[host_name] = count
        return waited, left


def _require_all(what: str, results: dict[str, CommandResult]) -> None:
    failed = [f"{name}: {result.reason()}" for name, result in results.items() if not result.ok]
    if failed:
        raise PointFailure(f"{what} failed: {'; '.join(failed)}")
