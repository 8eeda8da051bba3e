"""`lab down` stops the lab's Prometheus (issue 25, finding 5): left running, it held its port
against the next lab's `up`. Its data stays. A stand-in process with Prometheus' command line
plays the part; the lab's own removal is a fake (nothing here builds a lab)."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from orchestrator.cli import lab_commands, main
from orchestrator.config.labfile import load_lab
from orchestrator.monitoring.prometheus import Prometheus
from tests.support.labfiles import write_lab


@pytest.fixture
def lab_file(tmp_path: Path, state_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(lab_commands, "load_lab", lambda path: load_lab(path, routes=list))
    return write_lab(
        tmp_path, name="downprom", lab_changes={"results": {"directory": str(tmp_path / "res")}}
    )


@pytest.fixture
def stand_in(lab_file: Path) -> Iterator[tuple[Prometheus, subprocess.Popen[bytes]]]:
    """A process whose command line is the lab's Prometheus', its pid where ours is kept."""
    prometheus = Prometheus.for_lab(load_lab(lab_file, routes=list))
    assert prometheus.directory is not None
    (prometheus.directory / "data").mkdir(parents=True)
    (prometheus.directory / "data" / "chunk").write_bytes(b"series")
    script = "import os, time; os.close(1); time.sleep(120)"
    process = subprocess.Popen(
        [sys.executable, "-c", script, f"--config.file={prometheus.config_path}"],
        stdout=subprocess.PIPE,
    )
    assert process.stdout is not None
    process.stdout.read()  # its stdout closed: it runs, with its command line in place
    process.stdout.close()
    prometheus.pid_path.write_text(str(process.pid))
    yield prometheus, process
    process.kill()
    process.wait()


def test_lab_down_stops_the_labs_prometheus_and_keeps_its_data(
    lab_file: Path,
    stand_in: tuple[Prometheus, subprocess.Popen[bytes]],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    prometheus, process = stand_in
    assert prometheus.running_pid() == process.pid
    removed: list[str] = []

    class Builder:
        def __init__(self, lab: Any, **kwargs: Any) -> None:
            self.lab = lab

        def down(self) -> None:
            removed.append(self.lab.name)

    monkeypatch.setattr(lab_commands, "lab_builder", Builder)
    # Reaped as soon as it exits, as Prometheus (not the child of `lab down`) would be.
    threading.Thread(target=process.wait, daemon=True).start()
    assert main(["lab", "down", str(lab_file)]) == 0
    assert process.wait(timeout=20) is not None  # stopped, by its pid
    assert removed == ["downprom"]
    assert prometheus.running_pid() is None
    assert prometheus.directory is not None
    assert (prometheus.directory / "data" / "chunk").read_bytes() == b"series"
    out = capsys.readouterr().out
    assert "prometheus: stopped (data kept in" in out
