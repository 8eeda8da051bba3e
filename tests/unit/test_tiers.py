"""The tiers: a fast-tier test that starts a real server, agent or lab part is caught by what it
starts (tests/conftest.py), so it cannot forget to be in the slow tier."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import real_part


@pytest.mark.parametrize(
    ("args", "found"),
    [
        (["httperf", "--server", "127.0.0.1"], "httperf"),
        (["/usr/sbin/nginx", "-c", "x.conf"], "nginx"),
        (["taskset", "-c", "0", "/opt/testbed/server/build/userver"], "userver"),
        (
            [sys.executable, "-m", "agents.load.service", "--port", "1"],
            "python -m agents.load.service",
        ),
        (["unshare", "--net", "python3", "-m", "agents.idle"], "python -m agents.idle"),
        (["ip", "netns", "exec", "tb-server", "true"], "ip netns"),
        ("prometheus", "prometheus"),
    ],
)
def test_real_servers_agents_and_lab_parts_are_recognised(args: list[str], found: str) -> None:
    assert real_part(args) == found


@pytest.mark.parametrize(
    "args",
    [
        [sys.executable, "-m", "agents.workloads", "fileset"],  # writes files, serves nothing
        ["sh", "-c", "cd /x && exec userver --port 1"],  # a built command run through sh
        ["ip", "-j", "route"],
        ["ss", "-tan"],
    ],
)
def test_what_a_fast_test_may_start(args: list[str]) -> None:
    assert real_part(args) is None


def test_a_fast_test_that_starts_one_fails_naming_it_and_its_tier() -> None:
    with pytest.raises(AssertionError, match=r"starts httperf: .* slow tier"):
        subprocess.Popen(["httperf", "--version"])
