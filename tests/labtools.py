"""Helpers for functional tests that build real emulated labs."""

from __future__ import annotations

import ipaddress
import os
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

from orchestrator.labfile import machine_routes
from tests.conftest import write_lab


def free_third_octet(second_octet: int = 19) -> int:
    """A base X such that 198.<second>.X..X+2.0/24 overlap no route of this machine."""
    taken = [network for network, _ in machine_routes()]
    candidates = list(range(0, 252, 4))
    random.shuffle(candidates)
    for base in candidates:
        block = ipaddress.IPv4Network(f"198.{second_octet}.{base}.0/22")
        if not any(block.overlaps(network) for network in taken):
            return base
    raise RuntimeError("no free 198.19.x.0/22 block for a test lab")


def write_test_lab(directory: Path, name: str, experiment: dict[str, Any]) -> Path:
    """A lab file for a functional test: its own name, a free 198.19.x block, `experiment`."""
    return write_lab(
        directory,
        name=name,
        second_octet=19,
        third_base=free_third_octet(),
        lab_changes={"experiment": experiment},
    )


def orchestrate(
    *args: str, state: Path, timeout: float = 600, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run the real CLI in a subprocess, as a user would (`env` adds to the environment)."""
    env = {**os.environ, "TESTBED_STATE_DIR": str(state), "COLUMNS": "200", **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "orchestrator.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )


def namespaces() -> list[str]:
    output = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    return [line.split()[0] for line in output.splitlines() if line.strip()]


def links() -> list[str]:
    output = subprocess.run(["ip", "-o", "link", "show"], capture_output=True, text=True).stdout
    return [line.split(": ")[1].split("@")[0] for line in output.splitlines()]


def pid_alive(pid: int) -> bool:
    """True while `pid` runs; a zombie (exited, not yet reaped by init) counts as dead."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"
