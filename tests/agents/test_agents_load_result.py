"""`LoadResult`, the load agent's one JSON object as typed data (`agents.load.result`): built
from real httperf and tbload output, it survives the trip through JSON unchanged; a version
this code does not know is refused with one line; a result stored by an older agent still
decodes, its missing fields at their documented defaults."""

from __future__ import annotations

import dataclasses
import json
import types
from pathlib import Path
from typing import Any, cast

import pytest

from agents.load.args import TBLOAD, LoadArgs
from agents.load.build import build_result
from agents.load.plan import plan
from agents.load.result import SCHEMA, VERSION, LoadResult, LoadResultError, Warmup
from agents.load.runner import Proc

GOLDEN = Path(__file__).parent / "golden"
SCHEDULE = "tbload: schedule late-max-ms 84.000 late-p99-ms 31.5 late-starts 240 of 1200 kept no"


def built(engine: str, outputs: list[str], warmup: bool = False) -> LoadResult:
    """The result of a run whose processes printed `outputs` (no process is started)."""
    args = LoadArgs(
        server="198.18.1.1", port=80, workload="one-byte", uri="/one-byte", rate=300.0,
        duration=6.0, timeout=2.0, engine=engine, host="client1", start_at=1.0,
    )  # fmt: skip
    load_plan = plan(
        workload="one-byte", rate=300, duration=6, timeout=2, processes=len(outputs), cpus=None,
        cpus_available=2, engine=engine,
    )  # fmt: skip
    procs = []
    for index, output in enumerate(outputs):
        popen = cast("Any", types.SimpleNamespace(pid=4242 + index, returncode=0))
        proc = Proc(
            load_plan.processes[index], ["x"], popen, 0, 1.0, 99.0, out=bytearray(output.encode())
        )
        proc.open_streams, proc.ended_at = 0, 7.0
        procs.append(proc)
    out = build_result(args, load_plan, procs, error=None, started_at=1.2, warnings=["w"])
    if warmup:
        out = dataclasses.replace(out, warmup=Warmup(error=None, request_rate=out.request_rate))
    return out


def golden(name: str) -> str:
    return (GOLDEN / f"{name}.txt").read_text()


CASES = {
    "httperf, two processes merged": lambda: built(
        "httperf", [golden("one-byte-split-0of2"), golden("one-byte-split-1of2")], warmup=True
    ),
    "tbload with its schedule": lambda: built(
        TBLOAD, [golden("one-byte-1sample").replace("httperf --", "tbload --") + SCHEDULE]
    ),
    "a run that failed": lambda: build_result(
        LoadArgs("198.18.1.1", 80, "one-byte", 10.0, 1.0, 1.0, uri="/one-byte"),
        None,
        [],
        error="cannot connect",
        started_at=None,
        warnings=[],
    ),
}


@pytest.mark.parametrize("case", CASES)
def test_a_result_survives_the_trip_through_json(case: str) -> None:
    result = CASES[case]()
    printed = json.loads(json.dumps(result.to_json()))
    assert LoadResult.from_json(printed) == result
    assert LoadResult.from_json(printed).to_json() == printed
    assert (printed["schema"], printed["version"]) == (SCHEMA, VERSION)


def test_the_figures_are_read_as_attributes() -> None:
    result = CASES["httperf, two processes merged"]()
    assert result.engine == "httperf" and result.processes == 2 and result.error is None
    assert result.replies == 1800 and result.reply_rate is not None
    assert result.request_rate.target == 300.0 and result.error_count("fd-unavail") == 0
    assert [run.client for run in result.runs] == ["0/2", "1/2"]
    assert result.warmup is not None and "warmup" in result.to_json()
    assert "warmup" not in CASES["tbload with its schedule"]().to_json()  # only when it ran


@pytest.mark.parametrize(
    ("stored", "says"),
    [
        ({"version": 2}, "load result version '2': this orchestrator reads version 1"),
        ({"schema": "testbed.load/7"}, "load result version '7'"),
        ({"version": "1"}, "load result version '1'"),  # a string is not a version
        ({"schema": "testbed.idle/1"}, "not a load agent's result"),
    ],
)
def test_a_version_it_does_not_know_is_refused_with_one_line(
    stored: dict[str, Any], says: str
) -> None:
    with pytest.raises(LoadResultError) as caught:
        LoadResult.from_json(stored)
    line = str(caught.value)
    assert says in line and "\n" not in line, line


def test_a_value_of_the_wrong_type_is_refused_naming_where() -> None:
    for stored, where in [
        ({"totals": {"replies": "many"}}, "totals.replies: expected int"),
        ({"client_limited_reasons": "fd-unavail"}, "client_limited_reasons: expected a list"),
        ({"runs": [{"overran": 1}]}, "runs[0].overran: expected bool"),
        ([], "a load result is a JSON object"),
    ]:
        with pytest.raises(LoadResultError, match=r"^" + where.replace("[", r"\[")):
            LoadResult.from_json(stored)


def kept(old: object, new: object) -> bool:
    """Whether `new` holds everything `old` held, at the same places (and maybe more)."""
    if isinstance(old, dict):
        return isinstance(new, dict) and all(k in new and kept(v, new[k]) for k, v in old.items())
    if isinstance(old, list):
        return isinstance(new, list) and len(old) == len(new) and all(map(kept, old, new))
    return old == new and type(old) is type(new)


def test_a_result_stored_by_an_older_agent_still_decodes() -> None:
    """A real result stored by the agent of 2026-12-01: no version, no engine, no schedule."""
    stored = json.loads((GOLDEN / "stored-load-result-2026-12-01.json").read_text())
    assert "version" not in stored and "engine" not in stored and "schedule" not in stored
    result = LoadResult.from_json(stored)
    assert (result.version, result.engine, result.schedule) == (1, "httperf", None)
    assert result.replies == stored["totals"]["replies"] > 0
    assert kept(stored, result.to_json())  # every stored value as it was (new fields beside)
    # What a sweep stored for a client with no result of its own but its link's mark
    marked = LoadResult.from_json({"client_limited": True, "link_emulator": "7 refused"})
    assert marked.client_limited and marked.client_limited_reasons == () and marked.runs == ()
    assert LoadResult.from_json({}) == LoadResult()
