"""The command lines the sweep sends to hosts, checked as strings (they are pure functions)."""

from __future__ import annotations

import dataclasses
import shlex

import pytest

from orchestrator.config.labfile import load_lab
from orchestrator.config.model import Lab
from orchestrator.config.plan import Point
from orchestrator.run import commands
from orchestrator.run.commands import LoadRun
from tests.support.labfiles import REPOSITORY

POINT = Point("epoll-et", "one-byte", 0, None, 2000.0, 1)


@pytest.fixture(scope="module")
def lab() -> Lab:
    return load_lab(REPOSITORY / "lab.yml", routes=lambda: [])


def run(point: Point = POINT, **changes: object) -> LoadRun:
    fields: dict[str, object] = dict(
        point=point,
        share=250.0,
        duration=5.0,
        start_at=1000.25,
        timeout=2.0,
        session_length=5.0,
        starvation_check=True,
    )
    fields.update(changes)
    return LoadRun(**fields)  # type: ignore[arg-type]


def test_the_server_command(lab: Lab) -> None:
    assert commands.server_command(lab, POINT) == (
        "server/userver --mechanism epoll-et --accept-limit inf --port 8080 --docroot docroot"
        " --metrics-address 198.18.0.10 --metrics-port 9180"
    )


def test_a_real_lab_pins_the_server_with_taskset(lab: Lab) -> None:
    real = dataclasses.replace(lab, emulate=False)
    assert commands.server_command(real, POINT).startswith("taskset -c 0 server/userver ")


def test_a_client_loads_its_own_server_address(lab: Lab) -> None:
    words = shlex.split(commands.load_command(lab, lab.host("client5"), run()))
    assert words[words.index("--server") + 1] == "198.18.2.1"  # subnet b, never the other NIC
    assert words[words.index("--rate") + 1] == "250"
    assert words[words.index("--uri") + 1].startswith("/")
    assert "--starved-below" not in words


def test_sessions_take_the_share_over_the_trace_s_session_length(lab: Lab) -> None:
    point = dataclasses.replace(POINT, workload="specweb99")
    words = shlex.split(commands.load_command(lab, lab.host("client1"), run(point)))
    assert words[words.index("--rate") + 1] == "50"  # 250 requests/s over 5 per session
    assert words[words.index("--sessions") + 1] == commands.SESSIONS_FILE


def test_shared_client_cpus_turn_the_starvation_check_off(lab: Lab) -> None:
    command = commands.load_command(lab, lab.host("client1"), run(starvation_check=False))
    assert command.endswith("--starved-below 0")


def test_idle_connections_go_to_the_client_s_server_address(lab: Lab) -> None:
    words = shlex.split(commands.idle_command(lab, lab.host("client2"), 1250))
    assert words[:3] == ["/usr/bin/python3", "-m", "agents.idle"]
    assert words[words.index("--connections") + 1] == "1250"
    assert words[words.index("--server") + 1] == "198.18.1.1"


def test_a_directory_with_a_space_stays_one_word(lab: Lab) -> None:
    host = dataclasses.replace(lab.server, directory="/srv/test bed")
    spec = lab.experiment.specweb99
    assert commands.fileset_command(host, spec).startswith("cd '/srv/test bed' && ")


def test_the_cooldown_waits_at_most_its_maximum() -> None:
    assert "-ge 3000 ]" in commands.cooldown_script(3.0)
