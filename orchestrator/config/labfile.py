"""Loading `lab.yml` and its inventory into a validated `Lab`, or every problem at once.

    lab = load_lab(Path("lab.yml"))

Bad input raises `ConfigError` with one line per problem, each naming the file, line, field
path, the offending value and what was expected. Nothing is created or started before this
returns, so a bad lab file never leaves anything half-done.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any

from orchestrator.config.checker import Checker, FieldPath
from orchestrator.config.experiment import parse_experiment
from orchestrator.config.model import (
    HTTPERF,
    LOAD_ENGINES,
    GrafanaSettings,
    Lab,
    LoadGenerator,
    Monitoring,
    Nightly,
    PrometheusSettings,
    ServerCpuLimit,
)
from orchestrator.config.network import check_network_use, parse_network
from orchestrator.config.routes import RouteSource, check_route_overlap, machine_routes
from orchestrator.config.servers import parse_servers
from orchestrator.config.topology import lab_from_inventory
from orchestrator.config.yamlsource import YamlDocument
from orchestrator.errors import ConfigError
from orchestrator.paths import shared_directory_clash

SUPPORTED_VERSION = 1
NAME_PATTERN = r"[a-z0-9][a-z0-9-]{0,30}"
MACHINES = "machines"  # `emulate: machines`: every host a booted Debian container

LAB_KEYS = (
    "version",
    "name",
    "inventory",
    "emulate",
    "experiment",
    "monitoring",
    "results",
    "nightly",
    "network",
    "servers",
    "load",
    "server_cpu",
)


def load_lab(path: Path, routes: RouteSource = machine_routes) -> Lab:
    """Load and validate `path` and the inventory it names; see the module docstring.

    `routes` lists the machine's routes for the overlap check of emulated labs (tests pass
    their own).
    """
    document = YamlDocument.load(path, "lab file")
    checker = Checker(document)
    top = checker.mapping(
        (), document.data, LAB_KEYS, required=("version", "name", "inventory", "experiment")
    )
    if top is None:
        raise ConfigError(checker.problems)
    if "version" in top and top["version"] != SUPPORTED_VERSION:
        checker.fail(
            ("version",), top["version"], f"unsupported version, expected {SUPPORTED_VERSION}"
        )
        raise ConfigError(checker.problems)  # the rest may mean something else in another version

    name = checker.string(
        ("name",),
        top.get("name"),
        NAME_PATTERN,
        "a lab name: lower-case letters, digits and '-', at most 31 characters",
    )
    clash = shared_directory_clash(name) if name is not None else None
    if clash is not None:
        checker.fail(("name",), name, clash)
    emulate = _emulate(checker, top.get("emulate", False))
    servers = parse_servers(checker, top.get("servers"))
    experiment = parse_experiment(checker, top.get("experiment"), servers)
    monitoring = _monitoring(checker, top.get("monitoring", {}))
    results = _results(checker, top.get("results", {}), path.parent)
    nightly = _nightly(checker, top.get("nightly", {}))
    network = parse_network(checker, top.get("network", {}))
    load = _load(checker, top.get("load", {}))
    server_cpu = _server_cpu(checker, top.get("server_cpu", {}))
    inventory_path = _inventory_path(checker, top.get("inventory"), path.parent)
    if checker.problems:
        raise ConfigError(checker.problems)
    assert name is not None and emulate is not None and experiment is not None
    assert monitoring is not None and results is not None and inventory_path is not None
    assert nightly is not None and network is not None and load is not None
    assert server_cpu is not None

    inventory = Checker(YamlDocument.load(inventory_path, "inventory"))
    lab = lab_from_inventory(
        inventory,
        name=name,
        lab_path=path,
        lab_text=document.text,
        emulate=emulate is True,
        machines=emulate == MACHINES,
        experiment=experiment,
        monitoring=monitoring,
        results=results,
        nightly=nightly,
    )
    lab = dataclasses.replace(lab, network=network, load=load, server_cpu=server_cpu)
    check_network_use(checker, lab)
    _check_server_cpu(checker, lab)
    if checker.problems:
        raise ConfigError(checker.problems)
    if lab.built_here:
        check_route_overlap(inventory, lab, routes())
        if inventory.problems:
            raise ConfigError(inventory.problems)
    return lab


# -- lab.yml sections ----------------------------------------------------------------------------


def _emulate(checker: Checker, value: Any) -> bool | str | None:
    """`emulate`: true (namespaces), false (real hosts) or `machines` (booted containers)."""
    if isinstance(value, bool):
        return value
    if value == MACHINES:
        return MACHINES
    checker.fail(
        ("emulate",),
        value,
        f"expected true (namespaces), false (real hosts) or {MACHINES} (booted containers)",
    )
    return None


def _inventory_path(checker: Checker, value: Any, base: Path) -> Path | None:
    text = checker.string(("inventory",), value, expected="a path to an Ansible YAML inventory")
    if text is None:
        return None
    candidate = Path(text) if Path(text).is_absolute() else base / text
    if not candidate.is_file():
        checker.fail(("inventory",), value, f"inventory file not found ({candidate})")
        return None
    return candidate


def _monitoring(checker: Checker, value: Any) -> Monitoring | None:
    at: FieldPath = ("monitoring",)
    problems_before = len(checker.problems)
    section = checker.mapping(at, value, ("prometheus", "grafana"))
    if section is None:
        return None
    prom_at: FieldPath = (*at, "prometheus")
    prom = checker.mapping(
        prom_at, section.get("prometheus", {}), ("url", "port", "scrape_interval")
    )
    graf_at: FieldPath = (*at, "grafana")
    graf = checker.mapping(
        graf_at, section.get("grafana", {}), ("url", "token_env", "folder", "prometheus_url")
    )
    if prom is None or graf is None:
        return None
    url = _optional_url(checker, (*prom_at, "url"), prom.get("url"))
    port = checker.integer((*prom_at, "port"), prom.get("port", 9090), minimum=1, maximum=65535)
    interval = checker.duration(
        (*prom_at, "scrape_interval"), prom.get("scrape_interval", "1s"), allow_zero=False
    )
    grafana_url = _optional_url(checker, (*graf_at, "url"), graf.get("url"))
    seen_from_grafana = _optional_url(
        checker, (*graf_at, "prometheus_url"), graf.get("prometheus_url")
    )
    token_env = checker.string(
        (*graf_at, "token_env"),
        graf.get("token_env", "GRAFANA_TOKEN"),
        r"[A-Za-z_][A-Za-z0-9_]*",
        "an environment variable name",
    )
    folder = checker.string(
        (*graf_at, "folder"), graf.get("folder", "testbed"), r".{1,64}", "a folder title"
    )
    if len(checker.problems) > problems_before:
        return None
    assert port is not None and interval is not None
    assert token_env is not None and folder is not None
    return Monitoring(
        prometheus=PrometheusSettings(url=url, port=port, scrape_interval=interval),
        grafana=GrafanaSettings(
            url=grafana_url, token_env=token_env, folder=folder, prometheus_url=seen_from_grafana
        ),
    )


def _server_cpu(checker: Checker, value: Any) -> ServerCpuLimit | None:
    """`server_cpu`: `{limit: 0.4}`, the server's CPU capped at that many cores (not capped by
    default)."""
    section = checker.mapping(("server_cpu",), value, ("limit",))
    if section is None:
        return None
    if section.get("limit") is None:
        return ServerCpuLimit()
    path = ("server_cpu", "limit")
    limit = checker.positive_number(path, section["limit"], maximum=1024)
    if limit is not None and limit < ServerCpuLimit.MINIMUM:
        checker.fail(path, limit, f"expected at least {ServerCpuLimit.MINIMUM:g} of a core")
        return None
    return ServerCpuLimit(limit) if limit is not None else None


def _check_server_cpu(checker: Checker, lab: Lab) -> None:
    """A cap above the server's pinned CPUs would cap nothing: said, not ignored."""
    limit, cpus = lab.server_cpu.limit, lab.server.cpus
    if limit is not None and cpus and limit > len(cpus):
        checker.fail(
            ("server_cpu", "limit"),
            limit,
            f"more than the server's {len(cpus)} pinned CPU{'s' if len(cpus) > 1 else ''}"
            f" ({','.join(map(str, cpus))}): it would cap nothing",
        )


