"""Every value on the pages is escaped by the templates: a hostile sweep id, lab name or failure
reason comes out as text, never as markup (the report page and compare's page)."""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path

from orchestrator.report.analysis.build import build
from orchestrator.report.analysis.compare import compare_sweeps
from orchestrator.report.analysis.sweep import SweepData
from orchestrator.report.html.compare import comparison_page
from orchestrator.report.html.page import report_page
from orchestrator.results.store import Store
from tests.support.report_stores import P, sweep_with

SCRIPT = "<script>alert(1)</script>"
QUOTES = "\"'&"
HOSTILE = f"{SCRIPT}{QUOTES}"
ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;&#34;&#39;&amp;"


class Elements(HTMLParser):
    """The tags a browser would build from the page, and the text it would show."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parsed(page: str) -> Elements:
    elements = Elements()
    elements.feed(page)
    return elements


def hostile_sweep(store: Store, *, now: float) -> str:
    points = [P("poll", 1000, 1000.0), P("poll", 2000, None, status="failed")]
    sweep = sweep_with(store, points, lab=HOSTILE, now=now)
    failed = [p for p in store.points(sweep) if p.status == "failed"]
    store.set_verdict(sweep, failed[0].key, "failed", f"agent said {HOSTILE}")
    return sweep


def test_a_hostile_sweep_id_and_failure_reason_are_text_on_the_report_page(
    tmp_path: Path,
) -> None:
    store = Store.open(tmp_path)
    sweep = hostile_sweep(store, now=1_800_000_000.0)
    assert sweep.startswith(HOSTILE)  # the store takes the lab name as it is
    page = report_page(build(SweepData.load(store, sweep)), pngs={}, files=[f"{HOSTILE}.csv"])
    assert SCRIPT not in page
    assert f"<title>testbed report: {ESCAPED}" in page  # the sweep id, in the title
    assert f"<h1>Sweep {ESCAPED}" in page  # ... and the heading
    assert f"<td>agent said {ESCAPED}</td>" in page  # the failure reason, in every-point
    assert f'href="{ESCAPED}.csv"' in page  # a file name in an attribute
    seen = parsed(page)
    assert seen.tags.count("script") == 1  # only the page's own sorting script
    assert f"agent said {HOSTILE}" in "".join(seen.text)  # the reader sees the text as stored


def test_hostile_sweep_ids_are_text_on_compares_page(tmp_path: Path) -> None:
    store = Store.open(tmp_path)
    base = hostile_sweep(store, now=1_800_000_000.0)
    new = hostile_sweep(store, now=1_800_000_500.0)
    page = comparison_page(compare_sweeps(store, base, new))
    assert SCRIPT not in page
    assert f"<h1>{ESCAPED}" in page and f"against {ESCAPED}" in page
    seen = parsed(page)
    assert "script" not in seen.tags
    assert f"{new} against {base}" in "".join(seen.text)
