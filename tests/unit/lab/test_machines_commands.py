"""The pure pieces of a lab of machines: the commands it runs, the known_hosts block, the
real-host preflight checks and host facts, parsed from plain strings."""

from __future__ import annotations

from pathlib import Path

from orchestrator.config.labfile import load_lab
from orchestrator.config.model import Lab
from orchestrator.lab import hostchecks, hostfacts, image, knownhosts, machines
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


def test_known_hosts_block_is_replaced_and_removed_whole() -> None:
    mine = ["198.18.16.10 ssh-ed25519 AAAA1"]
    text = "other.example.org ssh-ed25519 BBBB\n"
    once = "\n".join(knownhosts.with_block(text, "machines", mine))
    twice = "\n".join(knownhosts.with_block(once, "machines", ["198.18.16.10 ssh-ed25519 CCCC"]))
    assert twice.count("198.18.16.10") == 1 and "CCCC" in twice and "AAAA1" not in twice
    assert knownhosts.without_block(twice, "machines") == ["other.example.org ssh-ed25519 BBBB"]
    other = "\n".join(knownhosts.with_block(twice, "other-lab", ["198.18.32.10 ssh-ed25519 DD"]))
    assert "DD" in "\n".join(knownhosts.without_block(other, "machines"))
    stale = "198.18.16.10,server ssh-ed25519 OLD\n" + twice
    assert knownhosts.other_entries_for(stale, "machines", ["198.18.16.10"]) == [
        "198.18.16.10,server ssh-ed25519 OLD"
    ]


def test_known_hosts_entry_brackets_a_non_default_port() -> None:
    lab = machines_lab()
    assert machines.known_hosts_entry(lab.server, "ssh-ed25519 AAAA root@server\n") == (
        "198.18.16.10 ssh-ed25519 AAAA"
    )


CONTAINER_PROBE = """\
@hc-packages
python3 installed
httperf installed
gcc not-installed
@hc-virt systemd-nspawn
@hc-timesync
chrony inactive
systemd-timesyncd inactive
@hc-synchronised
@hc-governor
@hc-sysctls
fs.file-max ro 2466126
fs.nr_open ro 1048576
net.core.netdev_max_backlog ro
@hc-nic exp-a
Speed: 10000Mb/s
Duplex: full
@hc-nic exp-b
Speed: Mb/s
Duplex:
@hc-server missing
@hc-sources
"""


def test_real_host_checks_of_a_fresh_container() -> None:
    lab = machines_lab()
    expected = hostchecks.Expected(
        packages=("python3", "httperf"),
        server_packages=("gcc",),
        global_sysctls=("fs.file-max", "fs.nr_open", "net.core.netdev_max_backlog"),
        server_version="userver 0.1.0",
        server_digest="abc",
    )
    checks = hostchecks.judge(lab.server, hostchecks.parse(CONTAINER_PROBE), expected)
    assert checks["packages"] == hostchecks.Check(
        "warn", "missing gcc (provisioning installs them)"
    )
    assert checks["server"].status == "warn" and "no server binary" in checks["server"].detail
    assert checks["time sync"].status == "warn" and "systemd-nspawn" in checks["time sync"].detail
    assert checks["governor"].status == "unknown"
    assert checks["nic speed"] == hostchecks.Check("unknown", "exp-a 10000Mb/s full, exp-b unknown")
    assert checks["sysctls"] == hostchecks.Check(
        "warn",
        "fs.file-max not settable here, value 2466126; fs.nr_open not settable here, value"
        " 1048576; net.core.netdev_max_backlog not present here",
    )


def test_real_host_checks_of_a_provisioned_physical_host() -> None:
    lab = machines_lab()
    expected = hostchecks.Expected(("httperf",), ("gcc",), ("fs.nr_open",), "userver 0.1.0", "d1")
    text = (
        "@hc-packages\nhttperf installed\ngcc installed\n@hc-virt none\n@hc-timesync\n"
        "chrony active\n@hc-synchronised yes\n@hc-governor\n      2 performance\n"
        "@hc-sysctls\nfs.nr_open rw 1048576\n@hc-nic exp-a\n\tSpeed: 25000Mb/s\n\tDuplex: Full\n"
        "@hc-nic exp-b\n\tSpeed: 25000Mb/s\n\tDuplex: Half\n"
        "@hc-server userver 0.1.0\n@hc-sources d2\n"
    )
    checks = hostchecks.judge(lab.server, hostchecks.parse(text), expected)
    assert checks["packages"].status == "ok" and checks["sysctls"].status == "ok"
    assert checks["time sync"] == hostchecks.Check("ok", "chrony active, synchronised")
    assert checks["governor"] == hostchecks.Check("ok", "performance (2 CPUs)")
    assert (
        checks["nic speed"].status == "warn"
        and "exp-b 25000Mb/s half" in checks["nic speed"].detail
    )
    assert checks["server"] == hostchecks.Check(
        "warn", "userver 0.1.0 built from other sources (provision again)"
    )


def test_real_host_checks_read_the_playbooks_and_the_servers_version() -> None:
    expected = hostchecks.expected_from_checkout(None)
    assert "httperf" in expected.packages and "gcc" in expected.server_packages
    assert "fs.nr_open" in expected.global_sysctls
    assert expected.server_version.startswith("userver ") and expected.server_digest is None
    script = hostchecks.probe_script(machines_lab().server, expected)
    assert "dpkg-query" in script and "/opt/testbed/server/userver --version" in script


def test_host_facts_say_which_kernel_parameters_are_not_settable() -> None:
    facts = hostfacts.parse_facts(
        "kernel=6.1\nsysctl.fs.nr_open=1048576\nsysctl.net.core.somaxconn=4096\n"
        "sysctl.net.core.netdev_max_backlog=\nsysctl_read_only.fs.nr_open=1\n"
        "sysctl_read_only.net.core.netdev_max_backlog=1\n"
    )
    assert facts["sysctls"]["fs.nr_open"] == "1048576"
    assert facts["sysctls_not_settable"] == {
        "fs.nr_open": "not settable here, value 1048576",
        "net.core.netdev_max_backlog": "not present here",
    }
