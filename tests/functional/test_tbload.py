"""A short sweep on the shared lab with `load: {engine: tbload}`: the sweep records its engine,
every client ran tbload (one process each) and its summary parsed, replies and schedule alike,
and each point's verdict points the way the rule says (`run.limits`): a client is the limit only
by tbload's own verdict while the server had headroom, and a server at its core's limit that
served short is saturated, whatever the clients said. About 50 s on the shared lab (its
sweep: 45 s on a busy machine, most of it the agents' services starting on the first point).

Two points of 1 s: 1,600 requests/s (200 per client: the server idles, and a tbload that saw
its core taken for over 10 ms says so and names only itself) and 41,600, past
what eight clients sharing one core send through the emulated lab's kernel or what userver's
core serves: whichever gave out first is named, and the direction is checked either way.
tbload is built on every client by provisioning, so this lab file provisions nothing new.

Then the same two rates with the server's CPU capped (`server_cpu: {limit: 0.2}`, about 35 s
more): 1,600 stays within the cap, 8,000 is past a fifth of a core's worth of replies (about
4,000-5,000/s) and well within the clients' reach, so it is the capped server's knee: saturated,
judged by its CPU against the cap, which the point stores.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from agents.load.result import LoadResult
from orchestrator.config.labfile import load_lab
from orchestrator.report.analysis.data import TRACKING, served_fraction
from orchestrator.run.limits import BUSY, OWN_LAG, TBLOAD_REASONS, pace
from tests.support.labtools import orchestrate, stored_sweep
from tests.support.sharedlab import SharedLab

LOW, HIGH = 1600, 41600
CAP, CAPPED_HIGH = 0.2, 8000  # the capped server's knee lies near 4,000-5,000/s
SECONDS = 1
EXPERIMENT = {
    "mechanisms": ["epoll-et"],
    "workloads": ["one-byte"],
    "idle_connections": [0],
    "accept_limits": ["inf"],
    "rates": [LOW, HIGH],
    "duration": f"{SECONDS}s",
    "warmup": "0s",
    "repetitions": 1,
    "cooldown": {"max": "1s"},
    "timeout": "1s",
    "retries": 0,  # the verdict's direction is checked whatever it is: no point is run twice
    "seed": 1,
    "specweb99": {"directories": 1, "seed": 3},
}


def check_the_verdicts_direction(point: dict[str, Any], loads: dict[str, Any]) -> None:
    """The rule's direction (`run.limits`): a server at its limit, short of the offered rate
    and of the pace its clients really started at, is saturated; a client-limited point has a
    client behind, with the server having headroom, serving all but noise, or keeping pace
    with clients behind their own schedule; no client behind is never client-limited."""
    behind = [host for host, load in loads.items() if load["client_limited"]]
    busy = json.loads(point["server"])["cpu_use"]["busy"]
    served = served_fraction({**point, "agents": json.loads(point["agents"])})
    kept_pace = pace(point["workload"], {h: LoadResult.from_json(r) for h, r in loads.items()})
    own_lag = behind and all(
        set(loads[host]["client_limited_reasons"]) <= set(OWN_LAG) for host in behind
    )
    with_pace = own_lag and kept_pace is not None and kept_pace >= TRACKING
    why = (point["key"], point["reason"])
    if busy >= BUSY and served < TRACKING and not with_pace:
        assert point["status"] == "saturated", why
    if point["status"] == "client-limited":
        assert behind and (busy < BUSY or served >= TRACKING or with_pace), why
    if not behind:
        assert point["status"] != "client-limited", why


def test_a_tbload_sweep_records_its_engine_and_judges_by_tbloads_own_verdict(
    on_shared_lab: SharedLab, tmp_path: Path
) -> None:
    path = on_shared_lab.lab_file(
        tmp_path, "tbload", EXPERIMENT, sections={"load": {"engine": "tbload"}}
    )
    plan = orchestrate("plan", str(path), state=on_shared_lab.state)
    assert "load generator: tbload on every client" in plan.stdout, plan.stdout + plan.stderr
    result = orchestrate("up", str(path), state=on_shared_lab.state, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr
    points, settings = stored_sweep(path)
    points.sort(key=lambda point: point["target_rate"])
    assert settings["load"] == {"engine": "tbload"}
    assert [p["target_rate"] for p in points] == [LOW, HIGH]

    for point in points:
        loads = {host: agent["load"] for host, agent in json.loads(point["agents"]).items()}
        assert len(loads) == 8, point["key"]
        for host, load in loads.items():
            assert load["engine"] == "tbload" and load["processes"] == 1, (host, load["error"])
            [run] = load["runs"]
            assert run["argv"][0].endswith("tbload/tbload") and run["parse_error"] is None
            assert run["stdout"].lstrip().startswith("tbload --")
            schedule = load["schedule"]
            assert schedule["starts"] == run["count"] == point["target_rate"] * SECONDS / 8
            reasons = set(load["client_limited_reasons"])
            assert reasons <= set(TBLOAD_REASONS), (host, reasons)  # its own verdict only
            assert ("behind-schedule" in reasons) == (not schedule["kept"])
        assert point["replies"] > 0 and point["reply_rate"] > 0  # parsed from tbload's summary

        check_the_verdicts_direction(point, loads)

    low, high = points
    # 200 requests/s a client: the server idles and serves them all. Whether every tbload kept
    # its 10 ms schedule on a busy machine is the machine's business; if one did not, the
    # verdict names the clients, never the server.
    low_cpu = json.loads(low["server"])["cpu_use"]["busy"]
    assert low_cpu < BUSY and low["status"] in ("ok", "client-limited"), low["reason"]
    assert low["replies"] >= TRACKING * LOW * SECONDS
    # 41,600: whichever gave out first is named -- the server at its core's limit (saturated),
    # or the clients behind their schedule while it had headroom -- never neither
    assert high["status"] in ("saturated", "client-limited"), high["reason"]
    [page] = (load_lab(path).results_directory / "reports").glob("*/index.html")
    assert "Load generated by <b>tbload</b>" in page.read_text()


def test_a_capped_server_saturates_within_the_clients_reach_judged_against_its_cap(
    on_shared_lab: SharedLab, tmp_path: Path
) -> None:
    experiment = {**EXPERIMENT, "rates": [LOW, CAPPED_HIGH]}
    sections = {"load": {"engine": "tbload"}, "server_cpu": {"limit": CAP}}
    path = on_shared_lab.lab_file(tmp_path, "tbload-capped", experiment, sections=sections)
    plan = orchestrate("plan", str(path), state=on_shared_lab.state)
    assert f"server CPU: capped at {CAP:g} of a core" in plan.stdout, plan.stdout + plan.stderr
    result = orchestrate("up", str(path), state=on_shared_lab.state, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr
    points, settings = stored_sweep(path)
    points.sort(key=lambda point: point["target_rate"])
    assert settings["server_cpu"] == {"limit": CAP}
    low, high = points
    for point in points:
        cpu = json.loads(point["server"])["cpu_use"]
        assert cpu["limit"] == CAP and cpu["busy"] == pytest.approx(
            cpu["seconds"] / (CAP * min(cpu["window_seconds"], cpu["load_seconds"]))
        )
        loads = {host: agent["load"] for host, agent in json.loads(point["agents"]).items()}
        check_the_verdicts_direction(point, loads)
    assert json.loads(low["server"])["cpu_use"]["busy"] < BUSY, low["reason"]
    # the cap held: over the load the server used about its fifth of a core, not its core
    high_cpu = json.loads(high["server"])["cpu_use"]
    assert high_cpu["seconds"] / high_cpu["load_seconds"] < 2 * CAP, high["reason"]
    assert high["status"] == "saturated", high["reason"]
    assert f"of its CPU cap of {CAP:g} core" in high["reason"]
    assert high["reply_rate"] < TRACKING * CAPPED_HIGH
    [page] = (load_lab(path).results_directory / "reports").glob("*/index.html")
    assert f"capped at {CAP:g} of a core" in page.read_text()
