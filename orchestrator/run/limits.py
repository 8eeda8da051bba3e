"""Who limited a point: the server at its cores' limit, the clients, or neither. One pure rule,
and the evidence that decided it, as text.

    facts = PointFacts.of_record(record)            # or PointFacts.of_stored(stored, point)
    verdict = judge(facts, sweep)                   # sweep: the other points' facts
    verdict.status, verdict.decided_by, verdict.evidence

The rule (DESIGN.md, the data flow's step 6):

    saturated       the server was busy for at least BUSY of the cores it could use over the
                    load's duration (`ServerCpu.busy`) and served less than TRACKING of the
                    offered rate, whatever the clients report (nothing, or fd-unavail: a
                    backlogged server holds their connections open, so each select-based httperf
                    runs out of descriptors and falls behind its schedule). The server's knee.
                    Also when it was that busy, an agent fell behind, and the server served
                    visibly less than offered (under SHORTFALL) or the agents ran out of
                    descriptors: at its limit, the server had no headroom to leave the clients
                    the cause (epoll2 with 10,000 idle connections at 16,000: 100 % of its core,
                    96.3 % served, fd-unavail on all eight clients).
    client-limited  an agent fell behind (its schedule, its CPU, its descriptors or ports)
                    while the server had headroom (busy below BUSY), or while it was busy but
                    served all but noise (SHORTFALL) with no client out of descriptors: a
                    client held up on its own.
    ok              no agent fell behind and the server was not saturated: its result,
                    tracking the load or not (short with headroom: e.g. a slow network).

With tbload (`load: {engine: tbload}`) the same rule holds, and an agent falls behind only by
tbload's own verdict (TBLOAD_REASONS: `behind-schedule`, its `kept no`, or out of descriptors
or ports): tbload sleeps between its scheduled starts and holds any number of descriptors, so
neither its CPU share nor a backlogged server's open connections make it fall behind. A server
at its core's limit that served less than offered is saturated with every tbload client
keeping its schedule (the usual case: the knee shows as the server's alone); a tbload client
that said `kept no` or ran out of ports while the server had headroom is the clients' limit.
A tbload client behind its schedule is behind of its own making (it neither waits for replies
nor, on schedule alone, for the server's backlog: OWN_LAG), so it started fewer connections per
second than offered and the share of the offered rate served says nothing of the server. What
the server was sent is then the pace the clients really started connections at: each one's
starts over their planned span plus its latest start's lateness (`started_rate`). When every
client that fell behind fell behind that way and the server's reply rate kept TRACKING of that
pace (`PointFacts.pace`), the server kept up with what it was sent: client-limited, however busy
it was. A server past its knee answers every connection too, in the end, but at a slower pace
(its backlog drains after the starts end). Measured on the emulated lab (2026-12-07): epoll-ET
at 20,000, the clients' shared core gave out, their starts lagged up to 0.7 s, 16,800/s
started and 16,833/s replied with the server at 81 % of its core (the rule above alone called
it saturated); epoll-ET with its CPU capped at 0.4 core at 14,000, starts lagged at most 68 ms,
13,800/s started and 9,969/s replied: saturated.

Evidence from the same sweep: the highest rate the same clients kept up with (no agent fell
behind) at another point of the same workload and network profile. It is quoted in every
client-limited verdict ("the clients kept up with 23,000 nowhere in this sweep" supports the
verdict; "though they kept up with 25,000 at ..." says the limit was this point's conditions).
It decides when the server's CPU is unknown (a server whose cores could not be read, a point
stored before its CPU use was): a point where an agent fell behind and the server served less
than TRACKING is then *ambiguous*. If the clients kept up with this rate or more elsewhere, the
rate was within their reach and the shortfall is the server's (saturated, decided by the sweep);
otherwise it stays client-limited and its evidence says "ambiguous".

BUSY = 0.8, from the points captured on the emulated lab (one-byte, 4 s loads, ~4.3 s counters'
window, server pinned to one core; busy = CPU s / 4 s, utilisation = CPU s / 4.3 s):

    server saturated (fd-unavail on every client)       busy   window
        select, 10,000 idle, 30,000 -> 25,543   4.01 s  1.00   0.93
        poll,   10,000 idle, 30,000 -> 28,243   3.64 s  0.91   0.85
        select, 19,000 idle, 14,000 -> 10,443   4.51 s  1.13   1.05
        poll,   19,000 idle, 17,000 -> 13,991   3.85 s  0.96   0.90
    at the knee, no client behind (ok until now)
        poll,   19,000 idle, 14,000 -> 13,254   3.37 s  0.84   0.78
    clients at their ceiling (true client limits)
        epoll-ET, 10,000 idle, 30,000 -> 24,586 2.26 s  0.57   0.53
        epoll-ET, 19,000 idle, 23,000 -> 17,792 1.56 s  0.39   0.36

The load's duration is the denominator because the server idles outside the load unless a
backlog keeps it working (then busy exceeds 1.0: select above); over the window, a server that
was pegged for the whole load shows only 4 / 4.3 = 0.93. 0.8 lies between the lowest saturated
point (0.91) and the highest true client limit (0.57), with a margin on both sides; a server that
was busy less than 80 % of the load had a fifth of its core to spare. Poll at 14,000 with
19,000 idle connections (0.84, 94.7 % served, no client behind) is its knee reached: saturated.
Busy alone is no saturation: select with 10,000 idle connections ran at 0.97 of its core at
25,000 requests/s and served 98.6 % of them (batching), so it stays ok.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from agents.load.result import LoadResult
from orchestrator.config.plan import Point
from orchestrator.report.analysis.data import BUSY, TRACKING, served_fraction
from orchestrator.results.points import StoredPoint
from orchestrator.results.records import PointRecord, ServerCpu

__all__ = [
    "BUSY",
    "EMULATOR_BEHIND",
    "OWN_LAG",
    "TBLOAD_REASONS",
    "PointFacts",
    "Verdict",
    "behind",
    "judge",
    "pace",
    "rejudge",
    "served",
    "started_rate",
]

SHORTFALL = 0.99  # served less than this of the offered rate: short beyond a run's noise
BACKLOGGED = "fd-unavail"  # what a backlogged server does to a select-based httperf
# A lag no server can cause: tbload behind its schedule (it never waits for replies)
OWN_LAG = ("behind-schedule",)
# What a tbload agent may give as falling behind: its own verdict (agents.load.plan.tbload_verdict)
TBLOAD_REASONS = ("behind-schedule", "fd-unavail", "addrunavail")
# Added to an agent's reasons by `run.conditions` when the client's link emulator fell behind:
# the link's verdict, not the engine's, so it counts whichever engine ran
EMULATOR_BEHIND = "link-emulator-behind"

# What decided a verdict
SERVER_CPU = "server CPU"  # the server's CPU use, and its share served
CLIENTS = "clients"  # the agents' own verdicts, the server having headroom
SWEEP = "sweep evidence"  # CPU unknown: a rate the clients delivered elsewhere decided
AMBIGUOUS = "ambiguous"  # CPU unknown and nothing in the sweep decides: left client-limited
NOBODY_BEHIND = "no client fell behind"


@dataclass(frozen=True)
class PointFacts:
    """What the rule judges of one point: its offered rate, the share served, the server's CPU
    use (None: unknown), and each agent that fell behind with its reasons."""

    key: str
    workload: str
    network: str
    rate: float
    served: float
    cpu: ServerCpu | None
    behind: tuple[tuple[str, tuple[str, ...]], ...] = ()  # (client, its reasons)
    # The reply rate over the pace the clients really started connections at (tbload, one
    # request per connection; None: httperf, sessions, or unknown)
    pace: float | None = None

    @property
    def kept_up(self) -> bool:
        """Whether every agent kept its schedule (the clients delivered this rate)."""
        return not self.behind

    @classmethod
    def of_record(cls, record: PointRecord) -> PointFacts:
        loads = stored_loads(record.agents)
        return cls(
            record.point.key,
            record.point.workload,
            record.point.network,
            record.point.rate,
            served(record),
            ServerCpu.from_server(record.server),
            behind(loads),
            pace(record.point.workload, loads),
        )

    @classmethod
    def of_stored(cls, stored: StoredPoint, point: Point) -> PointFacts:
        """The facts of a point as `Store.points` returns it (`point`: its plan point)."""
        loads = {host: agent.load for host, agent in stored.agents.items() if agent.load}
        return cls(
            point.key,
            point.workload,
            point.network,
            point.rate,
            served_fraction(stored),
            stored.server.cpu_use,
            behind(loads),
            pace(point.workload, loads),
        )


@dataclass(frozen=True)
class Verdict:
    """Who limited a point (`status`: ok, saturated or client-limited), what decided it and the
    evidence, as a sentence stored as the point's reason."""

    status: str
    decided_by: str
    evidence: str


