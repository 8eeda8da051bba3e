"""`LoadArgs`, the load run the agent is asked for: frozen, and bounded by limits defined once
(`agents.load.args`), which the command line and a service's run requests both refuse with
the same one line."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest

from agents.load import cli
from agents.load.args import (
    DURATION,
    MAX_PROCESSES,
    RATE,
    TIMEOUT,
    WARMUP,
    ArgsError,
    Bound,
    LoadArgs,
)
from agents.load.request import RequestError, parse_run

GOOD: dict[str, Any] = dict(
    server="198.18.1.1", port=80, workload="one-byte", rate=625.0, duration=20.0, timeout=2.0,
    uri="/one-byte",
)  # fmt: skip
ARGV = "--server 198.18.1.1 --port 80 --workload one-byte --rate 625 --duration 20 --timeout 2"
REQUEST = {"id": "12-1", "workload": "one-byte", "rate": 625, "duration": 20, "timeout": 2}


def refused(**changes: Any) -> str:
    with pytest.raises(ArgsError) as caught:
        LoadArgs(**{**GOOD, **changes})
    line = str(caught.value)
    assert line and "\n" not in line, line
    return line


def cli_refusal(flag: str, value: str, capsys: pytest.CaptureFixture[str]) -> str:
    argv = ARGV.split()
    if flag in argv:
        argv[argv.index(flag) + 1] = value
    else:
        argv += [flag, value]
    with pytest.raises(SystemExit) as caught:
        cli.parse_args(argv)
    assert caught.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    return err


def request_refusal(field: str, value: object) -> str:
    with pytest.raises(RequestError) as caught:
        parse_run(json.dumps({**REQUEST, field: value}))
    return str(caught.value)


def test_the_command_line_is_parsed_once_into_frozen_args() -> None:
    args, serving = cli.parse_args(ARGV.split())
    assert args == LoadArgs(**GOOD)  # the one-byte URI by default
    assert serving.port == 9181 and serving.control_key_file is None
    name = "start_at"  # (mypy refuses `args.start_at = ...` already)
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(args, name, 1.0)
    told = dataclasses.replace(args, start_at=1_800_000_000.0)
    assert told.start_at == 1_800_000_000.0 and args.start_at is None


@pytest.mark.parametrize(
    ("bound", "flag", "text", "value"),
    [
        (RATE, "--rate", "0", 0),
        (RATE, "--rate", "2000000", 2_000_000),
        (DURATION, "--duration", "86401", 86_401),
        (TIMEOUT, "--timeout", "3601", 3601),
        (WARMUP, "--warmup", "-1", -1),
    ],
)
def test_a_bound_is_refused_alike_by_the_command_line_a_request_and_the_args(
    bound: Bound, flag: str, text: str, value: float, capsys: pytest.CaptureFixture[str]
) -> None:
    line = f"{bound.name} {text}: {bound.expected()}"
    assert request_refusal(bound.name, value) == line
    assert refused(**{bound.name: value}) == line
    assert f"argument {flag}: '{text}': {bound.expected()}" in cli_refusal(flag, text, capsys)


def test_processes_and_cpus_have_one_bound_each(capsys: pytest.CaptureFixture[str]) -> None:
    too_many = MAX_PROCESSES + 1
    assert f"expected an integer from 1 to {MAX_PROCESSES}" in refused(processes=too_many)
    assert f"or an integer from 1 to {MAX_PROCESSES}" in request_refusal("processes", too_many)
    assert f"to {MAX_PROCESSES}" in cli_refusal("--processes", str(too_many), capsys)
    assert refused(processes=0).startswith("processes 0:")
    assert refused(cpus=(0, 5000)).startswith("cpus 5000:")
    assert refused(cpus=()).startswith("cpus []:")
    assert "CPU numbers" in request_refusal("cpus", [5000])


def test_what_no_edge_should_let_through_is_refused_with_one_line() -> None:
    assert "must start with /" in refused(uri="one-byte")
    assert "must start with /" in refused(uri="/a b")
    assert "only for workload specweb99" in refused(sessions="/etc/shadow")
    assert "only for workload one-byte" in refused(workload="specweb99", uri="/x")
    assert "required with workload specweb99" in refused(workload="specweb99", uri=None)
    assert "holds no session" in refused(workload="specweb99", uri=None, sessions="/s")
    assert "expected one of httperf, tbload" in refused(engine="wrk")
    assert "expected one of one-byte, specweb99" in refused(workload="many-bytes")
    assert refused(rate=True).startswith("rate true:")  # a bool is never a number here
    assert refused(starved_below=101.0).startswith("starved_below 101.0:")
    specweb = LoadArgs(**{**GOOD, "workload": "specweb99", "uri": None}, session_list=(("/a",),))
    assert specweb.rate_unit == "sessions/s"
