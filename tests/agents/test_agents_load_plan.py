"""The load agent's pure parts: planning processes, the issued rate, the client-limited verdict,
session files. Real httperf output (the golden files) feeds the verdict."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from agents.load import httperf
from agents.load.plan import (
    RATE_PER_PROCESS,
    auto_processes,
    issued_rate,
    parse_cpus,
    plan,
    read_sessions,
    split_counts,
    verdict,
)

GOLDEN = Path(__file__).parent / "golden"


def golden(name: str) -> httperf.HttperfResult:
    return httperf.parse((GOLDEN / f"{name}.txt").read_text())


def test_parse_cpus() -> None:
    assert parse_cpus("0") == [0]
    assert parse_cpus("2,3") == [2, 3]
    assert parse_cpus("1-3,0,2") == [1, 2, 3, 0]
    for bad in ("", "a", "3-1", "1,,2", "-1"):
        with pytest.raises(ValueError):
            parse_cpus(bad)


def test_split_counts() -> None:
    assert split_counts(10, 3) == [4, 3, 3]
    assert split_counts(2, 4) == [1, 1, 0, 0]
    assert sum(split_counts(24_000, 7)) == 24_000


def test_auto_processes_cover_descriptors_and_rate_within_the_cpus() -> None:
    # 20,000 req/s at timeout 1: 20,000 connections may be alive -> 20 processes by
    # descriptors, but a 2-CPU client can run 2 busy-polling httperfs.
    assert auto_processes(20_000, 20_000, 1.0, cpus=2) == 2
    assert auto_processes(20_000, 20_000, 1.0, cpus=64) == 20
    assert auto_processes(200, 200, 2.0, cpus=8) == 1
    assert auto_processes(2_500, 2_500, 1.0, cpus=8) == 3
    assert auto_processes(3 * RATE_PER_PROCESS, 10, 0.1, cpus=8) == 3


def test_plan_one_byte() -> None:
    p = plan(
        workload="one-byte",
        rate=3000,
        duration=10,
        timeout=1,
        processes=None,
        cpus=[2, 3],
        cpus_available=4,
    )
    assert len(p.processes) == 2
    assert [x.rate for x in p.processes] == [1500, 1500]
    assert [x.count for x in p.processes] == [15_000, 15_000]
    assert [x.cpus for x in p.processes] == [(2,), (3,)]
    assert p.target_request_rate == 3000
    assert p.warnings == ()


def test_plan_warns_when_processes_share_cpus() -> None:
    p = plan(
        workload="one-byte",
        rate=100,
        duration=1,
        timeout=1,
        processes=3,
        cpus=[0],
        cpus_available=2,
    )
    assert [x.cpus for x in p.processes] == [(0,), (0,), (0,)]
    assert "share 1 CPU" in p.warnings[0]


def test_plan_specweb99_deals_sessions_and_caps_them_at_httperfs_limit() -> None:
    sessions = [tuple(f"/s{i}/r{j}" for j in range(1 + i % 3)) for i in range(2500)]
    p = plan(
        workload="specweb99",
        rate=50,
        duration=100,
        timeout=2,
        processes=2,
        cpus=None,
        cpus_available=2,
        sessions=sessions,
    )
    a, b = p.processes
    assert len(a.sessions) == len(b.sessions) == 1000  # httperf refuses more than 1,000
    assert a.sessions[0] == sessions[0] and b.sessions[0] == sessions[1]
    assert a.sessions[1] == sessions[2]
    assert a.count == b.count == 2500  # 50 sessions/s x 100 s, split in two; cycled
    expected = sum(len(a.sessions[k % 1000]) for k in range(2500))
    assert a.expected_requests == expected
    assert p.target_request_rate == pytest.approx((a.expected_requests + b.expected_requests) / 100)
    assert any("2500 sessions" in w for w in p.warnings)
    assert p.longest_session == 3
    with pytest.raises(ValueError, match="no sessions"):
        plan(workload="specweb99", rate=1, duration=1, timeout=1, processes=1, cpus=None,
             cpus_available=1, sessions=[])  # fmt: skip


def test_read_sessions(tmp_path: Path) -> None:
    f = tmp_path / "s.txt"
    f.write_text("# header\n/a\n/b\n\n\n/c\n# comment\n\n/d\n/e\n")
    assert read_sessions(f) == [("/a", "/b"), ("/c",), ("/d", "/e")]


def test_issued_rate_ignores_server_overload() -> None:
    # 50 conn/s for 2 s against a server that never answers (timeout 1 s): httperf's request
    # rate says 33.5/s because the run lasts until the last timeout; the client issued 50/s.
    r = golden("errors-client-timo")
    assert r.request_rate == pytest.approx(33.5)
    assert issued_rate(r, "one-byte", rate=50, timeout=1) == pytest.approx(50)
    refused = golden("errors-connrefused")
    assert issued_rate(refused, "one-byte", rate=100, timeout=2) == pytest.approx(100)
    fd = golden("errors-fd-unavail")  # fd-unavail attempts count as issued
    assert issued_rate(fd, "one-byte", rate=1000, timeout=3) == pytest.approx(1000)
    sess = golden("session-specweb99")
    assert issued_rate(sess, "specweb99", rate=30, timeout=2) == pytest.approx(30)


def test_issued_rate_sees_a_client_that_fell_behind() -> None:
    r = golden("one-byte-1sample")  # 1,200 connections at 200/s: 6 s planned
    late = dataclasses.replace(r, test_duration_s=6.5)
    assert issued_rate(late, "one-byte", rate=200, timeout=2) == pytest.approx(
        1200 / (6.5 - r.connection_time.max_ms / 1e3)
    )
    assert issued_rate(late, "one-byte", rate=200, timeout=2) < 0.99 * 200


def test_verdict_of_a_healthy_run_is_not_client_limited() -> None:
    r = golden("one-byte-1sample")
    v = verdict([(r, issued_rate(r, "one-byte", 200, 2), 200)], target_rate=200)
    assert (v.client_limited, v.reasons) == (False, [])


def test_verdict_reasons() -> None:
    fd = golden("errors-fd-unavail")
    v = verdict([(fd, issued_rate(fd, "one-byte", 1000, 3), 1000)], target_rate=1000)
    assert v.client_limited and v.reasons == ["fd-unavail"]

    ok = golden("one-byte-1sample")
    no_ports = dataclasses.replace(ok, errors=dataclasses.replace(ok.errors, addrunavail=3))
    assert verdict([(no_ports, 200, 200)], 200).reasons == ["addrunavail"]

    starved = dataclasses.replace(ok, cpu=dataclasses.replace(ok.cpu, total_pct=49.8))
    assert verdict([(starved, 200, 200)], 200).reasons == ["client-cpu-starved"]
    # Behind while starved: the core was shared, not saturated.
    assert verdict([(starved, 150, 200)], 200).reasons == [
        "request-rate-below-target",
        "client-cpu-starved",
    ]
    # Behind with a whole core: pegged.
    assert verdict([(ok, 150, 200)], 200).reasons == [
        "request-rate-below-target",
        "client-cpu-pegged",
    ]
    # One of two processes behind: the total can still be within 1 %, the process is pegged.
    v = verdict([(ok, 100, 100), (ok, 99.5, 100)], 200)
    assert v.reasons == []
    v = verdict([(ok, 100, 100), (ok, 98, 100)], 200)
    assert v.reasons == ["client-cpu-pegged"]


def test_issued_rate_of_sessions_on_a_closing_server_spans_their_connections() -> None:
    # Each session of this run took 7.47 connections on average (nginx closed after each
    # reply), so the last session outlived the longest single connection several times.
    r = golden("session-connreset")
    assert r.sessions is not None and r.sessions.connections_per_session > 7
    assert issued_rate(r, "specweb99", rate=30, timeout=2) == pytest.approx(30)
    # The same with slow replies: 0.5 s connections, the last session ending 3.5 s after the
    # 6 s of arrivals. One connection's worth of tail would call that 20 sessions/s.
    slow = dataclasses.replace(
        r,
        test_duration_s=9.5,
        connection_time=dataclasses.replace(r.connection_time, max_ms=500.0),
    )
    assert issued_rate(slow, "specweb99", rate=30, timeout=2) == pytest.approx(30)


def test_the_starvation_check_can_be_turned_off_for_clients_that_share_cpus() -> None:
    ok = golden("one-byte-1sample")
    starved = dataclasses.replace(ok, cpu=dataclasses.replace(ok.cpu, total_pct=9.5))
    assert verdict([(starved, 200, 200)], 200).reasons == ["client-cpu-starved"]
    assert verdict([(starved, 200, 200)], 200, starved_below_pct=5).reasons == []
    assert verdict([(starved, 200, 200)], 200, starved_below_pct=0).reasons == []
    # with the check off, falling behind the schedule is still the client's limit
    assert verdict([(starved, 150, 200)], 200, starved_below_pct=0).reasons == [
        "request-rate-below-target",
        "client-cpu-pegged",
    ]
