"""`orchestrate up` for real on an emulated lab: a short sweep checked against the server's own
counters, faults injected by killing a real agent and the real server mid-point, the
orchestrator killed with SIGKILL and resumed, Ctrl-C, and a changed plan.

On the session's shared lab (tests/functional/conftest.py): each test writes a lab file of its
own, with its own store.
"""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import sqlite3
import subprocess
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from orchestrator.config.labfile import load_lab
from orchestrator.config.model import Host, Lab
from orchestrator.lab.wiring import namespace_pids
from orchestrator.naming import namespace
from orchestrator.ports import LOAD_METRICS_PORT
from tests.support.labtools import orchestrate, pid_alive, start_orchestrate
from tests.support.sharedlab import SharedLab, stop_prometheus

SHORT = {
    "mechanisms": ["epoll-et", "poll"],
    "workloads": ["one-byte"],
    "idle_connections": [0],
    "accept_limits": ["inf"],
    "rates": [1600, 3200],  # 200-400 req/s per client: one late connection is 0.1 % of a run
    "duration": "4s",
    "warmup": "1s",
    "repetitions": 1,
    "cooldown": {"max": "1s"},
    "timeout": "2s",
    "retries": 1,
    "specweb99": {"directories": 1, "seed": 3},
}


@dataclass(frozen=True)
class ModuleLab:
    """Where this module's lab files go, on the shared lab."""

    shared: SharedLab
    directory: Path

    @property
    def state(self) -> Path:
        return self.shared.state


@pytest.fixture(scope="module")
def lab_dir(
    on_shared_lab: SharedLab,
    tmp_path_factory: pytest.TempPathFactory,
) -> ModuleLab:
    return ModuleLab(on_shared_lab, tmp_path_factory.mktemp("sweep"))


@pytest.fixture(autouse=True)
def stop_prometheus_after_each_test(lab_dir: ModuleLab) -> Iterator[None]:
    """Each lab file has its own results directory and so its own Prometheus; several of them
    scraping the same hosts every second would load the machine the tests measure on."""
    yield
    stop_prometheus(sorted(lab_dir.directory.glob("*.yml")))


# The tests that check sequencing (faults, resume, Ctrl-C, a changed plan) need points, not
# long ones: the short sweep's own test keeps SHORT's 4 s to check the numbers.
SEQUENCING: dict[str, Any] = {"duration": "2s", "warmup": "0s"}


def with_experiment(lab_dir: ModuleLab, name: str, **changes: Any) -> Path:
    """A lab file of the module's: the shared lab, its own experiment and results directory."""
    return lab_dir.shared.lab_file(lab_dir.directory, name, {**SHORT, **changes})


def wait_for(condition: Callable[[], bool], process: subprocess.Popen[Any]) -> None:
    while not condition():
        assert process.poll() is None, "the sweep ended before the test could act"
        time.sleep(0.2)


def points(lab_file: Path) -> list[dict[str, Any]]:
    lab = load_lab(lab_file)
    if not (lab.results_directory / "testbed.sqlite").exists():
        return []
    with sqlite3.connect(lab.results_directory / "testbed.sqlite") as db:
        db.row_factory = sqlite3.Row
        return [dict(row) for row in db.execute("SELECT * FROM points ORDER BY seq")]


def attempts(lab_file: Path) -> list[dict[str, Any]]:
    lab = load_lab(lab_file)
    if not (lab.results_directory / "testbed.sqlite").exists():
        return []
    with sqlite3.connect(lab.results_directory / "testbed.sqlite") as db:
        db.row_factory = sqlite3.Row
        return [dict(row) for row in db.execute("SELECT * FROM attempts ORDER BY started_at")]


LAB_DAEMONS = (b"sshd", b"prometheus-node-exporter")  # the hosts' own, meant to stay


def our_processes(lab: Lab) -> list[int]:
    """Processes a sweep started on the lab's hosts and left behind (anything but the hosts'
    sshd and node exporter)."""
    found = []
    for host in lab.hosts:
        for pid in namespace_pids(namespace(lab.name, host.name)):
            try:
                command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0]
            except OSError:
                continue
            if not any(name in command for name in LAB_DAEMONS) and pid_alive(pid):
                found.append(pid)
    return found


