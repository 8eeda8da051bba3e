"""tbload reaches the clients as the server reaches its host: its sources staged in one
deterministic archive that is part of the provisioning fingerprint, built on every client, so a
lab switches engines without provisioning again."""

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


def test_a_changed_tbload_source_needs_provisioning_and_another_engine_does_not(
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
    assert Ansible(switched).unchanged_since("site.yml") is not None  # built on every client

    def staged_with_a_change(destination: Path) -> Path:
        (destination / "tbload.tar").write_bytes(b"another tbload")
        return destination

    monkeypatch.setattr(provision, "stage_sources", staged_with_a_change)
    assert ansible.unchanged_since("site.yml") is None
