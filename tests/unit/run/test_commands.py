"""The command lines the sweep sends to hosts, checked as strings (they are pure functions)."""

from __future__ import annotations

import dataclasses
import shlex
import subprocess
from pathlib import Path
from typing import Any

import pytest

from orchestrator.config.model import Lab, ServerCpuLimit
from orchestrator.config.plan import Point
from orchestrator.lab.cpucap import CAP_SCRIPT
from orchestrator.run import commands
from orchestrator.run.commands import LoadRun
from tests.support.agents import fake_ss
from tests.support.labfiles import default_lab

POINT = Point("epoll-et", "one-byte", 0, None, 2000.0, 1)


@pytest.fixture(scope="module")
def lab() -> Lab:
    return default_lab(routes=lambda: [])


def run(point: Point = POINT, **changes: object) -> LoadRun:
    fields: dict[str, Any] = dict(
        point=point,
        share=250.0,
        duration=5.0,
        warmup=1.0,
        timeout=2.0,
        session_length=5.0,
        starvation_check=True,
    )
    fields.update(changes)
    return LoadRun(**fields)


def test_the_server_command(lab: Lab) -> None:
    assert commands.server_command(lab, POINT) == (
        "server/userver --mechanism epoll-et --accept-limit inf --port 8080 --docroot docroot"
        " --metrics-address 198.18.0.10 --metrics-port 9180 --syscall-timing wall"
    )


def test_a_profiling_sweep_asks_the_server_for_each_call_s_cpu_time(lab: Lab) -> None:
    experiment = dataclasses.replace(lab.experiment, syscall_timing="cpu")
    profiling = dataclasses.replace(lab, experiment=experiment)
    assert commands.server_command(profiling, POINT).endswith("--syscall-timing cpu")


def test_a_real_lab_pins_the_server_with_taskset(lab: Lab) -> None:
    real = dataclasses.replace(lab, emulate=False)
    assert commands.server_command(real, POINT).startswith("taskset -c 0 server/userver ")


def test_a_capped_server_starts_in_its_labs_cgroup_then_pinned(lab: Lab) -> None:
    capped = dataclasses.replace(lab, emulate=False, server_cpu=ServerCpuLimit(0.4))
    words = shlex.split(commands.server_command(capped, POINT))
    assert words[:3] == ["sh", "-c", CAP_SCRIPT]
    # $0, then the cgroup, the quota and the period in us: 4 ms of every 10 ms
    assert words[3:7] == ["cpucap", f"testbed-{lab.name}-server", "4000", "10000"]
    assert words[7:11] == ["taskset", "-c", "0", "server/userver"]
    assert commands.server_words(lab) == []  # not capped, emulated: nothing before it


def test_a_client_loads_its_own_server_address(lab: Lab) -> None:
    words = shlex.split(commands.load_service_command(lab, lab.host("client5")))
    assert words[:3] == ["/usr/bin/python3", "-m", "agents.load.service"]
    assert words[words.index("--server") + 1] == "198.18.2.1"  # subnet b, never the other NIC
    assert words[words.index("--metrics-address") + 1] == lab.host("client5").management
    # what no run may say is fixed on the service's command line: files, and the key's file
    assert words[words.index("--sessions") + 1] == commands.SESSIONS_FILE
    assert words[words.index("--control-key-file") + 1] == commands.KEY_FILE == "run/control.key"
    request = commands.load_run_request(lab, lab.host("client5"), "3-1", run())
    assert request.rate == 250 and request.starved_below == 90
    assert request.cpus is None  # emulated hosts are pinned through their sshd


def test_a_real_lab_pins_a_run_s_httperf_to_its_client_s_cpus(lab: Lab) -> None:
    real = dataclasses.replace(lab, emulate=False)
    host = real.host("client1")
    request = commands.load_run_request(real, host, "3-1", run())
    assert host.cpus and request.cpus == tuple(host.cpus)


def test_sessions_take_the_share_over_the_trace_s_session_length(lab: Lab) -> None:
    point = dataclasses.replace(POINT, workload="specweb99")
    request = commands.load_run_request(lab, lab.host("client1"), "3-1", run(point))
    assert request.rate == 50  # 250 requests/s over 5 per session
    assert request.workload == "specweb99"


def test_shared_client_cpus_turn_the_starvation_check_off(lab: Lab) -> None:
    request = commands.load_run_request(
        lab, lab.host("client1"), "3-1", run(starvation_check=False)
    )
    assert request.starved_below == 0


def test_idle_connections_go_to_the_client_s_server_address(lab: Lab) -> None:
    words = shlex.split(commands.idle_service_command(lab, lab.host("client2")))
    assert words[:3] == ["/usr/bin/python3", "-m", "agents.idle.service"]
    assert words[words.index("--server") + 1] == "198.18.1.1"
    assert words[words.index("--metrics-port") + 1] == "9182"
    assert words[words.index("--control-key-file") + 1] == commands.KEY_FILE
    # its descriptor limit's bound: the largest share of the plan's idle counts
    most = max(lab.experiment.idle_counts)
    assert words[words.index("--max-connections") + 1] == str(-(-most // len(lab.clients)))


def test_a_directory_with_a_space_stays_one_word(lab: Lab) -> None:
    host = dataclasses.replace(lab.server, directory="/srv/test bed")
    spec = lab.experiment.specweb99
    assert commands.fileset_command(host, spec).startswith("cd '/srv/test bed' && ")


def test_the_cooldown_waits_at_most_its_maximum() -> None:
    assert "-ge 3000 ]" in commands.cooldown_script(3.0)


def test_the_cooldown_reads_one_socket_while_waiting_and_counts_them_once(tmp_path: Path) -> None:
    env = {"PATH": f"{fake_ss(tmp_path, 3000)}:/usr/bin:/bin"}
    done = subprocess.run(
        ["sh", "-c", commands.cooldown_script(0.5)], env=env, capture_output=True, text=True
    )
    left, waited = done.stdout.split()
    assert int(left) == 3000 and 500 <= int(waited) < 2000, done.stdout + done.stderr
    calls = (tmp_path / "calls").read_text().splitlines()
    # several looks while waiting, each stopped at the first socket; one whole listing, last
    assert calls.count("call") >= 3 and calls[-2:] == ["call", "listed 3000"], calls
    assert sum(line.startswith("listed") for line in calls) == 1, calls


def test_the_cooldown_ends_at_once_without_time_wait_sockets(tmp_path: Path) -> None:
    env = {"PATH": f"{fake_ss(tmp_path, 0)}:/usr/bin:/bin"}
    done = subprocess.run(
        ["sh", "-c", commands.cooldown_script(5.0)], env=env, capture_output=True, text=True
    )
    left, waited = done.stdout.split()
    assert int(left) == 0 and int(waited) < 1000
