"""The agents' archive that provisioning unpacks on every host holds each module the
orchestrator runs there with `python3 -m`, packages by their `__main__.py`."""

from __future__ import annotations

import shlex
import tarfile
from pathlib import Path

from orchestrator.config.model import SpecWeb99
from orchestrator.lab.staging import stage_sources
from orchestrator.run import commands
from tests.support.labfiles import REPOSITORY, default_lab


def modules_run_on_hosts() -> set[str]:
    """The `-m` module of every agent command the orchestrator builds for a host."""
    lab = default_lab(routes=lambda: [])
    client = lab.clients[0]
    spec = SpecWeb99(directories=1, seed=1)
    built = [
        commands.load_service_command(lab, client),
        commands.idle_service_command(lab, client),
        commands.fileset_command(lab.server, spec),
        commands.sessions_command(client, spec, 0, len(lab.clients)),
    ]
    found: set[str] = set()
    for command in built:
        words = shlex.split(command)
        found.update(words[i + 1] for i, word in enumerate(words[:-1]) if word == "-m")
    return found


def test_every_module_the_orchestrator_runs_on_a_host_is_in_the_archive(tmp_path: Path) -> None:
    modules = modules_run_on_hosts() | {"agents.load", "agents.idle", "agents.nginx"}
    assert {"agents.load.service", "agents.idle.service", "agents.workloads"} <= modules
    with tarfile.open(stage_sources(tmp_path) / "agents.tar") as archive:
        names = set(archive.getnames())
    for module in sorted(modules):
        path = module.replace(".", "/")
        package = (REPOSITORY / path).is_dir()
        wanted = f"{path}/__main__.py" if package else f"{path}.py"
        assert wanted in names, f"python3 -m {module}: no {wanted} in agents.tar"
        parents = module.split(".")[:-1] if not package else module.split(".")
        for depth in range(1, len(parents) + 1):
            init = "/".join(parents[:depth]) + "/__init__.py"
            assert init in names, f"python3 -m {module}: no {init} in agents.tar"
