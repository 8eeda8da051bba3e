"""Reports and `compare` from real sweeps on an emulated lab.

Two short sweeps with `orchestrate up` into one results directory: a base sweep with two
repetitions, then the same plan in single runs while CPU hogs share the server's CPU, so the
server really is slower. Each `up` ends by writing its sweep's report; the tests check the
figures' data against the store, every PNG, and the page in headless Chromium (screenshots under
test-artifacts/), then that `compare` flags the slowed sweep and nothing when a sweep meets
itself.

On the session's shared lab (tests/functional/conftest.py); the hogs are this test's own
processes, stopped by PID.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from orchestrator.config.labfile import load_lab
from orchestrator.report.analysis.compare import compare_sweeps
from orchestrator.report.analysis.data import curves
from orchestrator.report.analysis.stats import BETTER, CLAIM_VERDICTS, WORSE
from orchestrator.report.analysis.sweep import SweepData
from orchestrator.results.store import Store
from tests.support.browser import Browser, Seen
from tests.support.labfiles import REPOSITORY
from tests.support.labtools import SLOWABLE_PLAN, SLOWING_HOGS, ServerHogs, orchestrate
from tests.support.report_stores import assert_figures_match_store, assert_png_drawn, csv_rows
from tests.support.sharedlab import SHARED_NAME, SharedLab

ARTIFACTS = REPOSITORY / "test-artifacts"


@dataclass(frozen=True)
class Sweeps:
    results: Path
    base: str
    slowed: str
    outputs: dict[str, str]  # sweep id -> what `orchestrate up` printed


@pytest.fixture(scope="module")
def sweeps(
    on_shared_lab: SharedLab,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Sweeps]:
    directory = tmp_path_factory.mktemp("report")
    path = on_shared_lab.lab_file(directory, "base", SLOWABLE_PLAN)
    # The same lab file in single runs: one store (and Prometheus) for both sweeps, as
    # `compare` takes two sweeps of one results directory.
    slowed_file = directory / "slowed.yml"
    data = yaml.safe_load(path.read_text())
    data["experiment"] = {**SLOWABLE_PLAN, "repetitions": 1}
    slowed_file.write_text(yaml.safe_dump(data, sort_keys=False))
    state = on_shared_lab.state
    lab = load_lab(path)
    outputs = {}
    started = time.monotonic()
    base = orchestrate("up", str(path), state=state)
    print(base.stdout[-3000:], f"base: {time.monotonic() - started:.0f} s")
    assert base.returncode == 0, base.stdout[-2000:] + base.stderr
    store = Store.open(lab.results_directory, create=False)
    base_id = store.sweeps()[-1].id
    outputs[base_id] = base.stdout
    started = time.monotonic()
    with ServerHogs(lab, SLOWING_HOGS) as hogs:
        slowed = orchestrate("up", str(slowed_file), state=state)
    print(slowed.stdout[-3000:], f"slowed: {time.monotonic() - started:.0f} s")
    assert hogs.started, "the slowed sweep never started: no hogs ran"
    assert slowed.returncode == 0, slowed.stdout[-2000:] + slowed.stderr
    slowed_id = store.sweeps()[-1].id
    assert slowed_id != base_id
    outputs[slowed_id] = slowed.stdout
    store.close()
    yield Sweeps(lab.results_directory, base_id, slowed_id, outputs)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with Browser() as chromium:
        yield chromium


def check_report(sweeps: Sweeps, sweep: str, browser: Browser, shot: str) -> tuple[Path, Seen]:
    """The report `up` wrote for `sweep`: data equal to the store, PNGs drawn, the page shown."""
    directory = sweeps.results / "reports" / sweep
    index = directory / "index.html"
    assert f"report: {index}" in sweeps.outputs[sweep].replace("\n", "")
    store = Store.open(sweeps.results, create=False)
    try:
        assert_figures_match_store(directory, store, sweep)
    finally:
        store.close()
    pngs = sorted(directory.glob("*.png"))
    assert pngs[0].name == "figure-1-one-byte-idle0.png"  # the paper's first, then 3 and A1...
    assert all(p.name.startswith(("figure-3-", "figure-A")) for p in pngs[1:])
    for png in pngs:
        assert_png_drawn(png)
        assert png.with_suffix(".svg").exists() and png.with_suffix(".csv").exists()
    seen = browser.open(index, screenshot=ARTIFACTS / shot)
    assert seen.console_errors == [] and seen.failed_requests == []
    assert seen.title == f"testbed report: {sweep}"
    assert len(seen.images) == len(pngs)
    for source, complete, width, height in seen.images:
        assert source.startswith("data:image/png") and complete and (width, height) == (800, 500)
    assert (ARTIFACTS / shot).stat().st_size > 10_000
    return directory, seen


def test_up_writes_a_report_with_confidence_intervals(sweeps: Sweeps, browser: Browser) -> None:
    directory, _ = check_report(sweeps, sweeps.base, browser, "report-base.png")
    page = (directory / "index.html").read_text()
    for text in (
        "2 repetitions per point",
        "mean of up to 2 runs",
        "Emulated lab.",
        "The paper's findings, checked",
        "Table 1",
        SHARED_NAME,
    ):
        assert text in page, text
    points = csv_rows(directory / "points.csv")
    assert len(points) == 8
    [figure] = [csv_rows(p) for p in directory.glob("figure-1-*.csv")]
    repeated = [row for row in figure if int(row["ok_runs"]) == 2]
    assert repeated, figure  # error bars: some point has both its runs ok
    for row in repeated:
        assert float(row["reply_rate_ci_low"]) <= float(row["reply_rate_mean"])
        assert float(row["reply_rate_mean"]) <= float(row["reply_rate_ci_high"])
    table = csv_rows(directory / "table1-one-byte-idle0.csv")
    assert {"select", "epoll_wait", "epoll_ctl", "accept4"} <= {row["syscall"] for row in table}
    findings = csv_rows(directory / "findings.csv")
    assert len(findings) == 4
    assert {row["verdict"] for row in findings} <= set(CLAIM_VERDICTS)
    for row in findings:  # the verdict as stated begins with its word
        assert row["stated"].startswith(row["verdict"]), row


def test_the_slowed_sweeps_report_labels_its_single_runs(sweeps: Sweeps, browser: Browser) -> None:
    directory, _ = check_report(sweeps, sweeps.slowed, browser, "report-slowed.png")
    page = (directory / "index.html").read_text()
    assert "Every point is a single run" in page and "(single run)" in page
    store = Store.open(sweeps.results, create=False)
    try:
        slowed = curves(SweepData.load(store, sweeps.slowed))
    finally:
        store.close()
    # The hogs made the server the bottleneck: every curve that was measured ok at the top rate
    # saturated below it (hogging one CPU of two also crowds the clients, which can make a
    # point client-limited: such a curve says nothing here).
    measured = [c for c in slowed if c.points[-1].ok]
    assert measured, [(c.mechanism, [r.status for r in c.runs]) for c in slowed]
    assert all(curve.saturated for curve in measured), [c.saturation for c in measured]


def test_compare_flags_the_slowed_sweep(sweeps: Sweeps, browser: Browser, state_dir: Path) -> None:
    result = orchestrate(
        "compare", str(sweeps.results), sweeps.base, sweeps.slowed, state=state_dir
    )
    print(result.stdout)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "significantly worse" in result.stdout
    store = Store.open(sweeps.results, create=False)
    try:
        comparison = compare_sweeps(store, sweeps.base, sweeps.slowed)
    finally:
        store.close()
    verdicts: dict[str, Any] = {row.mechanism: row.verdict for row in comparison.rows}
    assert verdicts == {"select": WORSE, "epoll-lt": WORSE}
    assert not any(row.verdict == BETTER for row in comparison.rows)
    page = sweeps.results / "reports" / f"compare-{sweeps.base}--{sweeps.slowed}.html"
    seen = browser.open(page, screenshot=ARTIFACTS / "compare.png")
    assert seen.console_errors == [] and seen.title.startswith("testbed comparison")


def test_a_sweep_compared_with_itself_flags_nothing(sweeps: Sweeps, state_dir: Path) -> None:
    result = orchestrate("compare", str(sweeps.results), sweeps.base, sweeps.base, state=state_dir)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "nothing significantly worse" in result.stdout
    assert "worse" not in result.stdout.replace("nothing significantly worse", "")
