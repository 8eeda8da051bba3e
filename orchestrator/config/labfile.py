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

from orchestrator.config.checker import Checker, FieldPath, show
from orchestrator.config.model import (
    MECHANISMS,
    SYSCALL_TIMINGS,
    WORKLOADS,
    Experiment,
    GrafanaSettings,
    Lab,
    Monitoring,
    Nightly,
    PrometheusSettings,
    SpecWeb99,
)
from orchestrator.config.network import PROFILE_PATTERN, check_network_use, parse_network
from orchestrator.config.routes import RouteSource, check_route_overlap, machine_routes
from orchestrator.config.serverfile import parse_servers, select_servers
from orchestrator.config.servers import ServerSpec
from orchestrator.config.topology import lab_from_inventory
from orchestrator.config.yamlsource import YamlDocument
from orchestrator.errors import ConfigError

SUPPORTED_VERSION = 1
NAME_PATTERN = r"[a-z0-9][a-z0-9-]{0,30}"
MAX_RATE_POINTS = 1000
AUTO = "auto"  # rates: {to: auto}: the knee search
AUTO_KEYS = ("max", "repeat_top")  # the knee search's own keys
AUTO_RATES = 20  # rates a knee search climbs at most when its `max` is not given
MAX_POINTS = 1_000_000  # points of a plan; the paper's full protocol has 1,680
MAX_REPETITIONS = 1000
MAX_IDLE_CONNECTIONS = 1_000_000
MAX_SEED = 2**63 - 1  # stored as an SQLite INTEGER
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
)
EXPERIMENT_KEYS = (
    "mechanisms",
    "workloads",
    "idle_connections",
    "accept_limits",
    "rates",
    "duration",
    "warmup",
    "repetitions",
    "cooldown",
    "timeout",
    "retries",
    "seed",
    "specweb99",
    "syscall_timing",
    "network",
    "servers",
)
EXPERIMENT_REQUIRED = ("mechanisms", "workloads", "rates", "duration", "cooldown", "timeout")


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
    emulate = _emulate(checker, top.get("emulate", False))
    servers = parse_servers(checker, top.get("servers"))
    experiment = _experiment(checker, top.get("experiment"), servers)
    monitoring = _monitoring(checker, top.get("monitoring", {}))
    results = _results(checker, top.get("results", {}), path.parent)
    nightly = _nightly(checker, top.get("nightly", {}))
    network = parse_network(checker, top.get("network", {}))
    inventory_path = _inventory_path(checker, top.get("inventory"), path.parent)
    if checker.problems:
        raise ConfigError(checker.problems)
    assert name is not None and emulate is not None and experiment is not None
    assert monitoring is not None and results is not None and inventory_path is not None
    assert nightly is not None and network is not None

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
    lab = dataclasses.replace(lab, network=network)
    check_network_use(checker, lab)
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


def _experiment(
    checker: Checker, value: Any, specs: tuple[ServerSpec, ...] | None
) -> Experiment | None:
    at: FieldPath = ("experiment",)
    section = checker.mapping(at, value, EXPERIMENT_KEYS, required=EXPERIMENT_REQUIRED)
    if section is None:
        return None

    def item(key: str) -> tuple[FieldPath, Any]:
        return (*at, key), section.get(key)

    mechanisms = checker.each(*item("mechanisms"), lambda p, v: checker.choice(p, v, MECHANISMS))
    workloads = checker.each(*item("workloads"), lambda p, v: checker.choice(p, v, WORKLOADS))
    for key, values in (("mechanisms", mechanisms), ("workloads", workloads)):
        if values:
            checker.unique((*at, key), values)
    idle = checker.each(
        (*at, "idle_connections"),
        section.get("idle_connections", [0]),
        lambda p, v: checker.integer(p, v, minimum=0, maximum=MAX_IDLE_CONNECTIONS),
    )
    accept_limits: tuple[int | str, ...] | None = checker.each(
        (*at, "accept_limits"),
        section.get("accept_limits", ["inf"]),
        lambda p, v: _accept_limit(checker, p, v),
    )
    rated = _rates(checker, *item("rates"))
    rates, knee = rated if rated is not None else (None, False)
    spec = section.get("rates")
    repeat_top = spec.get("repeat_top") if knee and isinstance(spec, dict) else None
    duration = (
        checker.duration(*item("duration"), allow_zero=False) if "duration" in section else None
    )
    warmup = checker.duration((*at, "warmup"), section.get("warmup", "0s"))
    repetitions = checker.integer(
        (*at, "repetitions"), section.get("repetitions", 1), minimum=1, maximum=MAX_REPETITIONS
    )
    cooldown_max = _cooldown(checker, section.get("cooldown")) if "cooldown" in section else None
    timeout = checker.duration(*item("timeout"), allow_zero=False) if "timeout" in section else None
    retries = checker.integer((*at, "retries"), section.get("retries", 1), minimum=0, maximum=10)
    seed = section.get("seed")
    if seed is not None:
        seed = checker.integer((*at, "seed"), seed, minimum=0, maximum=MAX_SEED)
    specweb99 = _specweb99(checker, section.get("specweb99", {}))
    timing = checker.choice(
        (*at, "syscall_timing"), section.get("syscall_timing", "wall"), SYSCALL_TIMINGS
    )
    network = _network_axis(checker, section) if "network" in section else ()
    servers = select_servers(checker, section.get("servers"), specs)
    parts = (
        servers,
        mechanisms,
        workloads,
        idle,
        accept_limits,
        rates,
        duration,
        warmup,
        repetitions,
        cooldown_max,
        timeout,
        retries,
        specweb99,
        timing,
        network,
    )
    if any(part is None for part in parts) or ("seed" in section and seed is None):
        return None
    assert mechanisms and workloads and idle and accept_limits is not None and rates
    assert duration is not None and warmup is not None and repetitions is not None
    assert cooldown_max is not None and timeout is not None and retries is not None
    assert specweb99 is not None and timing is not None and servers is not None
    axes = (servers, mechanisms, workloads, idle, accept_limits, rates, network or ("",))
    if not _plan_size_ok(checker, *axes, repetitions=repetitions):
        return None
    return Experiment(
        mechanisms=mechanisms,
        workloads=workloads,
        idle_connections=idle,
        accept_limits=tuple(None if limit == "inf" else int(limit) for limit in accept_limits),
        rates=rates,
        knee=knee,
        repeat_top=repeat_top,
        duration=duration,
        warmup=warmup,
        repetitions=repetitions,
        cooldown_max=cooldown_max,
        timeout=timeout,
        retries=retries,
        seed=seed,
        specweb99=specweb99,
        syscall_timing=timing,
        network=network or (),
        servers=servers,
    )


