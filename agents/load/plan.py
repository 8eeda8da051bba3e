"""The load agent's decisions, pure: how many load-generator processes (httperf or tbload)
carry a share, with which rates, counts, CPUs and sessions; how fast a process really issued its
connections; whether the client limited the run. ``agents/load/README.md`` says why each rule
is what it is."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from agents.load import httperf
from agents.load.args import ENGINES, HTTPERF, STARVED_BELOW_PCT, TBLOAD
from agents.load.tbload import Schedule
from agents.workloads import MAX_SESSIONS_PER_HTTPERF

__all__ = [
    "ENGINES",
    "HTTPERF",
    "STARVED_BELOW_PCT",
    "TBLOAD",
    "TBLOAD_PROGRAM",
    "Plan",
    "ProcessPlan",
    "Verdict",
    "attempts",
    "auto_processes",
    "httperf_argv",
    "issued_rate",
    "parse_cpus",
    "plan",
    "read_sessions",
    "split_counts",
    "tbload_verdict",
    "verdict",
]

TBLOAD_PROGRAM = "tbload/tbload"  # relative to the deploy directory, where provisioning builds it
RATE_PER_PROCESS = 10_000.0  # requests/s one httperf process is asked to carry at most
# requests/s one tbload process is asked to carry at most: it holds any number of descriptors
# (epoll) and sleeps between starts, so one per client is the rule; past this, one per core.
TBLOAD_RATE_PER_PROCESS = 50_000.0
FDS_PER_PROCESS = 1_000  # descriptors planned per httperf process (select(): 1,024 minus slack)
RATE_TOLERANCE = 0.99


@dataclass(frozen=True)
class ProcessPlan:
    """What one httperf process is asked to do."""

    index: int
    rate: float  # connections/s (one-byte) or sessions/s (specweb99)
    count: int  # connections or sessions to initiate
    cpus: tuple[int, ...] | None
    sessions: tuple[tuple[str, ...], ...] = ()  # specweb99: the sessions it cycles through
    expected_requests: int = 0


@dataclass(frozen=True)
class Plan:
    workload: str
    rate: float
    duration: float
    timeout: float
    target_request_rate: float
    processes: tuple[ProcessPlan, ...]
    warnings: tuple[str, ...] = ()
    engine: str = HTTPERF

    @property
    def longest_session(self) -> int:
        return max((len(s) for p in self.processes for s in p.sessions), default=1)


def parse_cpus(text: str) -> list[int]:
    """``"0,2-3"`` -> ``[0, 2, 3]`` (order kept, duplicates dropped)."""
    cpus: list[int] = []
    for part in text.split(","):
        part = part.strip()
        if not part:
            raise ValueError(f"empty item in {text!r}")
        lo, sep, hi = part.partition("-")
        if not (lo.isdigit() and (not sep or hi.isdigit())):
            raise ValueError(f"{part!r} is not a CPU number or range")
        first, last = int(lo), int(hi) if sep else int(lo)
        if last < first:
            raise ValueError(f"range {part!r} runs backwards")
        cpus.extend(c for c in range(first, last + 1) if c not in cpus)
    return cpus


def split_counts(total: int, parts: int) -> list[int]:
    """``total`` split into ``parts`` integers differing by at most one."""
    base, extra = divmod(total, parts)
    return [base + (1 if i < extra else 0) for i in range(parts)]


def auto_processes(
    request_rate: float, connection_rate: float, timeout: float, cpus: int, engine: str = HTTPERF
) -> int:
    if engine == TBLOAD:
        return max(1, min(math.ceil(request_rate / TBLOAD_RATE_PER_PROCESS), cpus))
    by_rate = math.ceil(request_rate / RATE_PER_PROCESS)
    by_fds = math.ceil(connection_rate * timeout / FDS_PER_PROCESS)
    return max(1, min(max(by_rate, by_fds), cpus))


def plan(
    *,
    workload: str,
    rate: float,
    duration: float,
    timeout: float,
    processes: int | None,
    cpus: Sequence[int] | None,
    cpus_available: int,
    sessions: Sequence[Sequence[str]] = (),
    engine: str = HTTPERF,
) -> Plan:
    """Decide processes, their rates, counts, CPUs and sessions. ``processes`` None is auto."""
    warnings: list[str] = []
    total = max(1, round(rate * duration))
    if workload == "specweb99":
        if not sessions:
            raise ValueError("the session file has no sessions")
        mean_len = sum(len(s) for s in sessions) / len(sessions)
        request_rate = rate * mean_len
    else:
        request_rate = rate
    n = processes or auto_processes(
        request_rate, rate, timeout, len(cpus or []) or cpus_available, engine
    )
    if workload == "specweb99" and n > len(sessions):
        raise ValueError(f"{n} processes but only {len(sessions)} sessions in the session file")
    counts = split_counts(total, n)
    procs = []
    expected_total = 0
    for i in range(n):
        pinned = (cpus[i % len(cpus)],) if cpus else None
        mine: tuple[tuple[str, ...], ...] = ()
        expected = counts[i]
        if workload == "specweb99":
            mine = tuple(tuple(s) for s in sessions[i::n][:MAX_SESSIONS_PER_HTTPERF])
            expected = sum(len(mine[k % len(mine)]) for k in range(counts[i]))
        expected_total += expected
        procs.append(ProcessPlan(i, rate / n, counts[i], pinned, mine, expected))
    used_cpus = len(set(cpus)) if cpus else cpus_available
    if n > used_cpus and engine == HTTPERF:
        warnings.append(
            f"{n} httperf processes share {used_cpus} CPU(s): each busy-polls a whole core, "
            "expect client-cpu-starved"
        )
    if workload == "specweb99" and len(sessions) > n * MAX_SESSIONS_PER_HTTPERF:
        warnings.append(
            f"the session file has {len(sessions)} sessions; httperf takes at most "
            f"{MAX_SESSIONS_PER_HTTPERF} per process, so {n * MAX_SESSIONS_PER_HTTPERF} are used"
        )
    target_request_rate = expected_total / duration if workload == "specweb99" else rate
    return Plan(
        workload,
        rate,
        duration,
        timeout,
        target_request_rate,
        tuple(procs),
        tuple(warnings),
        engine,
    )


def httperf_argv(
    p: Plan,
    proc: ProcessPlan,
    server: str,
    port: int,
    uri: str,
    session_file: str | None,
    program: str = HTTPERF,
) -> list[str]:
    """One process's command line: httperf's, or tbload's (`program`), which takes the same
    subset of httperf's options. tbload's one-byte runs add ``--client-close``: httperf's
    request (no ``Connection: close``) and closing order (the client closes after the reply),
    so the server does the same work per reply under either engine and its CPU per reply,
    which the report compares mechanisms by, does not depend on who asked."""
    argv = [program, "-v", "--server", server, "--port", str(port)]
    argv += ["--client", f"{proc.index}/{len(p.processes)}", "--timeout", f"{p.timeout:g}"]
    argv += ["--rate", f"{proc.rate:.6g}"]
    if p.workload == "specweb99":
        argv += ["--wsesslog", f"{proc.count},0,{session_file}", "--max-connections", "1"]
    else:
        argv += ["--uri", uri, "--num-conns", str(proc.count), "--num-calls", "1"]
        if p.engine == TBLOAD:
            argv.append("--client-close")
    return argv


# ---------------------------------------------------------------------------------------------
# Verdict (pure)
# ---------------------------------------------------------------------------------------------


def attempts(result: httperf.HttperfResult, workload: str) -> int:
    """Connections (sessions) the process tried to open, failed ones included."""
    if workload == "specweb99" and result.sessions is not None:
        return result.sessions.started
    e = result.errors
    return result.connections + e.fd_unavail + e.ftab_full


def issued_rate(result: httperf.HttperfResult, workload: str, rate: float, timeout: float) -> float:
    """Attempts per second over the estimated issue window: the test duration less the longest
    the last attempt can have lasted (see ``agents/load/README.md``), never shorter than the
    planned window."""
    tried = attempts(result, workload)
    if tried == 0 or rate <= 0:
        return 0.0
    tail = result.connection_time.max_ms / 1e3
    if result.sessions is not None and result.sessions.connections_per_session > 1:
        # The server closed keep-alive connections: a session spanned several of them.
        tail *= math.ceil(result.sessions.connections_per_session)
    if result.errors.client_timo or result.errors.socket_timo:
        tail += 2 * timeout
    window = max(result.test_duration_s - tail, tried / rate)
    return tried / window


@dataclass
class Verdict:
    client_limited: bool
    reasons: list[str]


def verdict(
    results: Sequence[tuple[httperf.HttperfResult, float, float]],
    target_rate: float,
    starved_below_pct: float = STARVED_BELOW_PCT,
) -> Verdict:
    """``results``: (parse, issued rate, asked rate) per process; ``target_rate`` in the same
    unit as the rates (connections/s or sessions/s). ``starved_below_pct`` 0 turns the
    starvation check off (clients that share CPUs by design)."""
    reasons: list[str] = []
    merged_errors = [r.errors for r, _, _ in results]
    if any(e.fd_unavail for e in merged_errors):
        reasons.append("fd-unavail")
    if any(e.addrunavail for e in merged_errors):
        reasons.append("addrunavail")
    if sum(issued for _, issued, _ in results) < RATE_TOLERANCE * target_rate:
        reasons.append("request-rate-below-target")
    starved = [r.cpu.total_pct < starved_below_pct for r, _, _ in results]
    if any(starved):
        reasons.append("client-cpu-starved")
    behind = [issued < RATE_TOLERANCE * asked for _, issued, asked in results]
    if any(b and not s for b, s in zip(behind, starved, strict=True)):
        reasons.append("client-cpu-pegged")
    return Verdict(bool(reasons), reasons)


def tbload_verdict(results: Sequence[tuple[httperf.HttperfResult, Schedule]]) -> Verdict:
    """A tbload client's verdict: its own, and nothing read from its CPU or its issued rate.
    ``behind-schedule`` when a process said ``kept no``; ``fd-unavail`` or ``addrunavail``
    when one ran out of descriptors or local ports (it left connections unstarted)."""
    reasons: list[str] = []
    if any(not schedule.kept for _, schedule in results):
        reasons.append("behind-schedule")
    if any(r.errors.fd_unavail for r, _ in results):
        reasons.append("fd-unavail")
    if any(r.errors.addrunavail for r, _ in results):
        reasons.append("addrunavail")
    return Verdict(bool(reasons), reasons)


def read_sessions(path: Path) -> list[tuple[str, ...]]:
    """Sessions of an httperf --wsesslog file: non-comment lines, blank lines between."""
    sessions: list[tuple[str, ...]] = []
    current: list[str] = []
    for line in path.read_text().splitlines():
        if line.startswith("#"):
            continue
        if not line.strip():
            if current:
                sessions.append(tuple(current))
                current = []
            continue
        current.append(line.rstrip())
    if current:
        sessions.append(tuple(current))
    return sessions
