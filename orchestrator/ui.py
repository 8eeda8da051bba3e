"""Terminal output shared by the subcommands: one console for results, warnings on stderr.

Error messages are written as plain lines (never wrapped by rich) so that one problem is one
line, whatever the terminal width.

Verbosity (`-v`/`-q` on every command): `set_verbosity(1)` shows debug detail on stderr,
`set_verbosity(-1)` silences the console (errors and warnings still go to stderr).

A run's log (`capture()` then `log_to(path)`): everything the console printed, the warnings and
errors, and the debug detail whatever the verbosity, with timestamps. `capture()` buffers in
memory until `log_to` names the file (`up` knows its sweep, hence the log's name, only after
preflight and provisioning); the file is created mode 0640.
"""

from __future__ import annotations

import io
import logging
import os
import sys
from collections.abc import Callable
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

from orchestrator.results.records import SweepSummary

LOG_MODE = 0o640
log = logging.getLogger("orchestrator")


class _LogSink:
    """Where the run's log goes: memory until `log_to` opens the file."""

    def __init__(self) -> None:
        self.buffer_text = io.StringIO()
        self.file: IO[str] | None = None

    def write(self, text: str) -> int:
        return (self.file or self.buffer_text).write(text)

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


def _to_log(line: str) -> None:
    if _sink is not None:
        _sink.write(line + "\n")
        _sink.flush()


def error_line(message: str) -> None:
    sys.stderr.write(f"error: {message}\n")
    sys.stderr.flush()
    _to_log(f"error: {message}")


def warn(message: str) -> None:
    sys.stderr.write(f"warning: {message}\n")
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
        mark = {"ok": "[green]ok[/]", "client-limited": "[yellow]client-limited[/]"}.get(
            record.status, f"[red]{record.status}[/]"
        )
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
