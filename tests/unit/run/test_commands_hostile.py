"""Every command the orchestrator sends to a host, built with hostile values that got past
validation (as if it had a bug): each value stays one shell word, and running the command
through a real `sh` never runs what the value smuggled in.

Validation at load refuses all of these values (tests/unit/config/test_hostile_input.py); this
is the second wall. The hostile values try to create a file named `pwned` in the working
directory; the test runs every command there and checks that no such file ever appears.
"""

from __future__ import annotations

import dataclasses
import os
import shlex
import subprocess
from collections.abc import Callable, Iterable
from pathlib import Path

import pytest

from orchestrator.config.model import Host, Lab
from orchestrator.config.plan import Point
from orchestrator.lab import hostfacts, preflight
from orchestrator.lab.remote import CommandResult
from orchestrator.run import commands
from orchestrator.run.hostproc import RemoteProcesses
from tests.support.fakes import FakeRemote
from tests.support.labfiles import default_lab

MARKER = "pwned"
HOSTILE = [
    f"client1;touch {MARKER}",
    f"$(touch {MARKER})",
    f"`touch {MARKER}`",
    f"x\ntouch {MARKER}",
    f"x'; touch {MARKER}; '",
    f'x"; touch {MARKER}; "',
    f"x && touch {MARKER} #",
    f"x | touch {MARKER}",
    f"x > {MARKER}",
    "-x $HOME ~ * ?",
]


@pytest.fixture(scope="module")
def base_lab() -> Lab:
    return default_lab(routes=list)


@pytest.fixture
def work(tmp_path: Path) -> Path:
    """Where every command runs; stubs for the tools that would reach the network."""
    (tmp_path / "work").mkdir()
    stubs = tmp_path / "bin"
    stubs.mkdir()
    for tool in ("ip", "ping", "taskset", "ss"):
        (stubs / tool).write_text("#!/bin/sh\nexit 0\n")
        (stubs / tool).chmod(0o755)
    return tmp_path


def run_sh(script: str, work: Path) -> subprocess.CompletedProcess[str]:
    syntax = subprocess.run(["sh", "-n", "-c", script], capture_output=True, text=True)
    assert syntax.returncode == 0, f"not valid sh: {syntax.stderr}\n{script}"
    env = {**os.environ, "PATH": f"{work / 'bin'}:{os.environ['PATH']}"}
    env.pop("TESTBED_TAG", None)
    return subprocess.run(
        ["sh", "-c", script], cwd=work / "work", env=env, capture_output=True, text=True, timeout=60
    )


def nothing_ran(work: Path) -> None:
    found = [str(path) for path in work.rglob(MARKER)]
    assert not found, f"a hostile value ran: {found}"


def hostile_lab(lab: Lab, value: str, work: Path, *, emulate: bool = True) -> Lab:
    """The lab with `value` as every host's name, interpreter, directory and address. The
    directory exists (created under `work`), so a `cd` into it succeeds and what follows runs."""
    directory = work / "work" / "hosts" / value.replace("/", "_")
    directory.mkdir(parents=True, exist_ok=True)

    def hostile(host: Host) -> Host:
        return dataclasses.replace(
            host,
            name=value,
            python=value,
            directory=str(directory),
            management=value,
            cpus=(0, 1),
        )

    return dataclasses.replace(
        lab,
        emulate=emulate,
        server=hostile(lab.server),
        clients=tuple(hostile(client) for client in lab.clients),
    )


def one_word(command: str, values: Iterable[str]) -> None:
    words = shlex.split(command)
    for value in values:
        assert value in words, f"{value!r} is not one word of {words}"


POINT = Point("epoll-lt", "specweb99", 0, 10, 1000.0, 1)


def builders(lab: Lab) -> dict[str, Callable[[], str]]:
    client = lab.clients[0]
    spec = lab.experiment.specweb99
    return {
        "fileset": lambda: commands.fileset_command(lab.server, spec),
        "sessions": lambda: commands.sessions_command(client, spec, 0, 8),
        "server": lambda: commands.server_command(lab, POINT),
        "idle": lambda: commands.idle_service_command(lab, client),
        "load": lambda: commands.load_service_command(lab, client),
        "in_directory": lambda: commands.in_directory(client, "true"),
        "start": lambda: commands.start_command(client, 1.0, 2.0),
        "cooldown": lambda: commands.cooldown_script(0.1),
        "facts": lambda: hostfacts.FACTS_SCRIPT,
    }


@pytest.mark.parametrize("emulate", [True, False])
@pytest.mark.parametrize("value", HOSTILE)
def test_every_command_builder_keeps_hostile_values_one_word(
    base_lab: Lab, work: Path, value: str, emulate: bool
) -> None:
    lab = hostile_lab(base_lab, value, work, emulate=emulate)
    for name, build in builders(lab).items():
        command = build()
        if name in ("server", "idle", "load", "sessions", "fileset"):
            values = [lab.server.management] if name == "server" else [value]
            if name in ("idle", "load"):
                values.append(lab.clients[0].management)
            one_word(command, values)
        run_sh(command, work)
        nothing_ran(work)


@pytest.mark.parametrize("value", HOSTILE)
def test_preflight_probe_keeps_hostile_targets_one_word(work: Path, value: str) -> None:
    script = preflight.probe_script([value, "198.18.1.1"])
    done = run_sh(script, work)
    nothing_ran(work)
    probe = preflight.parse_probe(done.stdout)
    assert "198.18.1.1" in probe.routes


class LocalRemote(FakeRemote):
    """The Remote seam, running each script under a local `sh` in the test's directory."""

    def __init__(self, work: Path) -> None:
        super().__init__()
        self.work = work

    def answer(self, host: Host, command: str, stdin: str | None) -> CommandResult:
        done = run_sh(command, self.work)
        return CommandResult(host.name, command, done.returncode, done.stdout, done.stderr, None, 0)


@pytest.mark.parametrize("value", HOSTILE)
def test_host_processes_run_hostile_commands_without_running_their_values(
    base_lab: Lab, work: Path, value: str
) -> None:
    lab = hostile_lab(base_lab, value, work)
    remote = LocalRemote(work)
    procs = RemoteProcesses(remote, tag=value)
    client = lab.clients[0]
    load = commands.load_service_command(lab, client)
    procs.start_many("load", {client: load})
    done = procs.stop(client, ["load"], timeout=5)["load"]
    assert done.exit_code == 127  # the hostile interpreter is not a command: nothing else ran
    procs.start_many("idle", {client: commands.idle_service_command(lab, client)})
    procs.stop(client, ["idle"], timeout=5)
    procs.alive(client, "idle")
    procs.stop_all([client], grace=0.1)
    nothing_ran(work)


@pytest.mark.parametrize("name", ["x;id", "../x", "a b", "$(id)", ""])
def test_host_process_names_are_plain(base_lab: Lab, work: Path, name: str) -> None:
    procs = RemoteProcesses(LocalRemote(work), tag="t")
    with pytest.raises(ValueError):
        procs.start(base_lab.clients[0], name, "true")
    with pytest.raises(ValueError):
        procs.stop(base_lab.clients[0], [name], timeout=1)
