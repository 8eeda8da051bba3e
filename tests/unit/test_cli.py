"""The CLI's own error handling: usage errors are one message and exit 2, never a traceback."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer

from orchestrator import ui
from orchestrator.cli import EXIT_CODES, app, main
from orchestrator.results.store import Store
from orchestrator.version import revision, version
from tests.support.labfiles import write_lab
from tests.support.report_stores import P, sweep_with


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["no-such-command"], "No such command 'no-such-command'"),
        (["up"], "Missing argument 'lab_file'"),
        (["up", "lab.yml", "--no-such-option"], "No such option: --no-such-option"),
    ],
)
def test_usage_errors_exit_2_with_a_message(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    errors = capsys.readouterr().err
    assert message in errors and "Traceback" not in errors


def test_help_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    assert "orchestrate" in capsys.readouterr().out


def test_ctrl_c_exits_130_with_a_message(capsys: pytest.CaptureFixture[str]) -> None:
    @app.command("interrupt-me", hidden=True)
    def interrupt_me() -> None:
        raise KeyboardInterrupt

    assert main(["interrupt-me"]) == 130
    assert "error: interrupted" in capsys.readouterr().err


# -- conventions shared by every subcommand ------------------------------------------------------


@pytest.fixture(autouse=True)
def normal_verbosity() -> Iterator[None]:
    yield
    ui.set_verbosity(0)


def leaf_commands() -> list[list[str]]:
    """Every runnable subcommand's words, e.g. ["schedule", "add"]."""
    found = []

    def walk(command: Any, words: list[str]) -> None:
        children = getattr(command, "commands", None)
        if children is None:
            found.append(words)
            return
        for name, child in children.items():
            if not child.hidden:
                walk(child, [*words, name])

    walk(typer.main.get_command(app), [])
    return found


def test_every_subcommand_help_ends_with_its_exit_table(capsys: pytest.CaptureFixture[str]) -> None:
    commands = leaf_commands()
    assert ["schedule", "list"] in commands and ["up"] in commands and len(commands) >= 20
    for words in commands:
        assert main([*words, "-h"]) == 0, words
        out = capsys.readouterr().out
        table = out[out.index("Exit status:") :]
        codes = [int(line.split()[0]) for line in table.splitlines()[1:] if line.strip()]
        assert {0, 2, 130} <= set(codes), (words, table)
        assert set(codes) <= set(EXIT_CODES), (words, codes)
        assert "--verbose" in out and "-v" in out and "--quiet" in out and "-q" in out, words
    assert main(["up", "-h"]) == 0
    up = capsys.readouterr().out
    assert re.search(r"^\s*3\s+busy", up, re.M) and re.search(r"^\s*1\s+", up, re.M)
    assert main(["compare", "-h"]) == 0
    assert re.search(r"^\s*1\s+a curve is significantly worse", capsys.readouterr().out, re.M)


def test_format_is_a_choice_shown_in_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["export", "--help"]) == 0
    assert "[csv|json]" in capsys.readouterr().out
    assert main(["export", "nowhere", "--format", "xml"]) == 2
    assert "'xml' is not one of 'csv', 'json'" in capsys.readouterr().err


