"""`orchestrate plan`: the points, what `up` creates and the estimated wall time, from a lab file
and (when there is one) its results store. Nothing is created: the labs are only loaded."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from orchestrator.config.labfile import load_lab
from orchestrator.config.model import Lab
from orchestrator.config.plan import expand
from orchestrator.results.records import PointRecord, SweepSummary
from orchestrator.results.schema import STORE_FILE
from orchestrator.results.store import Store
from orchestrator.run.plansummary import DEFAULT, DEFAULT_OVERHEAD, MEASURED, plan_summary
from tests.support.labfiles import write_lab
from tests.support.report_stores import P, new_sweep, record

PLAN: dict[str, Any] = {
    "mechanisms": ["select", "epoll-lt"],
    "workloads": ["one-byte"],
    "idle_connections": [0, 100],
    "rates": [1000, 2000, 3000],
    "repetitions": 2,
    "duration": "5s",
    "warmup": "1s",
    "accept_limits": ["inf"],
    "cooldown": {"max": "3s"},
    "timeout": "2s",
    "retries": 1,
    "specweb99": {"directories": 1, "seed": 1},
}


def lab(tmp_path: Path) -> Lab:
    path = write_lab(
        tmp_path, name="plansum", second_octet=19, third_base=212, lab_changes={"experiment": PLAN}
    )
    return load_lab(path)


def test_a_lab_that_never_ran_is_estimated_with_the_stated_default(tmp_path: Path) -> None:
    summary = plan_summary(lab(tmp_path))
    assert len(summary.points) == summary.to_run == 2 * 2 * 3 * 2
    assert summary.basis == DEFAULT and summary.overhead_seconds == DEFAULT_OVERHEAD
    assert summary.estimated_seconds == 24 * (1 + 5 + DEFAULT_OVERHEAD)
    assert summary.counts()["mechanism"] == {"select": 12, "epoll-lt": 12}
    assert any("results store" in item for item in summary.creates)
    text = "\n".join(summary.describe())
    assert "24 points" in text and "a default" in text and "estimated wall time" in text
    assert f"load generator: {summary.engine} on every client" in text
    assert not (tmp_path / "results" / STORE_FILE).exists()  # planning creates nothing


def test_the_estimate_uses_this_labs_measured_time_per_point(tmp_path: Path) -> None:
    the_lab = lab(tmp_path)
    store = Store.open(the_lab.results_directory)
    sweep = store.create_sweep(
        lab="plansum",
        digest="d",
        seed=1,
        points_planned=3,
        lab_file="",
        inventory="",
        revision="r",
        hosts={},
        settings={},
        workloads={},
        now=1000.0,
    )
    for seq, wall in enumerate((20.0, 26.0, 40.0)):  # 6 s of warm-up + measurement each
        base = record(P("select", 1000 * (seq + 1), 1000.0), seq)
        started = 2000.0 + 100 * seq
        store.record_point(
            sweep.id,
            dataclasses.replace(
                base, started_at=started, ended_at=started + wall, warmup_seconds=1.0
            ),
        )
    store.finish_sweep(sweep.id, "complete", SweepSummary(), now=3000.0)
    store.close()
    summary = plan_summary(the_lab)
    assert summary.basis == MEASURED and summary.measured_points == 3
    assert summary.overhead_seconds == 20.0  # median of 14, 20 and 34
    assert summary.estimated_seconds == 24 * (1 + 5 + 20.0)
    assert f"sweep {sweep.id}" in "\n".join(summary.describe())
    assert not any("results store" in item for item in summary.creates)


def test_a_knee_search_is_planned_as_its_upper_bound(tmp_path: Path) -> None:
    auto = {**PLAN, "rates": {"from": 1000, "to": "auto", "step": 1000, "max": 4000}}
    path = write_lab(
        tmp_path, name="plansum", second_octet=19, third_base=212, lab_changes={"experiment": auto}
    )
    summary = plan_summary(load_lab(path))
    assert summary.knee and len(summary.points) == 2 * 2 * 4 * 2
    text = "\n".join(summary.describe())
    assert "at most 32 points" in text and "1,000 to 4,000 requests/s" in text
    assert "estimated wall time: at most" in text

    auto["rates"] = {**auto["rates"], "repeat_top": 1}
    path = write_lab(
        tmp_path, name="plansum", second_octet=19, third_base=212, lab_changes={"experiment": auto}
    )
    summary = plan_summary(load_lab(path))
    # the second repetition: its top rate and the common rate, counted as the two highest
    assert len(summary.points) == 2 * 2 * (4 + 2)
    assert "only the rate where the first served the most" in "\n".join(summary.describe())


def test_the_profiling_pass_is_counted_apart_and_in_the_time(tmp_path: Path) -> None:
    plan = {**PLAN, "profile": {"duration": "2s"}}
    path = write_lab(
        tmp_path, name="plansum", second_octet=19, third_base=212, lab_changes={"experiment": plan}
    )
    the_lab = load_lab(path)
    summary = plan_summary(the_lab)
    assert len(summary.points) == 24  # the throughput plan as before
    assert summary.profile_points == summary.profile_to_run == 2 * 2  # mechanisms × idle counts
    assert summary.profile_per_point_seconds == 1 + 2 + DEFAULT_OVERHEAD
    assert summary.estimated_seconds == 24 * (1 + 5 + DEFAULT_OVERHEAD) + 4 * (3 + DEFAULT_OVERHEAD)
    text = "\n".join(summary.describe())
    assert "24 points + 4 profiling Table 1" in text and "profiling pass" in text
    # Resuming a sweep that holds one point of each kind: each count loses one.
    throughput = expand(the_lab.experiment, seed=0)[0]
    profiled = dataclasses.replace(throughput, profiling=True)
    store = Store.open(the_lab.results_directory)
    sweep = new_sweep(store, lab="plansum", seed=0, points_planned=28)
    for seq, point in enumerate((throughput, profiled)):
        store.record_point(sweep, PointRecord(point, seq, "ok", "", 1, 2000.0, 2010.0))
    store.close()
    resumed = plan_summary(the_lab)
    assert (resumed.to_run, resumed.profile_to_run) == (23, 3)
    assert "26 points left to run" in "\n".join(resumed.describe())
