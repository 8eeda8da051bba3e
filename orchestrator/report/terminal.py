"""A comparison of two sweeps in the terminal (rich): its table, notes and what got worse.

    print_comparison(comparison, console)      # `orchestrate compare`
    comparison_lines(comparison)                # the same as plain lines, for a log (nightly)

The numbers and each row's values come from `analysis.compare`; this module only lays them out.
"""

from __future__ import annotations

import io

from rich.console import Console
from rich.table import Table

from orchestrator.report.analysis.compare import COLUMNS, Comparison, cells, summary
from orchestrator.report.analysis.stats import BETTER, NO_CHANGE, NOT_MEASURED, WORSE

VERDICT_STYLES = {WORSE: "bold red", BETTER: "green", NO_CHANGE: "", NOT_MEASURED: "dim"}


def print_comparison(comparison: Comparison, console: Console) -> None:
    """The comparison as a table in the terminal, then its notes and what got worse."""
    grid = Table(
        title=f"{comparison.new} against {comparison.base} "
        f"(threshold {comparison.threshold:.0%}, 95 % CI)"
    )
    for column in COLUMNS:
        grid.add_column(column, justify="right" if column == "idle" else "left")
    for row in comparison.rows:
        *values, verdict = cells(row)
        style = VERDICT_STYLES.get(row.verdict, "")
        grid.add_row(*values, f"[{style}]{verdict}[/]" if style else verdict)
    console.print(grid)
    for note in comparison.notes:
        console.print(f"note: {note}")
    said = summary(comparison)
    console.print(f"[bold red]{said}[/]" if comparison.regressed else said)


def comparison_lines(comparison: Comparison) -> list[str]:
    """The comparison as plain text, the table then its notes, for a log."""
    buffer = io.StringIO()
    print_comparison(comparison, Console(file=buffer, width=200, no_color=True, highlight=False))
    return buffer.getvalue().splitlines()
