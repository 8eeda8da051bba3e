"""Provisioning gets the servers under test's packages and install steps, on the server only."""

from __future__ import annotations

import dataclasses

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
