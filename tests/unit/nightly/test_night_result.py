"""A night's result: its summary line and webhook payload, and its verdict from a comparison."""

from __future__ import annotations

from pathlib import Path

from orchestrator.nightly.nightly import NightResult, compared_night
from orchestrator.report.analysis.compare import compare_sweeps
from orchestrator.results.store import Store
from tests.support.report_stores import P, sweep_with


def test_summary_line_and_payload_say_what_happened() -> None:
    result = NightResult(
        "emulated",
        "regressed",
        1,
        sweep="emulated-2",
        baseline="emulated-1",
        reason="one-byte/idle=0/select: peak -40%",
        worse=["one-byte/idle=0/select: peak -40%"],
        drift=["server kernel 6.1 → 6.2"],
    )
    line = result.summary_line()
    assert line == (
        "nightly emulated: regressed — sweep emulated-2 against emulated-1: "
        "one-byte/idle=0/select: peak -40% (environment changed: server kernel 6.1 → 6.2)"
    )
    payload = result.payload()
    assert payload["status"] == "regressed" and payload["summary"] == line
    assert payload["worse"] == result.worse and payload["single_runs"] is False


def test_a_regression_between_single_runs_says_so(tmp_path: Path) -> None:
    store = Store.open(tmp_path)
    rates = (2000, 4000, 6000)
    base = sweep_with(store, [P("select", r, min(r, 5000)) for r in rates])
    new = sweep_with(store, [P("select", r, min(r, 3000)) for r in rates])
    result = compared_night("emulated", compare_sweeps(store, base, new), [], None)
    assert (result.status, result.exit_code, result.single_runs) == ("regressed", 1, True)
    line = result.summary_line()
    assert line.startswith("nightly emulated: regressed (single runs, threshold only) — sweep")
    assert "one-byte/idle=0/select: peak -40.0% (single runs)" in line
    payload = result.payload()
    assert payload["single_runs"] is True and payload["status"] == "regressed"
    assert payload["worse"][0].startswith("one-byte/idle=0/select: peak -40.0% (single runs)")
    # Three runs a side: a regression with CIs, not labelled.
    repeated = [
        P("select", r, min(r, cap), rep=k)
        for k, cap in ((1, 3000), (2, 3050), (3, 2950))
        for r in rates
    ]
    again = sweep_with(store, repeated)
    tested = compared_night("emulated", compare_sweeps(store, again, again), [], None)
    assert tested.status == "no change" and not tested.single_runs
    baseline = sweep_with(
        store, [P("select", r, min(r, 5000), rep=k) for k in (1, 2, 3) for r in rates]
    )
    slower = compared_night("emulated", compare_sweeps(store, baseline, again), [], None)
    assert slower.status == "regressed" and not slower.single_runs
    assert "(single runs)" not in slower.summary_line()
