"""The wiring every lab built on this machine shares: one bridge per network, one network
namespace per host, a veth pair per host NIC with its address.

    network = LabNetwork(lab)
    network.bridges()                  # management bridge with the orchestrator's address, subnets
    network.host(index, host)          # namespace, lo, mgmt0 and the experiment NICs (idempotent)
    network.down()                     # every namespace, bridge and veth of the lab

The emulated lab runs an sshd straight in each namespace; a lab of machines boots a container
that joins it (`systemd-nspawn --network-namespace-path`). Either way the kernel objects and
their names (`orchestrator.naming`) are the same, so `lab down` finds them from the names alone.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import time
from collections.abc import Sequence
from pathlib import Path

from orchestrator import local, naming
from orchestrator.config.model import Host, Lab

MANAGEMENT_NIC = "mgmt0"


class LabNetwork:
    """The bridges, namespaces and veths of one lab; see the module docstring."""

    def __init__(self, lab: Lab) -> None:
        self.lab = lab
        self.bridge_names = naming.lab_bridges(lab.name, list(lab.subnets))

    def namespace(self, host: Host) -> str:
        return naming.namespace(self.lab.name, host.name)

    def exists(self) -> bool:
        names = set(namespaces())
        return any(self.namespace(host) in names for host in self.lab.hosts)

    def bridges(self) -> None:
        """A bridge per network; the orchestrator's address on the management bridge."""
        for network, bridge in self.bridge_names.items():
            if not link_exists(bridge):
                local.run(["ip", "link", "add", bridge, "type", "bridge"])
                quiet_ipv6(None, bridge)
            if network == naming.MANAGEMENT:
                assert self.lab.management_network is not None
                prefix = self.lab.management_network.prefixlen
                address = f"{self.lab.orchestrator_address}/{prefix}"
                local.run(["ip", "addr", "replace", address, "dev", bridge])
            local.run(["ip", "link", "set", bridge, "up"])

    def host(self, index: int, host: Host) -> None:
        """The host's namespace with lo up, mgmt0 and its experiment NICs addressed and up."""
        namespace = self.namespace(host)
        if namespace not in namespaces():
            local.run(["ip", "netns", "add", namespace])
            local.run(
                [
                    *("ip", "netns", "exec", namespace, "sysctl", "-q", "-w"),
                    "net.ipv6.conf.all.disable_ipv6=1",
                    "net.ipv6.conf.default.disable_ipv6=1",
                ]
            )
        local.run(["ip", "-n", namespace, "link", "set", "lo", "up"])
        assert self.lab.management_network is not None
        links = [
            (
                MANAGEMENT_NIC,
                naming.MANAGEMENT,
                f"{host.management}/{self.lab.management_network.prefixlen}",
            )
        ]
        links += [(nic.name, nic.subnet, str(nic.interface)) for nic in host.nics]
        existing = set(links_of(namespace))
        for nic_index, (name, network, address) in enumerate(links):
            if name not in existing:
                outer = naming.root_veth(self.lab.name, index, nic_index)
                local.run(["ip", "link", "del", outer], check=False)  # half a pair from a crash
                veth = ("ip", "link", "add", outer, "type", "veth", "peer", "name", name)
                local.run([*veth, "netns", namespace])
                quiet_ipv6(None, outer)
                local.run(["ip", "link", "set", outer, "master", self.bridge_names[network], "up"])
            local.run(["ip", "-n", namespace, "addr", "replace", address, "dev", name])
            local.run(["ip", "-n", namespace, "link", "set", name, "up"])

    def down(self) -> None:
        """Kill what still runs in the lab's namespaces, delete them, its bridges and veths."""
        present = set(namespaces())
        for host in self.lab.hosts:
            name = self.namespace(host)
            if name in present:
                kill_namespace_processes(name)
                local.run(["ip", "netns", "del", name])
        for bridge in self.bridge_names.values():
            if link_exists(bridge):
                local.run(["ip", "link", "del", bridge])
        tag = naming.lab_tag(self.lab.name)
        for link in links_of():  # root ends of veths whose namespace vanished some other way
            if link.startswith(tag):
                local.run(["ip", "link", "del", link], check=False)


# -- kernel objects --------------------------------------------------------------------------------


def namespaces() -> list[str]:
    output = local.run(["ip", "-j", "netns", "list"]).stdout
    return [entry["name"] for entry in json.loads(output or "[]")]


def links_of(namespace: str | None = None) -> list[str]:
    """Interface names in `namespace`, or in this machine's own namespace."""
    command = ["ip", "-j"] + (["-n", namespace] if namespace else []) + ["link", "show"]
    return [entry["ifname"] for entry in json.loads(local.run(command).stdout or "[]")]


def link_exists(name: str) -> bool:
    return local.run(["ip", "link", "show", name], check=False).returncode == 0


def quiet_ipv6(namespace: str | None, link: str) -> None:
    """No IPv6 on lab links: no router solicitations or DAD traffic during measurements."""
    prefix = ["ip", "netns", "exec", namespace] if namespace else []
    local.run([*prefix, "sysctl", "-q", "-w", f"net.ipv6.conf.{link}.disable_ipv6=1"], check=False)


def namespace_pids(namespace: str) -> set[int]:
    """Every process in `namespace`: exactly the processes of that host."""
    result = local.run(["ip", "netns", "pids", namespace], check=False)
    return {int(pid) for pid in result.stdout.split()}


def kill_namespace_processes(namespace: str, grace: float = 3.0) -> None:
    """SIGTERM every process of the namespace, then SIGKILL what is left after `grace`."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        pids = namespace_pids(namespace)
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
        deadline = time.monotonic() + grace
        while pids and time.monotonic() < deadline:
            time.sleep(0.05)
            pids = namespace_pids(namespace)
        if not pids:
            return


def read_pid(path: Path) -> int | None:
    """The pid in a pid file, or None when it is missing or garbled."""
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


def port_open(address: str, port: int) -> bool:
    """Whether something accepts TCP connections there (an sshd, a proxy) within 0.2 s."""
    try:
        with socket.create_connection((address, port), timeout=0.2):
            return True
    except OSError:
        return False


def wait_for_ssh(hosts: Sequence[Host], seconds: float, poll: float) -> list[Host]:
    """Wait until every host's sshd accepts connections, at most `seconds`; the hosts still
    silent then (the caller says where their logs are)."""
    deadline = time.monotonic() + seconds
    waiting = list(hosts)
    while waiting and time.monotonic() < deadline:
        waiting = [host for host in waiting if not port_open(host.management, host.ssh_port)]
        if waiting:
            time.sleep(poll)
    return waiting
