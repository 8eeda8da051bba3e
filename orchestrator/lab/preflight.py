"""Preflight: is every host of the lab ready for an experiment? Checked in parallel.

    report = run_preflight(lab, remote)
    view.preflight(report)               # the CLI prints it (orchestrator.ui)
    report.failed        # hosts that must be fixed before a sweep

One SSH command per host gathers everything (`probe_script`); pure functions parse its output
(`parse_probe`) and judge it (`judge_host`), so the checks are tested on plain strings. A check
is `ok`, `warn` (the sweep can run, but numbers may suffer; provisioning fixes most) or `fail`.
"""

from __future__ import annotations

import ipaddress
import json
import shlex
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Literal

from orchestrator.config.model import Host, Lab
from orchestrator.lab.remote import CommandResult, Remote

Status = Literal["ok", "warn", "fail"]
CHECKS = ("ssh", "nics", "routes", "clock", "open files", "ports")
MAX_CLOCK_OFFSET = 0.25  # seconds; load agents on all clients start at one wall-clock instant
MIN_OPEN_FILES = 16_384  # 10,000 idle connections plus the active ones, on server and agents
MIN_EPHEMERAL_PORTS = 50_000  # one-connection-per-request load burns a port per request


@dataclass(frozen=True)
class Check:
    status: Status
    detail: str


@dataclass
class HostReport:
    host: Host
    checks: dict[str, Check] = field(default_factory=dict)

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
        'echo "@addresses"; ip -j -4 addr show',
    ]
    for target in targets:
        quoted = shlex.quote(target)
        lines.append(f"echo @route {quoted}; ip -j route get {quoted} 2>&1")
        lines.append(f'ping -c 1 -W 1 {quoted} >/dev/null 2>&1; echo @ping {quoted} "$?"')
    return "\n".join(lines)


@dataclass(frozen=True)
class Probe:
    """What a host said about itself."""

    time: float | None
    nofile: tuple[int, int] | None  # soft, hard
    ports: tuple[int, int] | None
    addresses: dict[str, set[str]]  # interface -> {"198.18.1.11/24", ...}
    routes: dict[str, str | None]  # target -> device, None if no route
    pings: dict[str, bool]


def parse_probe(text: str) -> Probe:
    """Parse the output of `probe_script`; missing or garbled parts come back as None/empty."""
    when: float | None = None
    nofile: tuple[int, int] | None = None
    ports: tuple[int, int] | None = None
    addresses: dict[str, set[str]] = {}
    routes: dict[str, str | None] = {}
    pings: dict[str, bool] = {}
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
            elif words[0] == "ping":
                pings[words[1]] = words[2] == "0"
        except (IndexError, ValueError):
            continue
    return Probe(when, nofile, ports, addresses, routes, pings)


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
    lab: Lab, host: Host, result: CommandResult, sent: float, received: float
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
    report.checks["open files"] = _check_nofile(probe)
    report.checks["ports"] = _check_ports(probe)
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
    problems = []
    for target in route_targets(lab, host):
        expected = _expected_device(lab, host, target)
        device = probe.routes.get(target)
        if device is None:
            problems.append(f"no route to {target}")
        elif device != expected:
            problems.append(f"{target} via {device}, expected {expected}")
        elif not probe.pings.get(target, False):
            problems.append(f"{target} does not answer")
    if problems:
        return Check("fail", ", ".join(problems))
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


def _check_nofile(probe: Probe) -> Check:
    if probe.nofile is None:
        return Check("fail", "not reported")
    soft, hard = probe.nofile
    detail = f"{_count(soft)}/{_count(hard)}"
    if hard < MIN_OPEN_FILES:
        return Check("warn", f"{detail} < {MIN_OPEN_FILES}")
    return Check("ok", detail)


def _check_ports(probe: Probe) -> Check:
    if probe.ports is None:
        return Check("fail", "not reported")
    low, high = probe.ports
    count = high - low + 1
    detail = f"{low}-{high}"
    if count < MIN_EPHEMERAL_PORTS:
        return Check("warn", f"{detail}, {count} < {MIN_EPHEMERAL_PORTS}")
    return Check("ok", detail)


def _count(value: int) -> str:
    return "unlimited" if value >= 1 << 62 else str(value)


# -- running and printing -------------------------------------------------------------------------


CLOCK_SAMPLES = 3


def run_preflight(lab: Lab, remote: Remote) -> PreflightReport:
    """Probe every host of `lab` at once and judge each."""
    started = time.monotonic()
    results = remote.run_all(lab.hosts, lambda host: probe_script(route_targets(lab, host)), 20)
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
        reports.append(judge_host(lab, host, result, sent, received))
    return PreflightReport(reports, time.monotonic() - started)
