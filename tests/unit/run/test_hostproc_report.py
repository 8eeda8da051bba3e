"""How tracked processes ended, parsed from the real output of `report_lines` run by sh over a
host directory with run files, as the sweep collects it over SSH."""

from __future__ import annotations

import subprocess
from pathlib import Path

from orchestrator.lab.remote import CommandResult
from orchestrator.run.commands import RUN_DIR
from orchestrator.run.hostproc import describe_exit, parse_report, report_lines

CAPTURED = (Path(__file__).parent / "fixtures" / "hostproc-report.txt").read_text()


def result(stdout: str, error: str | None = None) -> CommandResult:
    return CommandResult("client1", "report", 0, stdout, "", error, 0.1)


def test_the_captured_report_parses() -> None:
    found = parse_report(result(CAPTURED), ["load", "server", "idle"])
    assert found["load"].exit_code == 0 and found["load"].output == '{"reply_rate": 1}'
    assert "FD_SETSIZE" in found["load"].errors
    assert found["server"].exit_code == 137
    assert found["server"].reason.startswith("killed by SIGKILL")
    assert "Too many open files" in found["server"].reason
    assert found["idle"].exit_code is None  # still running: no exit file
    assert found["idle"].output == '{"connections": 250}'


def test_an_ssh_failure_is_every_process_s_reason() -> None:
    found = parse_report(result("", error="client1: connection refused"), ["load", "idle"])
    assert {f.ssh_error for f in found.values()} == {"client1: connection refused"}


def test_a_name_missing_from_the_output_is_reported_without_status() -> None:
    found = parse_report(result(CAPTURED), ["warmup"])
    assert found["warmup"].exit_code is None and found["warmup"].output == ""


def test_output_without_a_final_newline_keeps_the_next_mark(tmp_path: Path) -> None:
    """An agent that prints its JSON without a newline must not swallow the mark after it."""
    run = tmp_path / RUN_DIR
    run.mkdir()
    (run / "idle.out").write_text('{"connections": 250}')
    (run / "idle.err").write_text("no newline at the end either")
    (run / "load.exit").write_text("0\n")
    (run / "load.out").write_text("{}\n")
    script = "\n".join(report_lines(["idle", "load"]))
    text = subprocess.run(
        ["sh", "-c", script], cwd=tmp_path, capture_output=True, text=True, check=True
    ).stdout
    found = parse_report(result(text), ["idle", "load"])
    assert found["idle"].output == '{"connections": 250}'
    assert found["idle"].errors == "no newline at the end either"
    assert found["load"].exit_code == 0 and found["load"].output == "{}"


def test_exit_statuses_read_as_people_say_them() -> None:
    assert describe_exit(None) == "no exit status"
    assert describe_exit(1) == "exit status 1"
    assert describe_exit(143) == "killed by SIGTERM"
