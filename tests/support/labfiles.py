"""Lab files for tests: a copy of the default lab on addresses of the test's own."""

from __future__ import annotations

import socket
from pathlib import Path

import yaml

REPOSITORY = Path(__file__).resolve().parents[2]


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
