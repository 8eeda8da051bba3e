"""SweepRunner's sequencing without a lab: fake host processes, SSH, server counters and clock.

What a real lab cannot show on demand: a point retried after a failure, a near miss measured
again, a dead server named as the cause, and the phases of a point adding up to its wall time.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import shlex
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from agents.load.request import LoadRequest
from agents.load.result import LoadResult
from orchestrator.config.model import Host, Lab, ProfilePass
from orchestrator.config.plan import Point, expand
from orchestrator.errors import TestbedError
from orchestrator.lab.remote import CommandResult
from orchestrator.results.records import PHASES, ServerCpu, Sweep
from orchestrator.run.hostproc import THEN, Finished, HostProcesses
from orchestrator.run.knee import CLIENT_LIMITED, SATURATED, Curves
from orchestrator.run.observe import Observers
from orchestrator.run.servermetrics import ServerCounters
from orchestrator.run.summary import check_load, start_lateness
from orchestrator.run.sweep import SweepRunner
from tests.support.fakes import Clock, FakeRemote, FakeStore
from tests.support.labfiles import default_lab

FIXTURES = Path(__file__).parent / "fixtures"
CPU = "process_cpu_seconds_total"
CAPTURED = json.loads((FIXTURES / "load-result-client1.json").read_text())  # a real agent's JSON


def agent_result(limited: Sequence[str] = (), issued: float = 200.0) -> dict[str, Any]:
    result = copy.deepcopy(CAPTURED["load"])
    result["warmup"] = copy.deepcopy(CAPTURED["warmup"])
    result["client_limited"] = bool(limited)
    result["client_limited_reasons"] = list(limited)
    result["request_rate"] = {"target": 200.0, "issued": issued, "achieved": issued}
    result["start_lateness_s"] = 0.0
    result["warmup"]["start_lateness_s"] = 0.0
    return result


class FakeHosts(FakeRemote, HostProcesses):
    """HostProcesses, Remote and the server's metrics in one: each attempt of a point takes
    its behaviour from `script` (by attempt number, 1-based), the rest answers normally.
    mypy checks its methods against both Protocols."""

    def __init__(self, clock: Clock, script: dict[int, str] | None = None) -> None:
        super().__init__()
        self.clock = clock
        self.script = script or {}
        self.attempt = 0
        self.mechanism = ""
        self.idle = 0
        self.replies = 0.0
        self.server_dead = False
        self.calls: list[str] = []
        self.stopped: list[tuple[str, tuple[str, ...], bool]] = []
        self.go = threading.Event()
        self.http: set[str] = set()
        self.told: list[str] = []
        self.files: list[str] = []
        self.submitted: dict[str, LoadRequest | None] = {}
        self.keys_placed: dict[str, str] = {}  # host -> the key file's text
        self.keys_removed: list[str] = []
        self.service_commands: list[str] = []
        self.holding: dict[str, int] = {}
        self.cpu_share: float | None = None  # the server's CPU per second of the clock

    def behaviour(self) -> str:
        return self.script.get(self.attempt, "ok")

    # HostProcesses
    def start(self, host: Host, name: str, command: str) -> CommandResult:
        self.calls.append(f"start {name}")
        self.go.clear()
        self.attempt += 1
        self.mechanism = shlex.split(command)[shlex.split(command).index("--mechanism") + 1]
        self.server_dead = False
        if self.behaviour() == "start-times-out":  # SSH gave up: the server may well be running
            return CommandResult(host.name, command, None, "", "", "timed out after 30 s", 30.0)
        return CommandResult(host.name, command, 0, "123", "", None, 0.1)

    def start_many(self, name: str, commands: dict[Host, str]) -> dict[str, CommandResult]:
        self.calls.append(f"start_many {name}")
        for command in commands.values():
            assert f"agents.{name}.service" in command
            self.service_commands.append(command)
        return {
            h.name: CommandResult(h.name, c, 0, "1", "", None, 0.1) for h, c in commands.items()
        }

    # the clients' load services (loadagents.LoadControl)
    def submit(self, host: Host, request: LoadRequest) -> tuple[int, str]:
        assert host.name in self.keys_placed  # its key was placed before its service started
        if self.behaviour() == "refused" and host.name == "client2":
            return 400, "rate 0: expected a number > 0 to 1e+06"
        if self.behaviour() == "busy" and host.name not in self.submitted:
            self.submitted[host.name] = None  # the first try finds an earlier run under way
            return 409, "run 0-1 is under way"
        self.submitted[host.name] = request
        return 202, ""

    def ready(self, hosts: list[Host], patience: float) -> list[str]:
        return []

    def cooldown(self, host: Host, max_seconds: float) -> tuple[float, int] | None:
        self.calls.append(f"cooldown {host.name}")
        if self.behaviour() == "cooldown-unanswered" and host.name == "client4":
            return None
        return 0.12, 3 if host.name == "client5" else 0

    def result(self, host: Host, run_id: str, wait: float) -> tuple[int | None, str] | None:
        if not self.go.is_set():  # as the real ones: nothing ends before its start
            self.clock.sleep(wait)
            return None
        behaviour = self.behaviour()
        if behaviour in ("agent-dies", "agent-hangs") and host.name == "client3":
            raise OSError("connection refused" if behaviour == "agent-dies" else "timed out")
        if behaviour == "server-dies":
            self.server_dead = True
            return 1, json.dumps({"error": "connection refused"})
        limited = ["request-rate-below-target"] if behaviour == "near-miss" else []
        issued = 197.0 if behaviour == "near-miss" else 200.0
        if behaviour == "far-behind":
            limited, issued = ["request-rate-below-target"], 100.0
        self.replies += 800
        result = agent_result(limited, issued)
        request = self.submitted[host.name]
        if request is not None and not request.warmup:
            del result["warmup"]
        return 0, json.dumps(result)

    # the clients' idle services (idleagents.IdleControl)
    def hold(self, host: Host, run_id: str, connections: int) -> tuple[int, str]:
        self.calls.append(f"hold {host.name}")
        if self.behaviour() == "idle-refused" and host.name == "client6":
            return 400, "RLIMIT_NOFILE hard limit is 1024, 1250 connections need 1314"
        self.idle += connections
        self.holding[host.name] = connections
        return 202, ""

    def release(self, host: Host, run_id: str) -> tuple[int, str]:
        self.calls.append(f"release {host.name}")
        held = self.holding.pop(host.name)
        return 200, json.dumps({"schema": "testbed.idle/1", "target": held, "open_at_stop": held})

    def load_stopped(self, host: Host) -> None:
        self.calls.append(f"stop load {host.name}")

    def stop(
        self,
        host: Host,
        names: Sequence[str],
        timeout: float,
        then: str | None = None,
        then_timeout: float = 60.0,
        how: Mapping[str, tuple[str, bool]] | None = None,
    ) -> dict[str, Finished]:
        self.stopped.append((host.name, tuple(names), then is not None))
        self.clock.sleep(0.2)
        found = {name: Finished(name, 0, "{}", "") for name in names}
        if then is not None:
            found[THEN] = Finished(THEN, 0, "0 150", "")
        if host.name == "server":
            self.idle = 0
        return found

    def alive(self, host: Host, name: str) -> Finished:
        if name == "load":
            died = self.behaviour() == "agent-dies" and host.name == "client3"
            return Finished(name, 137 if died else None, "", "")
        return Finished(name, 1 if self.server_dead else None, "", "")

    def stop_all(self, hosts: Iterable[Host], grace: float = 3.0) -> dict[str, CommandResult]:
        return {}

    # telling the agents their start over HTTP: `http` hosts take it, the others get the file
    def tell(self, host: Host, line: str) -> bool:
        if host.name in self.http:
            self.told.append(host.name)
            return True
        return False

    # Remote
    def write_private(
        self, host: Host, path: str, text: str, timeout: float = 30.0
    ) -> CommandResult:
        assert path == "run/control.key"
        self.keys_placed[host.name] = text
        return CommandResult(host.name, "(written)", 0, "", "", None, 0.1)

    def run_all(
        self,
        hosts: Iterable[Host],
        command: str | Callable[[Host], str],
        timeout: float | None = 60.0,
    ) -> dict[str, CommandResult]:
        texts = {host.name: command(host) if callable(command) else command for host in hosts}
        if all(text.endswith("rm -f run/control.key") for text in texts.values()):
            self.keys_removed.extend(texts)  # the sweep's end
            return {name: CommandResult(name, t, 0, "", "", None, 0.1) for name, t in texts.items()}
        assert all("run/load.start" in text for text in texts.values())
        self.calls.append("go")
        self.files.extend(texts)
        self.go.set()
        return {name: CommandResult(name, t, 0, "", "", None, 0.1) for name, t in texts.items()}

    # the server's counters
    def counters(self, host: Host) -> ServerCounters:
        if self.server_dead:
            raise TestbedError("server metrics do not answer")
        cpu = {} if self.cpu_share is None else {CPU: self.cpu_share * self.clock.now}
        return ServerCounters(
            replies={"200": self.replies},
            gauges={"testbed_server_connections_open": self.idle},
            info={"mechanism": self.mechanism},
            totals=cpu,
        )


class FakeLoadControl:
    """FakeHosts' load services as a `loadagents.LoadControl` (its `stop` is another's)."""

    def __init__(self, hosts: FakeHosts) -> None:
        self.hosts = hosts
        self.submit, self.tell = hosts.submit, hosts.tell
        self.result, self.ready, self.cooldown = hosts.result, hosts.ready, hosts.cooldown

    def stop(self, host: Host) -> None:
        self.hosts.load_stopped(host)


class FakeIdleControl:
    """FakeHosts' idle services as an `idleagents.IdleControl`."""

    def __init__(self, hosts: FakeHosts) -> None:
        self.hold, self.release, self.ready = hosts.hold, hosts.release, hosts.ready


