"""The `network:` section: WAN profiles, who gets them, the plan's `network` axis, and every bad
input as one line naming file, field and value."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import pytest
import yaml

from orchestrator.config.labfile import load_lab
from orchestrator.config.model import LAN
from orchestrator.config.plan import expand, plan_digest
from orchestrator.config.units import parse_percent, parse_rate
from orchestrator.errors import ConfigError
from tests.support.labfiles import REPOSITORY, default_lab, resolved, write_lab

WAN = {
    "profiles": {"wan-50ms": {"delay": "25ms", "jitter": "1ms", "loss": "0.1%", "rate": "100mbit"}}
}


def lab_with(directory: Path, network: Any, axis: Any = None) -> Path:
    experiment = yaml.safe_load((REPOSITORY / "lab.yml").read_text())["experiment"]
    if axis is not None:
        experiment["network"] = axis
    return write_lab(directory, lab_changes={"network": network, "experiment": experiment})


def problems(path: Path) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_lab(path, routes=list)
    assert caught.value.exit_code == 2
    return caught.value.problems


def test_an_axis_sweeps_every_profile_over_every_client(tmp_path: Path) -> None:
    lab = resolved(load_lab(lab_with(tmp_path, WAN, axis=["lan", "wan-50ms"]), routes=list))
    wan = lab.network.profiles["wan-50ms"]
    assert (wan.delay, wan.jitter, wan.loss, wan.rate) == (0.025, 0.001, 0.001, 100_000_000)
    assert wan.expected_rtt == pytest.approx(0.05)
    assert lab.experiment.network == ("lan", "wan-50ms")
    points = expand(lab.experiment, seed=1)
    plain = expand(default_lab(routes=list).experiment, seed=1)
    assert len(points) == 2 * len(plain)
    assert {p.network for p in points} == {"lan", "wan-50ms"}
    assert all(p.key.endswith(f"/net={p.network}") for p in points)
    # a profile's points run together: the profile changes once per group, not per point
    changes = sum(1 for a, b in itertools.pairwise(points) if a.network != b.network)
    groups = len(points) // len(lab.experiment.mechanisms) // len(lab.experiment.rates)
    assert changes < groups
    client = lab.clients[0]
    assert lab.network.profile_for(client, "wan-50ms") is wan
    assert lab.network.label(lab.clients, "lan") == LAN


def test_subnets_and_clients_assign_profiles_without_an_axis(tmp_path: Path) -> None:
    network = {**WAN, "subnets": {"a": "wan-50ms"}, "clients": {"client1": "lan"}}
    lab = resolved(load_lab(lab_with(tmp_path, network), routes=list))
    names = [lab.network.profile_for(client).name for client in lab.clients]
    assert names == ["lan", "wan-50ms", "wan-50ms", "wan-50ms"] + ["lan"] * 4
    assert lab.network.label(lab.clients) == "lan+wan-50ms"
    assert {p.network for p in expand(lab.experiment, seed=1)} == {""}


def test_labs_without_wan_keep_their_plan_digest_and_keys(tmp_path: Path) -> None:
    default = default_lab(routes=list)
    assert not default.experiment.network
    assert all("/net=" not in p.key for p in expand(default.experiment, seed=1))
    wan = load_lab(lab_with(tmp_path, WAN, axis=["wan-50ms"]), routes=list)
    assert plan_digest(wan) != plan_digest(default)


@pytest.mark.parametrize(
    ("profile", "field", "shown", "expected"),
    [
        ({"delay": "-5ms"}, "delay", "'-5ms'", "delay >= 0"),
        ({"delay": 25}, "delay", "25", "unit"),
        ({"loss": "150%"}, "loss", "'150%'", "0% to 100%"),
        ({"loss": 0.1}, "loss", "0.1", "percentage"),
        ({"rate": 100}, "rate", "100", "with its unit"),
        ({"rate": "100"}, "rate", "'100'", "with its unit"),
        ({"jitter": "2 furlongs"}, "jitter", "'2 furlongs'", "duration"),
    ],
)
def test_a_bad_profile_value_is_one_line(
    tmp_path: Path, profile: dict[str, Any], field: str, shown: str, expected: str
) -> None:
    network = {"profiles": {"wan": profile}}
    [problem] = problems(lab_with(tmp_path, network, axis=["wan"]))
    assert "lab.yml:" in problem and f"network.profiles.wan.{field}" in problem
    assert shown in problem and expected in problem


def test_a_profile_nothing_uses_is_an_error(tmp_path: Path) -> None:
    [problem] = problems(lab_with(tmp_path, WAN))
    assert "network.profiles.wan-50ms" in problem and "never used" in problem


def test_an_axis_naming_an_unknown_profile_is_an_error(tmp_path: Path) -> None:
    [problem] = problems(lab_with(tmp_path, {}, axis=["lan", "wan-5oms"]))
    assert "experiment.network[1]" in problem or "experiment.network.1" in problem
    assert "'wan-5oms'" in problem and "no such profile" in problem


@pytest.mark.parametrize(
    ("network", "expected"),
    [
        ({**WAN, "subnets": {"c": "wan-50ms"}}, "network.subnets.c"),
        ({**WAN, "clients": {"client9": "wan-50ms"}}, "network.clients.client9"),
        ({"subnets": {"a": "wan-100ms"}}, "network.subnets.a"),
        ({"profiles": {"lan": {"delay": "1ms"}}, "subnets": {"a": "lan"}}, "built in"),
    ],
)
def test_bad_assignments_name_the_place(tmp_path: Path, network: Any, expected: str) -> None:
    [problem] = problems(lab_with(tmp_path, network))
    assert expected in problem


def test_an_axis_beside_assignments_is_refused(tmp_path: Path) -> None:
    network = {**WAN, "subnets": {"a": "wan-50ms"}}
    [problem] = problems(lab_with(tmp_path, network, axis=["lan", "wan-50ms"]))
    assert "network.subnets" in problem and "experiment.network" in problem


def test_units() -> None:
    assert parse_rate("100mbit") == 100_000_000
    assert parse_rate("1.5gbit") == 1_500_000_000
    assert parse_percent("0.1%") == pytest.approx(0.001)
    for bad in ("100", "100mbps", "", "-1mbit"):
        with pytest.raises(ValueError, match="unit"):
            parse_rate(bad)


def test_the_emulator_is_auto_unless_the_lab_file_chooses(tmp_path: Path) -> None:
    lab = load_lab(lab_with(tmp_path, WAN, axis=["lan", "wan-50ms"]), routes=list)
    assert lab.network.emulator == "auto"
    forced = load_lab(
        lab_with(tmp_path, {**WAN, "emulator": "userspace"}, ["wan-50ms"]), routes=list
    )
    assert forced.network.emulator == "userspace"


def test_a_bad_emulator_is_one_line(tmp_path: Path) -> None:
    (line,) = problems(lab_with(tmp_path, {**WAN, "emulator": "dummynet"}, ["wan-50ms"]))
    assert "network.emulator" in line and "'dummynet'" in line
    assert "expected one of auto, netem, userspace" in line


def test_linkem_is_for_labs_built_here(tmp_path: Path) -> None:
    path = lab_with(tmp_path, {**WAN, "emulator": "userspace"}, ["wan-50ms"])
    text = path.read_text().replace("emulate: true", "emulate: false")
    path.write_text(text)
    (line,) = problems(path)
    assert "network.emulator" in line and "labs built on this machine only" in line
