"""WAN conditions: the tc commands (pure, quoted), the ping parser on captured output, the
round-trip judgement, and a sweep's conditions changing once per profile."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pytest
import yaml

from orchestrator.config.labfile import load_lab
from orchestrator.config.model import Host, NetworkProfile
from orchestrator.config.plan import Point
from orchestrator.lab.netem import (
    has_netem,
    shell_text,
    tc_delete,
    tc_replace,
)
from orchestrator.lab.rtt import RttCheck, judge_rtt, parse_ping, ping_command
from orchestrator.results.records import PointRecord
from orchestrator.run.conditions import NetworkConditions, NetworkFailure
from tests.support.fakes import FakeLinks, FakeRemote
from tests.support.labfiles import REPOSITORY, write_lab

FIXTURES = Path(__file__).parent / "fixtures"
WAN = NetworkProfile("wan-50ms", delay=0.025, jitter=0.002, loss=0.001, rate=100_000_000)


def test_netem_command_is_quoted_words() -> None:
    text = shell_text(tc_replace("exp0", WAN, "tb-wan-client1"))
    assert text == (
        "ip netns exec tb-wan-client1 tc qdisc replace dev exp0 root netem limit 100000"
        " delay 25000us 2000us loss 0.1% rate 100000000bit"
    )
    assert shell_text(tc_delete("tb1a2b03n1")) == "tc qdisc del dev tb1a2b03n1 root"


def test_a_rate_alone_is_a_tbf_and_delay_alone_has_no_jitter() -> None:
    rate = shell_text(tc_replace("exp0", NetworkProfile("slow", rate=10_000_000)))
    assert rate == "tc qdisc replace dev exp0 root tbf rate 10000000bit burst 16000 latency 100ms"
    delay = shell_text(tc_replace("exp0", NetworkProfile("far", delay=0.01)))
    assert delay.endswith("netem limit 100000 delay 10000us")


def test_a_hostile_device_name_never_reaches_a_shell_unquoted() -> None:
    text = shell_text(tc_replace("exp0; rm -rf /", WAN, "ns$(id)"))
    assert "'exp0; rm -rf /'" in text and "'ns$(id)'" in text


def test_qdisc_listing_knows_ours() -> None:
    assert has_netem((FIXTURES / "tc-tbf.json").read_text())
    assert has_netem('[{"kind":"netem","handle":"8001:","root":true,"options":{}}]')
    assert not has_netem('[{"kind":"noqueue","handle":"0:","root":true,"options":{}}]')
    assert not has_netem("") and not has_netem("garbage")


def test_ping_summary_is_parsed() -> None:
    ping = parse_ping((FIXTURES / "ping-lo.txt").read_text())
    assert (ping.transmitted, ping.received, ping.avg_ms) == (5, 5, 0.037)
    lost = parse_ping((FIXTURES / "ping-lost.txt").read_text())
    assert lost.received == 0 and lost.avg_ms is None
    with pytest.raises(ValueError):
        parse_ping((FIXTURES / "ping-unreachable.txt").read_text())
    assert ping_command("198.18.97.1") == "ping -n -c 5 -i 0.2 -W 2 198.18.97.1"
    linkem = ping_command("198.18.97.1", user_to_user=True)
    assert linkem == "chrt -f 1 ping -n -U -c 5 -i 0.2 -W 2 198.18.97.1"
    listed = parse_ping((FIXTURES / "ping-lo-replies.txt").read_text())
    assert (listed.avg_ms, listed.median_ms, listed.rtt_ms) == (0.029, 0.027, 0.027)
    assert ping.median_ms is None and ping.rtt_ms == 0.037  # -q: the summary's mean
    assert ping_command("1.2.3.4; reboot").endswith("'1.2.3.4; reboot'")


def test_round_trips_are_judged_against_twice_the_delay() -> None:
    lan = NetworkProfile("lan")
    assert judge_rtt(lan, 0.05) is None and judge_rtt(lan, 0.9) is None
    assert "expects 0.0 ms" in (judge_rtt(lan, 1.5) or "")
    assert judge_rtt(WAN, 50.4) is None and judge_rtt(WAN, 45.5) is None
    assert judge_rtt(WAN, 44.0) is not None and judge_rtt(WAN, 56.0) is not None
    assert "wan-50ms" in (judge_rtt(WAN, 0.05) or "")


def test_conditions_change_once_per_profile_and_fail_per_client(tmp_path: Path) -> None:
    network = {"profiles": {"wan": {"delay": "25ms"}}}
    experiment = {**_experiment(), "network": ["lan", "wan"]}
    lab = load_lab(
        write_lab(tmp_path, lab_changes={"network": network, "experiment": experiment}),
        routes=list,
    )
    links = FakeLinks()
    answers = iter([{"client1": 0.05}, {"client1": 0.05}, {"client1": 50.2}])

    def measure(profiles: Mapping[Host, NetworkProfile]) -> RttCheck:
        measured = next(answers)
        problems = [
            f"{name}: {problem}"
            for name, ms in measured.items()
            if (problem := judge_rtt(profiles[lab.host(name)], ms))
        ]
        return RttCheck(measured=measured, problems=problems)

    conditions = NetworkConditions(lab, FakeRemote(), shaper=links, measure=measure)

    def enter(network: str) -> PointRecord:
        point = Point("select", "one-byte", 0, None, 100.0, 1, network)
        record = PointRecord(point, 0, "failed", "", 1, 0.0, 0.0)
        conditions.enter(point, record)
        return record

    first = enter("lan")
    assert first.network == "lan" and first.rtts == {"client1": (0.0, 0.05)}
    enter("lan")
    assert len(links.applied) == 1  # same profile: nothing changed, nothing measured
    with pytest.raises(NetworkFailure, match=r"client1: measured RTT 0.05 ms, profile wan"):
        enter("wan")  # the netem did not take: the round trip is the LAN's
    assert enter("wan").rtts == {"client1": (50.0, 50.2)}  # tried again, now right
    assert len(links.applied) == 3


def _experiment() -> dict[str, object]:
    return dict(yaml.safe_load((REPOSITORY / "lab.yml").read_text())["experiment"])
