"""`orchestrate nightly`: one unattended run that only speaks up when something moved.

    result = run_nightly(lab)      # NightResult; its exit_code for the shell

A new sweep of the lab (`orchestrate up --new`, which writes its report), and a comparison
against the baseline (`orchestrate compare`, its page written beside the reports): the sweep
pinned with `orchestrate baseline set`, or else the last nightly sweep that completed without
failures. The night's log (everything printed, and the comparison) is written under
`<results>/nightly/`; one summary line goes to stdout. On a regression or a failed run the lab's
webhook is POSTed and its command run with a JSON summary; neither can fail the night. Then old
nights are removed: results, reports and logs beyond `nightly.keep`, never the baseline. Exit
status, as every command's: 0 no change (or improved), 1 regressed or the run failed (the
summary line and the webhook's "status" tell which), 2 bad input, 3 another run of the lab
holds its lock.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from orchestrator import ui
from orchestrator.config.model import Lab
from orchestrator.errors import EXIT_INTERRUPTED, TestbedError
from orchestrator.report.compare import compare_sweeps
from orchestrator.report.write import reports_directory, write_comparison
from orchestrator.results.records import Sweep
from orchestrator.results.store import Store
from orchestrator.run.lock import LabLock
from orchestrator.run.up import run_up

EXIT_REGRESSED = 1
EXIT_FAILED = 1  # a failed run, as for `up`; 2 is bad input for every command
HOOK_TIMEOUT = 10.0


@dataclass
class NightResult:
    lab: str
    status: str  # no change, improved, regressed, failed, first night
    exit_code: int
    sweep: str | None = None
    baseline: str | None = None
    reason: str = ""
    worse: list[str] = field(default_factory=list)
    drift: list[str] = field(default_factory=list)
    log: str = ""
    report: str | None = None

    def summary_line(self) -> str:
        base = f" against {self.baseline}" if self.baseline else ""
        detail = f": {self.reason}" if self.reason else ""
        drift = f" (environment changed: {'; '.join(self.drift)})" if self.drift else ""
        return f"nightly {self.lab}: {self.status} — sweep {self.sweep or '-'}{base}{detail}{drift}"

    def payload(self) -> dict[str, Any]:
        return {
            "lab": self.lab,
            "status": self.status,
            "sweep": self.sweep,
            "baseline": self.baseline,
            "reason": self.reason,
            "worse": self.worse,
            "drift": self.drift,
            "log": self.log,
            "report": self.report,
            "summary": self.summary_line(),
        }


def run_nightly(lab: Lab) -> NightResult:
    """One nightly run; see the module docstring. Raises LockHeld (exit 3) when busy."""
    nights = lab.results_directory / "nightly"
    nights.mkdir(parents=True, exist_ok=True)
    log_path = nights / f"{time.strftime('%Y%m%d-%H%M%S')}-{lab.name}.log"
    with LabLock(lab.name, purpose="nightly"), log_path.open("a") as log, _teed(log):
        result = _night(lab)
        result.log = str(log_path)
        ui.console.print(result.summary_line(), markup=False, soft_wrap=True)  # one line, for grep
        if result.status in ("regressed", "failed"):
            _alert(lab, result)
        _retain(lab, log_path)
    return result


def _night(lab: Lab) -> NightResult:
    try:
        outcome = run_up(lab, new=True, kind="nightly")
    except TestbedError as error:
        if error.exit_code == EXIT_INTERRUPTED:
            raise  # someone stopped the night by hand: not a failure to alert anyone about
        return NightResult(lab.name, "failed", EXIT_FAILED, reason=error.message)
    sweep = outcome.sweep.id
    store = Store.open(lab.results_directory)
    try:
        index = reports_directory(store) / sweep / "index.html"
        report_path = str(index) if index.exists() else None  # up warned if it is missing
        if outcome.outcome.failed:
            return NightResult(
                lab.name,
                "failed",
                EXIT_FAILED,
                sweep=sweep,
                report=report_path,
                reason=f"{len(outcome.outcome.failed)} points failed: "
                + "; ".join(outcome.outcome.summary.failed[:3]),
            )
        baseline = baseline_for(store, lab.name, exclude=sweep)
        if baseline is None:
            return NightResult(
                lab.name,
                "first night",
                0,
                sweep=sweep,
                report=report_path,
                reason="no baseline yet: later nights compare with this one",
            )
        comparison = compare_sweeps(store, baseline.id, sweep, lab.nightly.threshold)
        for line in comparison.lines():
            ui.console.print(line, markup=False, highlight=False, soft_wrap=True)
        ui.console.print(f"comparison: {write_comparison(store, comparison)}", soft_wrap=True)
        drift = environment_drift(store.sweep_details(baseline.id), store.sweep_details(sweep))
        if comparison.regressed:
            status, code = "regressed", EXIT_REGRESSED
        else:
            status, code = ("improved" if comparison.improved else "no change"), 0
        worse = comparison.worse()
        return NightResult(
            lab.name,
            status,
            code,
            sweep=sweep,
            baseline=baseline.id,
            reason="; ".join(worse[:3]),
            worse=worse,
            drift=drift,
            report=report_path,
        )
    finally:
        store.close()


# -- baselines ------------------------------------------------------------------------------------


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


# -- alerts ---------------------------------------------------------------------------------------


def _alert(lab: Lab, result: NightResult) -> None:
    """Tell the webhook and the command; a failure of either is logged, never fatal."""
    body = json.dumps(result.payload()).encode()
    if lab.nightly.webhook:
        request = urllib.request.Request(
            lab.nightly.webhook,
            data=body,
            method="POST",
            headers={"Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=HOOK_TIMEOUT) as answer:
                ui.console.print(f"webhook {lab.nightly.webhook}: HTTP {answer.status}")
        except urllib.error.HTTPError as error:
            ui.warn(f"webhook {lab.nightly.webhook}: HTTP {error.code}")
        except (urllib.error.URLError, OSError) as error:
            ui.warn(f"webhook {lab.nightly.webhook}: {getattr(error, 'reason', error)}")
    if lab.nightly.command:
        try:
            done = subprocess.run(
                lab.nightly.command, shell=True, input=body, timeout=60, capture_output=True
            )
        except subprocess.TimeoutExpired:
            ui.warn(f"alert command did not finish within 60 s: {lab.nightly.command}")
            return
        if done.returncode != 0:
            tail = done.stderr.decode(errors="replace").strip().splitlines()[-1:] or [""]
            ui.warn(f"alert command exited {done.returncode}: {tail[0]}")


# -- retention ------------------------------------------------------------------------------------


def _retain(lab: Lab, current_log: Path) -> None:
    """Keep the last `nightly.keep` nightly sweeps (and the baseline); remove the rest with their
    reports, comparison pages and logs. Prometheus keeps a day more (monitoring.prometheus)."""
    store = Store.open(lab.results_directory)
    try:
        nightly = [sweep for sweep in store.sweeps(lab.name) if sweep.kind == "nightly"]
        keep = {sweep.id for sweep in nightly[-lab.nightly.keep :]}
        pinned = baseline_for(store, lab.name)
        if pinned is not None:
            keep.add(pinned.id)
        for sweep in nightly:
            if sweep.id in keep:
                continue
            store.delete_sweep(sweep.id)
            reports = reports_directory(store)
            shutil.rmtree(reports / sweep.id, ignore_errors=True)
            for page in reports.glob(f"compare-*{sweep.id}*.html"):
                page.unlink()
            (store.path.parent / "logs" / f"{sweep.id}.log").unlink(missing_ok=True)  # up's log
            ui.console.print(f"retention: removed night {sweep.id}")
    finally:
        store.close()
    logs = sorted((lab.results_directory / "nightly").glob(f"*-{lab.name}.log"))
    for old in logs[: -lab.nightly.keep]:
        if old != current_log:
            old.unlink(missing_ok=True)


# -- the night's log ------------------------------------------------------------------------------


class _Tee:
    """A file-like object writing to the terminal and the night's log (not a terminal: rich
    then prints plain lines, no live animations, into both)."""

    def __init__(self, *targets: IO[str]) -> None:
        self.targets = targets

    def write(self, text: str) -> int:
        for target in self.targets:
            target.write(text)
        return len(text)

    def flush(self) -> None:
        for target in self.targets:
            target.flush()

    def isatty(self) -> bool:
        return False


@contextlib.contextmanager
def _teed(log: IO[str]) -> Iterator[None]:
    previous = ui.console.file
    ui.console.file = _Tee(sys.stdout, log)  # type: ignore[assignment]
    try:
        yield
    finally:
        ui.console.file = previous