def judge(point: PointFacts, sweep: Sequence[PointFacts] = ()) -> Verdict:
    """The rule of the module docstring: `point` judged on its own facts and on what the same
    clients did at the other points of `sweep` (the point itself, if in it, is left out)."""
    served_text = f"served {100 * point.served:.1f} % of the offered rate"
    cpu = point.cpu
    short = point.served < TRACKING
    backlogged = any(BACKLOGGED in reasons for _, reasons in point.behind)
    blamed = bool(point.behind) and (backlogged or point.served < SHORTFALL)
    if _kept_up_with_what_it_was_sent(point):
        return Verdict(
            "client-limited",
            CLIENTS,
            f"{_cpu_text(cpu)}, replied at {100 * (point.pace or 0):.1f} % of the pace the"
            f" clients started connections at ({served_text}: they started fewer);"
            f" {_behind_text(point.behind)}; {_delivered_text(point, _delivered(point, sweep))}",
        )
    if cpu is not None and cpu.busy >= BUSY and (short or blamed):
        clients = (
            f"; {_behind_text(point.behind)}: the result of its backlog"
            if point.behind
            else "; no client fell behind"
        )
        return Verdict("saturated", SERVER_CPU, f"{_cpu_text(cpu)}, {served_text}{clients}")
    if not point.behind:
        where = f"; {_cpu_text(cpu)}" if cpu is not None else ""
        return Verdict("ok", NOBODY_BEHIND, f"{NOBODY_BEHIND}, {served_text}{where}")
    clients = _behind_text(point.behind)
    delivered = _delivered(point, sweep)
    if cpu is not None or not short:
        why = _cpu_text(cpu)
        if cpu is not None and cpu.busy < BUSY:
            why += ", with headroom"
        if not short:
            why += f", {served_text} (it kept up with what it was sent)"
        return Verdict(
            "client-limited", CLIENTS, f"{why}; {clients}; {_delivered_text(point, delivered)}"
        )
    if delivered is not None and delivered.rate >= point.rate:
        return Verdict(
            "saturated",
            SWEEP,
            f"server CPU unknown, {served_text}; the clients kept up with"
            f" {delivered.rate:,.0f} at {delivered.key}, so this rate was within their reach;"
            f" {clients}: the result of the server's backlog",
        )
    return Verdict(
        "client-limited",
        AMBIGUOUS,
        f"ambiguous: server CPU unknown, {served_text}; {clients};"
        f" {_delivered_text(point, delivered)}",
    )


