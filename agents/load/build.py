"""The load agent's JSON result (its schema is in ``agents.load``'s docstring), built from the
processes' outputs: each parsed with ``agents.httperf`` (tbload's too, and its schedule line
with ``agents.tbload``), merged, and judged by ``verdict`` (httperf) or ``tbload_verdict``."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any

from agents import httperf
from agents.load_plan import HTTPERF, TBLOAD, Plan, Verdict, issued_rate, tbload_verdict, verdict
from agents.load_runner import Proc
from agents.tbload import Schedule, merge_schedules, parse_schedule, schedule_dict

__all__ = ["SCHEMA", "build_result"]

SCHEMA = "testbed.load/1"


# Figures that come from httperf's summaries; all null when no process produced one.
FIGURES = (
    "test_duration_s",
    "request_rate",
    "session_rate",
    "reply_rate",
    "totals",
    "replies_by_status",
    "errors",
    "connection_rate",
    "max_concurrent_connections",
    "connection_time_ms",
    "reply_time_ms",
    "reply_size_bytes",
    "client_cpu",
    "max_connect_burst_length",
    "max_schedule_lag_s",
    "schedule",
    "client_limited",
    "client_limited_reasons",
)

# (parse, issued rate, asked rate) of one process
Parsed = tuple[httperf.HttperfResult, float, float]


def _cpus_of(load_plan: Plan | None) -> list[list[int]] | None:
    if load_plan is None or not any(p.cpus for p in load_plan.processes):
        return None
    return [list(p.cpus or ()) for p in load_plan.processes]


def _round(x: float | None, nd: int = 3) -> float | None:
    return None if x is None else round(x, nd)


def _header(
    args: argparse.Namespace,
    load_plan: Plan | None,
    procs: Sequence[Proc],
    error: str | None,
    started_at: float | None,
) -> dict[str, Any]:
    sessions = args.workload == "specweb99"
    late = started_at - args.start_at if started_at and args.start_at else None
    return {
        "schema": SCHEMA,
        "engine": _engine(args),
        "error": error,
        "host": args.host,
        "server": args.server,
        "port": args.port,
        "workload": args.workload,
        "uri": None if sessions else args.uri,
        "sessions_file": args.sessions if sessions else None,
        "rate": args.rate,
        "rate_unit": "sessions/s" if sessions else "requests/s",
        "duration_s": args.duration,
        "timeout_s": args.timeout,
        "processes": len(load_plan.processes) if load_plan else 0,
        "cpus": _cpus_of(load_plan),
        "start_at": args.start_at,
        "started_at": started_at,
        "ended_at": max((p.ended_at or 0 for p in procs), default=None) or None,
        "start_lateness_s": _round(late),
    }


def _engine(args: argparse.Namespace) -> str:
    return str(getattr(args, "engine", HTTPERF))


def _run_entry(
    p: Proc,
    count: int,
    result: httperf.HttperfResult | None,
    issued: float | None,
    why: str | None,
    schedule: Schedule | None = None,
) -> dict[str, Any]:
    return {
        "index": p.plan.index,
        "client": f"{p.plan.index}/{count}",
        "pid": p.popen.pid,
        "cpus": list(p.plan.cpus) if p.plan.cpus else None,
        "argv": p.argv,
        "rate": p.plan.rate,
        "count": p.plan.count,
        "started_at": p.started_at,
        "ended_at": p.ended_at,
        "exit_status": p.popen.returncode,
        "overran": p.overran,
        "killed": p.killed,
        "issued_rate": _round(issued),
        "reply_rate_samples": p.reply_samples,
        "result": httperf.to_dict(result) if result else None,
        "schedule": schedule_dict(schedule),
        "parse_error": why,
        "stdout": p.out.decode(errors="replace"),
        "stderr": p.err.decode(errors="replace"),
    }


def _figures(
    args: argparse.Namespace,
    parsed: Sequence[Parsed],
    target: float,
    schedules: Sequence[Schedule] = (),
) -> dict[str, Any]:
    """The summed figures of the processes that produced a summary (and, with tbload, the
    schedule line of each)."""
    merged = httperf.merge([r for r, _, _ in parsed])
    issued = sum(i for _, i, _ in parsed)
    v: Verdict
    if _engine(args) == TBLOAD:
        v = tbload_verdict([(r, s) for (r, _, _), s in zip(parsed, schedules, strict=True)])
    else:
        v = verdict(parsed, args.rate, args.starved_below)
    ct, sess, rr = merged.connection_time, merged.sessions, merged.reply_rate
    lag = max((r.max_connect_burst_length - 1) / rate if rate else 0.0 for r, _, rate in parsed)
    return {
        "test_duration_s": merged.test_duration_s,
        "request_rate": {
            "target": _round(target),
            "achieved": _round(merged.request_rate),
            "issued": None if sess else _round(issued),
        },
        "session_rate": None
        if sess is None
        else {
            "target": args.rate,
            "issued": _round(issued),
            "min": sess.rate.min,
            "avg": _round(sess.rate.avg),
            "max": sess.rate.max,
            "stddev": _round(sess.rate.stddev),
            "samples": sess.rate.samples,
        },
        "reply_rate": {
            "min": rr.min,
            "avg": _round(rr.avg),
            "max": rr.max,
            "stddev": _round(rr.stddev),
            "samples": rr.samples,
            "total": _round(merged.reply_rate_total),
        },
        "totals": {
            "connections": merged.connections,
            "requests": merged.requests,
            "replies": merged.replies,
            "sessions_started": sess.started if sess else None,
            "sessions_completed": sess.completed if sess else None,
        },
        "replies_by_status": merged.status.as_dict(),
        "errors": merged.errors.as_dict(),
        "connection_rate": _round(merged.connection_rate),
        "max_concurrent_connections": merged.max_concurrent_connections,
        "connection_time_ms": {
            "min": ct.min_ms,
            "avg": _round(ct.avg_ms),
            "max": ct.max_ms,
            "median": ct.median_ms,
            "stddev": _round(ct.stddev_ms),
            "connect": _round(ct.connect_ms),
        },
        "reply_time_ms": {
            "response": _round(merged.reply_time.response_ms),
            "transfer": _round(merged.reply_time.transfer_ms),
        },
        "reply_size_bytes": {
            "header": _round(merged.reply_size.header_bytes, 1),
            "content": _round(merged.reply_size.content_bytes, 1),
            "footer": _round(merged.reply_size.footer_bytes, 1),
            "total": _round(merged.reply_size.total_bytes, 1),
        },
        "client_cpu": {
            "user_s": _round(merged.cpu.user_s, 2),
            "system_s": _round(merged.cpu.system_s, 2),
            "per_process_pct": [r.cpu.total_pct for r, _, _ in parsed],
            "starved_below_pct": args.starved_below,
        },
        "max_connect_burst_length": merged.max_connect_burst_length,
        "max_schedule_lag_s": _round(lag, 4),
        "schedule": schedule_dict(merge_schedules(schedules)) if schedules else None,
        "client_limited": v.client_limited,
        "client_limited_reasons": v.reasons,
    }


def build_result(
    args: argparse.Namespace,
    load_plan: Plan | None,
    procs: Sequence[Proc],
    *,
    error: str | None,
    started_at: float | None,
    warnings: Sequence[str],
) -> dict[str, Any]:
    """The JSON object the agent prints (``error`` None unless the run failed)."""
    out = _header(args, load_plan, procs, error, started_at)
    runs: list[dict[str, Any]] = []
    parsed: list[Parsed] = []
    schedules: list[Schedule] = []
    parse_errors: list[str] = []
    engine = _engine(args)
    for p in procs:
        result: httperf.HttperfResult | None = None
        schedule: Schedule | None = None
        why = issued = None
        text = p.out.decode(errors="replace")
        try:
            result = httperf.parse(text)
            if engine == TBLOAD:
                schedule = parse_schedule(text)
                if schedule is None:
                    result = None
                    raise httperf.HttperfParseError(
                        "no 'tbload: schedule' line after the summary: its verdict is unknown"
                    )
        except httperf.HttperfParseError as exc:
            why = str(exc)
            stderr = p.err.decode(errors="replace").strip().splitlines()
            parse_errors.append(
                f"{engine} {p.plan.index}: {why}" + (f" ({stderr[-1]})" if stderr else "")
            )
        if result is not None:
            issued = issued_rate(result, args.workload, p.plan.rate, args.timeout)
            parsed.append((result, issued, p.plan.rate))
            if schedule is not None:
                schedules.append(schedule)
        runs.append(_run_entry(p, len(procs), result, issued, why, schedule))
    if parse_errors and error is None:
        out["error"] = "; ".join(parse_errors)
    target = load_plan.target_request_rate if load_plan else None
    if parsed and target is not None:
        out.update(_figures(args, parsed, target, schedules))
    else:
        out.update(dict.fromkeys(FIGURES))
        out["request_rate"] = {"target": target, "achieved": None, "issued": None}
        out["client_limited_reasons"] = []
    overran = [p.plan.index for p in procs if p.overran]
    out["warnings"] = list(warnings) + (
        [f"{engine} process(es) {overran} overran the run and were stopped"] if overran else []
    )
    out["runs"] = runs
    return out
