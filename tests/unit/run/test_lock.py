"""The lab's run lock: exclusive between processes, re-entrant within one, freed by death."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from orchestrator.run.lock import LabLock, LockHeld

HOLD = (
    "import sys, time; sys.path.insert(0, '.');"
    "from orchestrator.run.lock import LabLock;"
    "lock = LabLock('locked', purpose='nightly'); lock.acquire();"
    "print('held', flush=True); time.sleep(60)"
)


def hold_in_another_process(state: Path) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        [sys.executable, "-c", HOLD],
        cwd=Path(__file__).parents[3],
        env={**os.environ, "TESTBED_STATE_DIR": str(state)},
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None and process.stdout.readline().strip() == "held"
    return process


def test_a_second_run_is_refused_with_exit_status_3(state_dir: Path) -> None:
    holder = hold_in_another_process(state_dir)
    try:
        with pytest.raises(LockHeld) as refused:
            LabLock("locked").acquire()
        assert refused.value.exit_code == 3
        assert f"`orchestrate nightly` (pid {holder.pid})" in refused.value.message
        assert LabLock.holder("locked") is not None
    finally:
        holder.kill()
        holder.communicate()


def test_a_lock_left_by_a_dead_run_is_free(state_dir: Path) -> None:
    holder = hold_in_another_process(state_dir)
    holder.send_signal(signal.SIGKILL)
    holder.communicate()
    time.sleep(0.1)
    assert LabLock.holder("locked") is None
    with LabLock("locked"):
        pass


def test_the_lock_is_reentrant_within_one_process(state_dir: Path) -> None:
    with LabLock("mine", purpose="nightly"), LabLock("mine", purpose="up"):
        assert LabLock.holder("mine") is not None
    with LabLock("mine"):  # released completely
        pass


def test_status_only_looks_at_the_lock_never_takes_it(
    state_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`orchestrate status` asks LabLock.holder: it must never flock, not even for an instant
    in which a starting nightly run would find the lab busy and exit 3."""

    def never(*args: object) -> None:
        raise AssertionError("holder() took the lock")

    assert LabLock.holder("locked") is None  # never run here: no file, nothing created
    assert not (state_dir / "locked").exists()
    holder = hold_in_another_process(state_dir)
    try:
        monkeypatch.setattr("orchestrator.run.lock.fcntl.flock", never)
        seen = LabLock.holder("locked")
        assert seen is not None and f"(pid {holder.pid})" in seen
    finally:
        holder.kill()
        holder.communicate()
    assert LabLock.holder("locked") is None  # the dead run's lock is free, seen without taking
