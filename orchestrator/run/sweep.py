"""Running the points of a sweep on the lab, each committed to the store the moment it ends.

    runner = SweepRunner(lab, remote, store, observer)
    workloads = runner.prepare_workloads()
    outcome = runner.run(sweep, plan)      # plan: the points still to run, in run order

A point, as in the paper's section 4.3 but with the cooldown ended by the kernel:

    start the server (mechanism, accept-limit) and wait until its metrics answer
    open the idle connections (split over the clients) until the server's own counter shows them
    warm-up: load at the point's rate for `warmup`, not measured
    measure: every load agent starts at one instant with its share of the rate, for `duration`;
             the server's counters are read just before and just after
    stop the server and the idle agents; collect every agent's JSON
    cool down: until no host holds a TIME_WAIT socket, at most `cooldown.max`
    commit the point: ok, client-limited (a load generator was the bottleneck) or failed

A point that fails (a host unreachable, an agent or the server dying, an overrun) is stored as
failed with its reason and retried up to `experiment.retries` times; the sweep goes on. So is a
client-limited point whose clients only just fell behind their schedule (`summary.near_miss`);
every attempt is kept in the store. Ctrl-C
stops the point in progress, stores it as interrupted, stops everything on the hosts and
re-raises.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any, Protocol

from agents.workloads import mean_session_length
from orchestrator.config.model import Host, Lab
from orchestrator.config.plan import Point
from orchestrator.errors import TestbedError
from orchestrator.lab.remote import CommandResult, Remote
from orchestrator.results.records import PointRecord, Sweep, SweepSummary
from orchestrator.results.store import Store
from orchestrator.run import commands, servermetrics
from orchestrator.run.commands import LoadRun
from orchestrator.run.hostproc import HostProcesses
from orchestrator.run.summary import client_limits, near_miss, summarise, sweep_summary

START_DELAY = 0.6  # from starting the load agents to their common start instant, seconds
MAX_START_DELAY = 5.0  # the delay grows when agents are late for the start, up to this
SERVER_START_TIMEOUT = 10.0
IDLE_OPEN_TIMEOUT = 15.0  # plus one second per 1,000 idle connections
AGENT_SLACK = 20.0  # beyond duration + timeouts before a load agent counts as overrunning
STOP_TIMEOUT = 10.0
SERVER, IDLE, LOAD, WARMUP = "server", "idle", "load", "warmup"


class PointFailure(Exception):
    """The point cannot be measured; the message is the reason stored with it."""


class PointInterrupted(Exception):
    """Ctrl-C during a point: carries what was measured so far, after the hosts were cleaned."""

    def __init__(self, record: PointRecord) -> None:
        super().__init__(record.point.key)
        self.record = record


class SweepObserver(Protocol):
    """What the progress display and the metrics exporter are told while a sweep runs."""

    def sweep_started(self, sweep: Sweep, total: int, done: int) -> None: ...
    def point_started(self, seq: int, point: Point, attempt: int) -> None: ...
    def phase(self, name: str) -> None: ...
    def live(self, reply_rate: float) -> None: ...
    def point_finished(self, record: PointRecord) -> None: ...
    def sweep_finished(self, summary: SweepSummary) -> None: ...


class Observers:
    """Several observers as one."""

    def __init__(self, *observers: SweepObserver) -> None:
        self.observers = observers

    def __getattr__(self, name: str) -> Callable[..., None]:
        def fan_out(*args: Any) -> None:
            for observer in self.observers:
                getattr(observer, name)(*args)

        return fan_out


class PhaseTimer:
    """Tells the observer each phase of a point and records how long each took."""

    def __init__(self, record: PointRecord, observer: SweepObserver) -> None:
        self.record = record
        self.observer = observer
        self.name: str | None = None
        self.since = time.monotonic()

    def __call__(self, name: str) -> None:
        self.end()
        self.name, self.since = name, time.monotonic()
        self.observer.phase(name)

    def end(self) -> None:
        if self.name is not None:
            self.record.phases[self.name] = time.monotonic() - self.since
            self.name = None


@dataclass
class SweepOutcome:
    records: list[PointRecord] = field(default_factory=list)  # final attempt of each point run
    failed: list[PointRecord] = field(default_factory=list)
    interrupted: bool = False
    summary: SweepSummary = field(default_factory=SweepSummary)


class SweepRunner:
    """Runs points on a lab; see the module docstring."""

    def __init__(
        self,
        lab: Lab,
        remote: Remote,
        store: Store,
        observer: SweepObserver,
        *,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.lab = lab
        self.remote = remote
        self.store = store
        self.observer = observer
        self.clock = clock
        self.sleep = sleep
        self.procs = HostProcesses(remote, tag=lab.name)
        self.experiment = lab.experiment
        self.start_delay = START_DELAY
        self.starvation_check = not clients_share_cpus(lab)
        self.started: dict[str, list[str]] = {}  # host -> processes this point started
        self.session_lengths: dict[str, float] = {}  # host -> mean requests per session

    # -- the sweep ---------------------------------------------------------------------------

    def stop_leftovers(self) -> dict[str, list[str]]:
        """Stop whatever a previous (dead) run left on the hosts; {host: [process names]}."""
        results = self.procs.stop_all(self.lab.hosts, grace=2.0)
        return {name: result.stdout.split() for name, result in results.items() if result.stdout}

    def prepare_workloads(self) -> dict[str, Any]:
        """Write the file set on the server and a session trace per client, from the seed."""
        spec = self.experiment.specweb99
        server = self.lab.server
        fileset = self.remote.run(server, commands.fileset_command(server, spec), timeout=300)
        if not fileset.ok:
            raise TestbedError(f"{server.name}: writing the file set failed: {fileset.reason()}")
        workloads: dict[str, Any] = {"seed": spec.seed, "fileset": json.loads(fileset.stdout)}
        if "specweb99" in self.experiment.workloads:
            count = len(self.lab.clients)

            def sessions(host: Host) -> str:
                return commands.sessions_command(host, spec, self.lab.clients.index(host), count)

            results = self.remote.run_all(self.lab.clients, sessions, timeout=120)
            failed = [f"{name}: {r.reason()}" for name, r in results.items() if not r.ok]
            if failed:
                raise TestbedError(f"writing session traces failed: {'; '.join(failed)}")
            workloads["sessions"] = {name: json.loads(r.stdout) for name, r in results.items()}
            self.session_lengths = {
                name: float(stats["mean_requests_per_session"])
                for name, stats in workloads["sessions"].items()
            }
        return workloads

    def run(self, sweep: Sweep, plan: list[tuple[int, Point]], total: int) -> SweepOutcome:
        """Run `plan` ([(seq, point)], the points not yet done) and store every attempt."""
        outcome = SweepOutcome()
        started = self.clock()
        self.observer.sweep_started(sweep, total, total - len(plan))
        try:
            for seq, point in plan:
                for attempt in range(1, self.experiment.retries + 2):
                    self.observer.point_started(seq, point, attempt)
                    record = self.run_point(seq, point, attempt)
                    self.store.record_point(sweep.id, record)
                    self.observer.point_finished(record)
                    if record.status != "failed" and not record.near_miss:
                        break
                outcome.records.append(record)
                if record.status == "failed":
                    outcome.failed.append(record)
        except PointInterrupted as stop:
            self.store.record_point(sweep.id, stop.record)
            self.observer.point_finished(stop.record)
            outcome.interrupted = True
            raise KeyboardInterrupt from None
        finally:
            outcome.summary = sweep_summary(
                outcome.records, self.clock() - started, outcome.interrupted
            )
            self.observer.sweep_finished(outcome.summary)
        return outcome

    # -- one point ---------------------------------------------------------------------------

    def run_point(self, seq: int, point: Point, attempt: int) -> PointRecord:
        """Run one attempt at `point`. Failures are in the record; Ctrl-C raises
        PointInterrupted after the hosts were cleaned up."""
        record = PointRecord(
            point=point,
            seq=seq,
            status="failed",
            reason="",
            attempt=attempt,
            started_at=self.clock(),
            ended_at=self.clock(),
        )
        agents: dict[str, dict[str, Any]] = {host.name: {} for host in self.lab.clients}
        phase = PhaseTimer(record, self.observer)
        try:
            phase("start")
            self._start_server(point)
            if point.idle_connections:
                phase("idle")
                self._open_idle(point)
            if self.experiment.warmup > 0:
                phase("warmup")
                warmup = self._load(point, self.experiment.warmup, WARMUP)
                record.warmup_seconds = self.experiment.warmup
                for host, result in warmup.items():
                    agents[host]["warmup"] = _brief(result)
            phase("measure")
            before = self._server_counters("before the measurement")
            loads = self._load(point, self.experiment.duration, LOAD)
            after = self._server_counters("by the end of the measurement")
            self._check_server_alive("by the end of the measurement")
            for host, result in loads.items():
                agents[host]["load"] = result
            record.measure_seconds = max(r.get("test_duration_s") or 0.0 for r in loads.values())
            record.summary = summarise(loads)
            server = servermetrics.difference(before, after)
            record.server = server
            record.summary["server_replies"] = int(server["replies_total"])
            record.syscalls = {
                name: (int(v["calls"]), float(v["seconds"]))
                for name, v in server["syscalls"].items()
                if v["calls"] > 0
            }
            limits = client_limits(loads)
            record.status, record.reason = (
                ("client-limited", "; ".join(limits)) if limits else ("ok", "")
            )
            record.near_miss = near_miss(loads)
        except PointFailure as failure:
            record.status, record.reason = "failed", str(failure)
        except KeyboardInterrupt:
            record.status, record.reason = "interrupted", "interrupted by the user (Ctrl-C)"
            phase("stop")
            self._stop_point(agents)
            phase.end()
            record.agents, record.ended_at = agents, self.clock()
            raise PointInterrupted(record) from None
        phase("stop")
        self._stop_point(agents)
        record.agents = agents
        phase("cooldown")
        record.cooldown_seconds, record.cooldown_left = self._cooldown()
        phase.end()
        record.ended_at = self.clock()
        return record

    # -- steps -------------------------------------------------------------------------------

    def _start_server(self, point: Point) -> None:
        server = self.lab.server
        command = commands.server_command(self.lab, point)
        started = self.procs.start(server, SERVER, command)
        if not started.ok:
            raise PointFailure(f"{server.name}: starting the server failed: {started.reason()}")
        self.started[server.name] = [SERVER]
        begun = time.monotonic()
        checked = begun
        while True:
            try:
                counters = servermetrics.fetch(server, timeout=1.0)
            except TestbedError as error:
                now = time.monotonic()
                if now - checked > 1.0:  # not up yet: did it die? (an SSH round trip, so rarely)
                    self._check_server_alive("at start")
                    checked = now
                if now - begun > SERVER_START_TIMEOUT:
                    raise PointFailure(f"server did not come up: {error}") from None
                self.sleep(0.02)
                continue
            if counters.info.get("mechanism") != point.mechanism:
                raise PointFailure(
                    f"a server with mechanism {counters.info.get('mechanism')} answers on"
                    f" {server.management}: not the one just started"
                )
            return

    def _open_idle(self, point: Point) -> None:
        shares = _split(point.idle_connections, len(self.lab.clients))
        idle = {
            host: commands.idle_command(self.lab, host, share)
            for host, share in zip(self.lab.clients, shares, strict=True)
            if share > 0
        }
        for host in idle:
            self.started.setdefault(host.name, []).append(IDLE)
        _require_all("starting the idle agents", self.procs.start_many(IDLE, idle))
        timeout = IDLE_OPEN_TIMEOUT + point.idle_connections / 1000
        deadline = time.monotonic() + timeout
        held = 0
        while time.monotonic() < deadline:
            held = self._server_counters("while opening idle connections").open_connections
            if held >= point.idle_connections:
                return
            self.sleep(0.1)
        raise PointFailure(
            f"idle connections: the server holds {held} of {point.idle_connections}"
            f" after {timeout:.0f} s"
        )

    def _load(self, point: Point, duration: float, name: str) -> dict[str, dict[str, Any]]:
        """Run the load agents for `duration` from one instant; {host: JSON result}.

        One SSH command per client starts its agent, waits for its end and returns its output;
        meanwhile the server's live reply rate is read from its metrics.
        """
        start_at = self.clock() + self.start_delay
        share = point.rate / len(self.lab.clients)
        limit = self.start_delay + duration + 3 * self.experiment.timeout + AGENT_SLACK
        for host in self.lab.clients:
            self.started.setdefault(host.name, []).append(name)
        began = time.monotonic()
        with ThreadPoolExecutor(max_workers=len(self.lab.clients)) as pool:
            runs = {
                host.name: pool.submit(
                    self.procs.run,
                    host,
                    name,
                    self._load_command(host, point, share, duration, start_at),
                    limit,
                )
                for host in self.lab.clients
            }
            self._watch_live_rate(list(runs.values()))
            finished = {host: future.result() for host, future in runs.items()}
        results: dict[str, dict[str, Any]] = {}
        problems = []
        for client, done in finished.items():
            try:
                result = json.loads(done.output) if done.output.strip() else None
            except json.JSONDecodeError:
                result = None
            if done.ssh_error:
                problems.append(f"{client}: {done.ssh_error}")
            elif done.exit_code is None and time.monotonic() - began >= limit:
                problems.append(f"{client}: {name} agent overran {limit:.0f} s and was stopped")
            elif done.exit_code is None:
                problems.append(f"{client}: {name} agent: {done.reason}")
            elif result is None:
                problems.append(f"{client}: {name} agent died without a result ({done.reason})")
            elif result.get("error"):
                problems.append(f"{client}: {name} agent: {result['error']}")
            if result is not None:
                results[client] = result
        if problems:
            # A dead server makes every agent fail: name the cause, not its symptoms.
            self._check_server_alive(f"during the {name} run")
            raise PointFailure("; ".join(problems))
        self._adapt_start_delay(results)
        return results

    def _adapt_start_delay(self, results: dict[str, dict[str, Any]]) -> None:
        """Start later next time if an agent was not ready at the common start instant (a cold
        first start, a loaded host), and come back down while they are on time."""
        lateness = max((r.get("start_lateness_s") or 0.0) for r in results.values())
        if lateness > 0.02:
            self.start_delay = min(MAX_START_DELAY, self.start_delay + lateness + 0.25)
        else:
            self.start_delay = max(START_DELAY, self.start_delay * 0.7)

    def _load_command(
        self, host: Host, point: Point, share: float, duration: float, start_at: float
    ) -> str:
        run = LoadRun(
            point=point,
            share=share,
            duration=duration,
            start_at=start_at,
            timeout=self.experiment.timeout,
            session_length=self.session_lengths.get(host.name, mean_session_length()),
            starvation_check=self.starvation_check,
        )
        return commands.load_command(self.lab, host, run)

    def _watch_live_rate(self, futures: list[Future[Any]]) -> None:
        """Until `futures` are done, report the server's reply rate about once a second."""
        last: tuple[float, float] | None = None
        while True:
            done, _ = wait(futures, timeout=1.0)
            if len(done) == len(futures):
                return
            try:
                replies = servermetrics.fetch(self.lab.server, timeout=1.0).replies_total
            except TestbedError:
                continue  # a dead server shows in the agents' results and the checks after
            now = time.monotonic()
            if last is not None and now > last[0]:
                self.observer.live((replies - last[1]) / (now - last[0]))
            last = (now, replies)

    def _server_counters(self, when: str) -> servermetrics.ServerCounters:
        try:
            return servermetrics.fetch(self.lab.server)
        except TestbedError as error:
            self._check_server_alive(when)
            raise PointFailure(f"server stopped answering {when}: {error}") from None

    def _check_server_alive(self, when: str) -> None:
        state = self.procs.alive(self.lab.server, SERVER)
        if state.ssh_error:
            raise PointFailure(f"{self.lab.server.name}: unreachable {when}: {state.ssh_error}")
        if state.exit_code is not None:
            raise PointFailure(f"server exited {when} ({state.reason})")

    def _stop_point(self, agents: dict[str, dict[str, Any]]) -> None:
        """Stop what this point started (server, agents), keeping the idle agents' reports."""
        started, self.started = self.started, {}
        hosts = [host for host in self.lab.hosts if started.get(host.name)]
        if not hosts:
            return
        with ThreadPoolExecutor(max_workers=len(hosts)) as pool:
            stops = {
                host.name: pool.submit(self.procs.stop, host, started[host.name], STOP_TIMEOUT)
                for host in hosts
            }
            for host_name, future in stops.items():
                idle = future.result().get(IDLE)
                if idle is None or host_name not in agents:
                    continue
                try:
                    agents[host_name]["idle"] = json.loads(idle.output)
                except json.JSONDecodeError:
                    agents[host_name]["idle"] = {"error": idle.reason, "raw": idle.output[-500:]}

    def _cooldown(self) -> tuple[float, dict[str, int]]:
        """Wait until no host holds a TIME_WAIT socket, at most `cooldown.max` seconds.

        Each host polls itself (no SSH round trip per poll) and reports how long it waited and
        what was left; the state itself is counted, not sockstat's tw (orphans count there)."""
        script = commands.cooldown_script(self.experiment.cooldown_max)
        results = self.remote.run_all(
            self.lab.hosts, script, timeout=self.experiment.cooldown_max + 30
        )
        waited, left = 0.0, {}
        for name, result in results.items():
            words = result.stdout.split()
            if not result.ok or len(words) != 2:
                left[name] = -1  # could not tell
                continue
            count, elapsed_ms = int(words[0]), int(words[1])
            waited = max(waited, elapsed_ms / 1000)
            if count:
                left[name] = count
        return waited, left


def _require_all(what: str, results: dict[str, CommandResult]) -> None:
    failed = [f"{name}: {result.reason()}" for name, result in results.items() if not result.ok]
    if failed:
        raise PointFailure(f"{what} failed: {'; '.join(failed)}")


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


def _split(total: int, parts: int) -> list[int]:
    """`total` as evenly as possible over `parts` (the first ones get the remainder)."""
    base, extra = divmod(total, parts)
    return [base + (1 if index < extra else 0) for index in range(parts)]


def _brief(result: dict[str, Any]) -> dict[str, Any]:
    """What is kept of a warm-up run: its figures, not its raw output."""
    return {
        key: result.get(key)
        for key in ("request_rate", "reply_rate", "errors", "client_limited", "test_duration_s")
    }
