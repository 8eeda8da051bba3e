"""Preflight: is every host of the lab ready for an experiment? Checked in parallel.

    report = run_preflight(lab, remote)
    view.preflight(report)               # the CLI prints it (orchestrator.ui)
    report.failed        # hosts that must be fixed before a sweep

One SSH command per host gathers everything (`probe_script`); pure functions parse its output
(`parse_probe`) and judge it (`judge_host`), so the checks are tested on plain strings. A check
is `ok`, `warn` (the sweep can run, but numbers may suffer; provisioning fixes most), `fail`
or `unknown` (the host does not say). On a real host (a physical lab, or a lab of machines) the
same command also runs `hostchecks`: packages, the server's build, time sync, CPU governor,
NIC speed and the machine-wide kernel parameters, in a second table.
"""

from __future__ import annotations

import ipaddress
import json
import shlex
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace

from orchestrator.config.model import Host, Lab
from orchestrator.lab import hostchecks
from orchestrator.lab.hostchecks import Check, Expected
from orchestrator.lab.remote import CommandResult, Remote
from orchestrator.lab.staging import stage_sources
from orchestrator.paths import lab_state_dir

CHECKS = ("ssh", "nics", "routes", "clock", "open files", "ports", "scheduler")
MAX_CLOCK_OFFSET = 0.25  # seconds; load agents on all clients start at one wall-clock instant
DESCRIPTOR_RESERVE = 100  # listener, metrics, epoll/io_uring, files, stdio, the load's own
MIN_OPEN_FILES = 16_384  # 10,000 idle connections plus the active ones, on server and agents
MIN_EPHEMERAL_PORTS = 50_000  # one-connection-per-request load burns a port per request


@dataclass
class HostReport:
    host: Host
    checks: dict[str, Check] = field(default_factory=dict)
    nofile: tuple[int, int] | None = None  # the open-file limits it reported: soft, hard

    @property
    def failed(self) -> bool:
        return any(check.status == "fail" for check in self.checks.values())

    def failures(self) -> list[str]:
        return [f"{name}: {c.detail}" for name, c in self.checks.items() if c.status == "fail"]


@dataclass
class PreflightReport:
    hosts: list[HostReport]
    seconds: float

    @property
    def failed(self) -> list[HostReport]:
        return [report for report in self.hosts if report.failed]

    def summary(self) -> str:
        """One line naming every failing host and why, for errors and logs."""
        return "; ".join(
            f"{report.host.name} ({', '.join(report.failures())})" for report in self.failed
        )


# -- probing ------------------------------------------------------------------------------------


def route_targets(lab: Lab, host: Host) -> list[str]:
    """Addresses whose route a host must check: a client its server address, the server its
    clients' addresses."""
    if host.role == "client":
        return [str(lab.server_address_for(host))]
    return [str(client.nics[0].address) for client in lab.clients]


def probe_script(targets: Sequence[str]) -> str:
    """A POSIX shell script printing `@section` lines followed by data, parsed by parse_probe."""
    lines = [
        'echo "@time $(date +%s.%N)"',
        'echo "@nofile $(ulimit -Sn) $(ulimit -Hn)"',
        'echo "@ports $(cat /proc/sys/net/ipv4/ip_local_port_range)"',
        'echo "@autogroup $(cat /proc/sys/kernel/sched_autogroup_enabled 2>/dev/null)"',
        'echo "@addresses"; ip -j -4 addr show',
    ]
    for target in targets:
        quoted = shlex.quote(target)
        lines.append(f"echo @route {quoted}; ip -j route get {quoted} 2>&1")
        lines.append(  # a fresh host may lack ping (provisioning installs iputils-ping)
            f"if command -v ping >/dev/null; then ping -c 1 -W 1 {quoted} >/dev/null 2>&1; "
            f'echo @ping {quoted} "$?"; else echo @ping {quoted} none; fi'
        )
    return "\n".join(lines)


