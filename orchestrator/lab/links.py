"""Which emulator shapes a lab's links: netem (`netem.py`) or linkem (`linkem.py`).

    shaper = link_shaper(lab)       # LinkShaper: apply(profiles), clear(), counters()

`network.emulator` in the lab file: `netem`, `userspace` (linkem) or `auto` (the default):
netem where this machine's kernel has it, else linkem. Real hosts always get netem through
`playbooks/netem.yml` (linkem is for labs built on this machine). On a lab built here, `clear`
removes both kinds, so `orchestrate down` finds whatever a sweep with another setting (or an
older version) left.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping
from typing import Protocol

from orchestrator import local
from orchestrator.config.model import LAN, NETEM, USERSPACE, Host, Lab, NetworkProfile
from orchestrator.lab.linkem import LinkStats, UserspaceShaper
from orchestrator.lab.netem import LocalShaper, PlaybookShaper, rate_only


class LinkShaper(Protocol):
    def apply(self, profiles: Mapping[Host, NetworkProfile]) -> None: ...

    def clear(self) -> None: ...

    def counters(self) -> dict[str, LinkStats]: ...

    @property
    def pings_user_to_user(self) -> bool:
        """Whether the RTT check must time replies from user to user (`rtt.ping_command`)."""
        ...


def link_shaper(lab: Lab) -> LinkShaper:
    if not lab.built_here:
        return PlaybookShaper(lab)
    return LocalLinks(lab, lab.network.emulator)


def chosen_emulator(setting: str) -> str:
    """`netem` or `userspace` for the lab file's setting on this machine."""
    if setting != "auto":
        return setting
    return NETEM if kernel_has_netem() else USERSPACE


@functools.cache
def kernel_has_netem() -> bool:
    """Whether this machine's kernel has netem: tried on lo of a namespace of our own."""
    probe = f"tb-netem-probe-{os.getpid()}"
    local.run(["ip", "netns", "add", probe])
    try:
        tried = ["ip", "netns", "exec", probe, "tc", "qdisc", "add", "dev", "lo", "root", "netem"]
        return local.run(tried, check=False).returncode == 0
    finally:
        local.run(["ip", "netns", "del", probe])


class LocalLinks:
    """A lab built here: profiles through the chosen emulator; `clear` removes both kinds.
    `auto` is resolved when first needed (the probe makes a namespace)."""

    def __init__(self, lab: Lab, setting: str) -> None:
        self.setting = setting
        self.netem = LocalShaper(lab)
        self.userspace = UserspaceShaper(lab)

    @functools.cached_property
    def emulator(self) -> str:
        return chosen_emulator(self.setting)

    def apply(self, profiles: Mapping[Host, NetworkProfile]) -> None:
        """netem: every profile. linkem: every profile but a rate alone, which the kernel's
        tbf shapes (kernels without netem have it; it costs no process and no wake-ups)."""
        if self.emulator == NETEM:
            self.netem.apply(profiles)
            return
        plain = NetworkProfile(LAN)
        self.userspace.apply({c: plain if rate_only(p) else p for c, p in profiles.items()})
        self.netem.apply({c: p if rate_only(p) else plain for c, p in profiles.items()})

    def clear(self) -> None:
        self.userspace.clear()
        self.netem.clear()

    def counters(self) -> dict[str, LinkStats]:
        return self.userspace.counters() if self.emulator == USERSPACE else {}

    @property
    def pings_user_to_user(self) -> bool:
        return self.emulator == USERSPACE
