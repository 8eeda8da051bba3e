"""Terminal output: one console for results, warnings on stderr, and `Terminal`, the view that
`up` and `nightly` report to (see `orchestrator.run.view`).

Error messages are written as plain lines (never wrapped by rich) so that one problem is one
line, whatever the terminal width.

Verbosity (`-v`/`-q` on every command): `set_verbosity(1)` shows debug detail on stderr,
`set_verbosity(-1)` silences the console (errors and warnings still go to stderr).

A run's log (`capture()` then `log_to(path)`, which `Terminal.sweep_log` calls): everything the
console printed, the warnings and errors, and the debug detail whatever the verbosity, with
timestamps. `capture()` buffers in memory until `log_to` names the file (`up` knows its sweep,
hence the log's name, only after preflight and provisioning); the file is created mode 0640.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import IO, Any, cast

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from orchestrator.config.model import Lab
from orchestrator.config.redact import redact_text
from orchestrator.lab.hostchecks import REAL_CHECKS
from orchestrator.lab.preflight import CHECKS, PreflightReport
from orchestrator.lab.provision import PlaybookResult
from orchestrator.paths import LOG_MODE
from orchestrator.results.records import Sweep, SweepSummary
from orchestrator.run.view import PlaybookEvents

log = logging.getLogger("orchestrator")


class _LogSink:
    """Where the run's log goes: memory until `log_to` opens the file."""

    def __init__(self) -> None:
        self.buffer_text = io.StringIO()
        self.file: IO[str] | None = None

    def write(self, text: str) -> int:
        return (self.file or self.buffer_text).write(redact_text(text))

    def flush(self) -> None:
        if self.file is not None:
            self.file.flush()

    def isatty(self) -> bool:
        return False


class _TeeConsole(Console):
    """The terminal's console, which also writes what it prints to the run's log, if any."""

    log_console: Console | None = None

    def print(self, *objects: Any, **options: Any) -> None:
        super().print(*objects, **options)
        if self.log_console is not None:
            self.log_console.print(*objects, **options)


# Piped output (logs, CI) gets room for the host tables instead of rich's 80-column default.
console = _TeeConsole(highlight=False, width=None if sys.stdout.isatty() else 160)
_sink: _LogSink | None = None
_stderr_handler: logging.Handler | None = None


def set_verbosity(level: int) -> None:
    """-1 quiet (no console output), 0 normal, 1 debug detail on stderr."""
    global _stderr_handler
    console.quiet = level < 0
    log.setLevel(logging.DEBUG)
    if _stderr_handler is None:
        _stderr_handler = logging.StreamHandler(sys.stderr)
        _stderr_handler.setFormatter(logging.Formatter("%(levelname)s: %(message)s"))
        log.addHandler(_stderr_handler)
    _stderr_handler.setLevel(logging.DEBUG if level > 0 else logging.CRITICAL + 1)


def debug(message: str) -> None:
    """Detail for `-v` and the run's log, never shown otherwise."""
    log.debug(message)


def capture() -> None:
    """Start the run's log (in memory until `log_to`)."""
    global _sink
    if _sink is not None:
        return
    _sink = _LogSink()
    console.log_console = Console(
        file=cast(IO[str], _sink), width=160, no_color=True, highlight=False
    )
    handler = logging.StreamHandler(cast(IO[str], _sink))
    handler.setLevel(logging.DEBUG)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s: %(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.DEBUG)


def log_to(path: Path) -> Path | None:
    """Write the run's log to `path` from now on (what was captured first); None when no run
    is being logged (a command that did not ask for one)."""
    if _sink is None:
        return None
    path.parent.mkdir(mode=0o750, parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, LOG_MODE)
    os.fchmod(descriptor, LOG_MODE)  # whatever the umask, and an older file's mode
    if _sink.file is not None:
        _sink.file.close()
    _sink.file = open(descriptor, "a", encoding="utf-8", buffering=1)  # noqa: SIM115
    _sink.file.write(_sink.buffer_text.getvalue())
    _sink.buffer_text = io.StringIO()
    return path


def stop_capture() -> None:
    """End the run's log (closing its file); what follows is no longer logged."""
    global _sink
    if _sink is None:
        return
    for handler in [h for h in log.handlers if getattr(h, "stream", None) is _sink]:
        log.removeHandler(handler)
    console.log_console = None
    if _sink.file is not None:
        _sink.file.close()
    _sink = None


def _to_log(line: str) -> None:
    if _sink is not None:
        _sink.write(line + "\n")
        _sink.flush()


