"""Names of the kernel objects an emulated lab creates, derived from the lab's name.

Interface names are limited to 15 characters, so bridges and root-side veth ends carry a short
hash of the lab name; namespaces can be long and readable. Two labs with different names never
share an object, and `lab down` can find everything from the names alone.
"""

from __future__ import annotations

import hashlib

MANAGEMENT = "mgmt"


def lab_tag(lab_name: str) -> str:
    """`tb` + 4 hex digits of the lab name's hash: the prefix of every interface of the lab."""
    return "tb" + hashlib.sha1(lab_name.encode()).hexdigest()[:4]


def namespace(lab_name: str, host: str) -> str:
    return f"tb-{lab_name}-{host}"


def lab_bridges(lab_name: str, subnets: list[str]) -> dict[str, str]:
    """Bridge per network: {'mgmt': 'tb1a2b-mgmt', 'a': 'tb1a2b-a', ...}."""
    tag = lab_tag(lab_name)
    return {network: f"{tag}-{network}" for network in [MANAGEMENT, *subnets]}


def root_veth(lab_name: str, host_index: int, nic_index: int) -> str:
    """Root-namespace end of a host's veth pair: `tb1a2b03n1` (host 3, NIC 1; NIC 0 = mgmt)."""
    return f"{lab_tag(lab_name)}{host_index:02d}n{nic_index}"
