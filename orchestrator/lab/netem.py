"""WAN conditions on the clients' experiment links: `tc qdisc … netem`, each way.

    shaper = LocalShaper(lab)                  # built here: tc itself; real hosts: PlaybookShaper
    shaper.apply({client: profile, ...})       # the `lan` profile removes a client's netem
    shaper.clear()                             # every client back to its plain link

`links.link_shaper` chooses between netem and linkem (`linkem.py`, for kernels without netem).

A profile's delay, jitter, loss and rate hold in each direction, so a round trip gains twice
the delay. On a lab built here (namespaces or booted machines) the client's NIC shapes what the
client sends and the root end of its veth pair (on the subnet's bridge) what it receives: per
client, and the server and other clients' links untouched. Real hosts get the same from
`playbooks/netem.yml`: netem on the client's NIC, and on an ifb device that its ingress is
redirected to. Commands are argument lists built by pure functions; `shell_text` shows one
quoted, as it would reach a shell.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Mapping, Sequence
from typing import Any

from orchestrator import local, naming
from orchestrator.config.model import Host, Lab, NetworkProfile
from orchestrator.errors import TestbedError
from orchestrator.lab.linkem import LinkStats
from orchestrator.lab.provision import Ansible

TBF_MIN_BURST = 16_000  # bytes: ten full-size packets, so a slow rate still sends whole bursts
NO_NETEM = "Specified qdisc kind is unknown"  # tc's words when the kernel lacks the qdisc
NETEM_LIMIT = 100_000  # packets queued; netem's 1,000 drops on its own at WAN delays and load
PLAYBOOK = "netem.yml"
SHAPING_QDISCS = ("netem", "tbf")


# -- pure builders ------------------------------------------------------------------------------


def rate_only(profile: NetworkProfile) -> bool:
    """Whether a profile only limits the rate: the kernel's tbf shapes it, netem or not."""
    return bool(profile.rate) and not (profile.delay or profile.jitter or profile.loss)


