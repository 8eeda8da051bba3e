"""Which sweep is a night's baseline, and what drifted between two sweeps' environments."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from orchestrator.nightly.baseline import baseline_for, environment_drift
from orchestrator.results.records import SweepSummary
from orchestrator.results.store import Store
from tests.support.report_stores import new_sweep


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
    host: dict[str, Any] = {
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
