"""The inventory half of a lab: hosts, their NICs and addresses, and the checks between them.

    lab = lab_from_inventory(checker, name=..., ...)   # raises ConfigError with every problem
    check_route_overlap(checker, lab, machine_routes())

`labfile.load_lab` reads `lab.yml` and calls these with the inventory's `Checker`; every problem
names the inventory file, the line, the field path and the value, as for the lab file.
"""

from __future__ import annotations

import difflib
import getpass
import ipaddress
import json
import os
import re
from collections.abc import Callable, Sequence
from pathlib import Path

from orchestrator import local
from orchestrator.config.checker import Checker, FieldPath
from orchestrator.config.inventory import InventoryHost, read_inventory
from orchestrator.config.model import Experiment, Host, Lab, Monitoring, Nic, Nightly
from orchestrator.errors import ConfigError
from orchestrator.naming import lab_bridges
from orchestrator.paths import emulated_host_dir

SUBNET_NAME_PATTERN = r"[a-z0-9]{1,8}"
IFNAME_PATTERN = r"[A-Za-z0-9_.-]{1,15}"
RESERVED_IFNAMES = ("lo", "mgmt0")
# Ansible's inventory host names: a DNS name or an address, with '_' as Ansible allows; no
# whitespace, no shell or path characters. Names go into commands, file names and namespaces.
HOST_NAME_PATTERN = r"[A-Za-z0-9](?:[A-Za-z0-9_.-]{0,62}[A-Za-z0-9])?"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
DNS_NAME_PATTERN = rf"(?=.{{1,253}}$){_LABEL}(?:\.{_LABEL})*\.?"
SAFE_PATH_PATTERN = r"/(?:[A-Za-z0-9._+-]+/?)*"  # absolute, no spaces or shell characters
USER_PATTERN = r"[A-Za-z_][A-Za-z0-9_.-]{0,31}"
MAX_CPU = 8191  # the kernel's largest NR_CPUS
HOST_TESTBED_VARS = ("testbed_cpus", "testbed_nics", "testbed_dir")
LAB_TESTBED_VARS = ("testbed_management", "testbed_subnets", "testbed_orchestrator_address")

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


def lab_from_inventory(
    checker: Checker,
    *,
    name: str,
    lab_path: Path,
    lab_text: str,
    emulate: bool,
    experiment: Experiment,
    monitoring: Monitoring,
    results: Path,
    nightly: Nightly,
) -> Lab:
    hosts = read_inventory(checker)
    for host in hosts.values():
        checker.string(
            host.path,
            host.name,
            HOST_NAME_PATTERN,
            "a host name: letters, digits, '.', '-' and '_', at most 64 characters",
        )
    if checker.problems:
        raise ConfigError(checker.problems)
    reference, clients = _roles(checker, hosts)

    for key in LAB_TESTBED_VARS:
        for host in hosts.values():
            if key in host.vars and host.var_path(key) != reference.var_path(key):
                checker.fail_plain(
                    host.var_path(key), f"{key} must be the same for every host: set it in all.vars"
                )
    subnets = _subnets(checker, reference)
    management = None
    if "testbed_management" in reference.vars:
        management = checker.ipv4_network(
            reference.var_path("testbed_management"), reference.vars["testbed_management"]
        )
    elif emulate:
        checker.fail_plain(
            ("all", "vars", "testbed_management"),
            "missing: an emulated lab needs a management network (all.vars)",
        )
    orchestrator = _orchestrator_address(checker, reference, management)

    server = _host(checker, reference, "server", subnets, emulate, name, management)
    client_hosts = [
        _host(checker, host, "client", subnets, emulate, name, management) for host in clients
    ]
    if checker.problems or server is None or subnets is None or None in client_hosts:
        raise ConfigError(checker.problems)
    ready_clients = tuple(client for client in client_hosts if client is not None)
    _check_topology(checker, hosts, server, ready_clients, management, subnets, orchestrator)
    if checker.problems:
        raise ConfigError(checker.problems)
    return Lab(
        name=name,
        path=lab_path,
        text=lab_text,
        inventory_path=checker.document.path,
        inventory_text=checker.document.text,
        inventory=checker.document.data,
        emulate=emulate,
        management_network=management,
        orchestrator_address=orchestrator,
        subnets=subnets,
        server=server,
        clients=ready_clients,
        experiment=experiment,
        monitoring=monitoring,
        results_directory=results,
        nightly=nightly,
    )


