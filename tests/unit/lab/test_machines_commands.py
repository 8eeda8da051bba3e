"""The commands a lab of machines runs (nspawn, overlays, the base image) and its hosts'
known_hosts entries, as plain strings."""

from __future__ import annotations

from pathlib import Path

from orchestrator.config.labfile import load_lab
from orchestrator.config.model import Lab
from orchestrator.lab import image, machines
from tests.support.labfiles import REPOSITORY


def machines_lab() -> Lab:
    return load_lab(REPOSITORY / "labs" / "machines.yml", routes=list)


def test_nspawn_boots_systemd_in_the_hosts_namespace_with_writable_net_sysctls() -> None:
    lab = machines_lab()
    command = machines.nspawn_command(Path("/m/root"), "tb-machines-server", lab.server)
    assert command[0] == "systemd-nspawn" and "--boot" in command
    assert "--register=no" in command and "--keep-unit" in command  # PID 1 need not be systemd
    assert "--network-namespace-path=/run/netns/tb-machines-server" in command
    assert "--private-network" in command  # else /proc/sys/net is read-only inside
    assert "--directory=/m/root" in command and "--hostname=server" in command
    # pinned like a real host's processes, by the sweep's taskset, not as a whole machine
    assert not any(word.startswith("--cpu-affinity") for word in command)


def test_overlay_and_image_build_commands() -> None:
    assert machines.overlay_options(Path("/i"), Path("/u"), Path("/w")) == (
        "lowerdir=/i,upperdir=/u,workdir=/w"
    )
    command = image.mmdebstrap_command(Path("/tmp/x"))
    assert command[:3] == ["mmdebstrap", "--quiet", "--variant=apt"]
    assert "--include=systemd,systemd-sysv,openssh-server,dbus,iproute2,python3" in command
    assert command[-3:] == ["bookworm", "/tmp/x", image.mirror()]
    assert any("ssh_host_" in word for word in command)  # no machine keeps the image's host keys


def test_known_hosts_entry_brackets_a_non_default_port() -> None:
    lab = machines_lab()
    assert machines.known_hosts_entry(lab.server, "ssh-ed25519 AAAA root@server\n") == (
        "198.18.16.10 ssh-ed25519 AAAA"
    )
