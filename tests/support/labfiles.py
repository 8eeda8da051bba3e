"""Lab files for tests: a copy of the default lab on addresses of the test's own."""

from __future__ import annotations

import dataclasses
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from orchestrator.config.labfile import load_lab
from orchestrator.config.model import Lab
from orchestrator.errors import ConfigError
from orchestrator.lab.preflight import idle_max

REPOSITORY = Path(__file__).resolve().parents[2]
HARD_NOFILE = 20_000  # these machines' open-file hard limit


def resolved(lab: Lab, hard_nofile: int = HARD_NOFILE) -> Lab:
    """`lab` with `idle_connections: max` as preflight finds it on hosts whose open-file hard
    limit is `hard_nofile` (19,000 for these machines' 20,000); unchanged without `max`."""
    found = idle_max(hard_nofile, [hard_nofile] * len(lab.clients))
    experiment = lab.experiment.with_idle_max(found.value, found.why)
    return dataclasses.replace(lab, experiment=experiment)


def the_one_problem(path: Path) -> str:
    """The one line a bad lab file at `path` is refused with (exit status 2), checked to name
    the file; anything else fails the test."""
    try:
        load_lab(path, routes=list)
    except ConfigError as refused:
        assert refused.exit_code == 2
        [line] = refused.problems
        assert line.startswith(f"{path}:"), line
        return line
    raise AssertionError(f"{path} was accepted")


def default_lab(routes: Callable[[], list[Any]] = list) -> Lab:
    """The default lab.yml as `up` has it after preflight (see `resolved`)."""
    return resolved(load_lab(REPOSITORY / "lab.yml", routes=routes))


def write_lab(
    directory: Path,
    *,
    name: str = "unit",
    lab_changes: dict | None = None,
    inventory_text: str | None = None,
    second_octet: int = 18,
    third_base: int = 0,
) -> Path:
    """Write a copy of the default lab.yml and emulated inventory into `directory`.

    Addresses 198.18.{0,1,2}.x become 198.{second_octet}.{third_base + 0,1,2}.x, so tests can
    build labs that never collide with the default one or with each other.
    """
    text = (REPOSITORY / "inventory" / "emulated.yml").read_text()
    if inventory_text is not None:
        text = inventory_text
    for network in (2, 1, 0):
        text = text.replace(f"198.18.{network}.", f"198.{second_octet}.{third_base + network}.")
    (directory / "inventory").mkdir(exist_ok=True)
    (directory / "inventory" / "lab.yml").write_text(text)
    lab = yaml.safe_load((REPOSITORY / "lab.yml").read_text())
    lab["name"] = name
    lab["monitoring"] = {"prometheus": {"port": free_port(), "scrape_interval": "1s"}}
    lab["inventory"] = "inventory/lab.yml"
    for key, value in (lab_changes or {}).items():
        lab[key] = value
    path = directory / "lab.yml"
    path.write_text(yaml.safe_dump(lab, sort_keys=False))
    return path


def free_port() -> int:
    """A TCP port nothing listens on now (for a test's own Prometheus)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
