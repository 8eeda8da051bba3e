"""The commands the sweep sends for a load run, as strings, and its run request."""

from __future__ import annotations

import dataclasses
import json
import shlex

from agents.load.request import LoadRequest, parse_run
from orchestrator.config.model import TBLOAD, LoadGenerator
from orchestrator.config.plan import expand
from orchestrator.run import commands
from orchestrator.run.commands import LoadRun
from tests.support.labfiles import default_lab

LAB = default_lab(routes=list)


def load_request(warmup: float) -> LoadRequest:
    point = next(p for p in expand(LAB.experiment, seed=1) if p.workload == "one-byte")
    run = LoadRun(point, 250.0, 5.0, warmup, 2.0, 7.3, False)
    return commands.load_run_request(LAB, LAB.clients[0], "3-1", run)


def test_one_run_warms_up_first_and_its_request_passes_the_service_s_check() -> None:
    request = load_request(1.0)
    assert (request.id, request.workload, request.rate) == ("3-1", "one-byte", 250.0)
    assert (request.warmup, request.duration, request.timeout) == (1.0, 5.0, 2.0)
    assert load_request(0.0).warmup == 0
    assert parse_run(request.to_json()) == request  # what the service reads is what was meant
    # the target, the files and the key are the service's command line's, never a run's
    assert not {"server", "port", "sessions", "start_file", "key"} & set(
        json.loads(request.to_json())
    )


def test_the_start_file_is_written_whole_where_the_service_was_told_to_read_it() -> None:
    line = commands.start_command(LAB.clients[0], 1800000000.25, 1800000001.75)
    assert line.startswith(f"cd {shlex.quote(LAB.clients[0].directory)} && mkdir -p run && ")
    assert "printf '%s %s\\n' 1800000000.250 1800000001.750 >run/load.start.tmp" in line
    assert line.endswith("&& mv run/load.start.tmp run/load.start")
    service = shlex.split(commands.load_service_command(LAB, LAB.clients[0]))
    assert service[service.index("--start-file") + 1] == commands.LOAD_START_FILE


def test_the_load_service_runs_the_lab_files_engine_fixed_at_its_start() -> None:
    service = shlex.split(commands.load_service_command(LAB, LAB.clients[0]))
    assert service[service.index("--engine") + 1] == LAB.load.engine
    tb = dataclasses.replace(LAB, load=LoadGenerator(TBLOAD))
    service = shlex.split(commands.load_service_command(tb, tb.clients[0]))
    assert service[service.index("--engine") + 1] == "tbload"
    assert "engine" not in json.loads(load_request(0.0).to_json())  # never a run's to choose
