"""`orchestrate nightly`: one unattended run that only speaks up when something moved.

    result = run_nightly(lab)      # NightResult; its exit_code for the shell

A new sweep of the lab (`orchestrate up --new`, which writes its report), and a comparison
against the baseline (`orchestrate compare`, its page written beside the reports): the sweep
pinned with `orchestrate baseline set`, or else the last nightly sweep that completed without
failures (`nightly.baseline`). The night's log (everything printed, and the comparison) is
written under `<results>/nightly/`; one summary line goes to stdout. On a regression or a failed
run the lab's webhook is POSTed and its command run with a JSON summary; neither can fail the
night (`nightly.alerts`). Then old nights are removed: results, reports and logs beyond
`nightly.keep`, never the baseline (`nightly.retention`). Exit status, as every command's: 0 no
change (or improved), 1 regressed or the run failed (the summary line and the webhook's "status"
tell which), 2 bad input, 3 another run of the lab holds its lock.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Protocol

from orchestrator.config.model import Lab
from orchestrator.config.redact import redact_text
from orchestrator.errors import EXIT_INTERRUPTED, TestbedError
from orchestrator.nightly.alerts import alert
from orchestrator.nightly.baseline import baseline_for, environment_drift
from orchestrator.nightly.retention import retain
from orchestrator.paths import log_file
from orchestrator.report.analysis.compare import Comparison, compare_sweeps
from orchestrator.report.analysis.stats import WORSE
from orchestrator.report.terminal import comparison_lines
from orchestrator.report.write import reports_directory, write_comparison
from orchestrator.results.records import SweepSummary
from orchestrator.results.store import Store
from orchestrator.run.lock import LabLock
from orchestrator.run.up import UpResult, run_up
from orchestrator.run.view import View

EXIT_REGRESSED = 1
EXIT_FAILED = 2  # no result tonight: the run failed (1 is kept for "regressed" alone)


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
            alert(lab, result.payload(), view.line, view.warn)
        try:
            retain(lab, log_path, view.line, view.warn)
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