def _kept_up_with_what_it_was_sent(point: PointFacts) -> bool:
    """Every client that fell behind did so of its own making (OWN_LAG), and the server
    replied at the pace they did start connections at: the offered rate never reached it."""
    own = bool(point.behind) and all(set(r) <= set(OWN_LAG) for _, r in point.behind)
    return own and point.pace is not None and point.pace >= TRACKING


def rejudge(sweep: Sequence[PointFacts]) -> list[Verdict]:
    """Every point of a sweep judged again with the whole sweep's evidence, in order: an online
    verdict saw only the points run before it (the plan runs its groups in a random order)."""
    return [judge(point, sweep) for point in sweep]


def stored_loads(agents: Mapping[str, Any]) -> dict[str, LoadResult]:
    """{client: its load agent's result} of a point's stored agent data ({client: {"load":
    the result's JSON, "idle": ...}}), each decoded once; a client without one is left out."""
    loads = {}
    for host, results in agents.items():
        stored = (results or {}).get("load")
        if stored:
            loads[host] = LoadResult.from_json(stored)
    return loads


def behind(loads: Mapping[str, LoadResult]) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """(client, reasons) of every load agent that said it limited the load. A tbload agent
    counts only by its own verdict (TBLOAD_REASONS) or its link emulator's (EMULATOR_BEHIND);
    any other reason it might carry is not a client limit."""
    found = []
    for host, result in sorted(loads.items()):
        if not result.client_limited:
            continue
        reasons = result.client_limited_reasons or ("client-limited",)
        if result.engine == "tbload":
            reasons = tuple(r for r in reasons if r in (*TBLOAD_REASONS, EMULATOR_BEHIND))
            if not reasons:
                continue
        found.append((host, reasons))
    return tuple(found)


