"""The host keys of a lab of machines, in the user's own `~/.ssh/known_hosts`.

    record_host_keys("machines", ["198.18.16.10 ssh-ed25519 AAAA..."])   # at `lab up`
    forget_host_keys("machines")                                         # at `lab down`

A physical lab's keys are in `~/.ssh/known_hosts` because the user put them there; the
orchestrator (Fabric) and Ansible (OpenSSH) read that file and nothing else. A lab of machines
puts its keys there too, between two marker lines naming the lab, so the same code path checks
them; `lab down` removes exactly that block. The file is rewritten whole (a temporary file
renamed over it) under a lock, so two labs never lose each other's lines.
"""

from __future__ import annotations

import fcntl
import os
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path


def known_hosts_path() -> Path:
    return Path.home() / ".ssh" / "known_hosts"


def markers(lab_name: str) -> tuple[str, str]:
    return (
        f"# testbed lab {lab_name}: host keys written by `orchestrate lab up`",
        f"# testbed lab {lab_name}: end (removed by `orchestrate lab down`)",
    )


def without_block(text: str, lab_name: str) -> list[str]:
    """The lines of `text` outside the lab's block (a pure function)."""
    begin, end = markers(lab_name)
    kept, inside = [], False
    for line in text.splitlines():
        if line == begin:
            inside = True
        elif line == end and inside:
            inside = False
        elif not inside:
            kept.append(line)
    return kept


def with_block(text: str, lab_name: str, entries: Sequence[str]) -> list[str]:
    """`text` with the lab's block replaced by `entries` (a pure function)."""
    begin, end = markers(lab_name)
    return [*without_block(text, lab_name), begin, *entries, end]


def other_entries_for(text: str, lab_name: str, addresses: Sequence[str]) -> list[str]:
    """Lines outside the lab's block that name one of `addresses`: an older key for the same
    address that SSH would also consult."""
    wanted = set(addresses)
    found = []
    for line in without_block(text, lab_name):
        if line.startswith("#") or not line.strip():
            continue
        if wanted & set(line.split()[0].split(",")):
            found.append(line)
    return found


def record_host_keys(lab_name: str, entries: Sequence[str]) -> Path:
    path = known_hosts_path()
    _rewrite(path, lambda text: with_block(text, lab_name, entries))
    return path


def forget_host_keys(lab_name: str) -> None:
    path = known_hosts_path()
    if path.exists():
        _rewrite(path, lambda text: without_block(text, lab_name))


def _rewrite(path: Path, change: Callable[[str], list[str]]) -> None:
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    directory = os.open(path.parent, os.O_RDONLY)  # the lock: the file itself is replaced
    try:
        fcntl.flock(directory, fcntl.LOCK_EX)
        text = path.read_text() if path.exists() else ""
        lines = change(text)
        if lines == text.splitlines():
            return
        with tempfile.NamedTemporaryFile(
            "w", dir=path.parent, prefix=".known_hosts.", delete=False
        ) as temporary:
            temporary.write("".join(f"{line}\n" for line in lines))
        os.chmod(temporary.name, 0o644)
        os.replace(temporary.name, path)
    finally:
        os.close(directory)  # releases the lock
