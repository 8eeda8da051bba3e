"""The commands the sweep sends for a load run, as strings."""

from __future__ import annotations

import shlex

from orchestrator.config.plan import expand
from orchestrator.run import commands
from orchestrator.run.commands import LoadRun
from tests.support.labfiles import default_lab

LAB = default_lab(routes=list)


def load_argv(warmup: float) -> list[str]:
    point = next(p for p in expand(LAB.experiment, seed=1) if p.workload == "one-byte")
    run = LoadRun(point, 250.0, 5.0, warmup, commands.start_file("3-1"), 2.0, 7.3, False)
    return commands.load_run_args(LAB, LAB.clients[0], run)


def test_one_agent_run_waits_for_its_start_file_and_warms_up_first() -> None:
    argv = load_argv(1.0)
    assert argv[argv.index("--start-file") + 1] == "run/start-3-1"
    assert argv[argv.index("--warmup") + 1] == "1"
    assert argv[argv.index("--duration") + 1] == "5"
    assert "--start-at" not in argv
    assert "--warmup" not in load_argv(0.0)


def test_the_start_file_is_written_whole_and_older_ones_removed() -> None:
    line = commands.start_command(LAB.clients[0], "run/start-3-1", 1800000000.25, 1800000001.75)
    assert line.startswith(f"cd {shlex.quote(LAB.clients[0].directory)} && mkdir -p run && ")
    assert "rm -f run/start-*;" in line
    assert "printf '%s %s\\n' 1800000000.250 1800000001.750 >run/start-3-1.tmp" in line
    assert line.endswith("&& mv run/start-3-1.tmp run/start-3-1")
