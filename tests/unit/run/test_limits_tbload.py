"""Who limited a point when the load came from tbload: the server's knee is its own (at its
core's limit, short of the offered rate, every tbload client on schedule), and a client is the
limit only by tbload's own verdict (`kept no`, out of descriptors or ports) while the server had
headroom. The same rule as httperf's (`test_limits`), on an engine that never spins a core."""

from __future__ import annotations

from agents.load.result import LoadResult
from orchestrator.results.records import ServerCpu
from orchestrator.run.knee import SATURATED, Outcome, curve_end
from orchestrator.run.limits import (
    CLIENTS,
    EMULATOR_BEHIND,
    SERVER_CPU,
    PointFacts,
    behind,
    judge,
)

CLIENTS_8 = [f"client{n}" for n in range(1, 9)]


def tbload(reasons: list[str] | None = None, engine: str = "tbload") -> LoadResult:
    """One agent's result as far as the rule reads it."""
    return LoadResult(
        engine=engine, client_limited=bool(reasons), client_limited_reasons=tuple(reasons or ())
    )


def point(
    rate: float, served: float, cpu_seconds: float, loads: dict[str, LoadResult]
) -> PointFacts:
    key = f"one-byte/idle=0/accept=inf/epoll-et/rate={rate:g}/rep=1"
    cpu = ServerCpu(cpu_seconds, 4.3, 4.0, 1, 1)
    return PointFacts(key, "one-byte", "", rate, served / rate, cpu, behind(loads))


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
