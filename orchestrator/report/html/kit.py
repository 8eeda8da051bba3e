"""The building blocks of the self-contained pages (the report, compare's page): one style,
escaping, tables, embedded images, and how numbers and times are printed.

    page("title", body)                        # a whole HTML document, inline CSS
    table(["a", "b"], rows, numeric=(1,))      # every cell escaped unless raw=True
"""

from __future__ import annotations

import base64
import html
import time
from collections.abc import Iterable, Sequence
from typing import Any

CSS = """
body { font: 15px/1.45 system-ui, sans-serif; margin: 2em auto; max-width: 1100px; padding: 0 1em;
       color: #222; }
h1 { font-size: 1.6em; margin-bottom: .2em; } h2 { margin-top: 2em; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; margin: .6em 0 1.2em; font-size: 13px; }
th, td { border: 1px solid #ddd; padding: 3px 7px; text-align: left; vertical-align: top; }
th { background: #f4f4f4; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
.meta { color: #555; } .note { color: #555; font-size: 13px; }
.notice { background: #fff8e1; border: 1px solid #f0d37a; padding: .6em .9em; }
.verdict { font-weight: 600; white-space: nowrap; }
.holds, .better { color: #1b7f2a; } .fails, .worse { color: #b3261e; }
.unmeasured, .same { color: #666; } .inconclusive { color: #8a5a00; }
figure { margin: 1.5em 0; } figure img { max-width: 100%; border: 1px solid #eee; }
figcaption { font-size: 13px; color: #444; }
pre { background: #f7f7f7; padding: .7em; overflow-x: auto; font-size: 12px; }
nav a { margin-right: 1em; }
tr.client-limited td { background: #fffbea; }
tr.saturated td { background: #eef4fb; }
tr.failed td, tr.interrupted td { background: #fdecea; }
"""


def esc(value: object) -> str:
    return html.escape(str(value), quote=True)


def page(title: str, body: str) -> str:
    """A complete HTML document with the shared style."""
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{esc(title)}</title>\n<style>{CSS}</style>\n</head>\n<body>\n{body}\n"
        "</body>\n</html>\n"
    )


def table(
    headers: Sequence[str],
    rows: Iterable[Sequence[object]],
    *,
    numeric: Iterable[int] = (),
    row_classes: Sequence[str] | None = None,
    raw: bool = False,
) -> str:
    """An HTML table; cells are escaped unless `raw` (the caller built them as HTML)."""
    right = set(numeric)
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    lines = []
    for index, row in enumerate(rows):
        cells = "".join(
            f"<td{' class=num' if column in right else ''}>{cell if raw else esc(cell)}</td>"
            for column, cell in enumerate(row)
        )
        kind = row_classes[index] if row_classes and index < len(row_classes) else ""
        lines.append(f"<tr{f' class={esc(kind)}' if kind else ''}>{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(lines)}</tbody></table>"


def data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode()


def maybe(value: Any, fmt: str) -> str:
    return format(value, fmt) if isinstance(value, int | float) else "-"


def when(stamp: Any) -> str:
    if not isinstance(stamp, int | float):
        return "?"
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(stamp))
