"""The load agent with tbload, its pure parts: the schedule line, the summary parsed as httperf's,
one process per client, tbload's command line, its own verdict and the JSON that says which
engine ran. tbload's output here is httperf's golden output under tbload's name, as tbload's
contract says it prints."""

from __future__ import annotations

import dataclasses
import types
from pathlib import Path
from typing import Any, cast

import pytest

from agents.load import httperf
from agents.load.args import LoadArgs
from agents.load.build import build_result
from agents.load.plan import (
    TBLOAD,
    TBLOAD_PROGRAM,
    httperf_argv,
    plan,
    tbload_verdict,
    verdict,
)
from agents.load.request import RequestError, parse_run
from agents.load.result import LoadResult
from agents.load.runner import Proc
from agents.load.service import Fixed, LoadService
from agents.load.tbload import Schedule, merge_schedules, parse_schedule

GOLDEN = Path(__file__).parent / "golden"
# Lines as tbload printed them before the bound was part of them (it was 10 ms), and after.
KEPT = "tbload: schedule late-max-ms 0.412 late-p99-ms 0.051 late-starts 3 of 1200 kept yes"
BEHIND = "tbload: schedule late-max-ms 84.000 late-p99-ms 31.5 late-starts 240 of 1200 kept no"
BOUNDED = (
    "tbload: schedule late-max-ms 25.3 late-p99-ms 14.9 late-bound-ms 45.0 late-starts 0 of 8400"
    " kept yes"
)


def tbload_output(golden: str, schedule: str | None = KEPT) -> str:
    """A golden httperf output as tbload prints it: its own name, then its schedule line."""
    lines = [
        line.replace("httperf --", "tbload --", 1)
        for line in (GOLDEN / f"{golden}.txt").read_text().splitlines()
        if not line.startswith("httperf:")  # httperf's FD_SETSIZE notes: tbload has no limit
    ]
    return "\n".join([*lines, *([schedule] if schedule else [])]) + "\n"


def test_the_schedule_line_parses_and_its_absence_is_none() -> None:
    assert parse_schedule(tbload_output("one-byte-1sample")) == Schedule(
        0.412, 0.051, 3, 1200, True
    )
    assert parse_schedule(BEHIND) == Schedule(84.0, 31.5, 240, 1200, False)
    assert parse_schedule(tbload_output("one-byte-1sample", schedule=None)) is None
    assert parse_schedule("tbload: schedule late-max-ms x late-p99-ms 1 late-starts 1 of 2") is None


def test_the_late_bound_is_read_from_the_line_and_is_10_ms_on_older_lines() -> None:
    kept = parse_schedule(BOUNDED)
    assert kept == Schedule(25.3, 14.9, 0, 8400, True, late_bound_ms=45.0)
    assert parse_schedule(KEPT) == Schedule(0.412, 0.051, 3, 1200, True, late_bound_ms=10.0)
    assert kept is not None
    assert merge_schedules([kept, Schedule(0.4, 0.05, 3, 1200, True)]).late_bound_ms == 45.0


def test_tbloads_summary_parses_unchanged_as_httperfs() -> None:
    text = tbload_output("one-byte-1sample")
    ours, theirs = httperf.parse(text), httperf.parse((GOLDEN / "one-byte-1sample.txt").read_text())
    assert ours.command is not None and ours.command.startswith("tbload --")
    assert (ours.replies, ours.reply_rate_total, ours.errors) == (
        theirs.replies,
        theirs.reply_rate_total,
        theirs.errors,
    )
    assert ours.messages == ()  # the schedule line is tbload's verdict, not a message


def test_schedules_of_processes_side_by_side_merge_to_the_worst() -> None:
    a, b = Schedule(0.4, 0.05, 3, 1200, True), Schedule(84.0, 31.5, 240, 1200, False)
    assert merge_schedules([a, b]) == Schedule(84.0, 31.5, 243, 2400, False)
    assert merge_schedules([a, a]).kept


def test_one_tbload_process_carries_a_clients_share_whatever_the_rate() -> None:
    # httperf needs a process per 10,000 requests/s and per 1,000 descriptors (rate x timeout)
    httperf_plan = plan(
        workload="one-byte", rate=30_000, duration=4, timeout=2, processes=None, cpus=None,
        cpus_available=8,
    )  # fmt: skip
    assert len(httperf_plan.processes) == 8
    tb = plan(
        workload="one-byte", rate=30_000, duration=4, timeout=2, processes=None, cpus=None,
        cpus_available=8, engine=TBLOAD,
    )  # fmt: skip
    assert len(tb.processes) == 1 and tb.processes[0].count == 120_000
    assert tb.engine == TBLOAD and tb.warnings == ()


