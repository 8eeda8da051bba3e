"""The frozen lab model: what `lab.yml` and its inventory describe, validated once at load.

Nothing in here does I/O; `orchestrator.config.labfile.load_lab` builds a `Lab` from files, and
every other module takes a `Lab` and trusts it.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from orchestrator.config.servers import DEFAULT_SERVERS, ServerSpec

MECHANISMS = ("select", "poll", "epoll-lt", "epoll-et", "epoll2", "epoll-ctlv", "io_uring")
SYSCALL_TIMINGS = ("wall", "cpu", "none")
WORKLOADS = ("one-byte", "specweb99")
HTTPERF, TBLOAD = "httperf", "tbload"
LOAD_ENGINES = (HTTPERF, TBLOAD)  # agents.load.args.ENGINES: the load generators the agents run
Role = Literal["server", "client"]


@dataclass(frozen=True)
class Nic:
    """One experiment NIC of a host: its interface name, the subnet it is on and its address."""

    name: str
    subnet: str
    address: ipaddress.IPv4Address
    network: ipaddress.IPv4Network

    @property
    def interface(self) -> ipaddress.IPv4Interface:
        return ipaddress.IPv4Interface(f"{self.address}/{self.network.prefixlen}")


@dataclass(frozen=True)
class Host:
    """A lab host as the orchestrator reaches it (management) and as the experiment uses it."""

    name: str
    role: Role
    management: str  # ansible_host: an address, or a DNS name on a physical lab
    ssh_port: int
    ssh_user: str
    ssh_key: Path | None
    cpus: tuple[int, ...]  # CPUs to pin the host's experiment processes to; () = no pinning
    directory: str  # where the project is deployed on the host
    python: str  # ansible_python_interpreter: the agents run under the same Python
    nics: tuple[Nic, ...]

    def nic_on(self, subnet: str) -> Nic | None:
        return next((nic for nic in self.nics if nic.subnet == subnet), None)

    @property
    def subnet(self) -> str:
        """The experiment subnet of a client (clients have exactly one NIC)."""
        return self.nics[0].subnet


@dataclass(frozen=True)
class SpecWeb99:
    """Parameters of the SPECweb99-like file set and session traces."""

    directories: int
    seed: int


LAN = "lan"  # the built-in network profile: the lab's links as they are, no emulation


@dataclass(frozen=True)
class NetworkProfile:
    """WAN conditions emulated on a client's experiment link (netem), each way. Times in
    seconds, `loss` a fraction, `rate` in bits/s (None: the link's own)."""

    name: str
    delay: float = 0.0  # one way: the round trip gains twice this
    jitter: float = 0.0
    loss: float = 0.0  # each way
    rate: int | None = None

    @property
    def emulated(self) -> bool:
        return bool(self.delay or self.jitter or self.loss or self.rate)

    @property
    def expected_rtt(self) -> float:
        """The round trip the profile adds, in seconds (the link's own is on top of it)."""
        return 2 * self.delay


NETEM = "netem"  # network.emulator: the kernel's qdisc
USERSPACE = "userspace"  # linkem (linkem/), for kernels without netem
EMULATORS = ("auto", NETEM, USERSPACE)  # auto: netem where the kernel has it


@dataclass(frozen=True)
class NetworkSettings:
    """The lab file's `network:` section: named profiles and which client gets which when the
    plan has no `network` axis (by subnet, a client's own entry winning)."""

    profiles: Mapping[str, NetworkProfile] = field(
        default_factory=lambda: {LAN: NetworkProfile(LAN)}
    )
    subnets: Mapping[str, str] = field(default_factory=dict)  # subnet -> profile name
    clients: Mapping[str, str] = field(default_factory=dict)  # client -> profile name
    emulator: str = "auto"  # one of EMULATORS

    def profile_for(self, client: Host, axis: str = "") -> NetworkProfile:
        """The profile of `client` at a point whose `network` axis value is `axis` ("": none)."""
        name = axis or self.clients.get(client.name) or self.subnets.get(client.subnet) or LAN
        return self.profiles[name]

    def label(self, clients: tuple[Host, ...], axis: str = "") -> str:
        """The profile(s) of a point, as its curve is labelled: 'wan-50ms', 'lan+wan-50ms'."""
        return "+".join(sorted({self.profile_for(client, axis).name for client in clients}))


IDLE_MAX = "max"  # idle_connections: [..., max]: the most the hosts' open-file limits allow


@dataclass(frozen=True)
class AcceptScope:
    """An accept-limit planned for some curves only: `accept_limits: [inf, {limit: 10,
    mechanisms: [epoll-lt], idle_connections: [0]}]` measures the paper's Figure 7 without
    running every mechanism and idle count at both limits. None: every one planned."""

    limit: int | None  # None: inf
    mechanisms: tuple[str, ...] | None = None
    idle_connections: tuple[int, ...] | None = None
    idle_max: bool = False  # the scope names `max` among its idle counts

    def covers_idle(self, idle: int, resolved_max: int | None) -> bool:
        if self.idle_connections is None:
            return True
        return idle in self.idle_connections or (self.idle_max and idle == resolved_max)


@dataclass(frozen=True)
class ProfilePass:
    """`experiment.profile`: Table 1's CPU profile, measured apart from the throughput points as
    the paper ran gprof apart. After the throughput points, one point per userver mechanism of
    each profiled group (workload × idle count, at the plan's main accept-limit), its server
    timing each call's CPU (`--syscall-timing cpu`, ~30 % more CPU per reply: never a point of
    the throughput curves). Times in seconds."""

    workloads: tuple[str, ...]
    idle_connections: tuple[int, ...]
    rate: float | None  # requests/s; None: auto, the highest rate every mechanism was ok at
    duration: float  # per point (the warm-up is the experiment's)
    idle_max: bool = False  # `max` among its idle counts (the plan's, once preflight knows it)

    def idle_counts(self, resolved_max: int | None) -> tuple[int, ...]:
        """Its idle counts, `max` as the plan has it (left out while it is not known)."""
        if not self.idle_max or resolved_max is None or resolved_max in self.idle_connections:
            return self.idle_connections
        return (*self.idle_connections, resolved_max)

    @property
    def groups(self) -> int:
        return len(self.workloads) * (len(self.idle_connections) + self.idle_max)


@dataclass(frozen=True)
class Experiment:
    """The plan of a sweep and how each point is run. Times are in seconds."""

    mechanisms: tuple[str, ...]
    workloads: tuple[str, ...]
    idle_connections: tuple[int, ...]
    accept_limits: tuple[int | None, ...]  # None = inf: accept until EAGAIN
    rates: tuple[float, ...]  # total request rate over all clients, requests/s
    duration: float
    warmup: float
    repetitions: int
    cooldown_max: float
    timeout: float  # httperf's per-connection timeout
    retries: int
    seed: int | None  # run-order seed; None: chosen at sweep start and recorded
    specweb99: SpecWeb99
    # How the server times each system call for Table 1: "wall" (cheap, wait calls include
    # time blocked), "cpu" (the paper's CPU profile; costs the server ~30 % more CPU per reply,
    # so for a profiling sweep of its own), or "none".
    syscall_timing: str = "wall"
    # `rates: {to: auto}`: each curve climbs `rates` only until it saturates or its clients
    # become the limit (`orchestrator.run.knee`); `rates` is then the ladder's upper bound.
    knee: bool = False
    # With `knee`: repetitions after the first measure only the top `repeat_top` rates that the
    # first reached on each curve (the CIs where the findings are judged), not the whole climb.
    repeat_top: int | None = None
    network: tuple[str, ...] = ()  # network profiles as an axis of the plan; () = no axis
    # The servers under test, in plan order (`servers:` and `experiment.servers`).
    servers: tuple[ServerSpec, ...] = DEFAULT_SERVERS
    # `idle_connections: [..., max]`: one more idle count, the most the hosts' open-file
    # limits allow, known once preflight has read them (`lab.preflight.most_idle`); until
    # then `idle_max_value` is None and the plan counts it as one group of unknown size.
    idle_max: bool = False
    idle_max_value: int | None = None
    idle_max_why: str = ""  # how preflight arrived at the value (shown by the report)
    # Accept-limits planned for some mechanisms or idle counts only (the others: for all).
    accept_scopes: tuple[AcceptScope, ...] = ()

    def with_idle_max(self, value: int, why: str) -> Experiment:
        """The experiment with `max` known (a no-op without `max`)."""
        if not self.idle_max:
            return self
        return replace(self, idle_max_value=value, idle_max_why=why)

    @property
    def idle_counts(self) -> tuple[int, ...]:
        """The idle counts the plan runs: the listed ones and, once known, `max`'s value."""
        if not self.idle_max or self.idle_max_value is None:
            return self.idle_connections
        if self.idle_max_value in self.idle_connections:
            return self.idle_connections
        return tuple(sorted((*self.idle_connections, self.idle_max_value)))

    def scope(self, limit: int | None) -> AcceptScope | None:
        """The scope an accept-limit was planned with, None when it applies to every curve."""
        return next((scope for scope in self.accept_scopes if scope.limit == limit), None)

    profile: ProfilePass | None = None  # Table 1's profiling pass; None: none


@dataclass(frozen=True)
class LoadGenerator:
    """The lab file's `load:` section: the load generator every client runs for a whole sweep,
    Debian's httperf (the paper's client) or tbload (the project's own open-loop C engine: epoll,
    no descriptor limit but the host's, no core spun, so one process per client offers what
    several httperf processes could not)."""

    engine: str = HTTPERF


@dataclass(frozen=True)
class ServerCpuLimit:
    """The lab file's `server_cpu:` section: the server's CPU capped at `limit` cores (a share
    of one, or more), by the kernel's CPU bandwidth control (a cgroup's quota per period,
    `lab.cpucap`); None: not capped. It emulates a server slower than its clients, as the
    paper's was (one CPU against eight dual-CPU clients) and a 2-core machine's is not (one core
    each): the server's knee then lies within the clients' reach."""

    limit: float | None = None
    PERIOD_US = 10_000  # short, so a capped server is held back in 10 ms steps, not 100 ms
    MINIMUM = 0.1  # the kernel's smallest quota is 1 ms: a tenth of the period

    @property
    def quota_us(self) -> int | None:
        return None if self.limit is None else round(self.limit * self.PERIOD_US)


@dataclass(frozen=True)
class PrometheusSettings:
    url: str | None  # an external Prometheus; None: the orchestrator starts Debian's
    port: int
    scrape_interval: float


@dataclass(frozen=True)
class GrafanaSettings:
    url: str | None
    token_env: str  # the environment variable holding the API token (never the token itself)
    folder: str
    prometheus_url: str | None  # Prometheus as Grafana reaches it; None: the orchestrator's URL


@dataclass(frozen=True)
class Monitoring:
    prometheus: PrometheusSettings
    grafana: GrafanaSettings


@dataclass(frozen=True)
class Nightly:
    """Unattended runs: how many nights to keep, whom to tell when something moved."""

    keep: int  # nights of results, reports and Prometheus data kept (the baseline always is)
    webhook: str | None  # POSTed a JSON summary on a regression or a failed run
    command: str | None  # run with the same JSON on stdin
    threshold: float  # relative change in peak reply rate that counts as significant


@dataclass(frozen=True)
class Lab:
    """A validated lab: hosts, networks, the experiment plan and where results go.

    >>> lab = load_lab(Path("lab.yml"))          # orchestrator.config.labfile
    >>> [client.name for client in lab.clients]
    ['client1', ..., 'client8']
    """

    name: str
    path: Path
    text: str  # the lab file as written, recorded with every sweep
    inventory_path: Path
    inventory_text: str
    inventory: Mapping[str, Any]  # the inventory as parsed, handed to Ansible unchanged
    emulate: bool  # hosts are network namespaces of this machine (`emulate: true`)
    management_network: ipaddress.IPv4Network | None
    orchestrator_address: ipaddress.IPv4Address | None  # on the management network
    subnets: Mapping[str, ipaddress.IPv4Network]
    server: Host
    clients: tuple[Host, ...]
    experiment: Experiment
    monitoring: Monitoring
    results_directory: Path
    nightly: Nightly = field(default_factory=lambda: Nightly(14, None, None, 0.05))
    machines: bool = False  # hosts are booted containers on this machine (`emulate: machines`)
    network: NetworkSettings = field(default_factory=NetworkSettings)
    load: LoadGenerator = field(default_factory=LoadGenerator)
    server_cpu: ServerCpuLimit = field(default_factory=ServerCpuLimit)

    @property
    def built_here(self) -> bool:
        """Whether `orchestrate lab up` builds this lab's hosts on this machine."""
        return self.emulate or self.machines

    @property
    def kind(self) -> str:
        """'emulated' (namespaces), 'machines' (booted containers) or 'physical'."""
        return "emulated" if self.emulate else "machines" if self.machines else "physical"

    @property
    def hosts(self) -> tuple[Host, ...]:
        return (self.server, *self.clients)

    def host(self, name: str) -> Host:
        for host in self.hosts:
            if host.name == name:
                return host
        raise KeyError(name)

    def server_address_for(self, client: Host) -> ipaddress.IPv4Address:
        """The server address a client talks to: the server's NIC on the client's subnet."""
        nic = self.server.nic_on(client.subnet)
        assert nic is not None, "validated at load: the server has a NIC on every client subnet"
        return nic.address