@dataclass(frozen=True)
class Probe:
    """What a host said about itself."""

    time: float | None
    nofile: tuple[int, int] | None  # soft, hard
    ports: tuple[int, int] | None
    addresses: dict[str, set[str]]  # interface -> {"198.18.1.11/24", ...}
    routes: dict[str, str | None]  # target -> device, None if no route
    pings: dict[str, bool | None]  # None: the host has no ping
    autogroup: bool | None = None  # kernel.sched_autogroup_enabled; None: no such feature


def parse_probe(text: str) -> Probe:
    """Parse the output of `probe_script`; missing or garbled parts come back as None/empty."""
    when: float | None = None
    nofile: tuple[int, int] | None = None
    ports: tuple[int, int] | None = None
    addresses: dict[str, set[str]] = {}
    routes: dict[str, str | None] = {}
    pings: dict[str, bool | None] = {}
    autogroup: bool | None = None
    section, body = "", []
    for line in [*text.splitlines(), "@end"]:  # the last @time line wins (the clock sample)
        if not line.startswith("@"):
            body.append(line)
            continue
        if section == "addresses":
            addresses = _parse_addresses("\n".join(body))
        elif section.startswith("route "):
            routes[section.split()[1]] = _parse_route("\n".join(body))
        section, body = line[1:], []
        words = section.split()
        try:
            if words[0] == "time":
                when = float(words[1])
            elif words[0] == "nofile":
                nofile = (_limit(words[1]), _limit(words[2]))
            elif words[0] == "ports":
                ports = (int(words[1]), int(words[2]))
            elif words[0] == "autogroup" and len(words) > 1:
                autogroup = words[1] == "1"
            elif words[0] == "ping":
                pings[words[1]] = None if words[2] == "none" else words[2] == "0"
        except (IndexError, ValueError):
            continue
    return Probe(when, nofile, ports, addresses, routes, pings, autogroup)


def _limit(word: str) -> int:
    return 1 << 62 if word == "unlimited" else int(word)


def _parse_addresses(text: str) -> dict[str, set[str]]:
    try:
        entries = json.loads(text or "[]")
    except json.JSONDecodeError:
        return {}
    return {
        entry["ifname"]: {f"{a['local']}/{a['prefixlen']}" for a in entry.get("addr_info", [])}
        for entry in entries
        if "ifname" in entry
    }


def _parse_route(text: str) -> str | None:
    try:
        entries = json.loads(text)
    except json.JSONDecodeError:
        return None  # "RTNETLINK answers: Network is unreachable"
    return entries[0].get("dev") if entries else None


# -- judging ------------------------------------------------------------------------------------


def judge_host(
    lab: Lab,
    host: Host,
    result: CommandResult,
    sent: float,
    received: float,
    expected: Expected | None = None,
) -> HostReport:
    """Turn one host's probe into checks. `sent`/`received` bracket the command, wall clock."""
    report = HostReport(host)
    if not result.ok:
        report.checks["ssh"] = Check("fail", result.reason())
        return report
    report.checks["ssh"] = Check("ok", "ok")
    probe = parse_probe(result.stdout)
    report.checks["nics"] = _check_nics(host, probe)
    report.checks["routes"] = _check_routes(lab, host, probe)
    report.checks["clock"] = _check_clock(probe, sent, received)
    report.checks["open files"] = _check_nofile(lab, host, probe)
    report.nofile = probe.nofile
    report.checks["ports"] = _check_ports(probe)
    report.checks["scheduler"] = _check_scheduler(probe)
    if expected is not None:
        report.checks.update(hostchecks.judge(host, hostchecks.parse(result.stdout), expected))
    return report


def _check_nics(host: Host, probe: Probe) -> Check:
    problems = []
    for nic in host.nics:
        present = probe.addresses.get(nic.name)
        if present is None:
            problems.append(f"{nic.name} missing")
        elif str(nic.interface) not in present:
            problems.append(f"{nic.name} lacks {nic.interface}")
    if problems:
        return Check("fail", ", ".join(problems))
    return Check("ok", ", ".join(f"{nic.name} {nic.address}" for nic in host.nics))