def error_line(message: str) -> None:
    sys.stderr.write(f"error: {redact_text(message)}\n")
    sys.stderr.flush()
    _to_log(f"error: {message}")


def warn(message: str) -> None:
    sys.stderr.write(f"warning: {redact_text(message)}\n")
    sys.stderr.flush()
    _to_log(f"warning: {message}")


def playbook_progress(total_hosts: int) -> tuple[Progress, Callable[[dict[str, Any]], None]]:
    """A progress display for a playbook run and the event handler that drives it."""
    progress = Progress(
        SpinnerColumn(),
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("hosts"),
        console=console,
        transient=True,
    )
    task = progress.add_task("starting", total=total_hosts)
    finished = {"runner_on_ok", "runner_on_failed", "runner_on_skipped", "runner_on_unreachable"}

    def on_event(event: dict[str, Any]) -> None:
        kind = event.get("event")
        data = event.get("event_data", {})
        if kind == "playbook_on_task_start":
            progress.update(task, description=str(data.get("task", "")), completed=0)
        elif kind in finished:
            progress.advance(task)

    return progress, on_event


def hosts_table(title: str, columns: list[str], rows: list[list[str]]) -> Table:
    table = Table(title=title)
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*row)
    return table


class SweepProgress:
    """The live view of a sweep: points done of all, ETA, the point, its phase and reply rate.

    Finished points are printed above the bar, one line each.
    """

    def __init__(self, out: Console, retries: int) -> None:
        self.console = out
        self.retries = retries
        self.progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("points, eta"),
            TimeRemainingColumn(),
            console=out,
        )
        self.task: TaskID | None = None
        self.label = ""
        self.phase_name = ""

    def sweep_started(self, sweep: Any, total: int, done: int) -> None:
        self.progress.start()
        self.task = self.progress.add_task("starting", total=total, completed=done)

    def point_started(self, seq: int, point: Any, attempt: int) -> None:
        self.label = point.key + (f" (attempt {attempt})" if attempt > 1 else "")
        self._show()

    def phase(self, name: str) -> None:
        self.phase_name = name
        self._show()

    def live(self, reply_rate: float) -> None:
        self._show(f" · {reply_rate:,.0f} replies/s")

    def point_finished(self, record: Any) -> None:
        summary = record.summary
        rate = summary.get("reply_rate")
        figures = f"reply {rate:,.0f}/s of {record.point.rate:,.0f}" if rate is not None else ""
        mark = {
            "ok": "[green]ok[/]",
            "saturated": "[blue]saturated[/]",
            "client-limited": "[yellow]client-limited[/]",
        }.get(record.status, f"[red]{record.status}[/]")
        reason = f" [dim]{record.reason}[/]" if record.reason else ""
        self.console.print(f"{mark} {record.point.key} {figures}{reason}")
        final = record.status != "failed" or record.attempt > self.retries
        if final and self.task is not None:
            self.progress.advance(self.task)

    def sweep_finished(self, summary: SweepSummary) -> None:
        self.progress.stop()

    def _show(self, extra: str = "") -> None:
        if self.task is not None:
            self.progress.update(self.task, description=f"{self.label} · {self.phase_name}{extra}")


# -- preflight -------------------------------------------------------------------------------

STYLE = {"ok": "green", "warn": "yellow", "fail": "bold red", "unknown": "magenta"}


def print_preflight(report: PreflightReport) -> None:
    _preflight_table(report, f"preflight ({report.seconds:.1f} s)", CHECKS)
    if any(name in host.checks for host in report.hosts for name in REAL_CHECKS):
        _preflight_table(report, "preflight: the hosts themselves", REAL_CHECKS)


def _preflight_table(report: PreflightReport, title: str, checks: Sequence[str]) -> None:
    table = Table(title=title, show_lines=False)
    table.add_column("host")
    table.add_column("role")
    for name in checks:
        table.add_column(name)
    for host_report in report.hosts:
        cells = []
        for name in checks:
            check = host_report.checks.get(name)
            if check is None:
                cells.append("[dim]-[/dim]")
            else:
                label = check.detail if check.status == "ok" else f"{check.status}: {check.detail}"
                cells.append(f"[{STYLE[check.status]}]{label}[/]")
        name_style = STYLE["fail"] if host_report.failed else ""
        table.add_row(
            f"[{name_style}]{host_report.host.name}[/]" if name_style else host_report.host.name,
            host_report.host.role,
            *cells,
        )
    console.print(table)


# -- the view of `up` and `nightly` -----------------------------------------------------------


