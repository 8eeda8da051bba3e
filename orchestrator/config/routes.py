"""The lab's networks against this machine's routes: an emulated lab may not overlap a route the
machine already has (its uplink, another lab).

    check_route_overlap(checker, lab, machine_routes())    # a problem per overlapping network
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Callable, Sequence

from orchestrator import local
from orchestrator.config.checker import Checker, FieldPath
from orchestrator.config.model import Lab
from orchestrator.naming import lab_bridges

Route = tuple[ipaddress.IPv4Network, str]  # destination, device
RouteSource = Callable[[], Sequence[Route]]


def machine_routes() -> list[Route]:
    """IPv4 routes of this machine, every table, without the default route."""
    output = local.run(["ip", "-j", "-4", "route", "show", "table", "all"]).stdout
    routes: list[Route] = []
    for entry in json.loads(output or "[]"):
        destination = entry.get("dst", "")
        if destination in ("", "default"):
            continue
        try:
            network = ipaddress.IPv4Network(destination, strict=False)
        except ValueError:
            continue
        routes.append((network, entry.get("dev", "")))
    return routes


def check_route_overlap(checker: Checker, lab: Lab, routes: Sequence[Route]) -> None:
    """Refuse lab networks that overlap a route this machine has (its uplink, other labs).

    Routes through this lab's own bridges are the lab itself, from an earlier `lab up`.
    """
    own = set(lab_bridges(lab.name, list(lab.subnets)).values())
    networks: list[tuple[FieldPath, ipaddress.IPv4Network]] = [
        (("all", "vars", "testbed_subnets", subnet), network)
        for subnet, network in lab.subnets.items()
    ]
    if lab.management_network is not None:
        networks.append((("all", "vars", "testbed_management"), lab.management_network))
    for path, network in networks:
        for destination, device in routes:
            if device not in own and network.overlaps(destination):
                checker.fail(
                    path,
                    str(network),
                    f"overlaps this machine's route to {destination}"
                    f" (dev {device}); choose a free range in 198.18.0.0/15",
                )
                break
