"""Which sweep a night is compared with, and what changed around the two besides the code.

    baseline = baseline_for(store, "emulated")            # pinned, or the last clean nightly
    drift = environment_drift(base_details, new_details)  # ["client1 kernel 6.1 → 6.2", ...]

The baseline is the sweep pinned with `orchestrate baseline set`, or else the last nightly sweep
that completed without failures. Drift is said beside a verdict: a moved number with a changed
kernel means something else than one on the same machine.
"""

from __future__ import annotations

from typing import Any

from orchestrator.results.records import Sweep
from orchestrator.results.store import Store


def baseline_for(store: Store, lab: str, exclude: str | None = None) -> Sweep | None:
    """The pinned baseline, or the last nightly sweep that completed without failures."""
    pinned = store.baseline(lab)
    if pinned is not None and pinned != exclude:
        sweep = store.sweep(pinned)
        if sweep is not None:
            return sweep
    candidates = [
        sweep
        for sweep in store.sweeps(lab)
        if sweep.kind == "nightly" and sweep.status == "complete" and sweep.id != exclude
    ]
    return candidates[-1] if candidates else None


def environment_drift(base: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """What changed between two sweeps' environments: revision, and per host kernel, CPU,
    OS, NICs and kernel parameters. A moved number with a changed kernel means something else."""
    drift = []
    if base.get("revision") != new.get("revision"):
        drift.append(f"revision {_short(base.get('revision'))} → {_short(new.get('revision'))}")
    drift += version_drift(
        (base.get("settings") or {}).get("versions") or {},
        (new.get("settings") or {}).get("versions") or {},
    )
    old_hosts, new_hosts = base.get("hosts") or {}, new.get("hosts") or {}
    for host in sorted(set(old_hosts) | set(new_hosts)):
        before, after = old_hosts.get(host, {}), new_hosts.get(host, {})
        for key in (
            *("kernel", "cpu_model", "os", "cpus_online", "memory_kib", "open_files"),
            *("httperf", "compiler", "python"),
        ):
            if before.get(key) != after.get(key):
                drift.append(f"{host} {key} {before.get(key)} → {after.get(key)}")
        if before.get("nics") != after.get("nics"):
            drift.append(f"{host} NICs {before.get('nics')} → {after.get('nics')}")
        old_sysctls, new_sysctls = before.get("sysctls") or {}, after.get("sysctls") or {}
        for name in sorted(set(old_sysctls) | set(new_sysctls)):
            if old_sysctls.get(name) != new_sysctls.get(name):
                drift.append(f"{host} {name} {old_sysctls.get(name)} → {new_sysctls.get(name)}")
    return drift


def version_drift(base: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """What changed in settings["versions"]: the orchestrator's and Python's versions and each
    Python dependency's (hosts' tools are compared with the host facts). Sweeps recorded before
    versions were kept have none: nothing is said about them."""
    if not base or not new:
        return []
    drift = [
        f"{name} {base.get(name)} → {new.get(name)}"
        for name in ("orchestrator", "python")
        if base.get(name) != new.get(name)
    ]
    old_packages, new_packages = base.get("dependencies") or {}, new.get("dependencies") or {}
    for name in sorted(set(old_packages) | set(new_packages)):
        if old_packages.get(name) != new_packages.get(name):
            drift.append(f"{name} {old_packages.get(name)} → {new_packages.get(name)}")
    return drift


def _short(revision: Any) -> str:
    text = str(revision)
    return text[:12] + ("-dirty" if text.endswith("-dirty") else "")