def _network_axis(checker: Checker, section: dict[str, Any]) -> tuple[str, ...] | None:
    """`experiment.network`: profile names (checked against `network.profiles` once the lab
    is whole)."""
    path: FieldPath = ("experiment", "network")
    names = checker.each(
        path, section["network"], lambda p, v: checker.string(p, v, PROFILE_PATTERN, "a profile")
    )
    if names:
        checker.unique(path, names)
    return names


def _plan_size_ok(checker: Checker, *axes: tuple[Any, ...], repetitions: int = 1) -> bool:
    """The plan's size, by arithmetic: nothing is expanded before it is known to be sane."""
    count = repetitions
    for axis in axes:
        count *= len(axis)
    if count > MAX_POINTS:
        checker.fail_plain(
            ("experiment",),
            f"the plan has {count} points; at most {MAX_POINTS} accepted (fewer rates?)",
        )
    return count <= MAX_POINTS


def _accept_limit(checker: Checker, path: FieldPath, value: Any) -> int | str | None:
    """An accept-limit: a positive integer, or 'inf' (accept until EAGAIN)."""
    if value == "inf":
        return "inf"
    if isinstance(value, str):
        checker.fail(path, value, "expected a positive integer or 'inf'")
        return None
    return checker.integer(path, value, minimum=1)


def _rates(checker: Checker, path: FieldPath, value: Any) -> tuple[tuple[float, ...], bool] | None:
    """(rates ascending, knee search): a list, `{from, to, step}`, or `{from, to: auto, step,
    max}`, the rates a curve climbs until it saturates or the clients limit it (`run.knee`)."""
    if isinstance(value, dict):
        return _rate_range(checker, path, value)
    rates = checker.each(path, value, checker.positive_number)
    if rates is None:
        if not isinstance(value, list):
            checker.problems[-1] += " or a mapping {from, to, step}"
        return None
    checker.unique(path, rates)
    return tuple(sorted(rates)), False


def _rate_range(
    checker: Checker, path: FieldPath, spec: dict[str, Any]
) -> tuple[tuple[float, ...], bool] | None:
    keys = ("from", "to", "step")
    if checker.mapping(path, spec, (*keys, *AUTO_KEYS), required=keys) is None:
        return None
    if any(key not in spec for key in keys):
        return None
    auto = spec["to"] == AUTO
    if not auto and isinstance(spec["to"], str):
        checker.fail((*path, "to"), spec["to"], f"expected a positive number or '{AUTO}'")
        return None
    for key in AUTO_KEYS:
        if key in spec and not auto:
            checker.fail_plain((*path, key), f"only with to: {AUTO} (the knee search)")
            return None
    if (
        "repeat_top" in spec
        and checker.integer((*path, "repeat_top"), spec["repeat_top"], 1) is None
    ):
        return None
    start = checker.positive_number((*path, "from"), spec["from"])
    step = checker.positive_number((*path, "step"), spec["step"])
    bound = "max" if auto else "to"
    if auto and "max" not in spec:
        stop = None if start is None or step is None else start + (AUTO_RATES - 1) * step
    else:
        stop = checker.positive_number((*path, bound), spec[bound])
    if start is None or stop is None or step is None:
        return None
    if stop < start:
        checker.fail((*path, bound), spec[bound], f"expected a rate >= from ({show(spec['from'])})")
        return None
    count = int((stop - start) / step + 1e-9) + 1
    if count > MAX_RATE_POINTS:
        checker.fail(
            (*path, "step"),
            spec["step"],
            f"expands to {count} rates; expected at most {MAX_RATE_POINTS}",
        )
        return None
    return tuple(start + index * step for index in range(count)), auto


def _cooldown(checker: Checker, value: Any) -> float | None:
    at: FieldPath = ("experiment", "cooldown")
    section = checker.mapping(at, value, ("max",), required=("max",))
    if section is None or "max" not in section:
        return None
    return checker.duration((*at, "max"), section["max"])


def _specweb99(checker: Checker, value: Any) -> SpecWeb99 | None:
    at: FieldPath = ("experiment", "specweb99")
    section = checker.mapping(at, value, ("directories", "seed"))
    if section is None:
        return None
    directories = checker.integer(
        (*at, "directories"), section.get("directories", 10), minimum=1, maximum=10_000
    )
    seed = checker.integer((*at, "seed"), section.get("seed", 1), minimum=0, maximum=MAX_SEED)
    if directories is None or seed is None:
        return None
    return SpecWeb99(directories=directories, seed=seed)


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
