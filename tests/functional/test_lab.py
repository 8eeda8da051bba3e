"""The emulated 9-host lab for real: namespaces, sshd, preflight over SSH, teardown. (Ansible's
second run changing nothing is shown on the session's shared lab: test_servers.py.)

One lab is built for the module (its own name and 198.19.x subnets, so it never meets the
default lab) and always torn down, also when a test fails.
"""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from orchestrator import naming
from orchestrator.config.model import Lab
from orchestrator.lab.remote import SshRemote
from tests.support.labtools import links, namespaces, orchestrate, own_lab, pid_alive

LAB_NAME = "tbtest-lab"


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Lab, Path, Path]]:
    with own_lab(tmp_path_factory.mktemp("lab"), LAB_NAME) as built:
        yield built


def timed(label: str, *args: str, state: Path) -> tuple[float, str, str, int]:
    started = time.monotonic()
    result = orchestrate(*args, state=state)
    seconds = time.monotonic() - started
    print(f"{label}: {seconds:.1f} s (exit {result.returncode})")
    return seconds, result.stdout, result.stderr, result.returncode


def sshd_pids(state: Path) -> dict[str, int]:
    description = json.loads((state / LAB_NAME / "lab.json").read_text())
    return {name: host["sshd_pid"] for name, host in description["hosts"].items()}


def test_lab_up_builds_nine_hosts_and_is_idempotent(built: tuple[Lab, Path, Path]) -> None:
    lab, path, state = built
    _, _, err, code = timed("lab up", "lab", "up", str(path), state=state)
    assert code == 0, err
    expected = {naming.namespace(LAB_NAME, host.name) for host in lab.hosts}
    assert expected <= set(namespaces())
    first = sshd_pids(state)
    assert len(first) == 9 and all(pid_alive(pid) for pid in first.values())
    assert (state / LAB_NAME / "ssh" / "id_ed25519").stat().st_mode & 0o777 == 0o600
    # each host's commands run with its own home, so the operator's ~/.bashrc is not theirs
    with SshRemote.for_lab(lab) as remote:
        homes = remote.run_all(lab.hosts, 'printf %s "$HOME"')
    assert {name: result.stdout for name, result in homes.items()} == {
        host.name: host.directory for host in lab.hosts
    }

    _, _, err, code = timed("lab up again", "lab", "up", str(path), state=state)
    assert code == 0, err
    assert sshd_pids(state) == first  # nothing was recreated


def test_preflight_passes_over_ssh_on_every_host(built: tuple[Lab, Path, Path]) -> None:
    lab, path, state = built
    _, out, err, code = timed("preflight", "preflight", str(path), state=state)
    assert code == 0, out + err
    for host in lab.hosts:
        row = next(line for line in out.splitlines() if line.startswith(f"│ {host.name} "))
        assert "fail" not in row, row
    client = lab.clients[0]
    assert f"{lab.server_address_for(client)} via {client.nics[0].name}" in out


def test_preflight_marks_exactly_the_host_whose_sshd_stopped(
    built: tuple[Lab, Path, Path],
) -> None:
    lab, path, state = built
    victim = lab.clients[2].name
    os.kill(sshd_pids(state)[victim], signal.SIGTERM)
    time.sleep(0.3)
    _, out, err, code = timed("preflight, one sshd stopped", "preflight", str(path), state=state)
    assert code == 1
    [line] = err.strip().splitlines()
    assert line.startswith(f"error: preflight failed on {victim} (ssh: ")
    for host in lab.hosts:
        row = next(text for text in out.splitlines() if text.startswith(f"│ {host.name} "))
        assert ("fail" in row) == (host.name == victim), row

    _, _, err, code = timed("lab up repairs it", "lab", "up", str(path), state=state)
    assert code == 0, err
    _, out, err, code = timed("preflight again", "preflight", str(path), state=state)
    assert code == 0, out + err


def test_lab_down_leaves_nothing_behind(built: tuple[Lab, Path, Path]) -> None:
    lab, path, state = built
    pids = sshd_pids(state)
    directories = [Path(host.directory) for host in lab.hosts]
    _, _, err, code = timed("lab down", "lab", "down", str(path), state=state)
    assert code == 0, err
    tag = naming.lab_tag(LAB_NAME)
    assert not [name for name in namespaces() if name.startswith(f"tb-{LAB_NAME}-")]
    assert not [link for link in links() if link.startswith(tag)]
    assert not [pid for pid in pids.values() if pid_alive(pid)]
    assert not (state / LAB_NAME).exists()
    assert not [directory for directory in directories if directory.exists()]
    _, _, err, code = timed("lab down again", "lab", "down", str(path), state=state)
    assert code == 0, err
