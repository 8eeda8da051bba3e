"""The load agent's ``LoadResult`` (``agents.load.result``), built from the processes' outputs:
each parsed with ``agents.load.httperf`` (tbload's too, and its schedule line with
``agents.load.tbload``), merged (``agents.load.merge``), and judged by ``verdict`` (httperf) or
``tbload_verdict``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from agents.load import httperf
from agents.load.args import SPECWEB99, TBLOAD, LoadArgs
from agents.load.merge import merge
from agents.load.plan import Plan, Verdict, issued_rate, tbload_verdict, verdict
from agents.load.result import (
    ClientCpu,
    ConnectionTime,
    LoadResult,
    ReplyRate,
    ReplySize,
    ReplyTime,
    RequestRate,
    Run,
    SessionRate,
    Totals,
)
from agents.load.runner import Proc
from agents.load.tbload import Schedule, merge_schedules, parse_schedule

__all__ = ["build_result"]


@dataclass(frozen=True)
class Parsed:
    """One process that produced a summary: its parse, its issued rate and its asked rate."""

    result: httperf.HttperfResult
    issued: float
    asked: float


def _cpus_of(load_plan: Plan | None) -> tuple[tuple[int, ...], ...] | None:
    if load_plan is None or not any(p.cpus for p in load_plan.processes):
        return None
    return tuple(tuple(p.cpus or ()) for p in load_plan.processes)


def _round(x: float | None, nd: int = 3) -> float | None:
    return None if x is None else round(x, nd)


def _header(
    args: LoadArgs,
    load_plan: Plan | None,
    procs: Sequence[Proc],
    error: str | None,
    started_at: float | None,
) -> LoadResult:
    """The result's first fields: what was asked and when it ran."""
    sessions = args.workload == SPECWEB99
    late = started_at - args.start_at if started_at and args.start_at else None
    return LoadResult(
        engine=args.engine,
        error=error,
        host=args.host,
        server=args.server,
        port=args.port,
        workload=args.workload,
        uri=None if sessions else args.uri,
        sessions_file=args.sessions if sessions else None,
        rate=args.rate,
        rate_unit=args.rate_unit,
        duration_s=args.duration,
        timeout_s=args.timeout,
        processes=len(load_plan.processes) if load_plan else 0,
        cpus=_cpus_of(load_plan),
        start_at=args.start_at,
        started_at=started_at,
        ended_at=max((p.ended_at or 0 for p in procs), default=None) or None,
        start_lateness_s=_round(late),
    )


def _run(
    p: Proc,
    count: int,
    result: httperf.HttperfResult | None,
    issued: float | None,
    why: str | None,
    schedule: Schedule | None = None,
) -> Run:
    return Run(
        index=p.plan.index,
        client=f"{p.plan.index}/{count}",
        pid=p.popen.pid,
        cpus=tuple(p.plan.cpus) if p.plan.cpus else None,
        argv=tuple(p.argv),
        rate=p.plan.rate,
        count=p.plan.count,
        started_at=p.started_at,
        ended_at=p.ended_at,
        exit_status=p.popen.returncode,
        overran=p.overran,
        killed=p.killed,
        issued_rate=_round(issued),
        reply_rate_samples=tuple(p.reply_samples),
        result=httperf.to_dict(result) if result else None,
        schedule=schedule,
        parse_error=why,
        stdout=p.out.decode(errors="replace"),
        stderr=p.err.decode(errors="replace"),
    )


def _with_rates(
    out: LoadResult, merged: httperf.HttperfResult, issued: float, target: float
) -> LoadResult:
    """How fast requests, sessions and replies went."""
    sess, rr = merged.sessions, merged.reply_rate
    return replace(
        out,
        request_rate=RequestRate(
            _round(target), _round(merged.request_rate), None if sess else _round(issued)
        ),
        session_rate=None
        if sess is None
        else SessionRate(
            target=out.rate,
            issued=_round(issued),
            min=sess.rate.min,
            avg=_round(sess.rate.avg),
            max=sess.rate.max,
            stddev=_round(sess.rate.stddev),
            samples=sess.rate.samples,
        ),
        reply_rate=ReplyRate(
            min=rr.min,
            avg=_round(rr.avg),
            max=rr.max,
            stddev=_round(rr.stddev),
            samples=rr.samples,
            total=_round(merged.reply_rate_total),
        ),
        connection_rate=_round(merged.connection_rate),
    )


def _with_counts(out: LoadResult, merged: httperf.HttperfResult) -> LoadResult:
    """What was opened, sent, answered and failed, added over the processes."""
    sess = merged.sessions
    return replace(
        out,
        totals=Totals(
            merged.connections,
            merged.requests,
            merged.replies,
            sess.started if sess else None,
            sess.completed if sess else None,
        ),
        replies_by_status=merged.status.as_dict(),
        errors=merged.errors.as_dict(),
        max_concurrent_connections=merged.max_concurrent_connections,
        max_connect_burst_length=merged.max_connect_burst_length,
    )


