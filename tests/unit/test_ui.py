"""The terminal's end-of-sweep summary: what `up` prints once the points are done."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator import ui
from orchestrator.results.records import Sweep, SweepSummary


def test_the_sweep_summary_shows_the_mean_time_per_phase(
    capsys: pytest.CaptureFixture[str],
) -> None:
    summary = SweepSummary(
        points_run=2,
        ok=2,
        wall_seconds=30.0,
        phase_seconds_mean={"start": 0.2, "warmup": 4.3, "measure": 5.6, "stop": 1.4},
    )
    sweep = Sweep("s1", "lab", "d", 1, "complete", 0.0, 30.0, 2, "manual")
    ui.Terminal().sweep_done(sweep, summary, Path("results"))
    printed = " ".join(capsys.readouterr().out.split())
    assert "time per phase (mean)" in printed
    assert "start 0.2 s warmup 4.3 s measure 5.6 s stop 1.4 s" in printed  # in their order


def test_the_sweep_summary_counts_saturated_points_and_says_what_ended_each_curve(
    capsys: pytest.CaptureFixture[str],
) -> None:
    summary = SweepSummary(
        points_run=5,
        ok=2,
        saturated=2,
        client_limited=1,
        curve_endings=(
            "one-byte/idle=19000/accept=inf/select/rep=1: saturated at 14,000 requests/s"
            " (server at 113 % of its 1 core over the 4 s load)",
        ),
    )
    sweep = Sweep("s1", "lab", "d", 1, "complete", 0.0, 30.0, 5, "manual")
    ui.Terminal().sweep_done(sweep, summary, Path("results"))
    printed = " ".join(capsys.readouterr().out.split())
    assert "ok / saturated / client-limited / failed" in printed and "2 / 2 / 1 / 0" in printed
    assert "server at 113 % of its 1 core" in printed