def test_version_names_the_package_version_and_revision(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["--version"]) == 0
    out = capsys.readouterr().out.strip()
    assert re.fullmatch(r"orchestrate \S+ \(revision \S+\)", out), out
    assert version() in out and revision() in out
    assert main(["version", "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert set(document) == {"orchestrator", "revision", "python", "dependencies"}
    assert document["dependencies"]["typer"] and document["revision"] == revision()


def test_completion_is_offered_and_completes(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    assert "--install-completion" in capsys.readouterr().out
    environment = {
        **os.environ,
        "_ORCHESTRATE_COMPLETE": "complete_bash",
        "COMP_WORDS": "orchestrate schedule ",
        "COMP_CWORD": "2",
    }
    done = subprocess.run(
        [sys.executable, "-m", "orchestrator.cli"], env=environment, capture_output=True, text=True
    )
    assert done.stdout.split() == ["add", "list", "remove"], done.stdout + done.stderr


def test_a_missing_results_store_is_bad_input(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for argv in (
        ["export", str(tmp_path)],
        ["report", str(tmp_path)],
        ["compare", str(tmp_path), "a", "b"],
        ["baseline", "show", str(tmp_path)],
        ["status", str(tmp_path / "no-lab.yml")],
    ):
        assert main(argv) == 2, argv
        assert "error: " in capsys.readouterr().err
    assert not (tmp_path / "testbed.sqlite").exists()


@pytest.fixture
def lab_file(tmp_path: Path) -> Path:
    return write_lab(tmp_path, name="unit", second_octet=19, third_base=240)


def test_status_of_a_lab_that_never_ran(lab_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["status", str(lab_file)]) == 0
    assert "no sweeps yet" in capsys.readouterr().out
    assert main(["status", str(lab_file), "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["lab"] == "unit" and document["sweeps"] == [] and document["running"] is None
    assert not (lab_file.parent / "results").exists()


def test_status_never_cuts_a_sweep_id(
    lab_file: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    store = Store.open(lab_file.parent / "results")
    points = [
        P("select", 1000, 990),
        P("poll", 1000, 400, status="failed"),
        P("epoll-lt", 1000, 700, status="saturated"),
    ]
    sweep = sweep_with(store, points)
    monkeypatch.setattr(ui.console, "width", 40)
    assert main(["status", str(lab_file)]) == 0
    assert sweep in capsys.readouterr().out
    assert main(["status", str(lab_file), "--json"]) == 0
    [row] = json.loads(capsys.readouterr().out)["sweeps"]
    assert row["sweep"] == sweep and (row["ok"], row["failed"], row["planned"]) == (1, 1, 3)
    assert (row["saturated"], row["client_limited"], row["done"]) == (1, 0, 3)
    assert set(row) == {
        "sweep", "kind", "status", "done", "planned", "ok", "saturated", "client_limited",
        "failed", "interrupted", "last",
    }  # fmt: skip


def test_compare_and_baseline_show_as_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = Store.open(tmp_path)
    points = [P("select", rate, min(rate, 5000)) for rate in (2000, 4000, 6000)]
    base = sweep_with(store, points, revision="aaaa")
    slower = sweep_with(store, [P("select", r, min(r, 2500)) for r in (2000, 4000, 6000)])
    assert main(["compare", str(tmp_path), base, slower, "--json"]) == 1
    document = json.loads(capsys.readouterr().out)
    assert {"base", "new", "threshold", "status", "regressed", "improved", "worse", "drift",
            "notes", "page", "curves"} <= set(document)  # fmt: skip
    assert document["status"] == "regressed" and document["worse"][0].startswith("one-byte/")
    assert document["drift"] == ["revision aaaa → deadbeef"]
    [curve] = document["curves"]
    assert curve["curve"] == "one-byte/idle=0/select" and curve["verdict"] == "worse"
    assert main(["compare", str(tmp_path), base, base, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["status"] == "no change"

    assert main(["baseline", "set", str(tmp_path), base, "-q"]) == 0
    assert capsys.readouterr().out == ""
    assert main(["baseline", "show", str(tmp_path), "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["baselines"] == [{"lab": "unit", "baseline": base, "how": "pinned"}]


def test_schedule_list_needs_no_lab(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schedule", "list"]) == 0
    assert capsys.readouterr().out.strip()
    assert main(["schedule", "add"]) == 2  # a lab file and --daily are needed to add


def test_a_run_log_holds_what_the_terminal_showed_and_debug_detail(tmp_path: Path) -> None:
    ui.capture()
    try:
        ui.console.print("sweep unit-1: 2 points")
        ui.warn("client3: slow")
        ui.debug("ssh client3: uptime")
        log = ui.log_to(tmp_path / "logs" / "unit-1.log")
        ui.console.print("ok select/one-byte")
        assert log is not None and log.stat().st_mode & 0o777 == 0o640
        text = log.read_text()
        for line in ("sweep unit-1: 2 points", "warning: client3: slow", "ssh client3: uptime"):
            assert line in text
        assert text.index("2 points") < text.index("ok select/one-byte")
    finally:
        ui.stop_capture()


def test_the_old_schedule_flags_still_mean_their_subcommands(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["schedule", "any-lab.yml", "--list"]) == 0
    assert capsys.readouterr().out.strip()
    assert main(["schedule", "no-such-lab.yml", "--daily", "02:30"]) == 2
    assert "no-such-lab.yml: lab file not found" in capsys.readouterr().err
    assert main(["schedule", "no-such-lab.yml", "--daily", "25:99"]) == 2
    assert "--daily: '25:99': expected a time HH:MM" in capsys.readouterr().err
