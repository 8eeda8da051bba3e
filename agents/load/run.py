"""One load run, from its plan to its result: plan the processes, check the server answers,
wait for the instants, run the warm-up and then the measurement, and build the ``LoadResult``.
The one-shot agent (``agents.load.cli``) does one; the load service (``agents.load.service``)
one per request. ``agents/load/README.md`` says what each rule is for."""

from __future__ import annotations

import logging
import os
import shutil
import signal
import socket
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path
from types import FrameType

from agents.load.args import SPECWEB99, TBLOAD, LoadArgs
from agents.load.build import build_result
from agents.load.plan import TBLOAD_PROGRAM, Plan, ProcessPlan, httperf_argv, plan
from agents.load.request import RequestError
from agents.load.result import LoadResult, Warmup
from agents.load.runner import Metrics, Runner
from agents.load.start import StartSignal, instants, wait_until

__all__ = ["engine_program", "preflight", "run"]

WATCHDOG_SLACK_S = 10.0
WARMUP_CUTOFF_S = 0.15  # warm-up processes still running this long before it are stopped
PREFLIGHT_TIMEOUT_S = 5.0

log = logging.getLogger("agents.load")


class RunFailed(Exception):
    """The run cannot go on; the message says why (the result's ``error``)."""

    def __init__(self, message: str, load_plan: Plan | None = None) -> None:
        super().__init__(message)
        self.load_plan = load_plan


def engine_program(engine: str, directory: Path | None = None) -> str | None:
    """The program that runs `engine`, or None when it is not there: httperf on the PATH;
    tbload as provisioning builds it, TBLOAD_PROGRAM under `directory` (default: the current
    one, the deploy directory), else on the PATH."""
    if engine == TBLOAD:
        built = (directory or Path.cwd()) / TBLOAD_PROGRAM
        if built.is_file() and os.access(built, os.X_OK):
            return str(built)
    return shutil.which(engine)


def preflight(server: str, port: int, timeout: float) -> str | None:
    """None when a TCP connection to the server succeeds, else why not."""
    try:
        with socket.create_connection((server, port), timeout=min(timeout, PREFLIGHT_TIMEOUT_S)):
            return None
    except OSError as exc:
        reason = exc.strerror or str(exc) or type(exc).__name__
        return f"cannot connect to {server}:{port}: {reason}"


def _argvs(
    args: LoadArgs, load_plan: Plan, tmp: str, tag: str, program: str
) -> list[tuple[ProcessPlan, list[str]]]:
    argvs = []
    for proc in load_plan.processes:
        session_file = None
        if args.workload == SPECWEB99:
            session_file = os.path.join(tmp, f"sessions-{tag}-{proc.index}.txt")
            Path(session_file).write_text("\n\n".join("\n".join(s) for s in proc.sessions) + "\n")
        argv = httperf_argv(
            load_plan, proc, args.server, args.port, args.uri or "", session_file, program
        )
        argvs.append((proc, argv))
    return argvs


def _plan(args: LoadArgs, duration: float) -> Plan:
    return plan(
        workload=args.workload,
        rate=args.rate,
        duration=duration,
        timeout=args.timeout,
        processes=args.processes,
        cpus=args.cpus,
        cpus_available=len(os.sched_getaffinity(0)),
        sessions=args.session_list,
        engine=args.engine,
    )


@dataclass(frozen=True)
class Prepared:
    """What a run needs before it waits for its instants: the program and both plans."""

    program: str
    load_plan: Plan
    warm_plan: Plan | None


def _prepare(args: LoadArgs, metrics: Metrics) -> Prepared:
    """The engine's program and the plans, published as metrics; RunFailed when the engine is
    missing, the plan impossible or the server unreachable."""
    program = engine_program(args.engine)
    if program is None:
        if args.engine == TBLOAD:
            where = f"no {TBLOAD_PROGRAM} in {os.getcwd()}"
            raise RunFailed(f"tbload is not built: {where} (provision)")
        raise RunFailed("httperf is not installed (Debian package httperf)")
    try:
        load_plan = _plan(args, args.duration)
        warm_plan = _plan(args, args.warmup) if args.warmup else None
    except ValueError as exc:
        raise RunFailed(str(exc)) from None
    for w in load_plan.warnings:
        log.warning("%s", w)
    metrics.processes.set(len(load_plan.processes))
    metrics.target_request_rate.set(load_plan.target_request_rate)
    metrics.target_session_rate.set(args.rate if args.workload == SPECWEB99 else 0)
    metrics.duration.set(args.duration)
    log.info(
        "%s at %g %s for %gs (warm-up %gs, timeout %gs) on %s:%d with %d %s process(es)",
        *(args.workload, args.rate, args.rate_unit, args.duration, args.warmup, args.timeout),
        *(args.server, args.port, len(load_plan.processes), args.engine),
    )
    problem = preflight(args.server, args.port, args.timeout)
    if problem:
        raise RunFailed(problem, load_plan)
    return Prepared(program, load_plan, warm_plan)


