"""The emulated lab: every inventory host as a network namespace on this machine.

    lab = load_lab(Path("lab.yml"))
    EmulatedLab(lab).up()      # idempotent: creates only what is missing
    EmulatedLab(lab).down()    # removes every namespace, bridge, veth, process and file it made

One bridge per network (management and each experiment subnet) and one veth pair per host NIC.
The orchestrator sits on the management bridge (its first address), never on an experiment
subnet. Every namespace runs a real sshd on its management address, started with the host's
CPU pinning and a high open-file limit, so everything later started over SSH inherits both.
The lab's key pair and the hosts' keys live in the lab's state directory; SSH checks host keys
against the lab's own known_hosts.

Namespaces share one file system, one PID space and one package database: each host gets its
own directory (`testbed_dir`), processes are found through their namespace (never by name), and
packages are installed once (the playbooks know).
"""

from __future__ import annotations

import os
import resource
import shutil
from pathlib import Path

from orchestrator import local
from orchestrator.config.model import Host, Lab
from orchestrator.errors import TestbedError
from orchestrator.lab.cpucap import remove_group
from orchestrator.lab.cpus import machine_cpus, taskset_prefix, usable_cpus
from orchestrator.lab.outline import LabBuilder, Warn
from orchestrator.lab.sshd import new_key, sshd_config
from orchestrator.lab.wiring import namespace_pids, read_pid
from orchestrator.paths import log_file

OPEN_FILES = 1_048_576  # wanted for sshd, inherited by everything started over SSH
SSHD = "/usr/sbin/sshd"
SSH_WAIT_SECONDS = 15.0


def open_files_limit() -> int:
    """The open-file limit the lab's sshd gets: OPEN_FILES, or our own hard limit if lower
    (raising a hard limit needs CAP_SYS_RESOURCE, which sandboxes often withhold)."""
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    return OPEN_FILES if hard == resource.RLIM_INFINITY else min(OPEN_FILES, hard)


class EmulatedLab(LabBuilder):
    """Builds and tears down the namespaces of one lab (the outline: `outline.LabBuilder`).
    See the module docstring."""

    def __init__(self, lab: Lab, warn: Warn = lambda message: None) -> None:
        if not lab.emulate:
            raise TestbedError(f"{lab.path}: emulate is false: this lab is not built here")
        super().__init__(lab, warn)
        self.bridges = self.network.bridge_names

    # -- public ------------------------------------------------------------------------------

    def namespace(self, host: Host) -> str:
        return self.network.namespace(host)

    def down(self) -> None:
        """Remove every namespace, process, bridge and file of the lab; fine if none exist."""
        _require_root()
        self.network.down()  # its processes end with their namespaces
        remove_group(self.lab)
        shutil.rmtree(self.state, ignore_errors=True)

    def describe(self) -> dict[str, object]:
        """What the lab is made of, for `lab.json` and for tests."""
        return {
            "lab": self.lab.name,
            "bridges": self.bridges,
            "orchestrator": f"{self.lab.orchestrator_address}",
            "hosts": {
                host.name: {
                    "namespace": self.namespace(host),
                    "management": host.management,
                    "directory": host.directory,
                    "sshd_pid": read_pid(self._host_state(host) / "sshd.pid"),
                }
                for host in self.lab.hosts
            },
        }

    # -- the steps -----------------------------------------------------------------------------

    def _check(self) -> None:
        _require_root()

    def _build(self) -> None:
        self._keys()
        self.network.bridges()
        cpus = machine_cpus()
        for index, host in enumerate(self.lab.hosts):
            self.network.host(index, host)
            self._sshd(host, cpus)
        self._known_hosts()
        self._wait_for_ssh(SSH_WAIT_SECONDS, 0.05, "their .sshd/sshd.log")

    def _host_state(self, host: Host) -> Path:
        """Where the host's sshd keeps its keys, config, pid and log (inside its directory)."""
        return Path(host.directory) / ".sshd"

    def _keys(self) -> None:
        """The lab's key pair, its public key the hosts' authorized_keys (one file for all:
        the namespaces share this machine's file system)."""
        key = self._lab_key()
        shutil.copyfile(f"{key}.pub", key.parent / "authorized_keys")

    def _sshd(self, host: Host, cpus: set[int]) -> None:
        state = self._host_state(host)
        state.mkdir(parents=True, exist_ok=True, mode=0o700)
        pid = read_pid(state / "sshd.pid")
        namespace = self.namespace(host)
        if pid is not None and pid in namespace_pids(namespace):
            return
        host_key = state / "ssh_host_ed25519_key"
        if not host_key.exists():
            new_key(host_key, host.name)
        config = state / "sshd_config"
        config.write_text(sshd_config(host, host_key, state, self.identity))
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # sshd's privilege-separation dir
        files = open_files_limit()
        command = ["ip", "netns", "exec", namespace, "prlimit", f"--nofile={files}:{files}"]
        if host.cpus:
            usable = usable_cpus(host, cpus)
            command += taskset_prefix(usable)
            if len(usable) < len(host.cpus):
                self.warn(
                    f"{host.name}: CPUs {list(host.cpus)} requested, this machine has "
                    f"{sorted(cpus)}; pinned to {usable or 'any CPU'}"
                )
        log = log_file(state / "sshd.log")  # sshd appends to it; created private here
        local.run([*command, SSHD, "-f", str(config), "-E", str(log)])

    def _known_hosts(self) -> None:
        lines = []
        for host in self.lab.hosts:
            public = (self._host_state(host) / "ssh_host_ed25519_key.pub").read_text().split()
            lines.append(f"{host.management} {public[0]} {public[1]}")
        self.identity.known_hosts.write_text("\n".join(lines) + "\n")


# -- kernel objects --------------------------------------------------------------------------------


def _require_root() -> None:
    if os.geteuid() != 0:
        raise TestbedError("an emulated lab needs root (network namespaces, bridges); run as root")