def lab_with(**experiment: Any) -> Lab:
    """The default lab.yml (never built: every host is faked) with `experiment` changed; its
    plan has only the idle counts and accept-limits `experiment` names."""
    lab = default_lab(routes=list)
    only = {"idle_max": False, "accept_limits": (None,), "accept_scopes": (), **experiment}
    return dataclasses.replace(lab, experiment=dataclasses.replace(lab.experiment, **only))


def runner_for(lab: Lab, clock: Clock, hosts: FakeHosts, store: FakeStore) -> SweepRunner:
    """A runner whose every outside system is `hosts` (and `store`)."""
    return SweepRunner(
        lab,
        hosts,
        store,
        Observers(),  # told nothing
        clock=clock,
        sleep=clock.sleep,
        counters=hosts.counters,
        procs=hosts,
        load_control=FakeLoadControl(hosts),
        idle_control=FakeIdleControl(hosts),
    )


def run_sweep(
    tmp_path: Path,
    script: dict[int, str],
    http: Sequence[str] = (),
    whole_plan: bool = False,
    cpu_share: float | None = None,
    **experiment: Any,
) -> tuple[FakeStore, FakeHosts]:
    lab = lab_with(**experiment)
    clock = Clock()
    hosts = FakeHosts(clock, script)
    hosts.http = set(http)
    hosts.cpu_share = cpu_share
    store = FakeStore()
    runner = runner_for(lab, clock, hosts, store)
    plan = expand(lab.experiment, seed=1)
    plan = plan if whole_plan else plan[:1]
    sweep = Sweep("s1", lab.name, "d", 1, "running", clock.now, None, len(plan), "manual")
    runner.run(
        sweep,
        list(enumerate(plan)),
        len(plan),
        Curves(lab.experiment.knee, lab.experiment.repeat_top),
    )
    return store, hosts


