"""Preflight's checks of a real host (a physical one or a machine of a lab of machines): what
the emulated lab takes for granted from the machine it runs on.

    script = probe_script(host, expected)     # appended to preflight's one SSH command
    checks = judge(host, parse(text), expected)   # {"packages": Check(...), ...}

- packages: the playbooks' packages are installed (dpkg's own status).
- server: the server binary exists and was built from this checkout's sources (its version,
  and the digest of the sources archive provisioning copied there).
- time sync: chrony, systemd-timesyncd or another NTP daemon is active.
- governor: the CPU frequency governor, where the host exposes it.
- nic speed: speed and duplex of each experiment NIC, from ethtool or else sysfs.
- sysctls: the machine-wide parameters the playbooks set, and whether this host can set them (a
  container cannot: its kernel is its machine's), with the value in force.

Most problems here are `warn` (provisioning fixes them, or the numbers may suffer) or `unknown`
(the host does not say); none stops a sweep. Pure functions, tested on plain strings.
"""

from __future__ import annotations

import hashlib
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import yaml

from orchestrator.config.model import Host
from orchestrator.paths import REPOSITORY

Status = Literal["ok", "warn", "fail", "unknown"]
REAL_CHECKS = ("packages", "server", "time sync", "governor", "nic speed", "sysctls")
TIME_DAEMONS = ("chrony", "systemd-timesyncd", "ntpsec", "ntp", "openntpd")
ROLES = REPOSITORY / "playbooks" / "roles"


@dataclass(frozen=True)
class Check:
    status: Status
    detail: str


@dataclass(frozen=True)
class Expected:
    """What a host should have, from the checkout: packages, server version and sources."""

    packages: tuple[str, ...]
    server_packages: tuple[str, ...]
    global_sysctls: tuple[str, ...]
    server_version: str  # "userver 0.1.0"
    server_digest: str | None  # sha256 of the server sources archive provisioning copies


def expected_from_checkout(server_archive: Path | None) -> Expected:
    """Read what the playbooks install and set, and the server's version, from the checkout."""
    common = yaml.safe_load((ROLES / "testbed_common" / "defaults" / "main.yml").read_text())
    server = yaml.safe_load((ROLES / "testbed_server" / "defaults" / "main.yml").read_text())
    source = (REPOSITORY / "server" / "main.c").read_text()
    match = re.search(r'#define\s+VERSION\s+"([^"]+)"', source)
    digest = None
    if server_archive is not None and server_archive.is_file():
        digest = hashlib.sha256(server_archive.read_bytes()).hexdigest()
    return Expected(
        packages=tuple(common["testbed_common_packages"]),
        server_packages=tuple(server["testbed_server_packages"]),
        global_sysctls=tuple(common["testbed_common_global_sysctls"]),
        server_version=f"userver {match.group(1) if match else '?'}",
        server_digest=digest,
    )


def wanted_packages(host: Host, expected: Expected) -> tuple[str, ...]:
    extra = expected.server_packages if host.role == "server" else ()
    return (*expected.packages, *extra)


# -- probing ------------------------------------------------------------------------------------


def probe_script(host: Host, expected: Expected) -> str:
    """Shell lines printing `@hc-...` sections, parsed by `parse`."""
    directory = shlex.quote(host.directory)
    packages = " ".join(shlex.quote(name) for name in wanted_packages(host, expected))
    lines = [
        'echo "@hc-packages"',
        f"dpkg-query -W -f='${{Package}} ${{db:Status-Status}}\\n' {packages} 2>/dev/null",
        'echo "@hc-virt $(systemd-detect-virt 2>/dev/null || echo none)"',
        'echo "@hc-timesync"',
        *(
            f'command -v systemctl >/dev/null && echo "{unit} $(systemctl is-active {unit})"'
            for unit in TIME_DAEMONS
        ),
        'echo "@hc-synchronised $(timedatectl show -p NTPSynchronized --value 2>/dev/null)"',
        'echo "@hc-governor"',
        "cat /sys/devices/system/cpu/cpu*/cpufreq/scaling_governor 2>/dev/null | sort | uniq -c",
        'echo "@hc-sysctls"',
    ]
    for name in expected.global_sysctls:
        path = shlex.quote("/proc/sys/" + name.replace(".", "/"))
        mode = f"if [ -w {path} ]; then s=rw; else s=ro; fi"
        lines.append(f'{mode}; echo "{name} $s $(cat {path} 2>/dev/null)"')
    for nic in host.nics:
        quoted = shlex.quote(nic.name)
        lines += [
            f'echo "@hc-nic {nic.name}"',
            f"if command -v ethtool >/dev/null; then ethtool {quoted} 2>/dev/null; else "
            f'echo "Speed: $(cat /sys/class/net/{quoted}/speed 2>/dev/null)Mb/s"; '
            f'echo "Duplex: $(cat /sys/class/net/{quoted}/duplex 2>/dev/null)"; fi',
        ]
    if host.role == "server":
        binary = f"{directory}/server/userver"
        lines += [
            f'echo "@hc-server $({binary} --version 2>/dev/null || echo missing)"',
            f'echo "@hc-sources $(sha256sum {directory}/server.tar 2>/dev/null | cut -d" " -f1)"',
        ]
    return "\n".join(lines)


@dataclass
class HostProbe:
    """What a real host said about itself (None / empty: it did not say)."""

    installed: set[str] = field(default_factory=set)
    virt: str | None = None
    time_daemons: dict[str, str] = field(default_factory=dict)  # unit -> active, inactive, ...
    synchronised: str | None = None  # "yes", "no", None
    governors: dict[str, int] = field(default_factory=dict)  # governor -> CPUs
    sysctls: dict[str, tuple[bool, str]] = field(default_factory=dict)  # name -> (settable, value)
    nics: dict[str, dict[str, str]] = field(default_factory=dict)  # NIC -> {speed, duplex}
    server: str | None = None
    sources: str | None = None