def _warmup(
    args: LoadArgs,
    runner: Runner,
    argvs: list[tuple[ProcessPlan, list[str]]],
    load_plan: Plan,
    told: tuple[float | None, float | None],
) -> Warmup:
    """Run the warm-up from its instant; stop what still runs WARMUP_CUTOFF_S before the
    measurement's instant (the warm-up is not measured, and must not overlap the measurement).
    Returns its brief result."""
    start, measure = told
    if start:
        wait_until(start, [runner])
    began = time.time()
    if not runner.stop_requested:
        assert measure is not None
        # The warm-up always gets its full duration; only a tail past it is cut (a warm-up that
        # started late makes the measurement late, and the lateness is reported).
        runner.start(argvs, max(args.warmup, measure - WARMUP_CUTOFF_S - began))
        runner.wait()
    warm_args = replace(args, duration=args.warmup, start_at=start)
    out = build_result(
        warm_args, load_plan, runner.procs, error=runner.stop_requested, started_at=began,
        warnings=[],
    )  # fmt: skip
    return Warmup(
        error=out.error,
        request_rate=out.request_rate,
        reply_rate=out.reply_rate,
        errors=out.errors,
        client_limited=out.client_limited,
        test_duration_s=out.test_duration_s,
        start_at=out.start_at,
        started_at=out.started_at,
        start_lateness_s=out.start_lateness_s,
    )


def _measure(
    args: LoadArgs,
    metrics: Metrics,
    prepared: Prepared,
    runners: tuple[Runner, Runner],
    start: StartSignal,
) -> tuple[LoadArgs, float, Warmup | None]:
    """Wait for the instants, run the warm-up and then the measurement; (the run's arguments
    with the instant it was told, when its processes started, the warm-up's result)."""
    warm_runner, runner = runners
    load_plan, warm_plan = prepared.load_plan, prepared.warm_plan
    warmup: Warmup | None = None
    with tempfile.TemporaryDirectory(prefix="testbed-load-") as tmp:
        argvs = _argvs(args, load_plan, tmp, "load", prepared.program)
        warm_argvs = _argvs(args, warm_plan, tmp, "warmup", prepared.program) if warm_plan else []
        budget = args.duration + (load_plan.longest_session + 1) * args.timeout + WATCHDOG_SLACK_S
        metrics.phase.set("waiting")
        try:
            told = instants(args, runners, start)
        except (RequestError, OSError) as exc:
            raise RunFailed(f"start file {args.start_file!r}: {exc}", load_plan) from None
        if warm_plan is not None and not runner.stop_requested:
            metrics.phase.set("running")
            warmup = _warmup(args, warm_runner, warm_argvs, warm_plan, told)
            metrics.phase.set("waiting")
            if warm_runner.stop_requested:  # interrupted: a warm-up that overran is only cut
                raise RunFailed(warm_runner.stop_requested, load_plan)
        args = replace(args, start_at=told[1])
        if args.start_at:
            log.info("waiting %.3fs for the start instant", max(args.start_at - time.time(), 0))
            wait_until(args.start_at, runners)
        if runner.stop_requested:
            raise RunFailed(runner.stop_requested, load_plan)
        started_at = time.time()
        metrics.phase.set("running")
        metrics.started.set(started_at)
        try:
            runner.start(argvs, budget)
        except OSError as exc:
            runner.kill()
            runner.wait()
            raise RunFailed(f"cannot start {args.engine}: {exc}", load_plan) from None
        runner.wait()
    return args, started_at, warmup


def run(
    args: LoadArgs,
    metrics: Metrics,
    start: StartSignal | None = None,
    *,
    signals: bool = True,
) -> tuple[LoadResult, int]:
    """Do the run (a warm-up first when asked); returns (its result, exit status). With
    ``signals`` SIGTERM and SIGINT stop it (a one-shot agent); the load service stops its runs
    through ``start`` instead, and keeps serving."""
    runner = Runner(metrics, name=args.engine)
    warm_runner = Runner(metrics, kill_grace_s=WARMUP_CUTOFF_S / 2, name=args.engine)
    start = start or StartSignal()
    start.attach((warm_runner, runner))

    def on_signal(signum: int, frame: FrameType | None) -> None:
        start.stop(f"interrupted by {signal.Signals(signum).name}")

    if signals:
        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
    try:
        prepared = _prepare(args, metrics)
        measured, started_at, warmup = _measure(
            args, metrics, prepared, (warm_runner, runner), start
        )
    except RunFailed as failed:
        log.error("%s", failed)
        metrics.phase.set("failed")
        out = build_result(
            args, failed.load_plan, [], error=str(failed), started_at=None, warnings=[]
        )
        return out, 1
    out = build_result(
        measured,
        prepared.load_plan,
        runner.procs,
        error=runner.stop_requested,
        started_at=started_at,
        warnings=prepared.load_plan.warnings,
    )
    out = replace(out, warmup=warmup)
    _log_end(out, metrics)
    return out, 1 if out.error is not None else 0


def _log_end(out: LoadResult, metrics: Metrics) -> None:
    failed = out.error is not None
    metrics.phase.set("failed" if failed else "done")
    if failed:
        log.error("%s", out.error)
        return
    issued = out.session_rate.issued if out.session_rate else out.request_rate.issued
    log.info(
        "done: %s replies, issued %s %s, reply rate %s/s; client_limited=%s %s",
        out.totals.replies if out.totals else None,
        issued,
        out.rate_unit,
        out.reply_rate.total if out.reply_rate else None,
        out.client_limited,
        list(out.client_limited_reasons),
    )
