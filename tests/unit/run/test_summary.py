"""Summing the load agents' results of one point, and which client limits are worth a retry."""

from __future__ import annotations

import json

import pytest

from agents.load.result import LoadResult
from orchestrator.run.hostproc import Finished
from orchestrator.run.limits import behind
from orchestrator.run.summary import check_load, near_miss, summarise


def agent(issued: float, *reasons: str, target: float = 200.0, replies: int = 800) -> LoadResult:
    return LoadResult.from_json(
        {
            "client_limited": bool(reasons),
            "client_limited_reasons": list(reasons),
            "request_rate": {"target": target, "issued": issued, "achieved": issued},
            "reply_rate": {"total": replies / 4},
            "totals": {"replies": replies, "connections": replies},
            "errors": {"client-timo": 1, "fd-unavail": 0},
        }
    )


def test_rates_replies_and_errors_add_up_over_clients() -> None:
    summary = summarise({"client1": agent(200.0), "client2": agent(197.8, replies=791)})
    assert summary["target_rate"] == 400.0
    assert summary["request_rate"] == pytest.approx(397.8)
    assert summary["replies"] == 1591
    assert summary["client_timeouts"] == 2 and summary["errors_total"] == 2


def test_a_client_just_behind_schedule_is_a_near_miss_a_clear_shortfall_is_not() -> None:
    on_time = agent(200.0)
    hiccup = agent(197.8, "request-rate-below-target", "client-cpu-pegged")
    assert behind({"client1": on_time, "client5": hiccup}) == (
        ("client5", ("request-rate-below-target", "client-cpu-pegged")),
    )
    assert near_miss({"client1": on_time, "client5": hiccup})
    assert not near_miss({"client1": on_time})  # nothing limited: nothing to retry
    far_behind = agent(150.0, "request-rate-below-target")
    assert not near_miss({"client5": hiccup, "client6": far_behind})
    out_of_ports = agent(199.0, "request-rate-below-target", "addrunavail")
    assert not near_miss({"client5": out_of_ports})
    assert not near_miss({"client5": agent(0.0, "request-rate-below-target", target=0.0)})


def test_each_agents_json_is_decoded_once_and_a_newer_version_is_a_problem_not_a_guess() -> None:
    good = json.dumps(agent(200.0).to_json())
    finished = {
        "client1": Finished("load", 0, good, ""),
        "client2": Finished("load", 0, json.dumps({"version": 9, "totals": {"replies": 5}}), ""),
        "client3": Finished("load", 1, "", "Killed"),
    }
    results, problems = check_load(finished, "load", 60.0, overran=False)
    assert list(results) == ["client1"] and results["client1"] == agent(200.0)
    assert problems[0].startswith("client2: load agent's result cannot be read: load result")
    assert "version '9'" in problems[0]
    assert problems[1].startswith("client3: load agent died without a result")
    assert len(problems) == 2