ONE_POINT: dict[str, Any] = {
    "mechanisms": ("epoll-et",),
    "workloads": ("one-byte",),
    "idle_connections": (2000,),
    "retries": 2,
    "warmup": 1.0,  # the sequencing below is timed with a 1 s warm-up, whatever lab.yml has
    "cooldown_max": 1.0,
}


def test_a_good_point_is_ok_at_once_and_its_phases_add_up_to_its_wall_time(
    tmp_path: Path,
) -> None:
    store, hosts = run_sweep(tmp_path, {}, **ONE_POINT)
    [record] = store.records
    assert record.status == "ok" and record.attempt == 1
    assert list(record.phases) == [p for p in PHASES]
    wall = record.ended_at - record.started_at
    assert sum(record.phases.values()) == pytest.approx(wall, rel=0.01)
    assert record.cooldown_seconds == record.phases["cooldown"] == 0.15
    assert record.warmup_seconds == 1.0
    # one agent run did the warm-up and the measurement; its warm-up is kept apart
    assert set(record.agents["client1"]) == {"warmup", "load", "idle"}
    assert "warmup" not in record.agents["client1"]["load"]
    assert record.agents["client1"]["idle"]["open_at_stop"] == 250  # its report, kept
    # the idle holds were told before the load started by one "go", and released at the stop
    assert hosts.calls.index("hold client8") < hosts.calls.index("go")
    assert hosts.holding == {}
    # the clients are stopped and cooled down by their services: SSH only to the server
    services = [("load",), ("idle",)]
    assert [(name, cooled) for name, names, cooled in hosts.stopped if names not in services] == [
        ("server", True)
    ]
    assert sum(call.startswith("cooldown") for call in hosts.calls) == 8
    # the services: started once, each point's work told, stopped with the sweep
    assert hosts.calls.count("start_many load") == hosts.calls.count("start_many idle") == 1
    assert hosts.calls.index("start_many load") < hosts.calls.index("go")
    assert set(hosts.submitted) == {f"client{i}" for i in range(1, 9)}
    for kind in ("load", "idle"):
        services_stopped = [name for name, names, _ in hosts.stopped if names == (kind,)]
        assert sorted(services_stopped) == sorted(hosts.submitted)
    # each client got a key of its own, once, and its file went with the sweep
    keys = list(hosts.keys_placed.values())
    assert len(set(keys)) == 8 and all(len(key.strip()) >= 32 for key in keys)
    assert sorted(hosts.keys_removed) == sorted(hosts.keys_placed)
    # ... and no command line carried one: the services are given the file's path
    assert len(hosts.service_commands) == 16
    for command in hosts.service_commands:
        assert "--control-key-file run/control.key" in command
        assert not any(key.strip() in command for key in keys)


