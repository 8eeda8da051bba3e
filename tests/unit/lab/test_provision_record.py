"""`up` provisions a lab built here only when something provisioning depends on changed since
its last success: the playbooks, the staged sources, the inventory and host_vars, or the lab as
built (a host rebuilt or restarted). A real lab is always provisioned."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from orchestrator.config.model import Lab
from orchestrator.lab import provision
from orchestrator.lab.provision import Ansible
from orchestrator.paths import lab_state_dir
from tests.support.labfiles import default_lab


def built(state_dir: Path) -> Lab:
    """The default emulated lab, as `lab up` leaves it: its lab.json names each host's sshd."""
    lab = default_lab()
    lab_state_dir(lab.name).mkdir(parents=True, exist_ok=True)
    (lab_state_dir(lab.name) / "lab.json").write_text('{"hosts": {"server": {"sshd_pid": 41}}}')
    return lab


def test_a_success_is_remembered_until_something_it_depends_on_changes(state_dir: Path) -> None:
    lab = built(state_dir)
    ansible = Ansible(lab)
    assert ansible.unchanged_since("site.yml") is None  # never provisioned
    ansible.remember("site.yml")
    assert ansible.unchanged_since("site.yml") is not None
    assert Ansible(lab).unchanged_since("netem.yml") is None  # another playbook: its own record
    # the inventory as handed to Ansible changed (a host's directory)
    hosts = (dataclasses.replace(lab.hosts[1], directory="/srv/elsewhere"), *lab.hosts[2:])
    moved = dataclasses.replace(lab, clients=hosts)
    assert Ansible(moved).unchanged_since("site.yml") is None
    # a host restarted: the lab as built is another one
    (lab_state_dir(lab.name) / "lab.json").write_text('{"hosts": {"server": {"sshd_pid": 42}}}')
    assert ansible.unchanged_since("site.yml") is None
    ansible.remember("site.yml")
    assert ansible.unchanged_since("site.yml") is not None


def test_a_changed_source_staged_to_the_hosts_needs_provisioning(
    state_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lab = built(state_dir)
    ansible = Ansible(lab)
    ansible.remember("site.yml")
    stage = lab_state_dir(lab.name) / "stage"
    before = ansible.fingerprint("site.yml")

    def staged_with_a_change(destination: Path) -> Path:
        (destination / "agents.tar").write_bytes(b"another agent")
        return destination

    monkeypatch.setattr(provision, "stage_sources", staged_with_a_change)
    assert ansible.fingerprint("site.yml") != before
    assert ansible.unchanged_since("site.yml") is None
    assert (stage / "agents.tar").read_bytes() == b"another agent"


def test_a_lab_not_built_here_is_always_provisioned(state_dir: Path) -> None:
    lab = dataclasses.replace(built(state_dir), emulate=False)
    ansible = Ansible(lab)
    ansible.remember("site.yml")
    assert ansible.fingerprint("site.yml") is None and ansible.unchanged_since("site.yml") is None


def test_a_lab_that_is_not_up_has_nothing_to_skip(state_dir: Path) -> None:
    lab = default_lab()
    assert Ansible(lab).unchanged_since("site.yml") is None
