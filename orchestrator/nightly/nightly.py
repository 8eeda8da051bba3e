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

import base64
import json
import re
import shutil
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from http.client import HTTPMessage
from pathlib import Path
from typing import IO, Any, Protocol

from orchestrator.config.model import Lab
from orchestrator.config.redact import display_url, redact_text
from orchestrator.errors import EXIT_INTERRUPTED, TestbedError
from orchestrator.paths import log_file
from orchestrator.report.analysis.compare import Comparison, compare_sweeps
from orchestrator.report.analysis.stats import WORSE
from orchestrator.report.terminal import comparison_lines
from orchestrator.report.write import reports_directory, write_comparison
from orchestrator.results.records import Sweep, SweepSummary, is_sweep_id
from orchestrator.results.store import Store
from orchestrator.run.lock import LabLock
from orchestrator.run.up import UpResult, run_up
from orchestrator.run.view import View

EXIT_REGRESSED = 1
EXIT_FAILED = 2  # no result tonight: the run failed (1 is kept for "regressed" alone)
HOOK_TIMEOUT = 10.0


class NightView(View, Protocol):
    """A `View` that can also copy everything printed into the night's log."""

    def teed(self, log: IO[str]) -> AbstractContextManager[None]:
        """Everything shown meanwhile also goes to `log`."""

    def line(self, text: str) -> None:
        """One plain line (no markup), never wrapped: summaries and comparisons, for grep."""


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
    # Every worse curve was judged between single runs: no CI, the threshold alone.
    single_runs: bool = False

    def summary_line(self) -> str:
        base = f" against {self.baseline}" if self.baseline else ""
        detail = f": {self.reason}" if self.reason else ""
        drift = f" (environment changed: {'; '.join(self.drift)})" if self.drift else ""
        status = self.status + (" (single runs, threshold only)" if self.single_runs else "")
        return f"nightly {self.lab}: {status} — sweep {self.sweep or '-'}{base}{detail}{drift}"

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
            "single_runs": self.single_runs,
            "summary": self.summary_line(),
        }


def run_nightly(lab: Lab, view: NightView) -> NightResult:
    """One nightly run; see the module docstring. Raises LockHeld (exit 3) when busy.

    Any failure of the run is the night's failure (exit 2, alerted): the project's own errors,
    and an exception from SQLite (a full disk), Ansible, SSH or a bug alike. The sweep it
    started is marked failed, never left `running`, and retention is applied all the same."""
    nights = lab.results_directory / "nightly"
    nights.mkdir(parents=True, exist_ok=True)
    with LabLock(lab.name, purpose="nightly"), _night_log(lab, nights, view) as log_path:
        started = time.time()
        result = _night(lab, view)
        if result.status == "failed":
            _mark_failed(lab, view, since=started)
        result.log = str(log_path)
        view.line(result.summary_line())  # one line, for grep
        if result.status in ("regressed", "failed"):
            _alert(lab, result, view)
        try:
            _retain(lab, log_path, view)
        except Exception as error:  # a failed clean-up is told, and tried again next night
            view.warn(f"retention failed: {describe_failure(error)}")
    return result


@contextmanager
def _night_log(lab: Lab, nights: Path, view: NightView) -> Iterator[Path]:
    """The night's log, created only once the lock is held (a night that finds the lab busy
    leaves no log behind), with everything shown meanwhile copied into it."""
    path = log_file(nights / f"{time.strftime('%Y%m%d-%H%M%S')}-{lab.name}.log")
    with path.open("a") as log, view.teed(log):
        yield path


def describe_failure(error: BaseException) -> str:
    """One line for any failure: the project's message, or the exception's type and first line
    (an sqlite3.OperationalError, an Ansible or SSH error, a bug), URLs shortened."""
    if isinstance(error, TestbedError):
        text = error.message
    else:
        lines = str(error).strip().splitlines()
        text = f"{type(error).__name__}: {lines[0]}" if lines else type(error).__name__
    return redact_text(" ".join(text.split()))[:500]


def _night(lab: Lab, view: NightView) -> NightResult:
    try:
        outcome = run_up(lab, view, new=True, kind="nightly")
    except TestbedError as error:
        if error.exit_code == EXIT_INTERRUPTED:
            raise  # someone stopped the night by hand: not a failure to alert anyone about
        return NightResult(lab.name, "failed", EXIT_FAILED, reason=describe_failure(error))
    except Exception as error:  # SQLite, Ansible, SSH, a bug: the run failed all the same
        return NightResult(lab.name, "failed", EXIT_FAILED, reason=describe_failure(error))
    try:
        return _judge(lab, outcome.sweep.id, outcome, view)
    except Exception as error:  # the store or the comparison broke after the sweep
        return NightResult(
            lab.name,
            "failed",
            EXIT_FAILED,
            sweep=outcome.sweep.id,
            reason=describe_failure(error),
        )