def test_without_idle_connections_the_clients_cool_down_through_their_load_service(
    tmp_path: Path,
) -> None:
    store, hosts = run_sweep(tmp_path, {}, **{**ONE_POINT, "idle_connections": (0,)})
    [record] = store.records
    clients = {f"client{i}" for i in range(1, 9)}
    assert {call.split()[1] for call in hosts.calls if call.startswith("cooldown")} == clients
    # no SSH session on a client for the point: only the server is stopped and cooled that way
    assert [(name, cooled) for name, names, cooled in hosts.stopped if names != ("load",)] == [
        ("server", True)
    ]
    assert record.cooldown_seconds == 0.15  # the longest wait: the server's, over SSH
    assert record.cooldown_left == {"client5": 3}


def test_a_refused_idle_hold_fails_the_point_and_releases_the_others(tmp_path: Path) -> None:
    store, hosts = run_sweep(tmp_path, {1: "idle-refused"}, **ONE_POINT)
    failed, retried = store.records
    assert failed.status == "failed" and retried.status == "ok"
    assert failed.reason == (
        "starting the idle connections failed: client6: the idle service refused the hold:"
        " RLIMIT_NOFILE hard limit is 1024, 1250 connections need 1314"
    )
    # the first attempt's seven holds were released, then the retry's eight
    released = [call.split()[1] for call in hosts.calls if call.startswith("release")]
    assert {name: released.count(name) for name in released} == {
        f"client{i}": 1 if i == 6 else 2 for i in range(1, 9)
    }
    assert hosts.holding == {}


def test_a_client_whose_service_does_not_cool_down_cools_down_over_ssh(tmp_path: Path) -> None:
    store, hosts = run_sweep(
        tmp_path, {1: "cooldown-unanswered"}, **{**ONE_POINT, "idle_connections": (0,)}
    )
    assert store.records[0].status == "ok"
    over_ssh = {name for name, names, cooled in hosts.stopped if cooled}
    assert over_ssh == {"server", "client4"}


def test_agents_that_take_their_start_over_http_get_no_start_file(tmp_path: Path) -> None:
    store, hosts = run_sweep(tmp_path, {}, http=["client1", "client2"], **ONE_POINT)
    assert store.records[0].status == "ok"
    assert sorted(hosts.told) == ["client1", "client2"]
    assert sorted(hosts.files) == [f"client{i}" for i in range(3, 9)]