def qdisc_arguments(profile: NetworkProfile) -> list[str]:
    """The root qdisc for a profile: netem, or tbf when it only limits the rate (tbf is in
    kernels built without netem, such as the 2-core development machines')."""
    if profile.rate and rate_only(profile):  # (the rate test narrows its type)
        burst = max(TBF_MIN_BURST, profile.rate // 8 // 100)  # 10 ms at the rate, in bytes
        return ["tbf", "rate", f"{profile.rate}bit", "burst", str(burst), "latency", "100ms"]
    return netem_arguments(profile)


def netem_arguments(profile: NetworkProfile) -> list[str]:
    """`netem …` for a profile: times in whole microseconds, loss in percent, rate in bit/s."""
    arguments = ["netem", "limit", str(NETEM_LIMIT)]
    if profile.delay or profile.jitter:
        arguments += ["delay", f"{round(profile.delay * 1e6)}us"]
        if profile.jitter:
            arguments.append(f"{round(profile.jitter * 1e6)}us")
    if profile.loss:
        arguments += ["loss", f"{profile.loss * 100:.6g}%"]
    if profile.rate:
        arguments += ["rate", f"{profile.rate}bit"]
    return arguments


def in_namespace(namespace: str | None, command: Sequence[str]) -> list[str]:
    return ["ip", "netns", "exec", namespace, *command] if namespace else list(command)


def tc_replace(device: str, profile: NetworkProfile, namespace: str | None = None) -> list[str]:
    """Put `profile`'s netem as the root qdisc of `device` (replacing whatever was there)."""
    return in_namespace(
        namespace, ["tc", "qdisc", "replace", "dev", device, "root", *qdisc_arguments(profile)]
    )


def tc_delete(device: str, namespace: str | None = None) -> list[str]:
    """Back to the device's default qdisc."""
    return in_namespace(namespace, ["tc", "qdisc", "del", "dev", device, "root"])


def tc_show(device: str, namespace: str | None = None) -> list[str]:
    return in_namespace(namespace, ["tc", "-j", "qdisc", "show", "dev", device])


def shell_text(command: Sequence[str]) -> str:
    """A command as one line for a shell or a log: every word quoted."""
    return shlex.join(command)


def has_netem(tc_json: str) -> bool:
    """Whether `tc -j qdisc show` output lists a qdisc of ours (netem, or tbf for a rate)."""
    try:
        qdiscs: list[dict[str, Any]] = json.loads(tc_json or "[]")
    except json.JSONDecodeError:
        return False
    return any(entry.get("kind") in SHAPING_QDISCS for entry in qdiscs)


def playbook_vars(profiles: Mapping[Host, NetworkProfile]) -> dict[str, Any]:
    """`netem.yml`'s variables: per client, its NIC and the netem arguments ([] = none)."""
    return {
        "testbed_netem_links": {
            host.name: {
                "device": host.nics[0].name,
                "netem": qdisc_arguments(profile) if profile.emulated else [],
            }
            for host, profile in profiles.items()
        }
    }


# -- applying them ------------------------------------------------------------------------------


class LocalShaper:
    """netem on both ends of each client's experiment veth, with this machine's tc."""

    def __init__(self, lab: Lab) -> None:
        self.lab = lab

    def ends(self, client: Host) -> list[tuple[str, str | None]]:
        """(device, namespace) of both ends of the client's experiment link."""
        index = self.lab.hosts.index(client)
        namespace = naming.namespace(self.lab.name, client.name)
        return [
            (client.nics[0].name, namespace),
            (naming.root_veth(self.lab.name, index, 1), None),
        ]

    def apply(self, profiles: Mapping[Host, NetworkProfile]) -> None:
        for client, profile in profiles.items():
            for device, namespace in self.ends(client):
                if profile.emulated:
                    self._replace(device, profile, namespace)
                else:
                    self._remove(device, namespace)

    def clear(self) -> None:
        for client in self.lab.clients:
            for device, namespace in self.ends(client):
                self._remove(device, namespace)

    def shaped(self) -> list[str]:
        """The lab's devices that carry a netem now (for `down` and tests)."""
        return [
            device
            for client in self.lab.clients
            for device, namespace in self.ends(client)
            if has_netem(local.run(tc_show(device, namespace), check=False).stdout)
        ]

    def _replace(self, device: str, profile: NetworkProfile, namespace: str | None) -> None:
        result = local.run(tc_replace(device, profile, namespace), check=False)
        if result.returncode == 0:
            return
        if NO_NETEM in result.stderr:
            raise TestbedError(
                f"profile {profile.name}: this machine's kernel has no netem qdisc"
                " (CONFIG_NET_SCH_NETEM): set network.emulator to auto or userspace (linkem)"
            )
        detail = (result.stderr or result.stdout).strip() or f"exit status {result.returncode}"
        raise TestbedError(f"{shell_text(tc_replace(device, profile, namespace))}: {detail}")

    def _remove(self, device: str, namespace: str | None) -> None:
        shown = local.run(tc_show(device, namespace), check=False)
        if shown.returncode == 0 and has_netem(shown.stdout):
            local.run(tc_delete(device, namespace))


class PlaybookShaper:
    """Real hosts: `playbooks/netem.yml` (netem on the NIC and on an ifb for its ingress)."""

    def __init__(self, lab: Lab) -> None:
        self.lab = lab

    def apply(self, profiles: Mapping[Host, NetworkProfile]) -> None:
        result = Ansible(self.lab, timeout=300).run(PLAYBOOK, extravars=playbook_vars(profiles))
        if not result.succeeded:
            hosts = ", ".join(result.unreachable) or result.status
            raise TestbedError(f"{PLAYBOOK}: the WAN conditions could not be set ({hosts})")

    def clear(self) -> None:
        plain = NetworkProfile("lan")
        self.apply(dict.fromkeys(self.lab.clients, plain))

    def counters(self) -> dict[str, LinkStats]:
        return {}  # netem keeps up in the kernel: nothing of ours can fall behind

    @property
    def pings_user_to_user(self) -> bool:
        return False  # netem delays before the kernel's receive timestamp