def _mark_failed(lab: Lab, view: NightView, since: float) -> None:
    """Mark failed the night's sweep if the failure left it `running` (or `interrupted`)."""
    try:
        store = Store.open(lab.results_directory, create=False)
    except Exception as error:
        view.warn(f"the night's sweep could not be marked failed: {describe_failure(error)}")
        return
    try:
        for sweep in store.sweeps(lab.name):
            if sweep.kind == "nightly" and sweep.status == "running" and sweep.started_at >= since:
                store.finish_sweep(sweep.id, "failed", SweepSummary())
                view.line(f"sweep {sweep.id}: marked failed")
    except Exception as error:
        view.warn(f"the night's sweep could not be marked failed: {describe_failure(error)}")
    finally:
        store.close()


def _judge(lab: Lab, sweep: str, outcome: UpResult, view: NightView) -> NightResult:
    """The night's verdict on a finished sweep: failed points, first night, or the comparison."""
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
        for line in comparison_lines(comparison):
            view.line(line)
        view.line(f"comparison: {write_comparison(store, comparison)}")
        drift = environment_drift(store.sweep_details(baseline.id), store.sweep_details(sweep))
        return compared_night(lab.name, comparison, drift, report_path)
    finally:
        store.close()


def compared_night(
    lab: str, comparison: Comparison, drift: list[str], report: str | None
) -> NightResult:
    """The night's result from its comparison with the baseline: regressed (exit 1) when a
    curve is worse, saying so when every worse curve rests on single runs."""
    if comparison.regressed:
        status, code = "regressed", EXIT_REGRESSED
    else:
        status, code = ("improved" if comparison.improved else "no change"), 0
    worse = comparison.worse()
    regressions = comparison.rows_with(WORSE)
    return NightResult(
        lab,
        status,
        code,
        sweep=comparison.new,
        baseline=comparison.base,
        reason="; ".join(worse[:3]),
        worse=worse,
        drift=drift,
        report=report,
        single_runs=bool(regressions) and all(row.single_runs for row in regressions),
    )


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


def _alert(lab: Lab, result: NightResult, view: NightView) -> None:
    """Tell the webhook and the command; a failure of either is logged, never fatal."""
    body = json.dumps(result.payload()).encode()
    if lab.nightly.webhook:
        shown = display_url(lab.nightly.webhook)  # its path and query are often the secret
        try:
            view.line(f"webhook {shown}: HTTP {post_webhook(lab.nightly.webhook, body)}")
        except urllib.error.HTTPError as error:
            view.warn(f"webhook {shown}: HTTP {error.code}")
        except Exception as error:  # any failure to deliver is logged, never fatal
            reason = getattr(error, "reason", error)
            view.warn(f"webhook {shown}: {redact_text(str(reason))}")
    if lab.nightly.command:
        try:
            done = subprocess.run(
                lab.nightly.command, shell=True, input=body, timeout=60, capture_output=True
            )
        except subprocess.TimeoutExpired:
            view.warn("the alert command (nightly.command) did not finish within 60 s")
            return
        except OSError as error:
            view.warn(f"the alert command (nightly.command) could not run: {error.strerror}")
            return
        if done.returncode != 0:
            tail = done.stderr.decode(errors="replace").strip().splitlines()[-1:] or [""]
            view.warn(f"alert command exited {done.returncode}: {redact_text(tail[0])}")


def post_webhook(url: str, body: bytes) -> int:
    """POST the JSON `body` to `url`, its user:password@ sent as Basic authorization; the HTTP
    status. Redirects are followed as urllib does, but the credentials only to the webhook's
    own scheme, host and port (`_CredentialsStayHome`). urllib.error.HTTPError for 4xx/5xx."""
    target, headers = _without_userinfo(url)
    request = urllib.request.Request(
        target, data=body, method="POST", headers={"Content-Type": "application/json", **headers}
    )
    opener = urllib.request.build_opener(_CredentialsStayHome)
    with opener.open(request, timeout=HOOK_TIMEOUT) as answer:
        return int(answer.status)


