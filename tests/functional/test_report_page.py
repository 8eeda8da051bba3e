"""A report from a store holding several repetitions of every point (with client-limited and
failed runs among them), opened in headless Chromium as a reader would: no console error, every
image loaded (the paper's figures and those beyond it), the every-point table sorted by a click
on a header and filtered by typing, a screenshot kept under test-artifacts/."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Page

from orchestrator.report.write import write_report
from orchestrator.results.store import Store
from tests.support.browser import Browser
from tests.support.labfiles import REPOSITORY
from tests.support.report_stores import (
    assert_figures_match_store,
    assert_png_drawn,
    repeated,
    sweep_with,
)


def test_the_page_of_a_repeated_sweep_renders_in_chromium(tmp_path: Path) -> None:
    store = Store.open(tmp_path)
    sweep = sweep_with(store, repeated(reps=4), repetitions=4)
    directory = write_report(store, sweep).directory
    assert_figures_match_store(directory, store, sweep)
    for png in directory.glob("*.png"):
        assert_png_drawn(png)
    shot = REPOSITORY / "test-artifacts" / "report-repetitions.png"
    with Browser() as browser:
        seen = browser.open(directory / "index.html", screenshot=shot, act=sort_and_filter)
    assert seen.console_errors == [] and seen.failed_requests == []
    pngs = sorted(directory.glob("*.png"))
    assert len(seen.images) == len(pngs) > 3
    acted = seen.acted
    assert isinstance(acted, dict)
    captions = " ".join(acted["captions"])
    for kind in ("CPU per reply", "response time", "peak reply rate with idle", "every run"):
        assert kind in captions, kind
    assert "the paper's beyond the paper" not in captions
    before, ascending, descending = acted["before"], acted["ascending"], acted["descending"]
    assert before == sorted(before)  # run order: by "#"
    numbers = [float(x.replace(",", "")) for x in ascending if x != "-"]
    assert ascending != before and numbers == sorted(numbers)  # sorted by replies/s
    reverse = [float(x.replace(",", "")) for x in descending if x != "-"]
    assert reverse == sorted(numbers, reverse=True)  # a second click reverses
    assert 0 < acted["filtered"] < len(before) and acted["count"].startswith(str(acted["filtered"]))
    assert all(
        complete and width == 800 and height == 500 for _, complete, width, height in seen.images
    )
    assert shot.stat().st_size > 10_000


def sort_and_filter(page: Page) -> dict[str, object]:
    """Click the every-point table's "replies/s" header twice, then filter by "client-limited"."""
    table = "#every-point table"

    def column(index: int) -> list[str]:
        cells = page.locator(f"{table} tbody tr td:nth-child({index + 1})")
        return [text.strip() for text in cells.all_inner_texts()]

    headers = [h.strip() for h in page.locator(f"{table} thead th").all_inner_texts()]
    replies = headers.index("replies/s")
    before = [int(x) for x in column(0)]
    page.locator(f"{table} thead th").nth(replies).click()
    ascending = column(replies)
    page.locator(f"{table} thead th").nth(replies).click()
    descending = column(replies)
    page.fill("#point-filter", "client-limited")
    visible = page.locator(f"{table} tbody tr:visible").count()
    return {
        "before": before,
        "ascending": ascending,
        "descending": descending,
        "filtered": visible,
        "count": page.locator("#point-count").inner_text(),
        "captions": page.locator("figcaption").all_inner_texts(),
    }
