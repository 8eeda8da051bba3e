"""Shared fixtures, and the tiers: every test's markers come from its folder.

    tests/unit/, tests/agents/      the fast tier (`make check`): pure, no real server or agent
    tests/agents/live/, tests/server/   slow: real httperf, nginx, userver or agent processes
    tests/functional/               lab and slow: real emulated labs (sshd, Ansible, Prometheus)

A test cannot forget its tier: a fast-tier test that starts a real server, agent or lab part
fails at once, naming what it started and where such a test belongs
(`no_real_parts_in_the_fast_tier`).
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from tests.support.labtools import stop_background_orchestrators

TESTS = Path(__file__).resolve().parent
# (folder under tests/, markers its tests get)
TIERS = (
    (("functional",), ("lab", "slow")),
    (("server",), ("slow",)),
    (("agents", "live"), ("slow",)),
)
# What a fast-tier test may not start: the servers, load generators, agents and lab parts.
REAL_PROGRAMS = frozenset(
    {
        "httperf", "nginx", "userver", "wrk", "sshd", "prometheus", "prometheus-node-exporter",
        "ansible-playbook", "ansible-runner", "systemd-nspawn", "mmdebstrap", "chromium",
    }
)  # fmt: skip
REAL_MODULES = ("agents.load", "agents.idle", "agents.nginx")  # and their .service modules


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        parts = item.path.resolve().relative_to(TESTS).parts
        for folder, markers in TIERS:
            if parts[: len(folder)] == folder:
                for marker in markers:
                    item.add_marker(marker)


def real_part(args: Any) -> str | None:
    """What `args` (as given to subprocess.Popen) starts, if it is a real server, agent or lab
    part; None otherwise. Wrappers count (`taskset -c 0 userver`, `unshare -n python -m ...`);
    a shell's command line is one word and is not read (the hostile-command tests run built
    commands through `sh` with their programs missing or stubbed)."""
    argv: Sequence[str | bytes | os.PathLike[str]] = (
        [args] if isinstance(args, str | bytes | os.PathLike) else list(args)
    )
    words = [os.fsdecode(word) for word in argv]
    for index, word in enumerate(words):
        name = os.path.basename(word)
        if name in REAL_PROGRAMS:
            return name
        if word == "-m" and index + 1 < len(words) and words[index + 1].startswith(REAL_MODULES):
            return f"python -m {words[index + 1]}"
        if name == "ip" and words[index + 1 : index + 2] == ["netns"]:
            return "ip netns"
    return None


@pytest.fixture(autouse=True)
def no_real_parts_in_the_fast_tier(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Fail a fast-tier test the moment it starts a real server, agent or lab part."""
    if request.node.get_closest_marker("slow") or request.node.get_closest_marker("lab"):
        return
    started = subprocess.Popen.__init__

    def refuse(self: subprocess.Popen[Any], args: Any, *more: Any, **options: Any) -> None:
        what = real_part(args)
        if what is not None:
            raise AssertionError(
                f"{request.node.nodeid} starts {what}: a test that starts a real server, agent"
                " or lab part belongs in the slow tier (tests/agents/live/, tests/server/ or"
                " tests/functional/), not in the fast one (make check)"
            )
        started(self, args, *more, **options)

    monkeypatch.setattr(subprocess.Popen, "__init__", refuse)


@pytest.fixture(autouse=True)
def no_orchestrator_outlives_its_test() -> Iterator[None]:
    yield
    stop_background_orchestrators()


@pytest.fixture
def state_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private TESTBED_STATE_DIR for the test."""
    state = tmp_path / "state"
    monkeypatch.setenv("TESTBED_STATE_DIR", str(state))
    return state
