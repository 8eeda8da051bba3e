"""The plan of a sweep: every point of servers × mechanisms × workloads × idle connections ×
accept-limits × rates × repetitions, in a run order that does not confound time with mechanism.

A server without a `{mechanism}` placeholder has no mechanism axis (one point per rate, its
mechanism ""), and one without `{accept_limit}` runs only at the main accept-limit (inf when
planned, else the largest): its other accept-limits would measure the same thing again. An
accept-limit planned for some mechanisms or idle counts only (`{limit: 10, mechanisms:
[epoll-lt], idle_connections: [0]}`, the paper's Figure 7) runs just those curves.

Order: repetitions run one after another; inside a repetition the (network profile, workload,
idle, accept-limit) groups come in a seeded random order, rates ascend inside a group (as the
paper's curves are measured), and at each rate every (server, mechanism) runs once, in a fresh
seeded random order. Each mechanism is therefore spread over the whole sweep, and slow drift of
the machine (heat, page cache, TIME_WAIT left over) lands on every mechanism alike. The seed is
recorded with the sweep, so the order can be reproduced. A profile's points run as groups, so
the links change profile once per group, not per point.

Table 1's profiling pass (`experiment.profile`) is not part of this plan: its points
(`expand_profile`, `Point.profiling`) follow the plan's, at rates chosen from what the plan
measured (`run.profiling`), and are stored apart.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Mapping
from dataclasses import asdict, dataclass

from orchestrator.config.model import HTTPERF, Experiment, Lab
from orchestrator.config.servers import DEFAULT_SERVERS, USERVER, ServerSpec

PROFILE_SUFFIX = "/profile"  # ends the key of a point of Table 1's profiling pass


@dataclass(frozen=True)
class Point:
    """One measurement: a server configuration under one load, one repetition."""

    mechanism: str
    workload: str
    idle_connections: int
    accept_limit: int | None  # None: inf
    rate: float  # total request rate over all clients, requests/s
    repetition: int  # 1-based
    network: str = ""  # the point's network profile on the plan's `network` axis; "": no axis
    server: str = USERVER  # the server under test's name (`servers:`)
    # A point of Table 1's profiling pass (`experiment.profile`): its server times each call's
    # CPU, so it is stored apart and never a point of the throughput curves.
    profiling: bool = False

    @property
    def series(self) -> str:
        """What the point's curve is called: see `series_name`."""
        return series_name(self.server, self.mechanism)

    @property
    def key(self) -> str:
        """Stable identity of the point inside its sweep (what resume and the store match on)."""
        key = (
            f"{self.workload}/idle={self.idle_connections}/accept={accept_label(self.accept_limit)}"
            f"/{self.series}/rate={self.rate:g}/rep={self.repetition}"
        )
        key = f"{key}/net={self.network}" if self.network else key
        return f"{key}{PROFILE_SUFFIX}" if self.profiling else key

    def labels(self) -> dict[str, str]:
        """The point's parameters as metric labels (small fixed value sets)."""
        return {
            "server": self.server,
            "mechanism": self.mechanism,
            "workload": self.workload,
            "idle_connections": str(self.idle_connections),
            "accept_limit": accept_label(self.accept_limit),
            "rate": f"{self.rate:g}",
            # A profiling point's series never overwrite its throughput twin's.
            "repetition": "profile" if self.profiling else str(self.repetition),
            **({"network": self.network} if self.network else {}),
        }


def series_name(server: str, mechanism: str) -> str:
    """A curve's name: the mechanism for the built-in userver (as before servers were an axis),
    the server's name for a server without mechanisms, else 'server:mechanism'."""
    if server == USERVER:
        return mechanism
    return f"{server}:{mechanism}" if mechanism else server


def main_limit(limits: tuple[int | None, ...]) -> int | None:
    """The accept-limit a server without `{accept_limit}` runs at: inf, else the largest."""
    return None if None in limits else max(limit for limit in limits if limit is not None)


def server_runs(
    servers: tuple[ServerSpec, ...],
    mechanisms: tuple[str, ...],
    limit: int | None,
    main: int | None,
) -> list[tuple[str, str]]:
    """The (server, mechanism) pairs measured at one accept-limit."""
    runs: list[tuple[str, str]] = []
    for spec in servers:
        if not spec.has_accept_limit and limit != main:
            continue
        runs += [(spec.name, m) for m in mechanisms] if spec.has_mechanism else [(spec.name, "")]
    return runs


def accept_label(limit: int | None) -> str:
    return "inf" if limit is None else str(limit)