def _check_routes(lab: Lab, host: Host, probe: Probe) -> Check:
    problems, unchecked = [], []
    for target in route_targets(lab, host):
        expected = _expected_device(lab, host, target)
        device = probe.routes.get(target)
        if device is None:
            problems.append(f"no route to {target}")
        elif device != expected:
            problems.append(f"{target} via {device}, expected {expected}")
        elif probe.pings.get(target, False) is None:
            unchecked.append(target)
        elif not probe.pings.get(target, False):
            problems.append(f"{target} does not answer")
    if problems:
        return Check("fail", ", ".join(problems))
    if unchecked:
        return Check("unknown", f"routes right; no ping here to try {', '.join(unchecked)}")
    if host.role == "client":
        return Check("ok", f"{route_targets(lab, host)[0]} via {host.nics[0].name}")
    return Check("ok", f"{len(lab.clients)} clients, own-subnet NICs")


def _expected_device(lab: Lab, host: Host, target: str) -> str:
    if host.role == "client":
        return host.nics[0].name
    address = ipaddress.IPv4Address(target)
    nic = next(nic for nic in host.nics if address in nic.network)
    return nic.name


def _check_clock(probe: Probe, sent: float, received: float) -> Check:
    if probe.time is None:
        return Check("fail", "no time reported")
    offset = probe.time - (sent + received) / 2
    uncertainty = (received - sent) / 2
    detail = f"{offset * 1000:+.0f}±{uncertainty * 1000:.0f} ms"
    if abs(offset) - uncertainty > MAX_CLOCK_OFFSET:
        return Check("fail", f"{detail}, limit {MAX_CLOCK_OFFSET * 1000:.0f} ms")
    return Check("ok", detail)