def test_a_failed_point_is_retried_and_every_attempt_stored(tmp_path: Path) -> None:
    store, hosts = run_sweep(tmp_path, {1: "agent-dies"}, **ONE_POINT)
    assert [(r.attempt, r.status) for r in store.records] == [(1, "failed"), (2, "ok")]
    assert store.records[0].reason == (
        "client3: load service died (killed by SIGKILL; its log: run/load.err on client3)"
    )
    # a failed attempt's phases still add up
    failed = store.records[0]
    wall = failed.ended_at - failed.started_at
    assert sum(failed.phases.values()) == pytest.approx(wall, rel=0.01)
    # its service was started again for the next attempt, there only
    assert hosts.calls.count("start_many load") == 2


def test_a_service_that_stops_answering_fails_its_point_after_a_grace(tmp_path: Path) -> None:
    store, hosts = run_sweep(tmp_path, {1: "agent-hangs"}, **ONE_POINT)
    assert [(r.attempt, r.status) for r in store.records] == [(1, "failed"), (2, "ok")]
    assert store.records[0].reason == "client3: load service stopped answering (timed out)"
    assert store.records[0].phases["measure"] >= 5.0  # GONE_AFTER: not at the first silence
    assert hosts.calls.count("start_many load") == 2


def test_a_run_a_service_refuses_fails_the_point_with_its_line(tmp_path: Path) -> None:
    store, hosts = run_sweep(tmp_path, {1: "refused"}, **ONE_POINT)
    assert [(r.attempt, r.status) for r in store.records] == [(1, "failed"), (2, "ok")]
    assert store.records[0].reason == (
        "client2: the load service refused the run: rate 0: expected a number > 0 to 1e+06"
    )
    # the runs the other clients had taken were stopped at once, not left waiting
    stopped = [call.split()[-1] for call in hosts.calls if call.startswith("stop load")]
    assert sorted(stopped) == [f"client{i}" for i in (1, 3, 4, 5, 6, 7, 8)]


def test_a_service_still_busy_with_an_earlier_run_has_it_stopped_first(tmp_path: Path) -> None:
    store, hosts = run_sweep(tmp_path, {1: "busy"}, **ONE_POINT)
    assert [(r.attempt, r.status) for r in store.records] == [(1, "ok")]
    assert sum(call.startswith("stop load") for call in hosts.calls) == 8


def test_a_dead_server_is_named_as_the_cause_not_its_symptoms(tmp_path: Path) -> None:
    store, _ = run_sweep(
        tmp_path, {1: "server-dies", 2: "server-dies", 3: "server-dies"}, **ONE_POINT
    )
    assert [r.status for r in store.records] == ["failed"] * 3  # retries: 2
    reasons = [r.reason for r in store.records]
    assert all(r.startswith("server exited during the load run") for r in reasons), reasons


