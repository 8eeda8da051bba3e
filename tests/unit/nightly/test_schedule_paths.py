"""`orchestrate schedule` with paths that cron or systemd would read as something else: a
newline (a second cron line), `%` (cron's newline, systemd's specifiers), `$`, quotes, spaces.
Both formats refuse them (exit 2, one line) before writing anything; plain paths work."""

from __future__ import annotations

import datetime
import stat
from pathlib import Path

import pytest

from orchestrator.cli import main
from orchestrator.config.labfile import load_lab
from orchestrator.errors import TestbedError
from orchestrator.nightly.schedule import CRON_DIR, PREFIX, Scheduler, cron_file, systemd_units
from tests.support.labfiles import write_lab

HOSTILE_NAMES = [
    "a\n* * * * * root touch pwned\n",
    "fifty%done",
    "%h",
    "$HOME",
    "with space",
    "it's",
    'say"hi',
    "back\\slash",
    "semi;colon",
    "`tick`",
]
AT = datetime.time(2, 30)
LAB = "tbtest-schedpaths"


def scheduler(tmp_path: Path, systemd: bool) -> tuple[Scheduler, list[list[str]]]:
    calls: list[list[str]] = []
    (tmp_path / "cron.d").mkdir(exist_ok=True)
    (tmp_path / "systemd").mkdir(exist_ok=True)
    return (
        Scheduler(
            cron_dir=tmp_path / "cron.d",
            systemd_dir=tmp_path / "systemd",
            systemd=systemd,
            run=calls.append,
        ),
        calls,
    )


def refused(tmp_path: Path, lab_path: Path, systemd: bool) -> str:
    lab = load_lab(lab_path, routes=list)
    chosen, calls = scheduler(tmp_path, systemd)
    with pytest.raises(TestbedError) as caught:
        chosen.install(lab, AT)
    assert caught.value.exit_code == 2
    assert "\n" not in caught.value.message.replace("\\n", "")
    assert list((tmp_path / "cron.d").iterdir()) == []
    assert list((tmp_path / "systemd").iterdir()) == []
    assert calls == []
    for render in (cron_file, systemd_units):
        with pytest.raises(TestbedError):
            render(lab, AT)
    return caught.value.message


@pytest.mark.parametrize("systemd", [False, True], ids=["cron", "systemd"])
@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_hostile_lab_paths_are_refused_in_both_formats(
    tmp_path: Path, state_dir: Path, name: str, systemd: bool
) -> None:
    directory = tmp_path / name
    directory.mkdir()
    path = write_lab(directory, name=LAB, lab_changes={"emulate": False})
    message = refused(tmp_path, path, systemd)
    assert message.startswith("schedule: the lab file ")


@pytest.mark.parametrize("systemd", [False, True], ids=["cron", "systemd"])
def test_hostile_results_directory_and_state_dir_are_refused(
    tmp_path: Path, state_dir: Path, monkeypatch: pytest.MonkeyPatch, systemd: bool
) -> None:
    path = write_lab(
        tmp_path,
        name=LAB,
        lab_changes={"emulate": False, "results": {"directory": "res%n $x"}},
    )
    assert refused(tmp_path, path, systemd).startswith("schedule: the results directory ")
    path = write_lab(tmp_path, name=LAB, lab_changes={"emulate": False})
    monkeypatch.setenv("TESTBED_STATE_DIR", str(tmp_path / "state$%"))
    assert refused(tmp_path, path, systemd).startswith("schedule: TESTBED_STATE_DIR ")


@pytest.mark.parametrize("systemd", [False, True], ids=["cron", "systemd"])
def test_a_state_dir_whose_newline_resolve_folds_away_is_refused(
    tmp_path: Path, state_dir: Path, monkeypatch: pytest.MonkeyPatch, systemd: bool
) -> None:
    """`resolve()` turns this value into a plain path (the `..` drops the component that holds
    the newline); the raw value, which the entry would carry, is what must be checked."""
    path = write_lab(tmp_path, name=LAB, lab_changes={"emulate": False})
    raw = f"{tmp_path}/state\n* * * * * root touch pwned/.."
    assert str(Path(raw).resolve()) == str(tmp_path)  # what the old check looked at
    monkeypatch.setenv("TESTBED_STATE_DIR", raw)
    message = refused(tmp_path, path, systemd)
    assert message.startswith("schedule: TESTBED_STATE_DIR ") and "'\\n'" in message


def test_the_entry_carries_the_resolved_state_dir(
    tmp_path: Path, state_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lab = load_lab(write_lab(tmp_path, name=LAB, lab_changes={"emulate": False}), routes=list)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TESTBED_STATE_DIR", "relative-state")
    [job] = [line for line in cron_file(lab, AT).splitlines() if line.startswith("30 2 ")]
    assert f" TESTBED_STATE_DIR={tmp_path}/relative-state " in job


def test_plain_paths_give_one_cron_line_and_one_exec_line(tmp_path: Path, state_dir: Path) -> None:
    directory = tmp_path / "lab_v1.2+x,y=z@h:1"
    directory.mkdir()
    lab = load_lab(write_lab(directory, name=LAB, lab_changes={"emulate": False}), routes=list)
    chosen, _ = scheduler(tmp_path, systemd=False)
    chosen.install(lab, AT)
    text = (tmp_path / "cron.d" / f"{PREFIX}{LAB}").read_text()
    jobs = [line for line in text.splitlines() if line and not line.startswith("#")]
    assert [line.split("=")[0] for line in jobs[:2]] == ["SHELL", "PATH"]
    assert len(jobs) == 3 and jobs[2].startswith("30 2 * * * root umask 027; cd ")
    log = lab.results_directory / "nightly" / "cron.log"
    assert stat.S_IMODE(log.stat().st_mode) == 0o640  # private before cron first appends
    service = systemd_units(lab, AT)[f"{PREFIX}{LAB}.service"]
    assert len([line for line in service.splitlines() if line.startswith("ExecStart=")]) == 1
    assert "%" not in service and "$" not in service


def test_the_cli_refuses_in_one_line_and_writes_no_cron_entry(
    tmp_path: Path, state_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    directory = tmp_path / "new\nline"
    directory.mkdir()
    path = write_lab(directory, name=LAB, lab_changes={"emulate": False})
    try:
        code = main(["schedule", str(path), "--daily", "02:30"])
    finally:
        leaked = CRON_DIR / f"{PREFIX}{LAB}"
        written = leaked.exists()
        leaked.unlink(missing_ok=True)
    err = capsys.readouterr().err
    assert code == 2 and not written
    assert len(err.strip().splitlines()) == 1 and err.startswith("error: schedule: the lab file")
