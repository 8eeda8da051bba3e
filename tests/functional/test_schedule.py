"""`orchestrate schedule` against a real cron daemon, and the systemd units it generates."""

from __future__ import annotations

import datetime
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from orchestrator.config.labfile import load_lab
from orchestrator.nightly.schedule import CRON_DIR, PREFIX
from orchestrator.run.lock import LabLock
from tests.support.labfiles import write_lab
from tests.support.labtools import free_third_octet, orchestrate

LAB_NAME = "tbtest-cron"


@pytest.fixture
def cron(tmp_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    """Debian's cron daemon, in the foreground, stopped (by its pid) after the test."""
    daemon = subprocess.Popen(["cron", "-f"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        yield daemon
    finally:
        daemon.terminate()
        daemon.wait(timeout=10)
        (CRON_DIR / f"{PREFIX}{LAB_NAME}").unlink(missing_ok=True)


def test_schedule_installs_once_lists_runs_under_cron_and_removes(
    tmp_path: Path, cron: subprocess.Popen[bytes], state_dir: Path
) -> None:
    path = write_lab(tmp_path, name=LAB_NAME, second_octet=19, third_base=free_third_octet())
    lab = load_lab(path)
    # Cron reads a new file when it wakes at the next minute and runs what is due then: the
    # next minute, unless the two installs and the listing below (a few seconds) could end
    # past it. One firing is the point; a later minute only makes the test wait.
    now = datetime.datetime.now()
    ahead = 1 if now.second < 50 else 2
    when = (now + datetime.timedelta(minutes=ahead)).strftime("%H:%M")

    for _ in range(2):  # installing twice leaves one entry
        result = orchestrate("schedule", "add", str(path), "--daily", when, state=state_dir)
        assert result.returncode == 0, result.stderr
    entry = CRON_DIR / f"{PREFIX}{LAB_NAME}"
    jobs = [line for line in entry.read_text().splitlines() if " root " in line]
    assert len(jobs) == 1 and jobs[0].startswith(f"{int(when[3:])} {int(when[:2])} * * * root ")
    listed = orchestrate("schedule", "list", state=state_dir)
    assert listed.returncode == 0 and f"every day at {when}" in listed.stdout
    assert listed.stdout.count(f"{PREFIX}{LAB_NAME}") == 1

    # Cron runs the nightly command at that minute. The test holds the lab's run lock, so the
    # run stops at once with "busy" (exit 3) and touches no host; its log shows cron ran it.
    log = lab.results_directory / "nightly" / "cron.log"
    with LabLock(LAB_NAME, purpose="test"):
        deadline = time.time() + 60 * ahead + 30
        while time.time() < deadline and not (log.exists() and "is busy" in log.read_text()):
            assert cron.poll() is None, "cron died"
            time.sleep(1)
    assert log.exists() and f"lab '{LAB_NAME}' is busy" in log.read_text()

    removed = orchestrate("schedule", "remove", str(path), state=state_dir)
    assert removed.returncode == 0 and "removed" in removed.stdout
    assert not entry.exists()
    after = orchestrate("schedule", "list", state=state_dir)
    assert after.returncode == 0 and f"{PREFIX}{LAB_NAME}" not in after.stdout


def test_systemd_units_are_generated_and_verify(tmp_path: Path, state_dir: Path) -> None:
    path = write_lab(tmp_path, name=LAB_NAME, second_octet=19, third_base=free_third_octet())
    try:
        result = orchestrate("schedule", "add", str(path), "--daily", "02:30", state=state_dir)
        assert result.returncode == 0, result.stderr
    finally:
        (CRON_DIR / f"{PREFIX}{LAB_NAME}").unlink(missing_ok=True)
    units = sorted((state_dir / LAB_NAME / "systemd").glob(f"{PREFIX}*"))
    assert [unit.suffix for unit in units] == [".service", ".timer"]
    assert "OnCalendar=*-*-* 02:30:00" in units[1].read_text()
    verify = subprocess.run(
        ["systemd-analyze", "verify", *map(str, units)], capture_output=True, text=True
    )
    assert verify.returncode == 0, verify.stdout + verify.stderr
    broken = tmp_path / f"{PREFIX}broken.service"
    broken.write_text(units[0].read_text().replace("ExecStart=/bin/sh", "ExecStart=sh-relative"))
    assert (
        subprocess.run(["systemd-analyze", "verify", str(broken)], capture_output=True).returncode
        != 0
    )  # the check can fail


def test_bad_time_is_refused(tmp_path: Path, state_dir: Path) -> None:
    path = write_lab(tmp_path, name=LAB_NAME, second_octet=19, third_base=free_third_octet())
    result = orchestrate("schedule", "add", str(path), "--daily", "25:99", state=state_dir)
    assert result.returncode == 2
    assert result.stderr.strip() == "error: --daily: '25:99': expected a time HH:MM"
    assert not (CRON_DIR / f"{PREFIX}{LAB_NAME}").exists()