def _roles(
    checker: Checker, hosts: dict[str, InventoryHost]
) -> tuple[InventoryHost, list[InventoryHost]]:
    """The one server and the clients, or ConfigError naming what the groups lack."""
    servers = [host for host in hosts.values() if "server" in host.groups]
    clients = [host for host in hosts.values() if "clients" in host.groups]
    if len(servers) != 1:
        found = ", ".join(host.name for host in servers) or "none"
        checker.fail_plain(
            _group_path(checker, "server"),
            f"expected exactly one host in group 'server', found {found}",
        )
    if not clients:
        checker.fail_plain(
            _group_path(checker, "clients"),
            "expected at least one host in group 'clients', found none",
        )
    for host in servers:
        if host in clients:
            checker.fail_plain(host.path, "a host cannot be both the server and a client")
    if checker.problems:
        raise ConfigError(checker.problems)
    return servers[0], clients


def _group_path(checker: Checker, group: str) -> FieldPath:
    """Where a group is (or would be) in the inventory, for messages."""
    data = checker.document.data
    if isinstance(data, dict) and isinstance(data.get("all"), dict):
        return ("all", "children", group)
    return (group,)


def _subnets(checker: Checker, host: InventoryHost) -> dict[str, ipaddress.IPv4Network] | None:
    if "testbed_subnets" not in host.vars:
        checker.fail_plain(
            ("all", "vars", "testbed_subnets"),
            "missing: the experiment subnets, e.g. {a: 198.18.1.0/24, b: ...}",
        )
        return None
    at = host.var_path("testbed_subnets")
    value = host.vars["testbed_subnets"]
    if not isinstance(value, dict) or not value:
        checker.fail(at, value, "expected a mapping of subnet names to networks")
        return None
    subnets: dict[str, ipaddress.IPv4Network] = {}
    for subnet, network in value.items():
        if (
            checker.string(
                (*at, str(subnet)),
                str(subnet),
                SUBNET_NAME_PATTERN,
                "a subnet name of 1-8 lower-case letters or digits",
            )
            is None
        ):
            continue
        parsed = checker.ipv4_network((*at, str(subnet)), network)
        if parsed is not None:
            for other, other_network in subnets.items():
                if parsed.overlaps(other_network):
                    checker.fail((*at, str(subnet)), network, f"overlaps subnet '{other}'")
            subnets[str(subnet)] = parsed
    return subnets


def _orchestrator_address(
    checker: Checker, host: InventoryHost, management: ipaddress.IPv4Network | None
) -> ipaddress.IPv4Address | None:
    key = "testbed_orchestrator_address"
    if key in host.vars:
        return checker.ipv4_address(host.var_path(key), host.vars[key])
    if management is not None:
        return next(management.hosts())
    return None


