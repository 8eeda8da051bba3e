"""The server's CPU cap (`server_cpu: {limit: 0.4}`, `lab.cpucap`) on this machine's kernel: a
process started behind the cap words spins on one CPU and gets at most its cap, the cgroup
throttling it, both in this machine's own view of /sys and inside a network namespace, whose
own /sys shows no cgroups until the script mounts them (as on an emulated lab's host).

The cap is a ceiling the kernel enforces, so the test asserts it from above (and that the
cgroup throttled the spinner); how much under it a busy machine leaves the spinner is not
asserted."""

from __future__ import annotations

import dataclasses
import resource
import shutil
import subprocess
import uuid
from collections.abc import Iterator

import pytest

from orchestrator.config.model import Lab, ServerCpuLimit
from orchestrator.lab.cpucap import GROUP_ROOTS, cap_words, group_name, remove_group
from tests.support.labfiles import default_lab

LIMIT = 0.4
SPIN_SECONDS = 1.5
SPIN = ["taskset", "-c", "0", "timeout", str(SPIN_SECONDS), "sh", "-c", "while :; do :; done"]


@pytest.fixture
def lab() -> Iterator[Lab]:
    """A lab of its own name, so its cgroup is its own; the cgroup is removed afterwards."""
    name = f"cap-{uuid.uuid4().hex[:8]}"
    lab = dataclasses.replace(default_lab(routes=list), name=name, server_cpu=ServerCpuLimit(LIMIT))
    yield lab
    remove_group(lab)
    assert not any((root / group_name(lab)).exists() for root in GROUP_ROOTS)


def spin(prefix: list[str]) -> float:
    """CPU seconds per second of wall time the spinner got behind `prefix`."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    done = subprocess.run([*prefix, *SPIN], capture_output=True, text=True, timeout=30)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    assert done.returncode == 124, done.stderr  # timeout's: it ran until stopped
    used = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return used / SPIN_SECONDS


def throttled(lab: Lab) -> int:
    for root in GROUP_ROOTS:
        stat = root / group_name(lab) / "cpu.stat"
        if stat.exists():
            fields = dict(line.split() for line in stat.read_text().splitlines())
            return int(fields["nr_throttled"])
    raise AssertionError(f"no cgroup {group_name(lab)} under {GROUP_ROOTS}")


def test_a_capped_process_gets_at_most_its_cap(lab: Lab) -> None:
    share = spin(cap_words(lab))
    assert share <= LIMIT + 0.1, f"{share:.2f} of a core under a cap of {LIMIT}"
    assert throttled(lab) > 0


def test_the_cap_holds_inside_a_network_namespace_with_no_cgroups_in_view(lab: Lab) -> None:
    if not shutil.which("ip"):
        pytest.fail("iproute2's ip is needed (Debian: iproute2)")
    namespace = f"tb-{lab.name}"
    subprocess.run(["ip", "netns", "add", namespace], check=True)
    try:
        inside = ["ip", "netns", "exec", namespace]
        view = subprocess.run([*inside, "ls", "-A", "/sys/fs/cgroup"], capture_output=True)
        assert view.stdout == b"", "the namespace's own /sys should show no cgroups"
        share = spin([*inside, *cap_words(lab)])
    finally:
        subprocess.run(["ip", "netns", "del", namespace], check=False)
    assert share <= LIMIT + 0.1, f"{share:.2f} of a core under a cap of {LIMIT}"
    assert throttled(lab) > 0
