"""Facts about every host, recorded with each sweep so a result can be read in its context
(and the nightly comparison can say when the environment drifted).

One SSH command per host prints `key=value` lines; `parse_facts` is a pure function of them.
"""

from __future__ import annotations

import json
from typing import Any

from orchestrator.config.model import Lab
from orchestrator.lab.remote import Remote

SYSCTLS = (
    "net.core.somaxconn",
    "net.ipv4.tcp_max_syn_backlog",
    "net.ipv4.ip_local_port_range",
    "net.ipv4.tcp_tw_reuse",
    "net.ipv4.tcp_fin_timeout",
    "net.ipv4.tcp_max_tw_buckets",
    "fs.file-max",
    "fs.nr_open",
    "net.core.netdev_max_backlog",  # exists in a machine's first network namespace only
)

FACTS_SCRIPT = "\n".join(
    [
        'echo "kernel=$(uname -r)"',
        'echo "os=$(. /etc/os-release 2>/dev/null && echo "$PRETTY_NAME")"',
        "echo \"cpu_model=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')\"",
        'echo "cpus_online=$(nproc --all)"',
        'echo "cpus_allowed=$(nproc)"',
        "echo \"memory_kib=$(awk '/MemTotal/ {print $2}' /proc/meminfo)\"",
        'echo "open_files=$(ulimit -Sn)/$(ulimit -Hn)"',
        'echo "httperf=$(httperf --version 2>/dev/null | grep -o "httperf-[0-9.]*" | head -1)"',
        'echo "compiler=$(cc --version 2>/dev/null | head -1)"',
        'echo "python=$(python3 --version 2>/dev/null | cut -d" " -f2)"',
        *[
            f'echo "sysctl.{name}=$(cat /proc/sys/{name.replace(".", "/")} 2>/dev/null)"'
            for name in SYSCTLS
        ],
        # A container cannot set what its kernel shares with its machine (fs.*, kernel.*).
        *[
            f'[ -w /proc/sys/{name.replace(".", "/")} ] || echo "sysctl_read_only.{name}=1"'
            for name in SYSCTLS
        ],
        'echo "nics=$(ip -j -4 addr show | tr -d "\\n")"',
    ]
)


def parse_facts(text: str) -> dict[str, Any]:
    """Facts from FACTS_SCRIPT's output; NICs become {name: [addresses]}."""
    facts: dict[str, Any] = {}
    sysctls: dict[str, str] = {}
    read_only: list[str] = []
    for line in text.splitlines():
        key, found, value = line.partition("=")
        if not found:
            continue
        value = " ".join(value.split())
        if key.startswith("sysctl."):
            sysctls[key.removeprefix("sysctl.")] = value
        elif key.startswith("sysctl_read_only."):
            read_only.append(key.removeprefix("sysctl_read_only."))
        elif key == "nics":
            try:
                entries = json.loads(value or "[]")
            except json.JSONDecodeError:
                entries = []
            facts["nics"] = {
                entry["ifname"]: [f"{a['local']}/{a['prefixlen']}" for a in entry["addr_info"]]
                for entry in entries
                if entry.get("ifname") != "lo"
            }
        else:
            facts[key] = value
    facts["sysctls"] = sysctls
    # What the playbooks could not set on this host, and the value in force instead.
    facts["sysctls_not_settable"] = {
        name: f"not settable here, value {sysctls[name]}"
        if sysctls.get(name)
        else "not present here"
        for name in read_only
    }
    return facts


VERSION_FACTS = ("kernel", "httperf", "compiler", "python")


def versions(facts: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """{host: {kernel, httperf, compiler, python}}: the tools' versions among a sweep's facts."""
    return {
        host: {key: found.get(key) for key in VERSION_FACTS if key in found}
        for host, found in facts.items()
    }


def gather(lab: Lab, remote: Remote) -> dict[str, dict[str, Any]]:
    """{host: facts} for every host; an unreachable host gets {'error': why}."""
    results = remote.run_all(lab.hosts, FACTS_SCRIPT, timeout=30)
    facts: dict[str, dict[str, Any]] = {}
    for host in lab.hosts:
        result = results[host.name]
        facts[host.name] = (
            {"role": host.role, "management": host.management, **parse_facts(result.stdout)}
            if result.ok
            else {"role": host.role, "error": result.reason()}
        )
    return facts