def test_a_server_whose_start_timed_out_is_stopped_all_the_same(tmp_path: Path) -> None:
    """A start that SSH gave up on may have left a server running: the point still stops it,
    so the retry does not find the port taken."""
    store, hosts = run_sweep(tmp_path, {1: "start-times-out"}, **ONE_POINT)
    assert [r.status for r in store.records] == ["failed", "ok"]
    assert "starting the server failed: timed out" in store.records[0].reason
    first_stop = hosts.stopped[: len(hosts.stopped) // 2]
    assert any(host == "server" and "server" in names for host, names, _ in first_stop), (
        hosts.stopped
    )


def test_a_near_miss_is_measured_again_a_clear_shortfall_is_not(tmp_path: Path) -> None:
    store, _ = run_sweep(tmp_path, {1: "near-miss"}, **ONE_POINT)
    assert [(r.status, r.near_miss) for r in store.records] == [
        ("client-limited", True),
        ("ok", False),
    ]
    store, _ = run_sweep(tmp_path, {1: "far-behind"}, **ONE_POINT)
    assert [(r.status, r.near_miss) for r in store.records] == [("client-limited", False)]


def test_without_idle_connections_or_warm_up_those_phases_are_absent(tmp_path: Path) -> None:
    store, _ = run_sweep(tmp_path, {}, **{**ONE_POINT, "idle_connections": (0,), "warmup": 0.0})
    [record] = store.records
    assert list(record.phases) == ["start", "measure", "stop", "cooldown"]
    assert record.warmup_seconds is None
    assert set(record.agents["client1"]) == {"load"}


def test_agent_results_are_checked_one_problem_per_agent() -> None:
    good = json.dumps(agent_result())
    finished = {
        "client1": Finished("load", 0, good, ""),
        "client2": Finished("load", None, "", "", ssh_error="ssh 198.18.0.12:22: no answer"),
        "client3": Finished("load", None, "", ""),
        "client4": Finished("load", 1, "not json", "Traceback"),
        "client5": Finished("load", 1, json.dumps({"error": "cannot connect"}), ""),
    }
    results, problems = check_load(finished, "load", 60.0, overran=False)
    assert set(results) == {"client1", "client5"}
    assert problems == [
        "client2: ssh 198.18.0.12:22: no answer",
        "client3: load agent: no exit status",
        "client4: load agent died without a result (exit status 1: Traceback)",
        "client5: load agent: cannot connect",
    ]
    _, problems = check_load({"client3": finished["client3"]}, "load", 60.0, overran=True)
    assert problems == ["client3: load agent overran 60 s and was stopped"]
    assert check_load({"client1": finished["client1"]}, "load", 60.0, overran=False)[1] == []


def test_start_lateness_is_the_latest_agents_for_the_named_instant() -> None:
    def decoded(result: dict[str, Any]) -> LoadResult:
        return LoadResult.from_json(result)

    early = agent_result()
    late = agent_result()
    late["warmup"]["start_lateness_s"] = 0.4
    assert start_lateness({"a": decoded(early)}) == 0.0
    assert start_lateness({"a": decoded(early), "b": decoded(late)}) == 0.4
    assert start_lateness({"a": decoded({"start_lateness_s": None})}) == 0.0
    # After a warm-up, the warm-up's start was the named instant; without one, the measurement's.
    late_measurement = agent_result()
    late_measurement["start_lateness_s"] = 0.3
    assert start_lateness({"a": decoded(late_measurement)}) == 0.0
    assert start_lateness({"a": decoded({"start_lateness_s": 0.3})}) == 0.3


# Every faked point serves 8 x 194 = 1,551 replies/s, whatever it is offered.
LADDER: dict[str, Any] = {
    **ONE_POINT,
    "idle_connections": (0,),
    "rates": (1000.0, 1500.0, 2000.0, 2500.0, 3000.0),
    "repetitions": 1,
}


def test_a_knee_search_stops_a_curve_after_two_points_that_fell_behind(tmp_path: Path) -> None:
    store, _ = run_sweep(tmp_path, {}, whole_plan=True, knee=True, **LADDER)
    # 2,000 serves 78 %, 2,500 62 %: saturated; 3,000 is never run
    assert [r.point.rate for r in store.records] == [1000, 1500, 2000, 2500]
    [ending] = store.settings["curve_endings"].values()
    assert (ending["ended_by"], ending["rate"]) == (SATURATED, 2500)
    assert "served 78 % at 2,000 and 62 % at 2,500" in ending["evidence"]
    assert all(r.status == "ok" for r in store.records)  # the server's CPU is unknown here
    # without the knee search, every rate runs
    store, _ = run_sweep(tmp_path, {}, whole_plan=True, knee=False, **LADDER)
    assert [r.point.rate for r in store.records] == [1000, 1500, 2000, 2500, 3000]


def test_a_knee_search_stops_a_curve_where_its_clients_fell_behind(tmp_path: Path) -> None:
    store, _ = run_sweep(tmp_path, {2: "far-behind"}, whole_plan=True, knee=True, **LADDER)
    assert [(r.point.rate, r.status) for r in store.records] == [
        (1000, "ok"),
        (1500, "client-limited"),
    ]
    [ending] = store.settings["curve_endings"].values()
    assert (ending["ended_by"], ending["rate"]) == (CLIENT_LIMITED, 1500)
    assert "request-rate-below-target on 8 clients" in ending["evidence"]
    capacity = store.settings["client_capacity"]
    assert capacity["kept_up"] == 1000 and capacity["fell_behind"] == 1500
    assert capacity["issued"] == pytest.approx(8 * 100.0)  # what the agents issued, behind


def test_a_server_at_its_cores_limit_serving_short_is_saturated(tmp_path: Path) -> None:
    """The same ladder with the server's CPU pegged: its points short of the offered rate are
    saturated, stored with the CPU use that decided it, and the curve ends on that evidence."""
    store, _ = run_sweep(tmp_path, {}, whole_plan=True, knee=True, cpu_share=1.0, **LADDER)
    assert [(r.point.rate, r.status) for r in store.records] == [
        (1000, "ok"),
        (1500, "ok"),
        (2000, "saturated"),  # 78 %, every client on time: one may be a dip
        (2500, "saturated"),
    ]
    record = store.records[2]
    cpu = ServerCpu.from_server(record.server)
    assert cpu is not None and (cpu.cores, cpu.cores_given) == (1, 1)  # pinned to CPU 0
    assert cpu.busy == pytest.approx(1.0, rel=0.01) and cpu.window_seconds > 0
    assert record.reason.startswith("server at 100 % of its 1 core over the 4 s load")
    assert not record.near_miss
    [ending] = store.settings["curve_endings"].values()
    assert (ending["ended_by"], ending["rate"]) == (SATURATED, 2500)
    assert "at 2,500: server at 100 % of its 1 core" in ending["evidence"]
    # the clients kept up everywhere: a saturated point is not them falling behind
    capacity = store.settings["client_capacity"]
    assert capacity["fell_behind"] is None and capacity["kept_up"] == 2500


def test_a_client_shortfall_with_the_server_idling_stays_client_limited(tmp_path: Path) -> None:
    store, _ = run_sweep(
        tmp_path, {2: "far-behind"}, whole_plan=True, knee=True, cpu_share=0.3, **LADDER
    )
    assert [(r.point.rate, r.status) for r in store.records] == [
        (1000, "ok"),
        (1500, "client-limited"),
    ]
    assert "server at 30 % of its 1 core" in store.records[1].reason
    assert "with headroom" in store.records[1].reason


def test_the_profiling_pass_runs_after_the_plan_and_never_touches_a_curve(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A curve the knee search ended still gets its profiling point, CPU-timed and with the
    pass's duration, planned only once the throughput points ran; the curve's ending and the
    clients' capacity are the throughput points' alone."""
    lab = lab_with(
        knee=True,
        profile=ProfilePass(("one-byte",), (0,), None, 2.0),
        **LADDER,
    )
    clock = Clock()
    hosts = FakeHosts(clock)
    store = FakeStore()
    runner = runner_for(lab, clock, hosts, store)
    plan = list(enumerate(expand(lab.experiment, seed=1)))
    planned_after: list[int] = []
    commands_seen: list[str] = []
    original = runner.points.server.select

    def select(point: Point) -> str:
        command = original(point)
        commands_seen.append(command)
        return command

    monkeypatch.setattr(runner.points.server, "select", select)

    def then() -> list[tuple[int, Point]]:
        planned_after.append(len(store.records))  # planned once the plan's points are stored
        profiled = Point("epoll-et", "one-byte", 0, None, 1500.0, 1, profiling=True)
        return [(len(plan), profiled)]

    sweep = Sweep("s1", lab.name, "d", 1, "running", clock.now, None, len(plan) + 1, "manual")
    curves = Curves(True, lab.experiment.repeat_top)
    runner.run(sweep, plan, len(plan) + 1, curves, then=then)
    throughput = [r for r in store.records if not r.point.profiling]
    [profiled] = [r for r in store.records if r.point.profiling]
    assert planned_after == [len(throughput)] and store.records[-1] is profiled
    assert profiled.status == "ok" and profiled.point.key.endswith("/profile")
    # The curve had ended (saturated at 2,500) and the pass ran on it all the same.
    [ending] = store.settings["curve_endings"].values()
    assert (ending["ended_by"], ending["rate"]) == (SATURATED, 2500)
    assert len(curves.offered) == len(throughput)  # the capacity never saw the pass
    assert "--syscall-timing cpu" in commands_seen[-1]
    assert all("--syscall-timing wall" in command for command in commands_seen[:-1])
    submitted = hosts.submitted["client1"]
    assert submitted is not None and submitted.duration == 2
