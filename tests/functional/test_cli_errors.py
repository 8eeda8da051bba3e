"""Bad input through the real CLI: one line per problem, exit 2, nothing created."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.config.routes import machine_routes
from tests.support.labfiles import REPOSITORY, write_lab
from tests.support.labtools import free_third_octet, links, namespaces, orchestrate

SUBCOMMANDS = [["lab", "up"], ["preflight"], ["provision"], ["up"]]


def assert_refused(args: list[str], state: Path, *expected: str) -> None:
    before = (set(namespaces()), set(links()))
    result = orchestrate(*args, state=state)
    assert result.returncode == 2, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == len(expected), lines
    for line, fragment in zip(lines, expected, strict=True):
        assert line.startswith("error: ") and fragment in line, line
    assert "Traceback" not in result.stderr
    assert (set(namespaces()), set(links())) == before
    assert not state.exists()


@pytest.mark.parametrize("subcommand", SUBCOMMANDS)
def test_bad_mechanism_is_refused_by_every_subcommand(
    tmp_path: Path, subcommand: list[str]
) -> None:
    path = write_lab(tmp_path, name="tbtest-bad")
    path.write_text(path.read_text().replace("- epoll-et", "- epoll_et"))
    assert_refused(
        [*subcommand, str(path)],
        tmp_path / "state",
        "experiment.mechanisms[3]: 'epoll_et': expected one of",
    )


def test_subnet_overlapping_the_uplink_is_refused(tmp_path: Path) -> None:
    # Put subnet b on this machine's own first route, whatever it is (never hard-coded).
    network, device = next((n, d) for n, d in machine_routes() if n.prefixlen >= 16)
    prefix = ".".join(str(network.network_address).split(".")[:3]) + "."
    base = free_third_octet()
    path = write_lab(tmp_path, name="tbtest-overlap", second_octet=19, third_base=base)
    inventory = tmp_path / "inventory" / "lab.yml"
    inventory.write_text(inventory.read_text().replace(f"198.19.{base + 2}.", prefix))
    assert_refused(
        ["lab", "up", str(path)],
        tmp_path / "state",
        f"all.vars.testbed_subnets.b: '{prefix}0/24': overlaps this machine's route to "
        f"{network} (dev {device})",
    )


def test_missing_lab_file(tmp_path: Path) -> None:
    assert_refused(
        ["lab", "up", str(tmp_path / "nope.yml")],
        tmp_path / "state",
        "nope.yml: lab file not found",
    )


def test_the_default_lab_file_is_valid() -> None:
    result = orchestrate("lab", "--help", state=Path("/nonexistent"))
    assert result.returncode == 0
    assert (REPOSITORY / "lab.yml").is_file()


@pytest.mark.parametrize(
    ("profile", "expected"),
    [
        ({"delay": "-5ms"}, "network.profiles.wan.delay: '-5ms': expected a delay >= 0"),
        ({"loss": "101%"}, "network.profiles.wan.loss: '101%': expected a loss from 0% to 100%"),
        ({"rate": 100}, "network.profiles.wan.rate: 100: expected a bandwidth with its unit"),
    ],
)
def test_bad_wan_profile_is_refused(
    tmp_path: Path, profile: dict[str, object], expected: str
) -> None:
    path = write_lab(
        tmp_path,
        name="tbtest-badwan",
        lab_changes={"network": {"profiles": {"wan": profile}, "subnets": {"a": "wan"}}},
    )
    assert_refused(["up", str(path)], tmp_path / "state", expected)


def test_unused_wan_profile_is_refused(tmp_path: Path) -> None:
    network = {"profiles": {"wan": {"delay": "25ms"}}}
    path = write_lab(tmp_path, name="tbtest-badwan", lab_changes={"network": network})
    assert_refused(
        ["lab", "up", str(path)], tmp_path / "state", "network.profiles.wan: defined but never used"
    )