def parse(text: str) -> HostProbe:
    probe = HostProbe()
    section = ""
    for line in text.splitlines():
        if line.startswith("@"):
            words = line[1:].split(maxsplit=1)
            section, rest = words[0], (words[1].strip() if len(words) > 1 else "")
            if section == "hc-virt":
                probe.virt = rest or None
            elif section == "hc-synchronised":
                probe.synchronised = rest or None
            elif section == "hc-server":
                probe.server = rest or None
            elif section == "hc-sources":
                probe.sources = rest or None
            elif section == "hc-nic":
                probe.nics[rest] = {}
                section = f"hc-nic {rest}"
            continue
        words = line.split()
        if not words:
            continue
        if section == "hc-packages" and len(words) >= 2 and words[1] == "installed":
            probe.installed.add(words[0])
        elif section == "hc-timesync" and len(words) == 2:
            probe.time_daemons[words[0]] = words[1]
        elif section == "hc-governor" and len(words) == 2 and words[0].isdigit():
            probe.governors[words[1]] = int(words[0])
        elif section == "hc-sysctls" and len(words) >= 2:
            probe.sysctls[words[0]] = (words[1] == "rw", " ".join(words[2:]))
        elif section.startswith("hc-nic ") and ":" in line:
            key, _, value = line.strip().partition(":")
            if key in ("Speed", "Duplex"):
                probe.nics[section.split(maxsplit=1)[1]][key.lower()] = value.strip()
    return probe


# -- judging ------------------------------------------------------------------------------------


def judge(host: Host, probe: HostProbe, expected: Expected) -> dict[str, Check]:
    checks = {
        "packages": _packages(host, probe, expected),
        "time sync": _time_sync(probe),
        "governor": _governor(probe),
        "nic speed": _nic_speed(host, probe),
        "sysctls": _sysctls(probe, expected),
    }
    if host.role == "server":
        checks["server"] = _server(probe, expected)
    return checks


def _packages(host: Host, probe: HostProbe, expected: Expected) -> Check:
    wanted = wanted_packages(host, expected)
    missing = [name for name in wanted if name not in probe.installed]
    if missing:
        return Check("warn", f"missing {', '.join(missing)} (provisioning installs them)")
    return Check("ok", f"{len(wanted)} installed")


def _server(probe: HostProbe, expected: Expected) -> Check:
    if probe.server in (None, "missing"):
        return Check("warn", "no server binary yet (provisioning builds it)")
    if probe.server != expected.server_version:
        return Check("warn", f"{probe.server}, checkout has {expected.server_version}")
    if expected.server_digest is None:
        return Check("unknown", f"{probe.server}; this checkout's sources not staged yet")
    if probe.sources != expected.server_digest:
        return Check("warn", f"{probe.server} built from other sources (provision again)")
    return Check("ok", f"{probe.server}, this checkout's sources")


def _time_sync(probe: HostProbe) -> Check:
    if not probe.time_daemons:
        return Check("unknown", "no systemctl to ask")
    active = [unit for unit, state in probe.time_daemons.items() if state == "active"]
    if active:
        synced = {"yes": ", synchronised", "no": ", not synchronised yet"}
        detail = f"{active[0]} active{synced.get(probe.synchronised or '', '')}"
        return Check("ok" if probe.synchronised != "no" else "warn", detail)
    if probe.virt in CONTAINERS or probe.virt == "container-other":
        return Check("warn", f"none active ({probe.virt} container: its machine's clock)")
    return Check("warn", "no chrony or timesyncd active")


CONTAINERS = ("systemd-nspawn", "docker", "podman", "lxc", "lxc-libvirt", "openvz", "wsl")


def _governor(probe: HostProbe) -> Check:
    if not probe.governors:
        return Check("unknown", "not exposed here (no cpufreq)")
    detail = ", ".join(f"{name} ({cpus} CPUs)" for name, cpus in sorted(probe.governors.items()))
    if set(probe.governors) == {"performance"}:
        return Check("ok", detail)
    return Check("warn", f"{detail}; performance recommended")


def _nic_speed(host: Host, probe: HostProbe) -> Check:
    parts, status = [], "ok"
    for nic in host.nics:
        facts = probe.nics.get(nic.name, {})
        speed, duplex = facts.get("speed", ""), facts.get("duplex", "").lower()
        if not speed or speed.startswith(("Unknown", "-1", "Mb/s")) or not duplex:
            parts.append(f"{nic.name} unknown")
            status = "unknown" if status == "ok" else status
        else:
            parts.append(f"{nic.name} {speed} {duplex}")
            if duplex != "full":
                status = "warn"
    if not parts:
        return Check("unknown", "no experiment NIC")
    return Check(status, ", ".join(parts))  # type: ignore[arg-type]


def _sysctls(probe: HostProbe, expected: Expected) -> Check:
    unsettable, absent = [], []
    for name in expected.global_sysctls:
        settable, value = probe.sysctls.get(name, (False, ""))
        if name not in probe.sysctls or not value:
            absent.append(name)
        elif not settable:
            unsettable.append(f"{name} not settable here, value {value}")
    parts = unsettable + [f"{name} not present here" for name in absent]
    if parts:
        return Check("warn", "; ".join(parts))
    return Check("ok", f"{len(expected.global_sysctls)} settable")
