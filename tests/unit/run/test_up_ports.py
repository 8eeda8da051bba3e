"""`up` with its Prometheus port taken (issue 25, finding 5): it stops at once, naming the
port and where to change it, before the lab, preflight or provisioning is touched; those took
25-40 s before the port was found taken."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import pytest

from orchestrator.config.labfile import load_lab
from orchestrator.errors import TestbedError
from orchestrator.run.seams import Seams
from orchestrator.run.up import run_up
from tests.support.fakes import Lines
from tests.support.labfiles import write_lab


@pytest.mark.parametrize("emulate", [False, True], ids=["real", "emulated"])
def test_up_stops_at_a_taken_prometheus_port_before_anything_else(
    tmp_path: Path, state_dir: Path, emulate: bool
) -> None:
    path = write_lab(
        tmp_path,
        name="ports",
        lab_changes={"emulate": emulate, "results": {"directory": str(tmp_path / "results")}},
    )
    lab = load_lab(path, routes=list)
    touched: list[str] = []

    def seam(name: str) -> Any:
        def called(*args: object, **kwargs: object) -> None:
            touched.append(name)
            raise AssertionError(f"{name} reached with the port taken")

        return called

    seams = Seams(remote=seam("ssh"), ansible=seam("ansible"), lab_builder=seam("lab"))
    port = lab.monitoring.prometheus.port
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", port))
        taken.listen()
        with pytest.raises(TestbedError) as caught:
            run_up(lab, Lines(), seams=seams)
    assert caught.value.message.startswith(f"port {port} is taken")
    assert "monitoring.prometheus.port" in caught.value.message
    assert touched == []
