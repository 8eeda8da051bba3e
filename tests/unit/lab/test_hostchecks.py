"""The real-host preflight checks (`lab.hostchecks`) of a lab of machines and of a physical
host, parsed from captured probe output."""

from __future__ import annotations

from orchestrator.config.labfile import load_lab
from orchestrator.config.model import Lab
from orchestrator.lab import hostchecks
from tests.support.labfiles import REPOSITORY


def machines_lab() -> Lab:
    return load_lab(REPOSITORY / "labs" / "machines.yml", routes=list)


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
