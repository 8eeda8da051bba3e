"""Terminal output shared by the subcommands: one console for results, warnings on stderr.

Error messages are written as plain lines (never wrapped by rich) so that one problem is one
line, whatever the terminal width.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

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

from orchestrator.config.redact import redact_text
from orchestrator.results.records import SweepSummary

# Piped output (logs, CI) gets room for the host tables instead of rich's 80-column default.
console = Console(highlight=False, width=None if sys.stdout.isatty() else 160)


def error_line(message: str) -> None:
    sys.stderr.write(f"error: {redact_text(message)}\n")
    sys.stderr.flush()


def warn(message: str) -> None:
    sys.stderr.write(f"warning: {redact_text(message)}\n")
    sys.stderr.flush()


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
