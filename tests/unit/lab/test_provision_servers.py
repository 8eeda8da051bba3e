"""Provisioning gets the servers under test's packages and install steps, on the server only."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import yaml
from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar, trust_as_template

from orchestrator.config.servers import ServerSpec
from orchestrator.lab.provision import Ansible
from tests.support.labfiles import default_lab


def test_the_server_host_gets_the_other_servers_packages_and_install_steps() -> None:
    lab = default_lab(routes=list)
    mine = ServerSpec("mine", builtin=None, command="mine {port}", install="make mine")
    nginx = ServerSpec("nginx", builtin=None, command="n {port}", packages=("nginx-light",))
    servers = (ServerSpec("userver"), nginx, mine)
    lab = dataclasses.replace(lab, experiment=dataclasses.replace(lab.experiment, servers=servers))
    ansible = Ansible(lab)
    server = ansible.host_vars("server")
    assert server["testbed_server_extra_packages"] == ["nginx-light"]
    assert server["testbed_server_installs"] == [{"name": "mine", "command": "make mine"}]
    assert "testbed_server_installs" not in ansible.host_vars("client1")


def rendered_install(host_vars_text: str, tmp_path: Path) -> str:
    """What Ansible makes of the install task's `cmd: "{{ item.command }}"`, with the host_vars
    file loaded the way Ansible's host_group_vars plugin loads it (the template itself, from
    the role, trusted as a role's is)."""
    path = tmp_path / "server.yml"
    path.write_text(host_vars_text)
    loader = DataLoader()
    variables = loader.load_from_file(
        str(path), cache="none", unsafe=True, trusted_as_template=True
    )
    [item] = variables["testbed_server_installs"]
    templar = Templar(loader=loader, variables={"item": item})
    return str(templar.template(trust_as_template("{{ item.command }}")))


def test_an_install_step_is_never_templated_by_ansible(tmp_path: Path) -> None:
    """Issue 25: `{{ lookup('pipe', ...) }}` in `install:` ran on the orchestrator when Ansible
    rendered the task. Written `!unsafe`, it reaches the shell as the text it is."""
    marker = tmp_path / "ran-on-the-orchestrator"
    install = f"echo {{{{ lookup('pipe', 'touch {marker}') }}}}"
    lab = default_lab(routes=list)
    spec = ServerSpec("mine", builtin=None, command="mine {port}", install=install)
    servers = (ServerSpec("userver"), spec)
    lab = dataclasses.replace(lab, experiment=dataclasses.replace(lab.experiment, servers=servers))
    text = Ansible(lab).inventory_files()["host_vars/server.yml"]
    assert "!unsafe" in text
    assert rendered_install(text, tmp_path) == install
    assert not marker.exists()
    # The same vars written plainly, as before: Ansible runs the pipe (the check can fail).
    plain = yaml.safe_dump({"testbed_server_installs": [{"name": "mine", "command": install}]})
    assert rendered_install(plain, tmp_path) == "echo "
    assert marker.exists()
