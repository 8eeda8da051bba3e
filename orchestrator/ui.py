"""Terminal output shared by the subcommands: one console for results, warnings on stderr.

Error messages are written as plain lines (never wrapped by rich) so that one problem is one
line, whatever the terminal width.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn
from rich.table import Table

# Piped output (logs, CI) gets room for the host tables instead of rich's 80-column default.
console = Console(highlight=False, width=None if sys.stdout.isatty() else 160)


def error_line(message: str) -> None:
    sys.stderr.write(f"error: {message}\n")
    sys.stderr.flush()


def warn(message: str) -> None:
    sys.stderr.write(f"warning: {message}\n")
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