def test_a_short_sweep_stores_every_point_and_agrees_with_the_server(
    lab_dir: ModuleLab,
) -> None:
    lab_file = with_experiment(lab_dir, "short")
    started = time.monotonic()
    result = orchestrate("up", str(lab_file), state=lab_dir.state)
    print(result.stdout[-3000:], f"wall {time.monotonic() - started:.0f} s")
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr
    stored = points(lab_file)
    assert len(stored) == 4 and len({p["key"] for p in stored}) == 4
    assert [p["status"] for p in stored] == ["ok"] * 4, [(p["key"], p["reason"]) for p in stored]
    for point in stored:
        assert point["replies"] > 0
        assert abs(point["replies"] - point["server_replies"]) <= 0.01 * point["server_replies"]
        assert point["request_rate"] == pytest.approx(point["target_rate"], rel=0.02)
        # Where its time went: every phase, in order, adding up to its wall time.
        phases = json.loads(point["phases"])
        assert list(phases) == ["start", "warmup", "measure", "stop", "cooldown"]
        assert all(seconds >= 0 for seconds in phases.values())
        wall = point["ended_at"] - point["started_at"]
        assert sum(phases.values()) == pytest.approx(wall, rel=0.01)
        assert phases["measure"] >= point["measure_seconds"] >= 4.0
        assert phases["cooldown"] == point["cooldown_seconds"]
    assert "time per phase (mean)" in result.stdout
    with sqlite3.connect(load_lab(lab_file).results_directory / "testbed.sqlite") as db:
        syscalls = dict(db.execute("SELECT syscall, SUM(calls) FROM syscalls GROUP BY syscall"))
    assert {"accept4", "read", "close", "epoll_wait", "poll"} <= set(syscalls)
    assert "measurement fraction" in result.stdout

    exported = orchestrate("export", str(load_lab(lab_file).results_directory), state=lab_dir.state)
    assert exported.returncode == 0, exported.stderr
    rows = list(csv.DictReader(io.StringIO(exported.stdout)))
    assert [row["point"] for row in rows] == [p["key"] for p in stored]
    for column in (
        "sweep",
        "mechanism",
        "workload",
        "idle_connections",
        "accept_limit",
        "target_rate",
        "repetition",
        "status",
        "reason",
        "request_rate",
        "reply_rate",
        "reply_rate_stddev",
        "errors_total",
        "client_timeouts",
        "started_at",
        "ended_at",
        "cooldown_seconds",
        "phase_start_seconds",
        "phase_idle_seconds",
        "phase_warmup_seconds",
        "phase_measure_seconds",
        "phase_stop_seconds",
        "phase_cooldown_seconds",
    ):
        assert column in rows[0]
    assert all(float(row["phase_measure_seconds"]) >= 4.0 for row in rows)
    assert all(row["phase_idle_seconds"] == "" for row in rows)  # no idle connections here
    assert not our_processes(load_lab(lab_file))


class Killer(threading.Thread):
    """Kills the process of `pid_file`, once, `after` s after `trigger()` first holds (by
    default: once the pid file appears fresh)."""

    def __init__(
        self, pid_file: Path, after: float, trigger: Callable[[], bool] | None = None
    ) -> None:
        super().__init__(daemon=True)
        self.pid_file, self.after = pid_file, after
        started = time.time()
        self.trigger = trigger or (lambda: fresh(pid_file, started))
        self.killed: int | None = None
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            if self.trigger():
                time.sleep(self.after)
                pid = int(self.pid_file.read_text())
                os.kill(pid, signal.SIGKILL)
                self.killed = pid
                return
            time.sleep(0.05)


def fresh(path: Path, since: float) -> bool:
    try:
        return path.stat().st_mtime > since
    except FileNotFoundError:
        return False


def load_running(host: Host) -> bool:
    """Whether `host`'s load service is running a load (its own phase gauge says so)."""
    try:
        url = f"http://{host.management}:{LOAD_METRICS_PORT}/metrics"
        with urllib.request.urlopen(url, timeout=1.0) as response:
            return 'testbed_load_phase{phase="running"} 1.0' in response.read().decode()
    except OSError:
        return False


def test_a_killed_agent_and_a_killed_server_fail_their_point_which_is_retried(
    lab_dir: ModuleLab,
) -> None:
    lab_file = with_experiment(
        lab_dir,
        "faults",
        rates=[1600],
        mechanisms=["epoll-lt", "select"],
        retries=2,
        duration="2s",  # with SHORT's 1 s warm-up: the killers strike 1 s into a 3 s load
    )
    lab = load_lab(lab_file)
    client_run = Path(lab.clients[2].directory) / "run"
    server_run = Path(lab.server.directory) / "run"
    # client3's load service dies half-way through the first point's run.
    agent_killer = Killer(client_run / "load.pid", 1.0, lambda: load_running(lab.clients[2]))
    agent_killer.start()
    log = lab_file.parent / "faults.log"
    process = start_orchestrate("up", str(lab_file), state=lab_dir.state, log=log)
    # Once that point failed and its retry is stored, the server dies during the next point.
    wait_for(lambda: len(attempts(lab_file)) >= 2, process)
    server_killer = Killer(server_run / "server.pid", 1.0, lambda: load_running(lab.clients[2]))
    server_killer.start()
    process.wait(timeout=600)
    output = log.read_text()
    agent_killer.stop.set()
    server_killer.stop.set()
    print(output[-3000:])
    assert agent_killer.killed and server_killer.killed
    assert process.returncode == 0, output[-2000:]
    tries = attempts(lab_file)
    failed = [a for a in tries if a["status"] == "failed"]
    assert len(failed) == 2, tries
    assert failed[0]["reason"] == (
        "client3: load service died (killed by SIGKILL; its log: run/load.err on client3)"
    )
    assert "server" in failed[1]["reason"] and "SIGKILL" in failed[1]["reason"]
    # Each point was measured on its retry (a near miss of the shared clients may take one
    # more attempt, and a client-limited verdict is a measurement too: not what this test is
    # about); nothing stays failed.
    stored = points(lab_file)
    for point in stored:
        assert point["status"] in ("ok", "client-limited"), point["reason"]
        assert point["attempts"] >= 2
    assert not our_processes(lab)


