"""The session's shared emulated lab, as the functional tests use it (the fixtures that build
and remove it are in tests/functional/conftest.py).

    path = shared_lab.lab_file(tmp_path, "x", experiment=SHORT)   # a test's own lab file
    orchestrate("up", str(path), state=shared_lab.state)
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from orchestrator.config.labfile import load_lab
from orchestrator.monitoring.prometheus import Prometheus
from tests.support.labfiles import free_port

# Per test session: two sessions at once (two worktrees, say) must not share kernel objects,
# and a lab's namespaces and links are named after it (`orchestrator.naming`).
SHARED_NAME = f"tbshared-{os.getpid()}"


@dataclass(frozen=True)
class SharedLab:
    """The session's lab: its name, base lab file and state directory."""

    name: str
    path: Path
    state: Path

    def lab_file(
        self,
        directory: Path,
        name: str,
        experiment: dict[str, Any],
        sections: dict[str, Any] | None = None,
    ) -> Path:
        """`directory/<name>.yml`: the shared lab (its name and inventory) with `experiment`,
        any other top-level `sections`, and results (`results-<name>` beside it) and a
        Prometheus of its own."""
        data = yaml.safe_load(self.path.read_text())
        data["inventory"] = str(self.path.parent / data["inventory"])
        data["experiment"] = experiment
        data["results"] = {"directory": f"results-{name}"}  # beside the lab file
        data["monitoring"] = {"prometheus": {"port": free_port(), "scrape_interval": "1s"}}
        data.update(sections or {})
        target = directory / f"{name}.yml"
        target.write_text(yaml.safe_dump(data, sort_keys=False))
        LAB_FILES.append(target)
        return target


LAB_FILES: list[Path] = []  # every lab file written for the shared lab, to stop its Prometheus


def stop_prometheus(paths: list[Path]) -> None:
    """Each test lab file has its own Prometheus: stop those of `paths` (scraping the lab every
    second, they would load the machine the next tests measure on)."""
    for path in paths:
        if path.exists():
            Prometheus.for_lab(load_lab(path)).stop()
