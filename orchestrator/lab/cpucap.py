"""The server's CPU capped below its cores (`server_cpu: {limit: 0.4}`), by the kernel's CPU
bandwidth control: a cgroup whose quota per period is the limit.

    cap_words(lab)     # ["sh", "-c", CAP_SCRIPT, "cpucap", group, quota, period], or []
    remove_group(lab)  # the emulated lab's `down`: its server's cgroup, once it is empty

The words go before the server's own command line (after nothing else: the server's pinning
comes after them), so the server itself, not a wrapper, is the cgroup's process. The script
puts its own shell in the cgroup and then `exec`s the server: the server's pid and process
group are the ones the sweep tracks. It uses cgroup v1's `cpu` controller where it is mounted
(`cpu.cfs_quota_us`, `cpu.cfs_period_us`) and cgroup v2's `cpu.max` otherwise.

A host of the emulated lab runs its sshd under `ip netns exec`, whose own /sys shows no
cgroups: when /sys/fs/cgroup is empty the script mounts them there, in that namespace's
mount namespace only (`ip netns exec` made it private); a real host's /sys/fs/cgroup is never
empty, and is never mounted over.

Why a cap: the paper's server ran one CPU against eight dual-CPU clients, so the clients could
always outrun it. On a 2-core machine the server and the eight clients have a core each, and a
TCP connection costs the client's core about as much as the server's (measured on the emulated
lab: 55-62 us per connection at the clients, 40-50 us per reply at the server, epoll-ET), so
epoll's knee lies beyond what the clients can offer. A server held to a share of its core has
its knee within their reach; its CPU use is then judged against the cap (`ServerCpu.limit`).
"""

from __future__ import annotations

import time
from pathlib import Path

from orchestrator.config.model import Lab
from orchestrator.errors import TestbedError

__all__ = ["CAP_SCRIPT", "GROUP_ROOTS", "cap_words", "group_name", "remove_group"]

# Where the script makes the group: cgroup v1's cpu hierarchy, else the v2 root
GROUP_ROOTS = (Path("/sys/fs/cgroup/cpu"), Path("/sys/fs/cgroup"))

CAP_SCRIPT = r"""set -e
group=$1 quota=$2 period=$3
shift 3
root=/sys/fs/cgroup
if [ -d "$root" ] && [ -z "$(ls -A "$root")" ]; then
    # a network namespace's own /sys: mount the cgroups, in this mount namespace only
    mount -t tmpfs testbed-cgroups "$root"
    mkdir "$root/cpu"
    if ! mount -t cgroup -o cpu cgroup "$root/cpu" 2>/dev/null; then
        umount "$root"
        mount -t cgroup2 cgroup2 "$root"
    fi
fi
if [ -f "$root/cpu/cpu.cfs_quota_us" ]; then
    dir=$root/cpu/$group
    mkdir -p "$dir"
    echo "$period" > "$dir/cpu.cfs_period_us"
    echo "$quota" > "$dir/cpu.cfs_quota_us"
elif [ -f "$root/cgroup.controllers" ] && grep -qw cpu "$root/cgroup.controllers"; then
    grep -qw cpu "$root/cgroup.subtree_control" || echo +cpu > "$root/cgroup.subtree_control"
    dir=$root/$group
    mkdir -p "$dir"
    echo "$quota $period" > "$dir/cpu.max"
else
    echo "server_cpu.limit: this host has no cgroup CPU controller to cap the server with" >&2
    exit 1
fi
echo $$ > "$dir/cgroup.procs"
exec "$@"
"""


def group_name(lab: Lab) -> str:
    """The cgroup of `lab`'s server: one per lab (a lab name is letters, digits and '-')."""
    return f"testbed-{lab.name}-server"


def cap_words(lab: Lab) -> list[str]:
    """The words that start the server capped at the lab's `server_cpu.limit`; [] if none."""
    quota = lab.server_cpu.quota_us
    if quota is None:
        return []
    period = lab.server_cpu.PERIOD_US
    return ["sh", "-c", CAP_SCRIPT, "cpucap", group_name(lab), str(quota), str(period)]


def remove_group(lab: Lab, roots: tuple[Path, ...] = GROUP_ROOTS, wait: float = 2.0) -> None:
    """Remove `lab`'s server cgroup on this machine (an emulated lab's hosts share its
    cgroups); fine if there is none. The kernel refuses while a process is still in it: a
    server just killed is given `wait` seconds to be gone."""
    for root in roots:
        group = root / group_name(lab)
        deadline = time.monotonic() + wait
        while group.is_dir():
            try:
                group.rmdir()
            except OSError as error:
                if time.monotonic() > deadline:
                    raise TestbedError(
                        f"{group}: {error.strerror}: the lab's server is still running in it"
                    ) from None
                time.sleep(0.1)
