"""Which of this machine's CPUs an emulated host's processes are pinned to.

An emulated host's `cpus` (inventory `testbed_cpus`) keep the server's core to the server: its
sshd, and so everything the sweep starts there, runs pinned to them; so does what the lab
starts for the host from outside, such as its link emulator (`lab.linkem`), which runs at a
real-time priority and, left to float, would take the server's core whenever it wanted it.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from orchestrator.config.model import Host


def machine_cpus() -> set[int]:
    """The CPUs this process may run on (a container or taskset may hide some)."""
    return set(os.sched_getaffinity(0))


def usable_cpus(host: Host, available: set[int]) -> list[int]:
    """The host's CPUs that this machine has; [] when it asked for none (or has none of
    them): its processes then run on any CPU."""
    return [cpu for cpu in host.cpus if cpu in available]


def taskset_prefix(cpus: Sequence[int]) -> list[str]:
    """`taskset -c 1,2` for a command pinned to `cpus`; nothing when there are none."""
    return ["taskset", "-c", ",".join(map(str, cpus))] if cpus else []
