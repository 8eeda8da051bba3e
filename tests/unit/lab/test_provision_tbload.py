"""tbload reaches the clients as the server reaches its host: its sources staged in one
deterministic archive that is part of the provisioning fingerprint, built on the clients only
when the lab's load engine is tbload."""

from __future__ import annotations

import dataclasses
import tarfile
from pathlib import Path

import pytest

from orchestrator.config.model import LoadGenerator
from orchestrator.lab import provision, staging
from orchestrator.lab.provision import Ansible
from orchestrator.paths import lab_state_dir
from tests.support.labfiles import default_lab


def test_tbloads_sources_are_staged_without_build_outputs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tree = tmp_path / "tree"
    for name in ("agents", "server", "tbload"):
        (tree / name).mkdir(parents=True)
    for name in ("tbload.c", "tbload.h", "Makefile", "tbload", "tbload.o"):
        (tree / "tbload" / name).write_text(name)
    monkeypatch.setattr(staging, "resource", lambda name: tree / name)
    staged = staging.stage_sources(tmp_path / "stage")
    with tarfile.open(staged / "tbload.tar") as archive:
        assert sorted(archive.getnames()) == [
            "tbload/Makefile",
            "tbload/tbload.c",
            "tbload/tbload.h",
        ]
    before = (staged / "tbload.tar").read_bytes()
    assert staging.stage_sources(tmp_path / "stage").joinpath("tbload.tar").read_bytes() == before
    (tree / "tbload" / "tbload.c").write_text("changed")
    assert staging.stage_sources(tmp_path / "stage").joinpath("tbload.tar").read_bytes() != before


def test_a_changed_tbload_source_or_engine_needs_provisioning(
    state_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lab = default_lab()
    lab_state_dir(lab.name).mkdir(parents=True, exist_ok=True)
    (lab_state_dir(lab.name) / "lab.json").write_text('{"hosts": {"server": {"sshd_pid": 41}}}')
    ansible = Ansible(lab)
    ansible.remember("site.yml")
    assert ansible.unchanged_since("site.yml") is not None
    other = "tbload" if lab.load.engine == "httperf" else "httperf"
    switched = dataclasses.replace(lab, load=LoadGenerator(other))
    assert Ansible(switched).unchanged_since("site.yml") is None  # built, or no longer needed

    def staged_with_a_change(destination: Path) -> Path:
        (destination / "tbload.tar").write_bytes(b"another tbload")
        return destination

    monkeypatch.setattr(provision, "stage_sources", staged_with_a_change)
    assert ansible.unchanged_since("site.yml") is None


def test_the_clients_are_told_which_engine_to_build() -> None:
    lab = dataclasses.replace(default_lab(), load=LoadGenerator("tbload"))
    ansible = Ansible(lab)
    assert ansible.host_vars("client1")["testbed_agents_load_engine"] == "tbload"
    assert "testbed_agents_load_engine" not in ansible.host_vars("server")
    plain = Ansible(dataclasses.replace(lab, load=LoadGenerator()))
    assert plain.host_vars("client8")["testbed_agents_load_engine"] == "httperf"
