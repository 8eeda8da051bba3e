from __future__ import annotations

import dataclasses
from collections import Counter
from pathlib import Path

from orchestrator.config.labfile import load_lab
from orchestrator.config.model import MECHANISMS, WORKLOADS
from orchestrator.config.plan import expand, plan_digest
from tests.support.labfiles import REPOSITORY

LAB = load_lab(REPOSITORY / "lab.yml", routes=list)


# The plan these tests expand: every mechanism and workload, one repetition (not the default
# lab's, which changes as the embedded default does).
BASE = {
    "mechanisms": MECHANISMS,
    "workloads": WORKLOADS,
    "idle_connections": (0, 2000),
    "accept_limits": (None,),
    "repetitions": 1,
    "knee": False,
    "repeat_top": None,
}


def experiment(**changes: object):  # type: ignore[no-untyped-def]
    return dataclasses.replace(LAB.experiment, **{**BASE, **changes})


def test_every_combination_appears_exactly_once() -> None:
    plan = experiment(rates=(1000.0, 2000.0, 3000.0), repetitions=2, accept_limits=(None, 10))
    points = expand(plan, seed=7)
    expected = 7 * 2 * 2 * 2 * 3 * 2
    assert len(points) == expected == len({point.key for point in points})


def test_order_is_reproducible_from_the_seed_and_differs_between_seeds() -> None:
    plan = experiment(rates=(1000.0, 2000.0))
    assert expand(plan, 3) == expand(plan, 3)
    assert [p.key for p in expand(plan, 3)] != [p.key for p in expand(plan, 4)]


def test_rates_ascend_within_a_group_and_mechanisms_are_interleaved() -> None:
    plan = experiment(
        rates=(3000.0, 1000.0, 2000.0), workloads=("one-byte",), idle_connections=(0,)
    )
    points = expand(plan, seed=1)
    assert [p.rate for p in points] == [1000.0] * 7 + [2000.0] * 7 + [3000.0] * 7
    # each mechanism appears once per rate, and not always in the same slot
    slots = [[p.mechanism for p in points[i : i + 7]] for i in range(0, 21, 7)]
    assert all(sorted(slot) == sorted(plan.mechanisms) for slot in slots)
    assert len({tuple(slot) for slot in slots}) > 1


def test_mechanisms_are_spread_over_the_whole_sweep() -> None:
    points = expand(experiment(rates=(1000.0, 2000.0, 3000.0, 4000.0)), seed=11)
    half = len(points) // 2
    first = Counter(point.mechanism for point in points[:half])
    assert set(first.values()) == {half // 7}  # every mechanism has half its points in each half


def test_digest_ignores_seed_and_retries_but_not_the_plan(tmp_path: Path) -> None:
    base = plan_digest(LAB)
    same = dataclasses.replace(LAB.experiment, seed=5, retries=3)
    assert plan_digest(dataclasses.replace(LAB, experiment=same)) == base
    longer = dataclasses.replace(LAB.experiment, duration=9.0)
    assert plan_digest(dataclasses.replace(LAB, experiment=longer)) != base
    # a knee search and a fixed ladder of the same rates are not the same plan
    fixed = dataclasses.replace(LAB.experiment, knee=False, repeat_top=None)
    assert plan_digest(dataclasses.replace(LAB, experiment=fixed)) != base


def test_paper_yml_is_the_papers_protocol() -> None:
    paper = load_lab(REPOSITORY / "paper.yml", routes=list)
    plan = paper.experiment
    assert (plan.duration, plan.cooldown_max) == (120.0, 120.0)
    assert plan.idle_connections == (0, 10_000) and plan.accept_limits == (None, 10)
    assert plan.rates[0] == 2000 and plan.rates[-1] == 30000
    assert len(expand(plan, seed=1)) == 7 * 2 * 2 * 2 * 15


def test_default_lab_covers_what_the_short_sweep_must() -> None:
    """Issue 12: the paper's mechanisms on one-byte with 0 and 10,000 idle connections, up to
    what the clients allow (a knee search), the top rates measured at least twice."""
    plan = LAB.experiment
    assert {"select", "poll", "epoll-lt", "epoll-et", "epoll2"} <= set(plan.mechanisms)
    assert "one-byte" in plan.workloads and {0, 10_000} <= set(plan.idle_connections)
    assert plan.knee and plan.repetitions >= 2
