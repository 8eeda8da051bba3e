"""One run per lab at a time: an exclusive lock file in the lab's state directory.

    with LabLock(lab.name):        # raises LockHeld when another run of the lab holds it
        ...

The lock is an flock(2) on an open file, so the kernel releases it when its holder dies, even by
SIGKILL: a lock left by a dead run is simply free again. The file records the holder's pid and
what it is doing, for the message the next run prints.
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from pathlib import Path
from types import TracebackType

from orchestrator.errors import TestbedError
from orchestrator.paths import lab_state_dir

EXIT_LOCKED = 3
PROC_LOCKS = Path("/proc/locks")
_HELD: dict[str, int] = {}  # lab -> how many LabLocks of this process hold it (re-entrant)


class LockHeld(TestbedError):
    """Another run of the same lab is in progress."""

    def __init__(self, message: str) -> None:
        super().__init__(message, exit_code=EXIT_LOCKED)


class LabLock:
    """The run lock of one lab; see the module docstring."""

    def __init__(self, lab_name: str, purpose: str = "up") -> None:
        self.path: Path = lab_state_dir(lab_name) / "run.lock"
        self.lab_name = lab_name
        self.purpose = purpose
        self._fd: int | None = None
        self._nested = False

    def acquire(self) -> None:
        """Take the lock; this process may take it again (nightly holds it around `up`)."""
        if _HELD.get(self.lab_name):
            _HELD[self.lab_name] += 1
            self._nested = True
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = self._holder(fd)
            os.close(fd)
            raise LockHeld(f"lab '{self.lab_name}' is busy: {holder} (lock {self.path})") from None
        os.ftruncate(fd, 0)
        record = {"pid": os.getpid(), "purpose": self.purpose, "since": time.time()}
        os.write(fd, json.dumps(record).encode())
        self._fd = fd
        _HELD[self.lab_name] = 1

    def release(self) -> None:
        if self._nested:
            _HELD[self.lab_name] -= 1
            self._nested = False
        elif self._fd is not None:
            os.close(self._fd)  # closing drops the flock; the file stays for the next run
            self._fd = None
            _HELD.pop(self.lab_name, None)

    def __enter__(self) -> LabLock:
        self.acquire()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()

    @classmethod
    def holder(cls, lab_name: str, locks: Path = PROC_LOCKS) -> str | None:
        """Who holds the lab's lock now, or None when it is free.

        Only looks: the kernel's table of locks (`/proc/locks`) says whether the file is
        flocked, so a read (`orchestrate status`) never takes the lock, even for an instant in
        which a starting nightly run would find the lab busy and exit 3."""
        lock = cls(lab_name)
        if _HELD.get(lab_name):
            return f"this process (pid {os.getpid()})"
        try:
            fd = os.open(lock.path, os.O_RDONLY)
        except OSError:
            return None  # no lock file: nobody ever ran this lab here
        try:
            if not _flocked(os.fstat(fd), locks):
                return None
            return f"{cls._holder(fd)} (lock {lock.path})"
        finally:
            os.close(fd)

    @staticmethod
    def _holder(fd: int) -> str:
        try:
            record = json.loads(os.pread(fd, 4096, 0) or b"{}")
            since = time.strftime("%H:%M:%S", time.localtime(record["since"]))
            return f"`orchestrate {record['purpose']}` (pid {record['pid']}) runs since {since}"
        except (ValueError, KeyError, OSError):
            return "another orchestrate run holds it"


def _flocked(stat: os.stat_result, locks: Path) -> bool:
    """Whether /proc/locks lists an flock on the file of `stat` (device and inode).

    Lines read `1: FLOCK  ADVISORY  WRITE 4242 08:01:1234567 0 EOF`; the device is major:minor
    in hex. Without /proc (not Linux), the holder's pid recorded in the file is asked instead."""
    try:
        table = locks.read_text()
    except OSError:
        return True  # cannot tell without taking the lock: say held, and let the record speak
    wanted = (os.major(stat.st_dev), os.minor(stat.st_dev), stat.st_ino)
    for line in table.splitlines():
        fields = line.split()
        if len(fields) < 6 or fields[1] != "FLOCK" or fields[1:2] == ["->"]:
            continue
        try:
            major, minor, inode = fields[5].split(":")
            found = (int(major, 16), int(minor, 16), int(inode))
        except ValueError:
            continue
        if found == wanted:
            return True
    return False
