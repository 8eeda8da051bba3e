"""A comparison of two sweeps as one self-contained HTML page (`templates/compare.html`), with
each change's method; the values come from `analysis.compare`.

    text = comparison_page(comparison)
"""

from __future__ import annotations

from orchestrator.report.analysis.compare import COLUMNS, Comparison, cells, summary
from orchestrator.report.analysis.stats import BETTER, WORSE
from orchestrator.report.html.kit import page, render, table

ROW_CLASSES = {WORSE: "worse", BETTER: "better"}


def comparison_page(comparison: Comparison) -> str:
    """The comparison as one self-contained HTML page (with each change's method)."""
    at = COLUMNS.index("peak change") + 1
    headers = [*COLUMNS[:at], "method", *COLUMNS[at:]]
    rows = [[*cells(row)[:at], row.peak.method, *cells(row)[at:]] for row in comparison.rows]
    classes = [ROW_CLASSES.get(row.verdict, "same") for row in comparison.rows]
    body = render(
        "compare.html",
        base=comparison.base,
        new=comparison.new,
        threshold=f"{comparison.threshold:.0%}",
        regressed=comparison.regressed,
        summary=summary(comparison),
        table=table(headers, rows, row_classes=classes),
        notes=comparison.notes,
    )
    return page(f"testbed comparison: {comparison.new} against {comparison.base}", body)
