"""Preflight's pure half on captured text: a real client's probe output (taken inside a network
namespace with the emulated lab's client1 NIC) parsed and judged, as node_exporter tests its
parsers on plain strings."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.config.model import Lab
from orchestrator.lab.preflight import judge_host, parse_probe, probe_script
from orchestrator.lab.remote import CommandResult
from tests.support.labfiles import default_lab

PROBE = (Path(__file__).parent / "fixtures" / "preflight-probe-client1.txt").read_text()
SENT = 1796097051.60  # the probe's own clock said 1796097051.66: 60 ms into the command
RECEIVED = 1796097051.72


@pytest.fixture(scope="module")
def lab() -> Lab:
    return default_lab(routes=lambda: [])


def result(stdout: str, exit_code: int | None = 0, error: str | None = None) -> CommandResult:
    return CommandResult("client1", "probe", exit_code, stdout, "", error, 0.1)


def test_the_captured_probe_parses_whole() -> None:
    probe = parse_probe(PROBE)
    assert probe.time == pytest.approx(1796097051.662524941)
    assert probe.nofile == (20000, 20000)
    assert probe.ports == (32768, 60999)
    assert probe.addresses["exp0"] == {"198.18.1.11/24"}
    assert probe.routes == {"198.18.1.1": "exp0"}
    assert probe.pings == {"198.18.1.1": False}


def test_garbled_sections_come_back_empty_not_raising() -> None:
    probe = parse_probe("@time soon\n@nofile x\n@addresses\nnot json\n@route 10.9.9.9\nRTNETLINK")
    assert probe.time is None and probe.nofile is None
    assert probe.addresses == {} and probe.routes == {"10.9.9.9": None}


def test_the_probe_script_asks_for_every_target(lab: Lab) -> None:
    script = probe_script(["198.18.1.1", "198.18.2.1"])
    assert script.count("ip -j route get") == 2 and "@ping 198.18.2.1" in script


def test_a_server_address_that_does_not_answer_fails_the_route_check(lab: Lab) -> None:
    """The capture's namespace had no server behind its veth: the route is right, no answer."""
    report = judge_host(lab, lab.host("client1"), result(PROBE), SENT, RECEIVED)
    assert report.checks["routes"].status == "fail"
    assert "198.18.1.1 does not answer" in report.checks["routes"].detail


def test_a_client_with_its_nic_and_route_passes(lab: Lab) -> None:
    answered = PROBE.replace("@ping 198.18.1.1 1", "@ping 198.18.1.1 0")
    report = judge_host(lab, lab.host("client1"), result(answered), SENT, RECEIVED)
    assert report.checks["ssh"].status == "ok"
    assert report.checks["nics"].status == "ok"
    assert report.checks["routes"].status == "ok"
    assert report.checks["clock"].status == "ok"
    assert report.checks["ports"].status == "warn"  # 28,232 ports: fewer than a sweep wants
    assert report.checks["open files"].status == "ok"


def test_the_same_probe_judged_for_another_client_fails_its_nic(lab: Lab) -> None:
    report = judge_host(lab, lab.host("client5"), result(PROBE), SENT, RECEIVED)
    assert report.checks["nics"].status == "fail"
    assert report.failed and "nics" in report.failures()[0]


def test_a_clock_far_off_fails(lab: Lab) -> None:
    report = judge_host(lab, lab.host("client1"), result(PROBE), SENT + 5, RECEIVED + 5)
    assert report.checks["clock"].status == "fail"


def test_a_low_open_file_limit_warns(lab: Lab) -> None:
    low = PROBE.replace("@nofile 20000 20000", "@nofile 1024 4096")
    report = judge_host(lab, lab.host("client1"), result(low), SENT, RECEIVED)
    assert report.checks["open files"].status == "warn"


def test_autogroup_warns_since_nice_then_protects_no_core(lab: Lab) -> None:
    judged = {
        text: judge_host(lab, lab.host("client1"), result(PROBE + text), SENT, RECEIVED)
        for text in ("\n@autogroup 1", "\n@autogroup 0", "\n@autogroup ")
    }
    assert judged["\n@autogroup 1"].checks["scheduler"].status == "warn"
    assert "sched_autogroup_enabled=0" in judged["\n@autogroup 1"].checks["scheduler"].detail
    assert judged["\n@autogroup 0"].checks["scheduler"].status == "ok"
    assert judged["\n@autogroup "].checks["scheduler"].status == "ok"  # a kernel without it


def test_an_unreachable_host_fails_ssh_only(lab: Lab) -> None:
    report = judge_host(
        lab, lab.host("client1"), result("", None, "connection refused"), SENT, RECEIVED
    )
    assert list(report.checks) == ["ssh"] and report.checks["ssh"].status == "fail"
