from __future__ import annotations

import dataclasses
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from orchestrator.config.labfile import load_lab
from orchestrator.config.model import MECHANISMS, WORKLOADS, AcceptScope, Experiment
from orchestrator.config.plan import expand, plan_digest
from tests.support.labfiles import REPOSITORY, default_lab

LAB = default_lab(routes=list)


# The plan these tests expand: every mechanism and workload, one repetition (not the default
# lab's, which changes as the embedded default does).
BASE: dict[str, Any] = {
    "mechanisms": MECHANISMS,
    "workloads": WORKLOADS,
    "idle_connections": (0, 2000),
    "accept_limits": (None,),
    "repetitions": 1,
    "knee": False,
    "repeat_top": None,
    "idle_max": False,
    "accept_scopes": (),
}


def experiment(**changes: Any) -> Experiment:
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
    """Issues 12 and 23: the paper's mechanisms on one-byte with 0 and 10,000 idle connections
    and the most the hosts allow (where select's and poll's knee is within the clients' reach),
    epoll-LT at accept-limit 10 (Figure 7), up to what the clients allow (a knee search), the
    top rates measured three times (a verdict's minimum)."""
    plan = LAB.experiment
    assert {"select", "poll", "epoll-lt", "epoll-et", "epoll2"} <= set(plan.mechanisms)
    assert "one-byte" in plan.workloads and {0, 10_000} <= set(plan.idle_connections)
    assert plan.idle_max
    scope = plan.scope(10)
    assert scope is not None and scope.mechanisms == ("epoll-lt",)
    assert scope.idle_connections == (0,)
    assert plan.knee and plan.repeat_top and plan.repetitions >= 3


def test_an_accept_limit_for_some_curves_runs_only_those() -> None:
    """The paper's Figure 7: epoll-LT at accept-limit 10 without idle connections, beside
    every mechanism at inf; nothing else runs at 10."""
    scope = AcceptScope(10, mechanisms=("epoll-lt",), idle_connections=(0,))
    plan = experiment(rates=(1000.0, 2000.0), accept_limits=(None, 10), accept_scopes=(scope,))
    points = expand(plan, seed=3)
    at_ten = [p for p in points if p.accept_limit == 10]
    assert {(p.mechanism, p.idle_connections) for p in at_ten} == {("epoll-lt", 0)}
    assert len(at_ten) == 2 * len(WORKLOADS)
    assert len(points) - len(at_ten) == 7 * 2 * 2 * 2  # inf: every curve, as before
    assert len({p.key for p in points}) == len(points)


def test_max_joins_the_idle_counts_once_known_and_not_before() -> None:
    plan = experiment(
        rates=(1000.0,), idle_connections=(0, 10000), idle_max=True, idle_max_value=None
    )
    with pytest.raises(ValueError, match="before preflight"):
        expand(plan, seed=1)
    known = plan.with_idle_max(19000, "the server's limit")
    assert {p.idle_connections for p in expand(known, seed=1)} == {0, 10000, 19000}
    # max may land on a listed count: one group, not two
    same = plan.with_idle_max(10000, "the server's limit")
    assert len(expand(same, seed=1)) == len(expand(experiment(rates=(1000.0,)), seed=1))


def test_digests_of_plans_without_the_new_axes_are_unchanged() -> None:
    """Sweeps stored before `max` and scoped accept-limits still resume (the digest of a plan
    that uses neither is computed as it was), and the value of `max` is part of the plan."""
    base = dataclasses.replace(LAB.experiment, idle_max=False, accept_scopes=())
    plain = plan_digest(dataclasses.replace(LAB, experiment=base))
    why = dataclasses.replace(base, idle_max_why="anything")
    assert plan_digest(dataclasses.replace(LAB, experiment=why)) == plain
    with_max = dataclasses.replace(base, idle_max=True)
    digests = {
        plan_digest(dataclasses.replace(LAB, experiment=with_max.with_idle_max(v, "limit")))
        for v in (18000, 19000)
    }
    assert len(digests) == 2 and plain not in digests