def _load(checker: Checker, value: Any) -> LoadGenerator | None:
    """`load`: `{engine: httperf | tbload}` (default httperf, the paper's client)."""
    section = checker.mapping(("load",), value, ("engine",))
    if section is None:
        return None
    engine = checker.choice(("load", "engine"), section.get("engine", HTTPERF), LOAD_ENGINES)
    return LoadGenerator(engine) if engine is not None else None


def _optional_url(checker: Checker, path: FieldPath, value: Any) -> str | None:
    """A URL without its trailing slash; None when absent (or bad, after recording it)."""
    if value is None:
        return None
    url = checker.string(path, value, r"https?://[^\s/]+(/\S*)?", "an http(s):// URL")
    return url.rstrip("/") if url is not None else None


def _nightly(checker: Checker, value: Any) -> Nightly | None:
    at: FieldPath = ("nightly",)
    problems_before = len(checker.problems)
    section = checker.mapping(at, value, ("keep", "webhook", "command", "threshold"))
    if section is None:
        return None
    keep = checker.integer((*at, "keep"), section.get("keep", 14), minimum=1)
    webhook = _optional_url(checker, (*at, "webhook"), section.get("webhook"))
    command = section.get("command")
    if command is not None:
        command = checker.string((*at, "command"), command, r"\S.*", "a shell command")
    threshold = _fraction(checker, (*at, "threshold"), section.get("threshold", "5%"))
    if len(checker.problems) > problems_before or keep is None or threshold is None:
        return None
    return Nightly(keep=keep, webhook=webhook, command=command, threshold=threshold)


def _fraction(checker: Checker, path: FieldPath, value: Any) -> float | None:
    """'5%' or 0.05 -> 0.05; a fraction strictly between 0 and 1."""
    number: float | None = None
    if isinstance(value, str) and re.fullmatch(r"\d+(\.\d+)?%", value.strip()):
        number = float(value.strip()[:-1]) / 100
    elif isinstance(value, int | float) and not isinstance(value, bool):
        number = float(value)
    if number is None or not 0 < number < 1:
        checker.fail(path, value, "expected a percentage like '5%' (or a fraction like 0.05)")
        return None
    return number


def _results(checker: Checker, value: Any, base: Path) -> Path | None:
    section = checker.mapping(("results",), value, ("directory",))
    if section is None:
        return None
    directory = checker.string(
        ("results", "directory"), section.get("directory", "results"), r".+", "a directory path"
    )
    if directory is None:
        return None
    path = Path(directory)
    return path if path.is_absolute() else base / path
