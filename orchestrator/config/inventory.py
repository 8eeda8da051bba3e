"""Reading a standard Ansible YAML inventory into hosts with their merged variables.

Precedence follows Ansible's: variables of a group override those of its parent groups, and a
host's own variables override every group's. Each variable remembers where in the file it was
set, so a bad value is reported at its own line.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from orchestrator.config.checker import Checker
from orchestrator.config.yamlsource import PathElement

GROUP_KEYS = ("hosts", "vars", "children")
Origin = tuple[PathElement, ...]


@dataclass
class InventoryHost:
    """One host of an inventory: its variables, where each was set, and its groups."""

    name: str
    path: Origin  # where the host is listed (first listing)
    groups: set[str] = field(default_factory=set)
    vars: dict[str, Any] = field(default_factory=dict)
    origins: dict[str, Origin] = field(default_factory=dict)
    _depths: dict[str, int] = field(default_factory=dict)

    def set(self, key: str, value: Any, origin: Origin, depth: int) -> None:
        """Set `key` unless a deeper (more specific) definition already did."""
        if depth >= self._depths.get(key, -1):
            self.vars[key] = value
            self.origins[key] = origin
            self._depths[key] = depth

    def var_path(self, key: str) -> Origin:
        return self.origins.get(key, self.path)


def read_inventory(checker: Checker) -> dict[str, InventoryHost]:
    """Every host of the inventory in `checker.document`, with merged variables.

    Structural problems (a group that is not a mapping, unknown group keys) go to `checker`.
    """
    hosts: dict[str, InventoryHost] = {}
    data = checker.document.data
    if not isinstance(data, dict) or not data:
        checker.fail((), data, "expected an Ansible YAML inventory: a mapping of groups")
        return hosts
    for group, body in data.items():
        _walk_group(checker, str(group), body, (str(group),), [], hosts)
    return hosts


def _walk_group(
    checker: Checker,
    name: str,
    body: Any,
    path: Origin,
    parents: list[tuple[Origin, dict[str, Any], int]],
    hosts: dict[str, InventoryHost],
) -> None:
    if body is None:
        return
    group = checker.mapping(path, body, GROUP_KEYS)
    if group is None:
        return
    depth = len(parents)
    group_vars = group.get("vars") or {}
    if checker.mapping((*path, "vars"), group_vars, (), open_prefixes=("",)) is None:
        group_vars = {}
    lineage = [*parents, ((*path, "vars"), group_vars, depth)]
    members = group.get("hosts") or {}
    if checker.mapping((*path, "hosts"), members, (), open_prefixes=("",)) is None:
        members = {}
    for host_name, host_vars in members.items():
        host_path = (*path, "hosts", str(host_name))
        host = hosts.setdefault(str(host_name), InventoryHost(str(host_name), host_path))
        host.groups.add(name)
        for vars_path, variables, level in lineage:
            for key, value in variables.items():
                host.set(key, value, (*vars_path, key), level)
        if host_vars is None:
            continue
        if checker.mapping(host_path, host_vars, (), open_prefixes=("",)) is None:
            continue
        for key, value in host_vars.items():
            host.set(key, value, (*host_path, key), 10_000)
    children = group.get("children") or {}
    if checker.mapping((*path, "children"), children, (), open_prefixes=("",)) is None:
        return
    for child, child_body in children.items():
        _walk_group(
            checker, str(child), child_body, (*path, "children", str(child)), lineage, hosts
        )
