"""The nightly run's pure parts: which sweep is the baseline, what drifted between two sweeps."""

from __future__ import annotations

from pathlib import Path

from orchestrator.nightly.nightly import (
    NightResult,
    baseline_for,
    compared_night,
    environment_drift,
)
from orchestrator.report.analysis.compare import compare_sweeps
from orchestrator.results.records import SweepSummary
from orchestrator.results.store import Store
from tests.support.report_stores import P, new_sweep, sweep_with


def test_baseline_is_the_pin_else_the_last_complete_nightly(tmp_path: Path) -> None:
    store = Store.open(tmp_path)
    assert baseline_for(store, "unit") is None
    manual = new_sweep(store, now=1.0)
    store.finish_sweep(manual, "complete", SweepSummary())
    good = new_sweep(store, kind="nightly", now=2.0)
    store.finish_sweep(good, "complete", SweepSummary())
    bad = new_sweep(store, kind="nightly", now=3.0)
    store.finish_sweep(bad, "failed", SweepSummary())
    running = new_sweep(store, kind="nightly", now=4.0)
    chosen = baseline_for(store, "unit", exclude=running)
    assert chosen is not None and chosen.id == good  # not the manual, failed or running ones
    store.set_baseline("unit", manual)
    chosen = baseline_for(store, "unit", exclude=running)
    assert chosen is not None and chosen.id == manual
    # A night is never compared with itself, even when it is the pin.
    chosen = baseline_for(store, "unit", exclude=manual)
    assert chosen is not None and chosen.id == good
    # A pin whose sweep is gone falls back to the last good night.
    store.delete_sweep(manual)
    chosen = baseline_for(store, "unit")
    assert chosen is not None and chosen.id == good
    assert baseline_for(store, "other") is None


def test_drift_names_what_changed_and_nothing_else() -> None:
    host = {
        "kernel": "6.1.0-18",
        "cpu_model": "Xeon",
        "nics": {"exp-a": "198.18.1.1"},
        "sysctls": {"net.ipv4.tcp_fin_timeout": "60", "net.core.somaxconn": "4096"},
    }
    base = {"revision": "a" * 40, "hosts": {"server": host, "client1": host}}
    assert environment_drift(base, base) == []
    moved = {
        **host,
        "kernel": "6.1.0-21",
        "sysctls": {**host["sysctls"], "net.core.somaxconn": 128},
    }
    new = {"revision": "b" * 40 + "-dirty", "hosts": {"server": moved, "client1": host}}
    assert environment_drift(base, new) == [
        f"revision {'a' * 12} → {'b' * 12}-dirty",
        "server kernel 6.1.0-18 → 6.1.0-21",
        "server net.core.somaxconn 4096 → 128",
    ]
    gone = {"revision": "a" * 40, "hosts": {"server": host}}
    assert environment_drift(base, gone)[0].startswith("client1 kernel 6.1.0-18 → None")


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


def test_versions_that_changed_are_drift() -> None:
    versions = {
        "orchestrator": "0.1.0",
        "revision": "aaaa",
        "python": "3.11.7",
        "dependencies": {"typer": "0.29.2", "rich": "15.0.0"},
        "hosts": {"client1": {"httperf": "httperf-0.9.0"}},
    }
    base = {"revision": "aaaa", "settings": {"versions": versions}, "hosts": {}}
    newer = {**versions, "dependencies": {"typer": "0.30.0", "rich": "15.0.0"}}
    new = {"revision": "aaaa", "settings": {"versions": newer}, "hosts": {}}
    assert environment_drift(base, base) == []
    assert environment_drift(base, new) == ["typer 0.29.2 → 0.30.0"]
    old = {"revision": "aaaa", "settings": {}, "hosts": {}}  # recorded before versions were kept
    assert environment_drift(old, new) == []
    hosts = {"client1": {"httperf": "httperf-0.9.0", "compiler": "gcc (Debian 12.2.0-14) 12.2.0"}}
    moved = {"client1": {**hosts["client1"], "compiler": "gcc (Debian 14.2.0-19) 14.2.0"}}
    assert environment_drift({"hosts": hosts}, {"hosts": moved}) == [
        "client1 compiler gcc (Debian 12.2.0-14) 12.2.0 → gcc (Debian 14.2.0-19) 14.2.0"
    ]