def expand(experiment: Experiment, seed: int) -> list[Point]:
    """Every point of the plan, in run order (see the module docstring). An accept-limit
    planned for some curves only (`Experiment.accept_scopes`) runs only those. An idle count of
    `max` must have its value (`Experiment.idle_max_value`, from preflight) by now."""
    if experiment.idle_max and experiment.idle_max_value is None:
        raise ValueError("idle_connections: max is not known before preflight")
    shuffle = random.Random(seed)
    points: list[Point] = []
    groups = [
        (network, workload, idle, limit)
        for network in experiment.network or ("",)
        for workload in experiment.workloads
        for idle in experiment.idle_counts
        for limit in experiment.accept_limits
        if _scoped_idle(experiment, limit, idle)
    ]
    main = main_limit(experiment.accept_limits)
    for repetition in range(1, experiment.repetitions + 1):
        order = groups[:]
        shuffle.shuffle(order)
        for network, workload, idle, limit in order:
            scope = experiment.scope(limit)
            for rate in sorted(experiment.rates):
                runs = server_runs(experiment.servers, experiment.mechanisms, limit, main)
                if scope is not None and scope.mechanisms is not None:
                    runs = [(s, m) for s, m in runs if m in scope.mechanisms]
                shuffle.shuffle(runs)
                points += [
                    Point(mechanism, workload, idle, limit, rate, repetition, network, server)
                    for server, mechanism in runs
                ]
    return points


def _scoped_idle(experiment: Experiment, limit: int | None, idle: int) -> bool:
    scope = experiment.scope(limit)
    return scope is None or scope.covers_idle(idle, experiment.idle_max_value)


ProfileGroup = tuple[str, int, int | None]  # workload, idle connections, accept-limit


def profile_groups(experiment: Experiment) -> list[ProfileGroup]:
    """The groups Table 1's profiling pass measures (at the plan's main accept-limit, as
    Table 1 is drawn); none without `experiment.profile`."""
    profile = experiment.profile
    if profile is None:
        return []
    main = main_limit(experiment.accept_limits)
    counts = profile.idle_counts(experiment.idle_max_value)
    return [(w, idle, main) for w in profile.workloads for idle in counts]


def profile_mechanisms(experiment: Experiment) -> list[tuple[str, str]]:
    """The (server, mechanism) pairs a profiled group measures: userver's, which alone times
    its system calls."""
    return [
        (spec.name, mechanism)
        for spec in experiment.servers
        if spec.builtin == USERVER
        for mechanism in experiment.mechanisms
    ]


def expand_profile(
    experiment: Experiment, rates: Mapping[ProfileGroup, float], seed: int
) -> list[Point]:
    """The profiling pass's points: each group of `rates` (see `profile_groups`) at its rate,
    every mechanism once, in a seeded random order (as `expand`)."""
    shuffle = random.Random(seed)
    points = []
    for group in profile_groups(experiment):
        if group not in rates:
            continue
        workload, idle, limit = group
        runs = profile_mechanisms(experiment)
        shuffle.shuffle(runs)
        points += [
            Point(m, workload, idle, limit, rates[group], 1, server=s, profiling=True)
            for s, m in runs
        ]
    return points


def profile_size(experiment: Experiment) -> int:
    """How many points the profiling pass runs at most (a group may have no rate to run at)."""
    return len(profile_groups(experiment)) * len(profile_mechanisms(experiment))


def plan_digest(lab: Lab) -> str:
    """A digest of everything that makes two sweeps comparable point for point.

    Resume continues a sweep only when the digest is unchanged; `seed` is not in it (a sweep
    without a fixed seed draws one, recorded with the sweep).
    """
    experiment = asdict(lab.experiment)
    experiment.pop("seed")
    experiment.pop("retries")  # how hard to try does not change what is measured
    if not experiment["network"]:
        experiment.pop("network")  # digests of labs without WAN conditions stay as they were
    experiment.pop("idle_max_why")  # how `max` was found does not change what is measured
    for added in ("idle_max", "idle_max_value", "accept_scopes"):
        if not experiment[added]:
            experiment.pop(added)  # nor do those of plans without `max` or scoped limits
    if lab.experiment.servers == DEFAULT_SERVERS:
        experiment.pop("servers")  # a sweep from before servers were an axis still resumes
    if experiment["profile"] is None:
        experiment.pop("profile")  # nor does a lab without a profiling pass change its digest
    hosts = [
        [host.name, host.role, host.management, [str(nic.interface) for nic in host.nics]]
        for host in lab.hosts
    ]
    document: dict[str, object] = {"experiment": experiment, "hosts": hosts}
    if any(profile.emulated for profile in lab.network.profiles.values()):
        document["network"] = asdict(lab.network)
    if lab.load.engine != HTTPERF:  # another load generator measures other points; a sweep
        document["load"] = asdict(lab.load)  # from before the choice (httperf's) still resumes
    if lab.server_cpu.limit is not None:  # a capped server measures other points
        document["server_cpu"] = asdict(lab.server_cpu)
    text = json.dumps(document, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]
