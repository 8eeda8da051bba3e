"""A sweep's points under network profiles: a round trip off its profile fails the point,
with every client named, before anything is started; the sweep goes on."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path

from orchestrator.config.model import Host, NetworkProfile, NetworkSettings
from orchestrator.config.plan import expand
from orchestrator.lab.rtt import RttCheck
from orchestrator.results.records import Sweep
from orchestrator.run.conditions import NetworkConditions
from tests.support.fakes import Clock, FakeLinks, FakeStore
from tests.unit.run.test_sweep_runner import ONE_POINT, FakeHosts, lab_with, runner_for


def test_a_round_trip_off_its_profile_fails_the_point_and_names_each_client(
    tmp_path: Path,
) -> None:
    lab = lab_with(**ONE_POINT, network=("wan",))
    wan = NetworkProfile("wan", delay=0.025)
    lab = dataclasses.replace(lab, network=NetworkSettings(profiles={"wan": wan}))
    clock = Clock()
    hosts = FakeHosts(clock, {})
    store = FakeStore()
    runner = runner_for(lab, clock, hosts, store)
    links = FakeLinks()

    def measure(profiles: Mapping[Host, NetworkProfile]) -> RttCheck:
        measured = {client.name: 0.05 for client in profiles}
        return RttCheck(measured, [f"{name}: measured RTT 0.05 ms" for name in measured])

    runner.points.conditions = NetworkConditions(lab, hosts, shaper=links, measure=measure)
    point = expand(lab.experiment, seed=1)[0]
    assert point.network == "wan"
    sweep = Sweep("s1", lab.name, "d", 1, "running", clock.now, None, 1, "manual")
    outcome = runner.run(sweep, [(0, point)], 1)
    assert [r.status for r in store.records] == ["failed"] * 3  # two retries, each re-checked
    assert len(links.applied) == 3
    reason = store.records[-1].reason
    assert reason.startswith("network wan: round trips off the profile")
    assert all(f"client{n}: measured RTT" in reason for n in range(1, 9))
    assert store.records[-1].rtts["client1"] == (50.0, 0.05)
    assert not hosts.calls  # nothing was started on a link that is not what the point says
    assert len(outcome.failed) == 1
