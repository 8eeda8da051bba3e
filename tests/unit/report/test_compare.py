"""`compare`: two hand-made sweeps, curve by curve, better / worse / no significant change."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Unpack

import pytest
from rich.console import Console

from orchestrator.report.analysis.compare import BOUNDS_ONLY, cells, compare_sweeps
from orchestrator.report.analysis.stats import (
    BETTER,
    CENSORED,
    NO_CHANGE,
    NOT_MEASURED,
    WELCH,
    WORSE,
)
from orchestrator.report.html.compare import comparison_page
from orchestrator.report.terminal import comparison_lines, print_comparison
from orchestrator.results.store import Store
from tests.support.report_stores import HOSTS, P, Where, sweep_with

RATES = (2000, 4000, 6000)


def runs(mechanism: str, capacities: list[float], **where: Unpack[Where]) -> list[P]:
    """One repetition per capacity: the mechanism serves every rate up to it, then plateaus."""
    return [
        P(mechanism, rate, min(rate, capacity), rep=rep, **where)
        for rep, capacity in enumerate(capacities, start=1)
        for rate in RATES
    ]


def test_a_slower_sweep_is_worse_and_a_sweep_against_itself_is_not(tmp_path: Path) -> None:
    store = Store.open(tmp_path)
    base = sweep_with(store, [*runs("select", [5000, 5100, 4950]), *runs("poll", [9000] * 3)])
    slower = sweep_with(
        store, [*runs("select", [3000, 3100, 2950]), *runs("poll", [9000, 9000, 9000])]
    )
    result = compare_sweeps(store, base, slower, threshold=0.05)
    assert result.regressed and not result.improved
    assert [row.mechanism for row in result.rows_with(WORSE)] == ["select"]
    [line] = result.worse()
    assert line.startswith("one-byte/idle=0/select: peak -39.9% [") and "saturation" in line
    select, poll = result.rows
    assert select.peak.verdict == WORSE and select.peak.method == WELCH
    assert select.peak.relative == pytest.approx((3016.67 - 5016.67) / 5016.67, rel=1e-3)
    assert select.peak.high is not None and select.peak.high < -0.05
    assert select.saturation.verdict == WORSE
    assert poll.verdict == NO_CHANGE  # never saturated in either: bounds say nothing
    assert poll.saturation.method == BOUNDS_ONLY

    same = compare_sweeps(store, base, base)
    assert not same.regressed and not same.improved and same.worse() == []
    assert {row.verdict for row in same.rows} == {NO_CHANGE}
    back = compare_sweeps(store, slower, base)
    assert back.improved and [row.mechanism for row in back.rows_with(BETTER)] == ["select"]


def test_a_saturation_not_reached_is_a_bound_that_can_still_judge(tmp_path: Path) -> None:
    store = Store.open(tmp_path)
    base = sweep_with(store, runs("epoll-et", [9000]))  # tracked up to 6,000
    new = sweep_with(store, runs("epoll-et", [2500]))  # saturated between 2,000 and 4,000
    [row] = compare_sweeps(store, base, new, threshold=0.05).rows
    assert row.saturation.verdict == WORSE and row.saturation.method == BOUNDS_ONLY
    assert row.saturation.relative is not None and row.saturation.relative < -0.05
    assert row.saturation.base == "not reached (above 6,000)"
    assert row.peak.verdict == WORSE  # single runs: on the threshold alone


def test_curves_in_only_one_sweep_are_not_measured(tmp_path: Path) -> None:
    store = Store.open(tmp_path)
    base = sweep_with(store, runs("select", [5000]))
    hosts = copy.deepcopy(HOSTS)
    hosts["server"]["kernel"] = "6.19.0"
    new = sweep_with(store, [*runs("select", [5000]), *runs("io_uring", [5000])], hosts=hosts)
    result = compare_sweeps(store, base, new)
    assert [(r.mechanism, r.verdict) for r in result.rows] == [
        ("select", NO_CHANGE),
        ("io_uring", NOT_MEASURED),
    ]
    assert "server: kernel differs between the sweeps" in result.notes


def test_the_comparison_is_shown_in_the_terminal_and_as_a_page(tmp_path: Path) -> None:
    store = Store.open(tmp_path)
    base = sweep_with(store, runs("select", [5000, 5100]))
    new = sweep_with(store, runs("select", [3000, 3100]))
    result = compare_sweeps(store, base, new)
    console = Console(record=True, width=240)
    print_comparison(result, console)
    text = console.export_text()
    assert "significantly worse: one-byte/idle=0/select" in text
    assert f"{new} against {base}" in text
    lines = comparison_lines(result)  # what the nightly run logs: the same, as plain lines
    assert lines[-1] == "significantly worse: one-byte/idle=0/select"
    assert any("select" in line and "worse" in line for line in lines[:-1])
    page = comparison_page(result)
    assert page.startswith("<!DOCTYPE html>") and "<table>" in page
    assert "significantly worse: one-byte/idle=0/select" in page
    assert BETTER not in {row.verdict for row in result.rows}


def test_a_lower_peak_cut_short_by_its_clients_is_not_a_regression(tmp_path: Path) -> None:
    store = Store.open(tmp_path)
    base = sweep_with(store, runs("select", [5000, 5100]))
    # The new sweep served every rate it was measured ok at; its top rate was client-limited.
    cut = [
        P(
            "select",
            rate,
            min(rate, 5000),
            rep=rep,
            status="client-limited" if rate == 6000 else "ok",
        )
        for rep in (1, 2)
        for rate in RATES
    ]
    new = sweep_with(store, cut)
    [row] = compare_sweeps(store, base, new).rows
    assert row.peak.relative is not None and row.peak.relative < -0.05
    assert (row.peak.verdict, row.peak.method) == (NOT_MEASURED, CENSORED)
    assert row.verdict != WORSE and not compare_sweeps(store, base, new).regressed


def test_single_run_changes_are_labelled_wherever_they_are_printed(tmp_path: Path) -> None:
    store = Store.open(tmp_path)
    base = sweep_with(store, [*runs("select", [5000]), *runs("poll", [5000, 5100, 4950])])
    new = sweep_with(store, [*runs("select", [3000]), *runs("poll", [3000, 3100, 2950])])
    result = compare_sweeps(store, base, new, threshold=0.05)
    select, poll = result.rows
    assert select.verdict == poll.verdict == WORSE
    assert select.single_runs and select.verdict_text == "worse (single runs)"
    assert not poll.single_runs and poll.verdict_text == "worse"
    assert select.summary().startswith("one-byte/idle=0/select: peak -40.0% (single runs)")
    assert "(single runs)" not in poll.summary()
    summary = (
        "significantly worse: one-byte/idle=0/poll; "
        "worse (single runs, threshold only): one-byte/idle=0/select"
    )
    lines = comparison_lines(result)
    assert lines[-1] == summary
    [table_row] = [line for line in lines if " select " in line]
    assert "worse (single runs)" in table_row and "-40.0% (single runs)" in table_row
    assert cells(select)[-1] == "worse (single runs)"
    page = comparison_page(result)
    assert summary in page and "worse (single runs)" in page
