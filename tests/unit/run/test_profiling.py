"""Table 1's profiling pass: the rate each group is profiled at, chosen from the sweep's own
throughput points, and the points it plans (apart from the curves, CPU-timed, resumable)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from orchestrator.config.labfile import load_lab
from orchestrator.config.model import Experiment, ProfilePass
from orchestrator.config.plan import expand, profile_size
from orchestrator.results.points import StoredPoint
from orchestrator.results.store import Store
from orchestrator.run import commands
from orchestrator.run.profiling import (
    AUTO_FOUND,
    AUTO_NONE,
    AUTO_SOME,
    CONFIGURED,
    RateChoice,
    choose_rates,
    profile_plan,
    rates_settings,
)
from tests.support.labfiles import REPOSITORY
from tests.support.report_stores import P, sweep_with

LAB = load_lab(REPOSITORY / "lab.yml", routes=list)


def experiment(rate: float | None = None, idle: tuple[int, ...] = (0, 10000)) -> Experiment:
    return dataclasses.replace(
        LAB.experiment,
        mechanisms=("select", "epoll-lt"),
        idle_connections=(0, 10000),
        idle_max=False,
        accept_limits=(None,),
        accept_scopes=(),
        profile=ProfilePass(("one-byte",), idle, rate, 3.0),
    )


def stored(tmp_path: Path, points: list[P]) -> list[StoredPoint]:
    store = Store.open(tmp_path)
    return store.points(sweep_with(store, points))


def ladder(mechanism: str, idle: int, statuses: dict[float, str], rep: int = 1) -> list[P]:
    return [
        P(mechanism, rate, rate * 0.99, idle=idle, status=status, rep=rep)
        for rate, status in statuses.items()
    ]


def test_auto_takes_the_highest_rate_every_mechanism_was_ok_at_in_every_run(
    tmp_path: Path,
) -> None:
    points = [
        *ladder("select", 0, {5000: "ok", 8000: "ok", 11000: "ok"}),
        *ladder("epoll-lt", 0, {5000: "ok", 8000: "ok", 11000: "ok", 14000: "ok"}),
        *ladder("epoll-lt", 0, {11000: "client-limited"}, rep=2),  # 11,000 not ok every run
        *ladder("select", 10000, {5000: "ok", 8000: "failed"}),
        *ladder("epoll-lt", 10000, {5000: "ok", 8000: "ok"}),
        # Under a WAN profile of a `network` axis: not the links the pass runs on.
        P("select", 14000, 13900.0, network="wan-50ms"),
    ]
    choices = choose_rates(experiment(), stored(tmp_path, points))
    assert choices[("one-byte", 0, None)] == RateChoice(8000.0, AUTO_FOUND)
    assert choices[("one-byte", 10000, None)] == RateChoice(5000.0, AUTO_FOUND)


def test_failing_that_the_highest_rate_each_was_ok_at_in_some_run_and_it_says_so(
    tmp_path: Path,
) -> None:
    # As in a default sweep on two cores: with 19,000 idle connections poll's second run
    # saturated at 10,000 and epoll-LT's first at 15,000, so no rate was ok in every run.
    points = [
        *ladder("select", 0, {10000: "ok", 15000: "saturated"}),
        *ladder("select", 0, {10000: "saturated"}, rep=2),
        *ladder("epoll-lt", 0, {10000: "ok", 15000: "ok"}),
        *ladder("epoll-lt", 0, {10000: "ok", 15000: "saturated"}, rep=2),
    ]
    choices = choose_rates(experiment(idle=(0,)), stored(tmp_path, points))
    # 15,000: select was never ok there; 10,000: each was ok in a run.
    assert choices == {("one-byte", 0, None): RateChoice(10000.0, AUTO_SOME)}
    assert "at least one run" in rates_settings(choices)["one-byte/idle=0/accept=inf"]["why"]


def test_a_group_with_no_common_ok_rate_is_not_profiled_and_says_why(tmp_path: Path) -> None:
    points = [
        *ladder("select", 0, {5000: "client-limited"}),
        *ladder("epoll-lt", 0, {5000: "ok"}),
    ]
    choices = choose_rates(experiment(idle=(0,)), stored(tmp_path, points))
    assert choices == {("one-byte", 0, None): RateChoice(None, AUTO_NONE)}
    assert profile_plan(experiment(idle=(0,)), choices, seed=1) == []
    assert rates_settings(choices) == {
        "one-byte/idle=0/accept=inf": {"rate": None, "why": AUTO_NONE}
    }


def test_a_configured_rate_is_taken_as_it_is(tmp_path: Path) -> None:
    choices = choose_rates(experiment(rate=22000.0), [])
    assert {c.rate for c in choices.values()} == {22000.0}
    assert {c.why for c in choices.values()} == {CONFIGURED}


def test_the_pass_is_one_cpu_timed_point_per_mechanism_and_group_apart_from_the_plan() -> None:
    planned = experiment()
    choices: dict[tuple[str, int, int | None], RateChoice] = {
        ("one-byte", 0, None): RateChoice(8000.0, AUTO_FOUND),
        ("one-byte", 10000, None): RateChoice(5000.0, AUTO_FOUND),
    }
    points = profile_plan(planned, choices, seed=3)
    assert len(points) == profile_size(planned) == 4
    assert all(p.profiling and p.key.endswith("/profile") for p in points)
    # Its live series (exporter, Grafana) never overwrite a throughput point's.
    assert {p.labels()["repetition"] for p in points} == {"profile"}
    assert {(p.mechanism, p.idle_connections, p.rate) for p in points} == {
        ("select", 0, 8000.0),
        ("epoll-lt", 0, 8000.0),
        ("select", 10000, 5000.0),
        ("epoll-lt", 10000, 5000.0),
    }
    # Never a key of the throughput plan, so a resumed sweep tells them apart.
    assert not {p.key for p in points} & {p.key for p in expand(planned, seed=3)}
    # The same stored points give the same pass (resume).
    assert profile_plan(planned, choices, seed=3) == points
    lab = dataclasses.replace(LAB, experiment=planned)
    assert commands.server_command(lab, points[0]).endswith("--syscall-timing cpu")
    throughput = expand(planned, seed=3)[0]
    assert commands.server_command(lab, throughput).endswith("--syscall-timing wall")


def test_without_a_profile_section_there_is_no_pass() -> None:
    plain = dataclasses.replace(LAB.experiment, profile=None)
    assert profile_size(plain) == 0 and choose_rates(plain, []) == {}
