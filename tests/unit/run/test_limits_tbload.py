"""Who limited a point when the load came from tbload: the server's knee is its own (at its
core's limit, short of the offered rate, every tbload client on schedule), and a client is the
limit only by tbload's own verdict (`kept no`, out of descriptors or ports) while the server had
headroom. The same rule as httperf's (`test_limits`), on an engine that never spins a core."""

from __future__ import annotations

from dataclasses import replace

from agents.load.result import LoadResult, ReplyRate, RequestRate
from agents.load.tbload import Schedule
from orchestrator.results.records import ServerCpu
from orchestrator.run.knee import SATURATED, Outcome, curve_end
from orchestrator.run.limits import (
    CLIENTS,
    EMULATOR_BEHIND,
    SERVER_CPU,
    PointFacts,
    behind,
    judge,
    pace,
    started_rate,
)

CLIENTS_8 = [f"client{n}" for n in range(1, 9)]


def tbload(
    reasons: list[str] | None = None,
    engine: str = "tbload",
    target: float | None = None,
    late_max_ms: float = 0.0,
    replied: float | None = None,
) -> LoadResult:
    """One agent's result as far as the rule reads it; with `target`, a 4 s schedule of that
    rate whose latest start was `late_max_ms` late, and a reply rate of `replied`."""
    if target is None:
        return LoadResult(
            engine=engine,
            client_limited=bool(reasons),
            client_limited_reasons=tuple(reasons or ()),
        )
    starts = round(4 * target)
    return LoadResult(
        engine=engine,
        client_limited=bool(reasons),
        client_limited_reasons=tuple(reasons or ()),
        request_rate=RequestRate(target=target),
        reply_rate=ReplyRate(total=replied),
        schedule=Schedule(late_max_ms, 0.0, 0, starts, not reasons, 40.0),
    )


def point(
    rate: float, served: float, cpu_seconds: float, loads: dict[str, LoadResult]
) -> PointFacts:
    key = f"one-byte/idle=0/accept=inf/epoll-et/rate={rate:g}/rep=1"
    cpu = ServerCpu(cpu_seconds, 4.3, 4.0, 1, 1)
    facts = PointFacts(key, "one-byte", "", rate, served / rate, cpu, behind(loads))
    return replace(facts, pace=pace("one-byte", loads))


def on_time() -> dict[str, LoadResult]:
    return {host: tbload() for host in CLIENTS_8}


def test_a_tbload_agent_counts_as_behind_only_by_its_own_verdict() -> None:
    loads = {
        "client1": tbload(["behind-schedule"]),
        "client2": tbload(["addrunavail"]),
        "client3": tbload(["client-cpu-starved"]),  # httperf's reason: not tbload's verdict
        "client4": tbload(["client-cpu-starved"], engine="httperf"),
    }
    assert behind(loads) == (
        ("client1", ("behind-schedule",)),
        ("client2", ("addrunavail",)),
        ("client4", ("client-cpu-starved",)),
    )


def test_the_servers_knee_under_tbload_is_saturation_with_every_client_on_time() -> None:
    knee = point(50_000, 45_500, 3.9, on_time())
    verdict = judge(knee)
    assert verdict.status == "saturated" and verdict.decided_by == SERVER_CPU
    assert "no client fell behind" in verdict.evidence


def test_tbload_behind_its_schedule_with_the_server_idling_is_the_clients_limit() -> None:
    loads = on_time() | {"client3": tbload(["behind-schedule"])}
    verdict = judge(point(60_000, 52_000, 2.4, loads))
    assert verdict.status == "client-limited" and verdict.decided_by == CLIENTS
    assert "with headroom" in verdict.evidence and "client3: behind-schedule" in verdict.evidence


def test_tbload_out_of_ports_is_the_clients_limit_only_while_the_server_has_headroom() -> None:
    out = on_time() | {"client5": tbload(["addrunavail"])}
    assert judge(point(40_000, 36_000, 2.0, out)).status == "client-limited"
    # at its core's limit and short, the server's backlog held the connections: its knee
    backlog = {host: tbload(["fd-unavail"]) for host in CLIENTS_8}
    assert judge(point(60_000, 44_000, 4.0, backlog)).status == "saturated"


