"""Who limited a point (`run.limits`), on the points captured on the emulated lab (issue 23):
select's and poll's knees with 10,000 and 19,000 idle connections, which the agents' own verdict
called client-limited (fd-unavail on every client), are the server's saturation; epoll-ET's
shortfalls at 30,000 and 23,000, with its server at a half and a third of its core, are the
clients' ceiling. One-byte, 4 s loads, a ~4.3 s counters' window, the server pinned to one core.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.config.plan import Point
from orchestrator.results.records import PointRecord, ServerCpu
from orchestrator.results.store import Store
from orchestrator.run.limits import (
    AMBIGUOUS,
    BUSY,
    CLIENTS,
    SERVER_CPU,
    SWEEP,
    PointFacts,
    Verdict,
    judge,
    rejudge,
)
from orchestrator.run.up import rejudge_stored
from tests.support.report_stores import new_sweep

CLIENTS_8 = tuple(f"client{n}" for n in range(1, 9))
FD_UNAVAIL = tuple((host, ("fd-unavail", "request-rate-below-target")) for host in CLIENTS_8)
BEHIND = tuple((host, ("request-rate-below-target",)) for host in CLIENTS_8)


def captured(
    mechanism: str,
    idle: int,
    offered: float,
    served: float,
    cpu_seconds: float | None,
    behind: tuple[tuple[str, tuple[str, ...]], ...] = (),
) -> PointFacts:
    cpu = ServerCpu(cpu_seconds, 4.3, 4.0, 1, 1) if cpu_seconds is not None else None
    key = f"one-byte/idle={idle}/accept=inf/{mechanism}/rate={offered:g}/rep=1"
    return PointFacts(key, "one-byte", "", offered, served / offered, cpu, behind)


# The issue's table, as the sweep stored it (the agents' verdicts as they were).
SELECT_10K = [
    captured("select", 10_000, 25_000, 24_647, 3.86),
    captured("select", 10_000, 30_000, 25_543, 4.01, FD_UNAVAIL),
]
POLL_10K = [
    captured("poll", 10_000, 25_000, 24_664, 3.21),
    captured("poll", 10_000, 30_000, 28_243, 3.64, FD_UNAVAIL),
]
EPOLL_10K = [
    captured("epoll-et", 10_000, 25_000, 24_932, 1.82),
    captured("epoll-et", 10_000, 30_000, 24_586, 2.26, BEHIND),
]
SELECT_19K = [
    captured("select", 19_000, 8_000, 7_877, 3.82),
    captured("select", 19_000, 11_000, 10_799, 3.93),
    captured("select", 19_000, 14_000, 10_443, 4.51, FD_UNAVAIL),
]
POLL_19K = [
    captured("poll", 19_000, 14_000, 13_254, 3.37),
    captured("poll", 19_000, 17_000, 13_991, 3.85, FD_UNAVAIL),
]
EPOLL_19K = [
    captured("epoll-et", 19_000, 14_000, 13_956, None),  # the same clients kept up at 14,000
    captured("epoll-et", 19_000, 20_000, 19_850, 1.52),
    captured("epoll-et", 19_000, 23_000, 17_792, 1.56, BEHIND),
]
SWEEP_10K = [*SELECT_10K, *POLL_10K, *EPOLL_10K]
SWEEP_19K = [*SELECT_19K, *POLL_19K, *EPOLL_19K]


@pytest.mark.parametrize(
    "point",
    [SELECT_10K[1], POLL_10K[1], SELECT_19K[2], POLL_19K[1]],
    ids=["select-10k-30000", "poll-10k-30000", "select-19k-14000", "poll-19k-17000"],
)
def test_the_servers_knee_with_fd_unavail_on_every_client_is_saturation(point: PointFacts) -> None:
    verdict = judge(point, SWEEP_10K + SWEEP_19K)
    assert verdict.status == "saturated" and verdict.decided_by == SERVER_CPU
    assert point.cpu is not None and point.cpu.busy >= BUSY
    assert "fd-unavail on 8 clients" in verdict.evidence
    assert verdict.evidence.endswith("on 8 clients: the result of its backlog")
    assert "of its 1 core" in verdict.evidence


def test_the_evidence_reads_as_the_issue_asks() -> None:
    verdict = judge(SELECT_19K[2])
    assert verdict.evidence.startswith(
        "server at 113 % of its 1 core over the 4 s load (4.51 CPU s), served 74.6 % of the"
        " offered rate; fd-unavail on 8 clients, request-rate-below-target on 8 clients"
    )


@pytest.mark.parametrize(
    ("point", "ceiling"),
    [(EPOLL_10K[1], "25,000"), (EPOLL_19K[2], "20,000")],
    ids=["epoll-et-10k-30000", "epoll-et-19k-23000"],
)
def test_epoll_et_short_with_its_server_idling_is_the_clients_limit(
    point: PointFacts, ceiling: str
) -> None:
    sweep = SWEEP_10K if point in SWEEP_10K else SWEEP_19K
    verdict = judge(point, sweep)
    assert verdict.status == "client-limited" and verdict.decided_by == CLIENTS
    assert point.cpu is not None and point.cpu.busy < BUSY
    assert "with headroom" in verdict.evidence
    assert "request-rate-below-target on 8 clients" in verdict.evidence
    # the sweep's evidence agrees: the clients never delivered this rate anywhere else
    assert f"kept up with {point.rate:,.0f} nowhere in this sweep" in verdict.evidence
    assert f"at most {ceiling}" in verdict.evidence


def test_the_points_below_the_knee_stay_ok_and_the_one_at_it_is_saturated() -> None:
    statuses = [verdict.status for verdict in rejudge(SWEEP_10K + SWEEP_19K)]
    assert statuses == [
        "ok", "saturated",  # select, 10,000 idle: 25,000 and 30,000
        "ok", "saturated",  # poll
        "ok", "client-limited",  # epoll-ET
        "ok", "ok", "saturated",  # select, 19,000 idle: 8,000, 11,000, 14,000
        "saturated", "saturated",  # poll: 14,000 (94.7 % at 84 % of its core), 17,000
        "ok", "ok", "client-limited",  # epoll-ET: 14,000, 20,000, 23,000
    ]  # fmt: skip
    # select near its core's limit from 8,000 up keeps serving (batching): busy is not enough
    select = SELECT_19K[0]
    assert select.cpu is not None and select.cpu.busy > 0.95
    assert judge(select).status == "ok"


def test_a_saturated_point_whose_clients_all_kept_up_says_so() -> None:
    verdict = judge(POLL_19K[0])
    assert verdict.status == "saturated"
    # 94.7 % is below the 95 % a point must serve to track: never rounded up to it
    assert "served 94.7 %" in verdict.evidence and "no client fell behind" in verdict.evidence


def test_the_threshold_sits_between_the_captured_saturations_and_client_limits() -> None:
    """A test that can fail: the lowest saturated busy and the highest true client limit lie on
    either side of BUSY with a margin, over the load and over the window alike."""
    saturated = [SELECT_10K[1], POLL_10K[1], SELECT_19K[2], POLL_19K[1]]
    limited = [EPOLL_10K[1], EPOLL_19K[2]]
    busy = [p.cpu.busy for p in saturated if p.cpu is not None]
    idle = [p.cpu.busy for p in limited if p.cpu is not None]
    assert min(busy) - BUSY >= 0.1 and BUSY - max(idle) >= 0.2
    window = [p.cpu.utilisation for p in saturated if p.cpu is not None]
    assert min(window) > max(p.cpu.utilisation for p in limited if p.cpu is not None)


def test_a_server_with_headroom_serving_what_it_was_sent_is_never_saturated() -> None:
    short_with_headroom = captured("epoll-et", 0, 20_000, 15_000, 1.0)
    assert judge(short_with_headroom).status == "ok"  # no client behind: the server's result
    tracking_at_limit = captured("select", 0, 20_000, 19_800, 4.0, BEHIND[:1])
    verdict = judge(tracking_at_limit)
    assert verdict.status == "client-limited"  # it kept up with what it was sent
    assert "with headroom" not in verdict.evidence and "kept up with what it was sent" in (
        verdict.evidence
    )


def test_without_the_servers_cpu_the_sweep_decides_or_the_point_is_ambiguous() -> None:
    unknown = captured("select", 19_000, 14_000, 10_443, None, FD_UNAVAIL)
    # the same clients kept up with 14,000 (epoll-ET) in this sweep: the shortfall is the server's
    verdict = judge(unknown, SWEEP_19K)
    assert verdict == Verdict("saturated", SWEEP, verdict.evidence)
    assert "kept up with 20,000 at one-byte/idle=19000/accept=inf/epoll-et" in verdict.evidence
    # nothing in the sweep says the clients could: ambiguous, left client-limited
    alone = judge(unknown, [p for p in SWEEP_19K if p.rate < 14_000])
    assert alone.status == "client-limited" and alone.decided_by == AMBIGUOUS
    assert alone.evidence.startswith("ambiguous: server CPU unknown")
    # another workload's or network's rates are no evidence
    other = [
        PointFacts(p.key + "/net=wan", p.workload, "wan-50ms", p.rate, p.served, p.cpu)
        for p in SWEEP_19K
    ]
    assert judge(unknown, other).decided_by == AMBIGUOUS


def test_a_client_limit_the_clients_delivered_elsewhere_says_so() -> None:
    hiccup = captured("epoll-et", 19_000, 14_000, 12_000, 0.8, BEHIND[2:3])
    verdict = judge(hiccup, SWEEP_19K)
    assert verdict.status == "client-limited"
    assert "client3: request-rate-below-target" in verdict.evidence
    assert "though they kept up with 20,000" in verdict.evidence


def test_the_sweep_is_judged_again_at_its_end_and_the_final_verdicts_stored(
    tmp_path: Path,
) -> None:
    """A point judged before the evidence that decides it ran (the plan runs its groups in a
    random order) is judged again at the end of the sweep; its final verdict is stored."""
    store = Store.open(tmp_path)
    sweep = new_sweep(store)
    unknown = Point("select", "one-byte", 19_000, None, 14_000, 1)  # its CPU was not read
    later = Point("epoll-et", "one-byte", 19_000, None, 20_000, 1)
    fd_unavail = {"client_limited": True, "client_limited_reasons": ["fd-unavail"]}
    first = PointRecord(unknown, 0, "ok", "", 1, 0.0, 1.0, summary={"reply_rate": 10_443.0})
    first.agents = {host: {"load": fd_unavail} for host in CLIENTS_8}
    online = judge(PointFacts.of_record(first))  # nothing else in the sweep yet
    assert online.decided_by == AMBIGUOUS
    first.status, first.reason = online.status, online.evidence
    second = PointRecord(later, 1, "ok", "", 1, 0.0, 1.0, summary={"reply_rate": 19_850.0})
    second.agents = {host: {"load": {"client_limited": False}} for host in CLIENTS_8}
    for record in (first, second):
        store.record_point(sweep, record)
    changed = rejudge_stored(store, sweep, [unknown, later])
    assert list(changed) == [unknown.key]
    status, reason = changed[unknown.key]
    assert status == "saturated" and "kept up with 20,000" in reason
    stored = {row.key: row for row in store.points(sweep)}
    assert (stored[unknown.key].status, stored[unknown.key].reason) == (status, reason)
    assert stored[later.key].status == "ok"
    [attempt] = [a for a in store.attempts(sweep) if a["key"] == unknown.key]
    assert attempt["status"] == "saturated"
    assert rejudge_stored(store, sweep, [unknown, later]) == {}  # final: judged once more, same


def test_a_server_at_its_limit_whose_clients_ran_out_of_descriptors_is_saturated() -> None:
    """Captured in the default sweep: epoll2 with 10,000 idle connections at 16,000 requests/s,
    its server at 100 % of its core, 96.3 % served (above the knee search's 95 %) and fd-unavail
    on all eight clients. At its limit the server had no headroom to leave the clients the
    cause: its backlog is."""
    epoll2 = captured("epoll2", 10_000, 16_000, 15_406, 3.99, FD_UNAVAIL)
    verdict = judge(epoll2)
    assert verdict.status == "saturated" and verdict.decided_by == SERVER_CPU
    assert "the result of its backlog" in verdict.evidence
    # busy and short beyond noise, a client behind its schedule: the server's too
    assert judge(captured("poll", 0, 16_000, 15_500, 3.6, BEHIND[:2])).status == "saturated"
    # busy, served all but noise, one client held up on its own: the client's
    held_up = judge(captured("select", 0, 20_000, 19_900, 4.0, BEHIND[:1]))
    assert held_up.status == "client-limited"