def test_tbload_takes_httperfs_command_line_under_its_own_name() -> None:
    tb = plan(
        workload="one-byte", rate=6250, duration=4, timeout=2, processes=None, cpus=None,
        cpus_available=1, engine=TBLOAD,
    )  # fmt: skip
    argv = httperf_argv(tb, tb.processes[0], "198.18.1.1", 80, "/one-byte", None, TBLOAD_PROGRAM)
    assert argv == [
        *(TBLOAD_PROGRAM, "-v", "--server", "198.18.1.1", "--port", "80", "--client", "0/1"),
        *("--timeout", "2", "--rate", "6250", "--uri", "/one-byte"),
        *("--num-conns", "25000", "--num-calls", "1"),
        "--client-close",  # httperf's request and closing order: the same work for the server
    ]


def test_a_tbload_client_is_limited_only_by_its_own_verdict() -> None:
    ok = httperf.parse(tbload_output("one-byte-1sample"))
    kept, behind = parse_schedule(KEPT), parse_schedule(BEHIND)
    assert kept is not None and behind is not None
    assert tbload_verdict([(ok, kept)]).reasons == []
    # Its CPU share says nothing: it sleeps between starts (httperf's rule would call it
    # starved), and an issued-rate estimate is not its verdict either.
    idle = dataclasses.replace(ok, cpu=dataclasses.replace(ok.cpu, total_pct=7.0))
    assert verdict([(idle, 150, 200)], 200).client_limited
    assert not tbload_verdict([(idle, kept)]).client_limited
    assert tbload_verdict([(ok, kept), (ok, behind)]).reasons == ["behind-schedule"]
    no_fds = dataclasses.replace(ok, errors=dataclasses.replace(ok.errors, fd_unavail=9))
    no_ports = dataclasses.replace(ok, errors=dataclasses.replace(ok.errors, addrunavail=2))
    assert tbload_verdict([(no_fds, kept), (no_ports, kept)]).reasons == [
        "fd-unavail",
        "addrunavail",
    ]


def _args(engine: str) -> LoadArgs:
    return LoadArgs(
        host="client1", server="198.18.1.1", port=80, workload="one-byte", uri="/one-byte",
        rate=200.0, duration=6.0, timeout=2.0, starved_below=90.0, engine=engine,
    )  # fmt: skip


def _result(engine: str, output: str) -> LoadResult:
    args = _args(engine)
    load_plan = plan(
        workload="one-byte", rate=200, duration=6, timeout=2, processes=None, cpus=None,
        cpus_available=1, engine=engine,
    )  # fmt: skip
    popen = cast("Any", types.SimpleNamespace(pid=4242, returncode=0))
    proc = Proc(
        load_plan.processes[0], ["tbload"], popen, 0, 1.0, 99.0, out=bytearray(output, "ascii")
    )
    proc.open_streams, proc.ended_at = 0, 7.0
    return build_result(args, load_plan, [proc], error=None, started_at=1.0, warnings=[])


def test_the_result_says_which_engine_ran_and_carries_its_schedule() -> None:
    out = _result(TBLOAD, tbload_output("one-byte-1sample", BEHIND))
    assert out.engine == TBLOAD and out.error is None
    assert out.replies == 1200
    assert out.schedule == Schedule(84.0, 31.5, 240, 1200, kept=False)
    assert out.to_json()["schedule"] == {
        "late_max_ms": 84.0, "late_p99_ms": 31.5, "late_starts": 240, "starts": 1200,
        "kept": False, "late_bound_ms": 10.0,
    }  # fmt: skip
    # A result stored before the bound was recorded reads back with the bound of its day.
    stored = out.to_json()
    del stored["schedule"]["late_bound_ms"]
    assert LoadResult.from_json(stored).schedule == out.schedule
    assert out.runs[0].schedule is not None and out.runs[0].schedule.kept is False
    assert (out.client_limited, out.client_limited_reasons) == (True, ("behind-schedule",))
    httperf_out = _result("httperf", (GOLDEN / "one-byte-1sample.txt").read_text())
    assert httperf_out.engine == "httperf" and httperf_out.schedule is None


def test_a_tbload_summary_without_its_schedule_line_is_a_parse_error() -> None:
    out = _result(TBLOAD, tbload_output("one-byte-1sample", schedule=None))
    assert out.error is not None and "tbload: schedule" in out.error
    assert out.client_limited is None


def test_no_run_request_can_choose_the_engine() -> None:
    body = '{"id": "1-1", "workload": "one-byte", "rate": 10, "duration": 1, "timeout": 1, '
    with pytest.raises(RequestError, match="'engine': fixed when the service starts"):
        parse_run(body + '"engine": "tbload"}')


def test_the_service_gives_every_run_the_engine_it_was_started_with() -> None:
    service = LoadService(Fixed("198.18.1.1", 80, "run/load.start", engine=TBLOAD))
    body = '{"id": "1-1", "workload": "one-byte", "rate": 10, "duration": 1, "timeout": 1}'
    assert service.arguments(parse_run(body)).engine == TBLOAD