def test_a_tbload_curve_ends_at_the_servers_knee_not_at_its_clients() -> None:
    climb = [(30_000, 30_000, 2.2), (40_000, 39_900, 3.0), (50_000, 46_000, 3.9)]
    climb += [(55_000, 46_500, 4.0)]
    outcomes = []
    for rate, served, cpu in climb:
        facts = point(rate, served, cpu, on_time())
        verdict = judge(facts)
        outcomes.append(Outcome(rate, verdict.status, facts.served, verdict.evidence, True))
    assert [o.status for o in outcomes] == ["ok", "ok", "saturated", "saturated"]
    ending = curve_end(outcomes)
    assert ending is not None and (ending.reason, ending.rate) == (SATURATED, 55_000)
    assert "server at 100 % of its 1 core" in ending.evidence


def test_a_link_emulator_that_fell_behind_counts_under_either_engine() -> None:
    """`run.conditions` adds EMULATOR_BEHIND to the agent's reasons: the link's verdict, which
    the tbload filter must keep (a lagging linkem with the server idle is the clients' side)."""
    for engine in ("tbload", "httperf"):
        loads = {host: tbload(engine=engine) for host in CLIENTS_8}
        loads["client3"] = tbload([EMULATOR_BEHIND], engine=engine)
        assert behind(loads) == (("client3", (EMULATOR_BEHIND,)),), engine
        verdict = judge(point(8000, 7000, 2.0, loads))
        assert verdict.status == "client-limited" and verdict.decided_by == CLIENTS, engine


def test_clients_behind_their_schedule_with_the_server_keeping_pace_are_the_limit() -> None:
    """Measured on the emulated lab (2026-12-07, epoll-ET at 20,000 requests/s, 4 s): the eight
    clients' shared core gave out, their starts lagged up to 0.77 s, and the server, at 81 % of
    its core, replied as fast as they started: 84 % of the offered rate, because the clients
    started fewer per second. Busy and short, but it kept up with what it was sent."""
    lagging = {
        h: tbload(["behind-schedule"], target=2500, late_max_ms=770, replied=2094)
        for h in CLIENTS_8
    }
    verdict = judge(point(20_000, 16_833, 3.26, lagging))
    assert verdict.status == "client-limited" and verdict.decided_by == CLIENTS
    assert "replied at 99.9 % of the pace the clients started connections at" in verdict.evidence
    assert "served 84.2 % of the offered rate: they started fewer" in verdict.evidence


def test_a_server_replying_slower_than_lagging_clients_started_is_saturated() -> None:
    """Measured too: epoll-ET with its CPU capped at 0.4 core, 14,000 requests/s. Six clients'
    starts lagged up to 68 ms (behind their schedule), yet they started 13,800/s, and the server
    replied to every connection in the end but at 9,969/s: its backlog, its knee."""
    lagging = {
        h: tbload(["behind-schedule"], target=1750, late_max_ms=68, replied=1246) for h in CLIENTS_8
    }
    verdict = judge(point(14_000, 9_969, 2.33 / 0.4, lagging))
    assert verdict.status == "saturated" and verdict.decided_by == SERVER_CPU
    # out of descriptors is no lag of the clients' own making: a backlog may cause it
    backlog = {h: tbload(["fd-unavail"], target=2500, replied=2094) for h in CLIENTS_8}
    assert judge(point(20_000, 16_833, 3.9, backlog)).status == "saturated"


def test_the_started_pace_is_the_schedules_starts_over_their_span_and_latest_lateness() -> None:
    on_time, late = tbload(target=2500, replied=2500), tbload(target=2500, late_max_ms=1000)
    assert started_rate(on_time) == 2500
    assert started_rate(late) == 10_000 / 5.0  # 4 s of starts, the last one 1 s late
    assert started_rate(tbload()) is None  # no schedule (httperf): unknown
    assert pace("one-byte", {"a": on_time, "b": tbload(target=2500, replied=2000)}) == 0.9
    assert pace("specweb99", {"a": on_time}) is None  # a session's start is no connection's
    assert pace("one-byte", {"a": on_time, "b": tbload()}) is None