def _with_times(out: LoadResult, merged: httperf.HttperfResult) -> LoadResult:
    """How long connections and replies took, and how large replies were."""
    ct, size = merged.connection_time, merged.reply_size
    return replace(
        out,
        connection_time_ms=ConnectionTime(
            min=ct.min_ms,
            avg=_round(ct.avg_ms),
            max=ct.max_ms,
            median=ct.median_ms,
            stddev=_round(ct.stddev_ms),
            connect=_round(ct.connect_ms),
        ),
        reply_time_ms=ReplyTime(
            _round(merged.reply_time.response_ms), _round(merged.reply_time.transfer_ms)
        ),
        reply_size_bytes=ReplySize(
            _round(size.header_bytes, 1),
            _round(size.content_bytes, 1),
            _round(size.footer_bytes, 1),
            _round(size.total_bytes, 1),
        ),
    )


def _with_figures(
    out: LoadResult,
    args: LoadArgs,
    parsed: Sequence[Parsed],
    target: float,
    schedules: Sequence[Schedule] = (),
) -> LoadResult:
    """The summed figures of the processes that produced a summary (and, with tbload, the
    schedule line of each), with the client's verdict."""
    merged = merge([p.result for p in parsed])
    v: Verdict
    if args.engine == TBLOAD:
        v = tbload_verdict([(p.result, s) for p, s in zip(parsed, schedules, strict=True)])
    else:
        v = verdict([(p.result, p.issued, p.asked) for p in parsed], args.rate, args.starved_below)
    lag = max((p.result.max_connect_burst_length - 1) / p.asked if p.asked else 0.0 for p in parsed)
    out = _with_rates(out, merged, sum(p.issued for p in parsed), target)
    out = _with_times(_with_counts(out, merged), merged)
    return replace(
        out,
        test_duration_s=merged.test_duration_s,
        client_cpu=ClientCpu(
            _round(merged.cpu.user_s, 2),
            _round(merged.cpu.system_s, 2),
            tuple(p.result.cpu.total_pct for p in parsed),
            args.starved_below,
        ),
        max_schedule_lag_s=_round(lag, 4),
        schedule=merge_schedules(schedules) if schedules else None,
        client_limited=v.client_limited,
        client_limited_reasons=tuple(v.reasons),
    )


def _parse(args: LoadArgs, p: Proc) -> tuple[httperf.HttperfResult | None, Schedule | None]:
    """One process's summary (and tbload's schedule line); HttperfParseError when absent."""
    text = p.out.decode(errors="replace")
    result = httperf.parse(text)
    if args.engine != TBLOAD:
        return result, None
    schedule = parse_schedule(text)
    if schedule is None:
        raise httperf.HttperfParseError(
            "no 'tbload: schedule' line after the summary: its verdict is unknown"
        )
    return result, schedule


def build_result(
    args: LoadArgs,
    load_plan: Plan | None,
    procs: Sequence[Proc],
    *,
    error: str | None,
    started_at: float | None,
    warnings: Sequence[str],
) -> LoadResult:
    """The result the agent prints (``error`` None unless the run failed)."""
    runs: list[Run] = []
    parsed: list[Parsed] = []
    schedules: list[Schedule] = []
    parse_errors: list[str] = []
    for p in procs:
        result = schedule = why = issued = None
        try:
            result, schedule = _parse(args, p)
        except httperf.HttperfParseError as exc:
            why = str(exc)
            stderr = p.err.decode(errors="replace").strip().splitlines()
            parse_errors.append(
                f"{args.engine} {p.plan.index}: {why}" + (f" ({stderr[-1]})" if stderr else "")
            )
        if result is not None:
            issued = issued_rate(result, args.workload, p.plan.rate, args.timeout)
            parsed.append(Parsed(result, issued, p.plan.rate))
            if schedule is not None:
                schedules.append(schedule)
        runs.append(_run(p, len(procs), result, issued, why, schedule))
    if parse_errors and error is None:
        error = "; ".join(parse_errors)
    out = _header(args, load_plan, procs, error, started_at)
    target = load_plan.target_request_rate if load_plan else None
    if parsed and target is not None:
        out = _with_figures(out, args, parsed, target, schedules)
    else:
        out = replace(out, request_rate=RequestRate(target=target))
    overran = [p.plan.index for p in procs if p.overran]
    if overran:
        why = f"{args.engine} process(es) {overran} overran the run and were stopped"
        warnings = [*warnings, why]
    return replace(out, warnings=tuple(warnings), runs=tuple(runs))
