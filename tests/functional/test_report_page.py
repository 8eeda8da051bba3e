"""A report from a store holding several repetitions of every point (with client-limited and
failed runs among them), opened in headless Chromium as a reader would: no console error, every
image loaded, a screenshot kept under test-artifacts/."""

from __future__ import annotations

from pathlib import Path

import pytest

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

pytestmark = [pytest.mark.slow]


def test_the_page_of_a_repeated_sweep_renders_in_chromium(tmp_path: Path) -> None:
    store = Store.open(tmp_path)
    sweep = sweep_with(store, repeated(reps=4), repetitions=4)
    directory = write_report(store, sweep).directory
    assert_figures_match_store(directory, store, sweep)
    for png in directory.glob("*.png"):
        assert_png_drawn(png)
    shot = REPOSITORY / "test-artifacts" / "report-repetitions.png"
    with Browser() as browser:
        seen = browser.open(directory / "index.html", screenshot=shot)
    assert seen.console_errors == [] and seen.failed_requests == []
    assert len(seen.images) == 2
    assert all(
        complete and width == 800 and height == 500 for _, complete, width, height in seen.images
    )
    assert shot.stat().st_size > 10_000
