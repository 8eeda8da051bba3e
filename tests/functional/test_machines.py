"""A lab of booted machines for real: the base image, systemd-nspawn, sshd started by each
machine's systemd, the real-host playbooks, a short sweep, and nothing left behind.

Three machines (the server and one client per subnet) keep it inside CI's budget on two CPUs.
The base image is built once and cached in TESTBED_IMAGE_DIR (default /var/lib/testbed/images,
shared by every test run on the machine, as by a user's labs); apt's .deb files are cached
beside it by the lab's apt proxy. Every step prints how long it took.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from orchestrator import naming
from orchestrator.config.model import Host, Lab
from orchestrator.lab.knownhosts import known_hosts_path, markers
from orchestrator.lab.preflight import run_preflight
from orchestrator.lab.remote import SshRemote
from orchestrator.lab.wiring import namespace_pids
from tests.support.labfiles import REPOSITORY
from tests.support.labtools import links, namespaces, orchestrate, own_lab, pid_alive

LAB_NAME = "tbtest-machines"
IMAGES = os.environ.get("TESTBED_IMAGE_DIR", "/var/lib/testbed/images")
STEP_TIMEOUT = 900.0

SHORT = {
    "mechanisms": ["epoll-et", "select"],
    "workloads": ["one-byte"],
    "idle_connections": [0, 200],
    "accept_limits": ["inf"],
    "rates": [600],
    "duration": "3s",
    "warmup": "1s",
    "repetitions": 1,
    "cooldown": {"max": "2s"},
    "timeout": "2s",
    "retries": 1,
    "specweb99": {"directories": 1, "seed": 3},
}


def small_inventory() -> str:
    """The emulated inventory with the server, client1 (subnet a) and client5 (subnet b)."""
    text = (REPOSITORY / "inventory" / "emulated.yml").read_text()
    dropped = ("client2:", "client3:", "client4:", "client6:", "client7:", "client8:")
    return "\n".join(line for line in text.splitlines() if line.strip()[:8] not in dropped) + "\n"


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Lab, Path, Path]]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TESTBED_IMAGE_DIR", IMAGES)
        with own_lab(
            tmp_path_factory.mktemp("machines"),
            LAB_NAME,
            SHORT,
            sections={"emulate": "machines"},
            inventory_text=small_inventory(),
        ) as built:
            yield built


def step(label: str, *args: str, state: Path) -> tuple[str, str, int]:
    started = time.monotonic()
    result = orchestrate(*args, state=state, timeout=STEP_TIMEOUT)
    print(f"{label}: {time.monotonic() - started:.1f} s (exit {result.returncode})")
    return result.stdout, result.stderr, result.returncode


def on_machine(lab: Lab, host: Host, command: str) -> str:
    """`command` over SSH, the way the orchestrator reaches the host; its output."""
    with SshRemote.for_lab(lab) as remote:
        result = remote.run(host, command)
    assert result.error is None, result.error
    return result.stdout.strip()


def nspawn_pids(state: Path) -> dict[str, int]:
    description = json.loads((state / LAB_NAME / "lab.json").read_text())
    return {name: host["nspawn_pid"] for name, host in description["hosts"].items()}


def test_lab_up_boots_a_machine_per_host_and_is_idempotent(
    built: tuple[Lab, Path, Path],
) -> None:
    lab, path, state = built
    out, err, code = step(
        "lab up (image build included if not cached)", "lab", "up", str(path), state=state
    )
    assert code == 0, out + err
    built_now = re.search(r"base image built in ([\d.]+) s", out)
    print(f"image: {'built in ' + built_now.group(1) + ' s' if built_now else 'cached'}")
    first = nspawn_pids(state)
    assert len(first) == 3 and all(pid_alive(pid) for pid in first.values())
    for host in lab.hosts:
        # its own init and root file system: PID 1 is systemd, the hostname its own
        assert on_machine(lab, host, "cat /proc/1/comm; hostname") == f"systemd\n{host.name}"
        state_line = on_machine(lab, host, "systemctl is-system-running --wait; true")
        assert state_line in ("running", "degraded"), state_line
        assert on_machine(lab, host, "systemctl is-active ssh") == "active"
    text = known_hosts_path().read_text()
    begin, end = markers(LAB_NAME)
    block = text.split(begin, 1)[1].split(end, 1)[0]
    assert {line.split()[0] for line in block.strip().splitlines()} == {
        host.management for host in lab.hosts
    }

    out, err, code = step("lab up again", "lab", "up", str(path), state=state)
    assert code == 0, out + err
    assert nspawn_pids(state) == first  # nothing was rebooted


def test_preflight_passes_and_reports_what_a_container_cannot_set(
    built: tuple[Lab, Path, Path],
) -> None:
    lab, path, state = built
    out, err, code = step("preflight", "preflight", str(path), state=state)
    assert code == 0, out + err
    for host in lab.hosts:
        row = next(line for line in out.splitlines() if line.startswith(f"│ {host.name} "))
        assert "fail" not in row, row
    assert "preflight: the hosts themselves" in out
    with SshRemote.for_lab(lab) as remote:  # the same checks, read as data (the table wraps)
        report = run_preflight(lab, remote)
    for host_report in report.hosts:
        checks = host_report.checks
        assert checks["sysctls"].status == "warn", checks["sysctls"]
        assert "fs.nr_open not settable here, value " in checks["sysctls"].detail
        assert (
            checks["time sync"].status == "warn" and "systemd-nspawn" in checks["time sync"].detail
        )
        assert checks["nic speed"].status == "ok", checks["nic speed"]


def test_provision_twice_runs_the_real_host_tasks_and_changes_nothing_the_second_time(
    built: tuple[Lab, Path, Path],
) -> None:
    _, path, state = built
    out, err, code = step("provision 1", "provision", str(path), state=state)
    assert code == 0, out + err
    out, err, code = step("provision 2", "provision", str(path), state=state)
    assert code == 0, out + err
    assert re.search(r"provision \([\d.]+ s, 0 changed\)", out), out


def test_provisioning_ran_inside_each_machine(built: tuple[Lab, Path, Path]) -> None:
    lab, _, _ = built
    limits = "/etc/security/limits.d/90-testbed.conf"
    assert not Path(limits).exists()  # written inside the machines, not on this machine
    for host in lab.hosts:
        # a service the playbook stops, stopped by the machine's own systemd
        assert on_machine(lab, host, "systemctl is-active apt-daily.timer; true") == "inactive"
        assert "nofile" in on_machine(lab, host, f"cat {limits}")
        # the node exporter is a systemd unit of the machine, and answers on its address
        assert on_machine(lab, host, "systemctl is-active prometheus-node-exporter") == "active"
        unit = on_machine(lab, host, "systemctl show -p MainPID --value prometheus-node-exporter")
        assert on_machine(lab, host, f"cat /proc/{unit}/comm") == "prometheus-node"
        # the namespace's parameters set, the machine-wide one left (read-only here) and said so
        assert on_machine(lab, host, "cat /proc/sys/net/ipv4/ip_local_port_range").split() == [
            "1024",
            "65535",
        ]
        sysctl_file = on_machine(lab, host, "cat /etc/sysctl.d/90-testbed.conf")
        assert "# fs.nr_open = 1048576: not settable here, value" in sysctl_file
        # installed from the mirror by apt inside the machine
        assert on_machine(lab, host, "dpkg-query -W -f='${Status}' httperf") == (
            "install ok installed"
        )
    assert on_machine(lab, lab.server, "/opt/testbed/server/userver --version").startswith(
        "userver "
    )


def stored(lab: Lab) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    with sqlite3.connect(lab.results_directory / "testbed.sqlite") as db:
        db.row_factory = sqlite3.Row
        points = [dict(row) for row in db.execute("SELECT * FROM points ORDER BY seq")]
        hosts = json.loads(db.execute("SELECT hosts FROM sweeps").fetchone()[0])
    return points, hosts


def test_a_short_sweep_on_the_machines(built: tuple[Lab, Path, Path]) -> None:
    lab, path, state = built
    out, err, code = step("sweep (orchestrate up)", "up", str(path), state=state)
    assert code == 0, out[-3000:] + err
    points, hosts = stored(lab)
    assert len(points) == 4
    assert [p["status"] for p in points] == ["ok"] * 4, [(p["key"], p["reason"]) for p in points]
    server = hosts[lab.server.name]
    assert server["sysctls_not_settable"]["fs.nr_open"].startswith("not settable here, value ")


def test_a_hostile_guest_tree_leaves_the_hosts_files_byte_identical_across_lab_up(
    built: tuple[Lab, Path, Path], tmp_path: Path
) -> None:
    """A guest that links the files `lab up` writes (and the host key it reads) to files of
    this machine, then powers off: the next `lab up` refuses with one line and writes through
    none of them. Stand-ins in a temporary directory play /etc/passwd's part."""
    lab, path, state = built
    client = next(host for host in lab.hosts if host is not lab.server)
    standins = {
        "/root/.ssh/authorized_keys": tmp_path / "passwd",
        "/etc/hostname": tmp_path / "hostname",
        "/etc/ssh/ssh_host_ed25519_key.pub": tmp_path / "key.pub",
    }
    for number, standin in enumerate(standins.values()):
        standin.write_bytes(f"host file {number}: not the guest's\n".encode())
        standin.chmod(0o644)
    before = {
        standin: (standin.read_bytes(), standin.stat().st_mode) for standin in standins.values()
    }
    pid = nspawn_pids(state)[client.name]
    links = " && ".join(f"ln -sfn {standin} {guest}" for guest, standin in standins.items())
    # the guest's own doing, as root inside it: the links, then a power-off once SSH returns
    on_machine(lab, client, f"{links} && (sleep 1; systemctl poweroff) >/dev/null 2>&1 &")
    deadline = time.monotonic() + 60
    while pid_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not pid_alive(pid), f"{client.name} did not power off"

    out, err, code = step("lab up over a hostile tree", "lab", "up", str(path), state=state)
    assert code != 0, out + err
    message = [line for line in err.splitlines() if line.strip()]
    assert len(message) == 1 and "Traceback" not in err, err
    assert f"machine {client.name}: refusing to " in message[0], message[0]
    assert "never followed out of its tree" in message[0], message[0]
    after = {
        standin: (standin.read_bytes(), standin.stat().st_mode) for standin in standins.values()
    }
    assert after == before
    assert not pid_alive(nspawn_pids(state)[client.name])  # not booted over its own links


def test_lab_down_leaves_nothing_behind(built: tuple[Lab, Path, Path]) -> None:
    lab, path, state = built
    pids = nspawn_pids(state)
    roots = [
        Path(host["root"])
        for host in json.loads((state / LAB_NAME / "lab.json").read_text())["hosts"].values()
    ]
    out, err, code = step("lab down", "lab", "down", str(path), state=state)
    assert code == 0, out + err
    assert not [pid for pid in pids.values() if pid_alive(pid)]
    mounts = Path("/proc/self/mounts").read_text()
    assert not [root for root in roots if str(root) in mounts]
    assert not [name for name in namespaces() if name.startswith(f"tb-{LAB_NAME}-")]
    assert not [link for link in links() if link.startswith(naming.lab_tag(LAB_NAME))]
    assert not [
        pid for host in lab.hosts for pid in namespace_pids(naming.namespace(LAB_NAME, host.name))
    ]
    assert markers(LAB_NAME)[0] not in known_hosts_path().read_text()
    assert not (state / LAB_NAME).exists()
    out, err, code = step("lab down again", "lab", "down", str(path), state=state)
    assert code == 0, out + err
