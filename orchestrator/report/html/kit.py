"""The building blocks of the self-contained pages (the report, compare's page): the jinja2
templates with autoescaping on, one style, embedded images, and how numbers and times are printed.

    render("reach.html", capacity=..., rows=...)   # Markup: escaped values in a template
    page("title", body)                           # a whole HTML document, inline CSS
    table(["a", "b"], rows, numeric=(1,))         # every cell escaped

Every value handed to a template is escaped by jinja2 unless it is already `Markup`, and the only
Markup is what a template rendered: no value is ever marked safe by hand.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Iterable, Sequence
from functools import cache
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup


@cache
def environment() -> Environment:
    """The templates under `templates/`, escaping every value (also in templates from strings)."""
    return Environment(
        loader=PackageLoader("orchestrator.report.html", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
    )


def render(template: str, **values: Any) -> Markup:
    """`template` filled with `values` (escaped), as markup to place in another template."""
    return Markup(environment().get_template(template).render(**values))


def page(title: str, body: Markup) -> str:
    """A complete HTML document with the shared style."""
    return str(render("page.html", title=title, body=body)) + "\n"


def table(
    headers: Sequence[str],
    rows: Iterable[Sequence[object]],
    *,
    numeric: Iterable[int] = (),
    row_classes: Sequence[str] | None = None,
) -> Markup:
    """An HTML table, every cell escaped (a cell that is Markup was rendered by a template)."""
    listed = [list(row) for row in rows]
    classes = list(row_classes or [])
    return render(
        "table.html",
        headers=list(headers),
        rows=listed,
        numeric=set(numeric),
        classes=classes + [""] * (len(listed) - len(classes)),
    )


def data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode()


def maybe(value: Any, fmt: str) -> str:
    return format(value, fmt) if isinstance(value, int | float) else "-"


def when(stamp: Any) -> str:
    if not isinstance(stamp, int | float):
        return "?"
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(stamp))