def test_a_sigkilled_orchestrator_resumes_without_duplicates(lab_dir: ModuleLab) -> None:
    lab_file = with_experiment(lab_dir, "resume", **SEQUENCING)
    lab = load_lab(lab_file)
    process = start_orchestrate(
        "up", str(lab_file), state=lab_dir.state, log=lab_file.parent / "killed.log"
    )
    store = lab.results_directory / "testbed.sqlite"
    wait_for(lambda: len(points(lab_file)) >= 1, process)
    time.sleep(3)  # into the next point: its server and agents run on the hosts
    process.send_signal(signal.SIGKILL)
    process.wait()
    before = {p["key"]: p["started_at"] for p in points(lab_file)}
    assert 1 <= len(before) < 4
    assert our_processes(lab), "the killed run should have left processes on the hosts"

    result = orchestrate("up", str(lab_file), state=lab_dir.state)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr
    assert "left by an earlier run" in result.stderr
    assert "resuming" in result.stdout
    # the lab was provisioned by an earlier test's `up`, and nothing it depends on changed since
    assert "provisioning: skipped" in result.stdout + result.stderr
    after = points(lab_file)
    assert len(after) == 4 and len({p["key"] for p in after}) == 4
    assert all(p["status"] == "ok" for p in after)
    for key, started in before.items():  # stored points were not measured again
        assert next(p for p in after if p["key"] == key)["started_at"] == started
    with sqlite3.connect(store) as db:
        assert db.execute("SELECT COUNT(*) FROM sweeps").fetchone()[0] == 1
    assert not our_processes(lab)


def test_ctrl_c_stores_the_point_as_interrupted_and_exits_130(lab_dir: ModuleLab) -> None:
    lab_file = with_experiment(lab_dir, "interrupt", rates=[1600], **SEQUENCING)
    lab = load_lab(lab_file)
    log = lab_file.parent / "interrupted.log"
    process = start_orchestrate("up", str(lab_file), state=lab_dir.state, log=log)
    load_pid = Path(lab.clients[0].directory) / "run" / "load.pid"
    started = time.time()
    while not (load_pid.exists() and load_pid.stat().st_mtime > started):
        assert process.poll() is None
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=120) == 130, log.read_text()[-2000:]
    assert "error: interrupted: the point in progress is stored as interrupted" in log.read_text()
    [interrupted] = points(lab_file)
    assert interrupted["status"] == "interrupted"
    assert not our_processes(lab)

    # Resuming measures the interrupted point again and the one never started. Whether the eight
    # clients, sharing one CPU, kept up is the machine's business: client-limited is a measured
    # verdict too (with its reason), never interrupted or failed.
    result = orchestrate("up", str(lab_file), state=lab_dir.state)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr
    resumed = points(lab_file)
    assert len(resumed) == 2, resumed
    for point in resumed:
        assert point["status"] in ("ok", "client-limited"), point["reason"]
        assert point["status"] == "ok" or "client" in point["reason"], point["reason"]
        assert point["started_at"] > interrupted["started_at"]


def test_a_changed_plan_starts_a_new_sweep(lab_dir: ModuleLab) -> None:
    # the sweep finished above
    lab_file = with_experiment(lab_dir, "interrupt", rates=[1600], **SEQUENCING)
    with sqlite3.connect(load_lab(lab_file).results_directory / "testbed.sqlite") as db:
        db.execute("UPDATE sweeps SET status = 'interrupted'")  # as if it had not finished
    changed = with_experiment(lab_dir, "interrupt", rates=[1600], duration="3s", warmup="0s")
    result = orchestrate("up", str(changed), state=lab_dir.state)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr
    assert "changed since sweep" in result.stdout
    with sqlite3.connect(load_lab(changed).results_directory / "testbed.sqlite") as db:
        statuses = [row[0] for row in db.execute("SELECT status FROM sweeps ORDER BY started_at")]
    assert statuses == ["abandoned", "complete"]