def idle_descriptors(lab: Lab, host: Host) -> int:
    """Descriptors `host` needs for the plan's largest idle count (its share on a client)."""
    most = max(lab.experiment.idle_connections, default=0)
    if host.role == "client":
        most = -(-most // max(1, len(lab.clients)))
    return most + DESCRIPTOR_RESERVE if most else 0


def _check_nofile(lab: Lab, host: Host, probe: Probe) -> Check:
    if probe.nofile is None:
        return Check("fail", "not reported")
    soft, hard = probe.nofile
    detail = f"{_count(soft)}/{_count(hard)}"
    needed = idle_descriptors(lab, host)
    if needed > hard:
        # A process raises its soft limit to the hard one, never past it (no CAP_SYS_RESOURCE):
        # the plan's idle connections would fail a point halfway through the sweep.
        idle = max(lab.experiment.idle_connections)
        return Check(
            "fail",
            f"{idle:,} idle connections need {needed:,} open files here, the hard limit is"
            f" {_count(hard)} (at most {max(0, hard - DESCRIPTOR_RESERVE):,}"
            f"{' per client' if host.role == 'client' else ''}; raise nofile, see"
            " inventory/example-physical.yml)",
        )
    if hard < MIN_OPEN_FILES:
        return Check("warn", f"{detail} < {MIN_OPEN_FILES}")
    return Check("ok", detail)


# `idle_connections: max`: the server keeps this many descriptors for its own (listener,
# metrics, files) and for the connections the load holds open near its knee (a backlogged
# server holds hundreds); the count is rounded down to a thousand, and capped where the paper's
# question (does a mechanism's cost grow with the connections it watches) is long answered.
IDLE_HEADROOM = 1_000
MAX_AUTO_IDLE = 100_000


@dataclass(frozen=True)
class IdleMax:
    """What `idle_connections: max` stands for on this lab, and why (for the sweep's record)."""

    value: int
    why: str


def most_idle(lab: Lab, report: PreflightReport) -> IdleMax | None:
    """`idle_max` from the open-file hard limits the hosts reported (None: one did not say)."""
    limits = {r.host.name: r.nofile[1] for r in report.hosts if r.nofile is not None}
    server = limits.get(lab.server.name)
    clients = [limits.get(client.name) for client in lab.clients]
    if server is None or None in clients:
        return None
    return idle_max(server, [limit for limit in clients if limit is not None])


def idle_max(server: int, clients: Sequence[int]) -> IdleMax:
    """The most idle connections these open-file hard limits allow: the server's limit less
    what the load and the server itself need, and each client's share (the idle agents split
    them evenly) within its own limit; in thousands."""
    by_server = server - IDLE_HEADROOM
    by_clients = min(limit - DESCRIPTOR_RESERVE for limit in clients) * len(clients)
    value = max(0, min(by_server, by_clients, MAX_AUTO_IDLE)) // 1000 * 1000
    if value == MAX_AUTO_IDLE:
        why = f"capped at {MAX_AUTO_IDLE:,}; the hosts' open-file limits allow more"
    elif by_server <= by_clients:
        why = (
            f"the server's open-file hard limit, {server:,}, less {IDLE_HEADROOM:,} for its"
            " own descriptors and the load's connections, in thousands"
        )
    else:
        why = f"{len(clients)} clients' open-file hard limits, less {DESCRIPTOR_RESERVE} each"
    return IdleMax(value, why)


def _check_ports(probe: Probe) -> Check:
    if probe.ports is None:
        return Check("fail", "not reported")
    low, high = probe.ports
    count = high - low + 1
    detail = f"{low}-{high}"
    if count < MIN_EPHEMERAL_PORTS:
        return Check("warn", f"{detail}, {count} < {MIN_EPHEMERAL_PORTS}")
    return Check("ok", detail)


def _check_scheduler(probe: Probe) -> Check:
    """Autogroup shares the CPU between sessions, not processes: another login's work, even
    niced, then takes the server's core as an equal of the whole sweep (measured: userver
    waited 1.3 s of every 2 s for its pinned core beside eight niced test processes)."""
    if probe.autogroup:
        return Check("warn", "autogroup on: set kernel.sched_autogroup_enabled=0")
    return Check("ok", "no autogroup")


def _count(value: int) -> str:
    return "unlimited" if value >= 1 << 62 else str(value)


# -- running and printing -------------------------------------------------------------------------


# A real host's probe checks its server build too; on a busy machine (three booted machines
# on two cores in CI) it took more than 20 s: slow is not unreachable.
PROBE_TIMEOUT = 60.0

CLOCK_SAMPLES = 3


def run_preflight(lab: Lab, remote: Remote) -> PreflightReport:
    """Probe every host of `lab` at once and judge each."""
    started = time.monotonic()
    expected = None
    if not lab.emulate:  # a real host: also what the emulated lab takes from this machine
        stage = stage_sources(lab_state_dir(lab.name) / "stage")
        expected = hostchecks.expected_from_checkout(stage / "server.tar")

    def script(host: Host) -> str:
        text = probe_script(route_targets(lab, host))
        return text if expected is None else f"{text}\n{hostchecks.probe_script(host, expected)}"

    results = remote.run_all(lab.hosts, script, PROBE_TIMEOUT)
    reachable = [host for host in lab.hosts if results[host.name].ok]
    samples: dict[str, list[tuple[float, float, CommandResult]]] = {h.name: [] for h in reachable}

    def sample_clock(host: Host) -> None:
        for _ in range(CLOCK_SAMPLES):  # over the open connection; the tightest bracket wins
            sent = time.time()
            result = remote.run(host, 'echo "@time $(date +%s.%N)"', timeout=10)
            samples[host.name].append((sent, time.time(), result))

    with ThreadPoolExecutor(max_workers=max(1, len(reachable))) as pool:
        list(pool.map(sample_clock, reachable))
    reports = []
    for host in lab.hosts:
        result = results[host.name]
        timed = [sample for sample in samples.get(host.name, []) if sample[2].ok]
        if timed:
            sent, received, clock = min(timed, key=lambda sample: sample[1] - sample[0])
            result = replace(result, stdout=result.stdout + "\n" + clock.stdout)
        else:
            sent, received = time.time(), time.time() + 3600  # no sample: no usable bracket
        reports.append(judge_host(lab, host, result, sent, received, expected))
    return PreflightReport(reports, time.monotonic() - started)