def _host(
    checker: Checker,
    entry: InventoryHost,
    role: str,
    subnets: dict[str, ipaddress.IPv4Network] | None,
    emulate: bool,
    lab_name: str,
    management: ipaddress.IPv4Network | None,
) -> Host | None:
    for key in entry.vars:
        if key.startswith("testbed_") and key not in HOST_TESTBED_VARS + LAB_TESTBED_VARS:
            hint = difflib.get_close_matches(key, HOST_TESTBED_VARS + LAB_TESTBED_VARS, n=1)
            suffix = f" (did you mean '{hint[0]}'?)" if hint else ""
            checker.fail_plain(entry.var_path(key), f"unknown testbed variable{suffix}")
    problems_before = len(checker.problems)
    address = entry.vars.get("ansible_host")
    if address is None:
        checker.fail_plain((*entry.path, "ansible_host"), "missing: the management address")
    elif not isinstance(address, str):
        checker.fail(entry.var_path("ansible_host"), address, "expected an address or host name")
    elif emulate:
        parsed = checker.ipv4_address(entry.var_path("ansible_host"), address)
        if parsed is not None and management is not None and parsed not in management:
            checker.fail(
                entry.var_path("ansible_host"),
                address,
                f"expected an address in the management network {management}",
            )
    elif not _is_address(address) and not re.fullmatch(DNS_NAME_PATTERN, address):
        checker.fail(
            entry.var_path("ansible_host"), address, "expected an IP address or a DNS name"
        )
    port = checker.integer(
        entry.var_path("ansible_port"), entry.vars.get("ansible_port", 22), minimum=1, maximum=65535
    )
    user = entry.vars.get("ansible_user") or (
        "root" if emulate else os.environ.get("USER") or getpass.getuser()
    )
    if "ansible_user" in entry.vars:
        checker.string(entry.var_path("ansible_user"), user, USER_PATTERN, "a user name")
    python = entry.vars.get("ansible_python_interpreter") or "python3"
    if "ansible_python_interpreter" in entry.vars:
        checker.string(
            entry.var_path("ansible_python_interpreter"),
            python,
            SAFE_PATH_PATTERN,
            "an absolute path of letters, digits and . _ + - (no spaces or shell characters)",
        )
    key_file = entry.vars.get("ansible_ssh_private_key_file")
    cpus = _cpus(checker, entry)
    directory = entry.vars.get("testbed_dir")
    if directory is None:
        directory = str(emulated_host_dir(lab_name, entry.name)) if emulate else "/opt/testbed"
    else:
        directory = _directory(checker, entry.var_path("testbed_dir"), directory)
    nics = _nics(checker, entry, role, subnets or {})
    if len(checker.problems) > problems_before or nics is None or port is None or cpus is None:
        return None
    assert isinstance(address, str) and directory is not None
    return Host(
        name=entry.name,
        role="server" if role == "server" else "client",
        management=address,
        ssh_port=port,
        ssh_user=str(user),
        ssh_key=Path(str(key_file)) if key_file else None,
        cpus=cpus,
        directory=str(directory),
        python=str(python),
        nics=nics,
    )


def _directory(checker: Checker, at: FieldPath, value: object) -> str | None:
    """testbed_dir: an absolute path of plain characters, without '..' components."""
    text = checker.string(
        at,
        value,
        SAFE_PATH_PATTERN,
        "an absolute directory path of letters, digits and . _ + - (no spaces or shell characters)",
    )
    if text is not None and ".." in text.split("/"):
        checker.fail(at, value, "expected a path without '..' components")
        return None
    return text


def _is_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _cpus(checker: Checker, entry: InventoryHost) -> tuple[int, ...] | None:
    """testbed_cpus: an integer, a list of integers, or a cpulist string like '0-3,6'."""
    if "testbed_cpus" not in entry.vars:
        return ()
    at = entry.var_path("testbed_cpus")
    value = entry.vars["testbed_cpus"]
    cpus: list[int] = []
    if isinstance(value, int) and not isinstance(value, bool):
        cpus = [value]
    elif isinstance(value, list) and all(
        isinstance(cpu, int) and not isinstance(cpu, bool) for cpu in value
    ):
        cpus = list(value)
    elif isinstance(value, str) and re.fullmatch(
        r"\d{1,5}(-\d{1,5})?(,\d{1,5}(-\d{1,5})?)*", value
    ):
        for part in value.split(","):  # at most 5 digits: a range never expands past 99,999
            low, _, high = part.partition("-")
            cpus += range(int(low), int(high or low) + 1)
    else:
        checker.fail(at, value, "expected a CPU number, a list of them, or a cpulist like '0-3'")
        return None
    if any(not 0 <= cpu <= MAX_CPU for cpu in cpus):
        checker.fail(at, value, f"expected CPU numbers from 0 to {MAX_CPU}")
        return None
    return tuple(sorted(set(cpus)))