def started_rate(load: LoadResult) -> float | None:
    """The pace a tbload agent really started connections at: its schedule's starts over their
    planned span (starts / its target rate) plus its latest start's lateness, so never above
    the truth; None without a schedule or a target."""
    schedule, target = load.schedule, load.request_rate.target
    if schedule is None or not target or schedule.starts == 0:
        return None
    return schedule.starts / (schedule.starts / target + schedule.late_max_ms / 1000)


def pace(workload: str, loads: Mapping[str, LoadResult]) -> float | None:
    """The agents' reply rates summed over their started rates summed (`started_rate`): one
    request per connection only (a session's start is a session); None when an agent's start
    rate is unknown (httperf: it does not say when each start was made)."""
    if workload == "specweb99" or not loads:
        return None
    started = [started_rate(load) for load in loads.values()]
    if any(rate is None for rate in started):
        return None
    total = sum(rate or 0.0 for rate in started)
    replied = sum(load.reply_rate.total or 0.0 for load in loads.values() if load.reply_rate)
    return replied / total if total > 0 else None


def served(record: PointRecord) -> float:
    """The share of the offered load a point's server served, as the report computes it."""
    row = {
        **record.summary,
        "workload": record.point.workload,
        "target_rate": record.point.rate,
        "agents": record.agents,
    }
    return served_fraction(row)


def _delivered(point: PointFacts, sweep: Sequence[PointFacts]) -> PointFacts | None:
    """The point of `sweep` with the highest rate the same clients kept up with, under the same
    workload and network profile (rates and descriptors needed differ between them)."""
    peers = [
        other
        for other in sweep
        if other.key != point.key
        and other.kept_up
        and other.workload == point.workload
        and other.network == point.network
    ]
    return max(peers, key=lambda other: other.rate, default=None)


def _delivered_text(point: PointFacts, delivered: PointFacts | None) -> str:
    if delivered is None:
        return "the clients kept up at no other point of this sweep"
    if delivered.rate >= point.rate:
        return (
            f"though they kept up with {delivered.rate:,.0f} at {delivered.key}: a limit of"
            " this point's conditions"
        )
    return (
        f"the clients kept up with {point.rate:,.0f} nowhere in this sweep"
        f" (at most {delivered.rate:,.0f}, at {delivered.key})"
    )


def _cpu_text(cpu: ServerCpu | None) -> str:
    if cpu is None:
        return "server CPU unknown"
    cores = f"{cpu.cores} core" + ("s" if cpu.cores != 1 else "")
    given = f" (of {cpu.cores_given} given)" if cpu.cores_given != cpu.cores else ""
    if cpu.limit is not None and cpu.limit < cpu.cores:
        cores = f"CPU cap of {cpu.limit:g} core" + ("s" if cpu.limit > 1 else "")
        given = f" (on {cpu.cores_given} given)"
    return (
        f"server at {_percent(cpu.busy)} of its {cores}{given} over the"
        f" {cpu.load_seconds:g} s load ({cpu.seconds:.2f} CPU s)"
    )


def _behind_text(agents: Sequence[tuple[str, tuple[str, ...]]]) -> str:
    """'fd-unavail on 8 clients'; one client by name: 'client3: request-rate-below-target'."""
    if len(agents) == 1:
        host, reasons = agents[0]
        return f"{host}: {', '.join(reasons)}"
    counts: dict[str, int] = {}
    for _, reasons in agents:
        for reason in reasons:
            counts[reason] = counts.get(reason, 0) + 1
    return ", ".join(
        f"{reason} on {count} client{'s' if count != 1 else ''}" for reason, count in counts.items()
    )


def _percent(share: float) -> str:
    return f"{100 * share:.0f} %"