class Terminal:
    """The terminal's `View` (orchestrator.run.view): rich tables and progress on `console`."""

    def info(self, text: str) -> None:
        console.print(text, soft_wrap=True)

    def warn(self, text: str) -> None:
        warn(text)

    def line(self, text: str) -> None:
        console.print(text, markup=False, highlight=False, soft_wrap=True)

    def error(self, text: str) -> None:
        error_line(text)

    def preflight(self, report: PreflightReport) -> None:
        print_preflight(report)

    @contextlib.contextmanager
    def playbook(self, hosts: int) -> Iterator[PlaybookEvents]:
        progress, on_event = playbook_progress(hosts)
        with progress:
            yield on_event

    def provisioned(self, lab: Lab, result: PlaybookResult) -> None:
        rows = [
            [
                host.name,
                str(result.ok.get(host.name, 0)),
                str(result.changed.get(host.name, 0)),
                "unreachable" if host.name in result.unreachable else "",
            ]
            for host in lab.hosts
        ]
        title = f"provision ({result.seconds:.1f} s, {result.total_changed} changed)"
        console.print(hosts_table(title, ["host", "ok", "changed", "problem"], rows))
        for failure in result.failures:
            error_line(failure)

    def sweep_progress(self, retries: int) -> SweepProgress:
        return SweepProgress(console, retries)

    def sweep_log(self, path: Path) -> None:
        if log_to(path) is not None:
            console.print(f"log: {path}", soft_wrap=True)

    def sweep_done(self, sweep: Sweep, summary: SweepSummary, results: Path) -> None:
        table = Table(title=f"sweep {sweep.id}", show_header=False)
        table.add_column("what")
        table.add_column("value")
        rows = [
            ("points run now", str(summary.points_run)),
            (
                "ok / saturated / client-limited / failed",
                f"{summary.ok} / {summary.saturated} / {summary.client_limited}"
                f" / {len(summary.failed)}",
            ),
            ("wall time", f"{summary.wall_seconds:.0f} s"),
            (
                "measurement fraction",
                f"{summary.measurement_fraction:.1%} (the paper's fixed protocol: 50.0%)",
            ),
            (
                "overhead per point (mean / max)",
                _pair(summary.overhead_seconds_mean, summary.overhead_seconds_max),
            ),
            ("cooldown per point (mean)", _pair(summary.cooldown_seconds_mean, None)),
            ("time per phase (mean)", _phases(summary.phase_seconds_mean)),
            ("client capacity", summary.client_capacity or "not measured"),
            ("results", str(results)),
        ]
        rows[-1:-1] = [("curve ended", ending) for ending in summary.curve_endings]
        if summary.skipped:
            rows.insert(1, ("points past their curve's end", f"{summary.skipped} (not run)"))
        for name, value in rows:
            table.add_row(name, value)
        console.print(table)
        for failure in summary.failed:
            error_line(f"failed: {failure}")

    @contextlib.contextmanager
    def teed(self, log: IO[str]) -> Iterator[None]:
        """The console into the terminal and `log` (a night's log); and whatever else this
        process prints to stdout or stderr (a library's message) with its URLs shortened, for
        cron.log."""
        # The console's own setting (None: whatever sys.stdout is when it prints), not `.file`,
        # which would pin today's sys.stdout into it for good.
        previous = console._file
        stdout, stderr = sys.stdout, sys.stderr
        console.file = _Tee(stdout, log)  # type: ignore[assignment]
        sys.stdout = _Tee(stdout)
        sys.stderr = _Tee(stderr)
        try:
            yield
        finally:
            console._file = previous
            sys.stdout, sys.stderr = stdout, stderr


class _Tee:
    """A file-like object writing to the terminal and a log (not a terminal: rich then prints
    plain lines, no live animations, into both), every URL in it shortened."""

    def __init__(self, *targets: IO[str]) -> None:
        self.targets = targets

    def write(self, text: str) -> int:
        shown = redact_text(text)  # a URL printed by anyone (a library's message) is shortened
        for target in self.targets:
            target.write(shown)
        return len(text)

    def flush(self) -> None:
        for target in self.targets:
            target.flush()

    def isatty(self) -> bool:
        return False


def _phases(means: dict[str, float]) -> str:
    return "  ".join(f"{name} {seconds:.1f} s" for name, seconds in means.items()) or "-"


def _pair(first: float | None, second: float | None) -> str:
    parts = [f"{value:.1f} s" for value in (first, second) if value is not None]
    return " / ".join(parts) or "-"