def _nics(
    checker: Checker, entry: InventoryHost, role: str, subnets: dict[str, ipaddress.IPv4Network]
) -> tuple[Nic, ...] | None:
    at = entry.var_path("testbed_nics")
    value = entry.vars.get("testbed_nics")
    if value is None:
        checker.fail_plain(
            (*entry.path, "testbed_nics"),
            "missing: the host's experiment NICs [{name, subnet, address}]",
        )
        return None
    items = checker.sequence(at, value)
    if items is None:
        return None
    nics: list[Nic] = []
    for index, item in enumerate(items):
        nic_at = (*at, index)
        spec = checker.mapping(
            nic_at, item, ("name", "subnet", "address"), required=("name", "subnet", "address")
        )
        if spec is None or any(key not in spec for key in ("name", "subnet", "address")):
            continue
        name = checker.string(
            (*nic_at, "name"),
            spec["name"],
            IFNAME_PATTERN,
            "an interface name of at most 15 characters",
        )
        if name in RESERVED_IFNAMES:
            checker.fail((*nic_at, "name"), name, "reserved interface name; choose another")
            name = None
        subnet = (
            checker.choice((*nic_at, "subnet"), spec["subnet"], tuple(subnets)) if subnets else None
        )
        address = checker.ipv4_address((*nic_at, "address"), spec["address"])
        if name is None or subnet is None or address is None:
            continue
        network = subnets[subnet]
        if address not in network or address in (
            network.network_address,
            network.broadcast_address,
        ):
            checker.fail(
                (*nic_at, "address"),
                spec["address"],
                f"expected a host address in subnet '{subnet}' ({network})",
            )
            continue
        nics.append(Nic(name=name, subnet=subnet, address=address, network=network))
    if len(nics) != len(items):
        return None
    checker.unique(at, [nic.name for nic in nics])
    if role == "client" and len(nics) != 1:
        checker.fail(at, f"{len(nics)} NICs", "expected exactly one experiment NIC on a client")
        return None
    checker.unique(at, [nic.subnet for nic in nics])
    return tuple(nics)


def _check_topology(
    checker: Checker,
    entries: dict[str, InventoryHost],
    server: Host,
    clients: Sequence[Host],
    management: ipaddress.IPv4Network | None,
    subnets: dict[str, ipaddress.IPv4Network],
    orchestrator: ipaddress.IPv4Address | None,
) -> None:
    for client in clients:
        if server.nic_on(client.subnet) is None:
            checker.fail(
                _nic_path(entries[client.name], 0, "subnet"),
                client.subnet,
                f"the server has no address on subnet '{client.subnet}'",
            )
    if management is not None:
        for subnet, network in subnets.items():
            if network.overlaps(management):
                checker.fail(
                    ("all", "vars", "testbed_subnets", subnet),
                    str(network),
                    f"overlaps the management network {management}",
                )
    owners: dict[str, str] = {}
    if orchestrator is not None:
        owners[str(orchestrator)] = "the orchestrator"
    for host in (server, *clients):
        entry = entries[host.name]
        places: list[tuple[str, FieldPath]] = [(host.management, entry.var_path("ansible_host"))]
        places += [
            (str(nic.address), _nic_path(entry, index, "address"))
            for index, nic in enumerate(host.nics)
        ]
        for address, path in places:
            if address in owners:
                checker.fail(path, address, f"duplicate address, already used by {owners[address]}")
            else:
                owners[address] = host.name


def _nic_path(entry: InventoryHost, index: int, key: str) -> FieldPath:
    return (*entry.var_path("testbed_nics"), index, key)


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
