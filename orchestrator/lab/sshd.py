"""SSH to a lab's hosts: the identity the orchestrator logs in with, and an sshd of ours.

    identity = ssh_identity(lab)       # the lab's key pair and known_hosts, in its state directory
    text = sshd_config(host, host_key, state, identity)

Remote commands (`remote`) and Ansible (`provision`) log in with `ssh_identity`; the emulated lab
writes the keys and runs one sshd per host with `sshd_config`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from orchestrator import local
from orchestrator.config.model import Host, Lab
from orchestrator.paths import lab_state_dir

SFTP_SERVER = "/usr/lib/openssh/sftp-server"


@dataclass(frozen=True)
class SshIdentity:
    """How the orchestrator logs in to an emulated lab: its key and the hosts' known keys."""

    private_key: Path
    known_hosts: Path


def ssh_identity(lab: Lab) -> SshIdentity:
    ssh_dir = lab_state_dir(lab.name) / "ssh"
    return SshIdentity(ssh_dir / "id_ed25519", ssh_dir / "known_hosts")


def sshd_config(host: Host, host_key: Path, state: Path, identity: SshIdentity) -> str:
    return "\n".join(
        [
            f"# sshd of emulated host {host.name}, written by `orchestrate lab up`",
            f"ListenAddress {host.management}",
            f"Port {host.ssh_port}",
            f"HostKey {host_key}",
            f"PidFile {state / 'sshd.pid'}",
            f"AuthorizedKeysFile {identity.private_key.parent / 'authorized_keys'}",
            "PermitRootLogin prohibit-password",
            # The key files are the lab's own, written 0600 into a 0700 directory by `lab up`; the
            # state root may sit under /tmp (tests), whose mode StrictModes rejects on principle.
            "StrictModes no",
            "PasswordAuthentication no",
            "KbdInteractiveAuthentication no",
            "UsePAM no",  # PAM would reset the open-file limit that sshd was started with
            "UseDNS no",
            # The host's own home, not the operator's /root: bash sources ~/.bashrc for every
            # command sshd runs, and an operator's (pyenv's init on the development machines)
            # cost 120 ms of each command's 170 and would print into Ansible's and our output.
            f"SetEnv HOME={host.directory}",
            "X11Forwarding no",
            "PrintMotd no",
            "MaxStartups 100:30:200",
            "MaxSessions 100",
            f"Subsystem sftp {SFTP_SERVER}",
            "",
        ]
    )


def new_key(path: Path, comment: str) -> None:
    """An ed25519 key pair without passphrase at `path` (and `path`.pub)."""
    local.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)])