class _CredentialsStayHome(urllib.request.HTTPRedirectHandler):
    """urllib's redirects, without the Authorization header once one leads to another origin:
    urllib copies every header to the new request, so a webhook answering 302 to another host
    would otherwise be handed the webhook's credentials."""

    def redirect_request(
        self,
        req: urllib.request.Request,
        fp: IO[bytes],
        code: int,
        msg: str,
        headers: HTTPMessage,
        newurl: str,
    ) -> urllib.request.Request | None:
        new = super().redirect_request(req, fp, code, msg, headers, newurl)
        if new is not None and _origin(new.full_url) != _origin(req.full_url):
            new.remove_header("Authorization")
        return new


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urllib.parse.urlsplit(url)
    default = {"http": 80, "https": 443}.get(parts.scheme)
    return parts.scheme, (parts.hostname or "").lower(), parts.port or default


def _without_userinfo(url: str) -> tuple[str, dict[str, str]]:
    """A URL's user:password@ as a Basic Authorization header (urllib cannot send it in the
    URL itself), and the URL without it."""
    parts = urllib.parse.urlsplit(url)
    if parts.username is None:
        return url, {}
    host = parts.hostname or ""
    netloc = (f"[{host}]" if ":" in host else host) + (f":{parts.port}" if parts.port else "")
    user = urllib.parse.unquote(parts.username)
    password = urllib.parse.unquote(parts.password or "")
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc)), {
        "Authorization": f"Basic {token}"
    }


# -- retention ------------------------------------------------------------------------------------


def _retain(lab: Lab, current_log: Path, view: NightView) -> None:
    """Keep the last `nightly.keep` nightly sweeps (and the baseline); remove the rest with their
    reports, comparison pages and logs. Prometheus keeps a day more (monitoring.prometheus).

    Only what the night can prove it made goes: a sweep id that is a name, its report directory
    (a real directory holding index.html, not a link), comparison pages named exactly after it,
    and logs named exactly as `run_nightly` names them."""
    store = Store.open(lab.results_directory)
    try:
        nightly = [sweep for sweep in store.sweeps(lab.name) if sweep.kind == "nightly"]
        keep = {sweep.id for sweep in nightly[-lab.nightly.keep :]}
        pinned = baseline_for(store, lab.name)
        if pinned is not None:
            keep.add(pinned.id)
        reports = reports_directory(store)
        for sweep in nightly:
            if sweep.id in keep:
                continue
            if not is_sweep_id(sweep.id):
                view.warn(f"retention: sweep {sweep.id[:60]!r} is not named as ours: left alone")
                continue
            store.delete_sweep(sweep.id)
            _remove_report(reports / sweep.id, view)
            for page in _comparison_pages(reports, sweep.id):
                page.unlink()
            (store.path.parent / "logs" / f"{sweep.id}.log").unlink(missing_ok=True)  # up's log
            view.line(f"retention: removed night {sweep.id}")
    finally:
        store.close()
    pattern = re.compile(rf"\d{{8}}-\d{{6}}-{re.escape(lab.name)}\.log")
    logs = sorted(
        path
        for path in (lab.results_directory / "nightly").glob(f"*-{lab.name}.log")
        if pattern.fullmatch(path.name) and path.is_file() and not path.is_symlink()
    )
    for old in logs[: -lab.nightly.keep]:
        if old != current_log:
            old.unlink(missing_ok=True)


def _remove_report(directory: Path, view: NightView) -> None:
    """Remove a sweep's report directory if it is one (a directory of ours with index.html)."""
    if directory.is_symlink() or not directory.is_dir():
        return
    if not (directory / "index.html").is_file():
        view.warn(f"retention: {directory} holds no report: left alone")
        return
    shutil.rmtree(directory)


def _comparison_pages(reports: Path, sweep_id: str) -> list[Path]:
    """Comparison pages with `sweep_id` as one side: compare-<id>--<other>.html or the reverse,
    the other side a sweep id too."""
    pages = []
    for page in reports.glob("compare-*.html") if reports.is_dir() else []:
        middle = page.name[len("compare-") : -len(".html")]
        sides = [middle[len(sweep_id) + 2 :], middle[: -len(sweep_id) - 2]]
        mine = [
            middle.startswith(f"{sweep_id}--") and is_sweep_id(sides[0]),
            middle.endswith(f"--{sweep_id}") and is_sweep_id(sides[1]),
        ]
        if any(mine) and page.is_file() and not page.is_symlink():
            pages.append(page)
    return pages
