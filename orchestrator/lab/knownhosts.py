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

import contextlib
import fcntl
import os
import stat
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
    """The lines of `text` outside the lab's block (a pure function). A begin marker with no
    end after it (a file cut short, an edit by hand) is dropped alone: what follows it is the
    user's as far as anyone can tell, and is kept."""
    begin, end = markers(lab_name)
    lines = text.splitlines()
    kept, index = [], 0
    while index < len(lines):
        if lines[index] == begin:
            closing = next((at for at in range(index + 1, len(lines)) if lines[at] == end), None)
            index = index + 1 if closing is None else closing + 1
        else:
            kept.append(lines[index])
            index += 1
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
    """Replace the file's text with `change(text)`: a temporary file renamed over it, so a
    reader sees the old or the new file, never half of one. A symlinked known_hosts (dotfiles
    kept elsewhere) stays a link: its target is what is replaced. The file keeps its mode and
    owner; a new one gets 0644, as ssh makes it."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    directory = os.open(path.parent, os.O_RDONLY)  # the lock: the file itself is replaced
    try:
        fcntl.flock(directory, fcntl.LOCK_EX)
        target = Path(os.path.realpath(path))
        text = target.read_text() if target.exists() else ""
        lines = change(text)
        if lines == text.splitlines():
            return
        mode, owner = 0o644, None
        if target.exists():
            found = target.stat()
            mode, owner = stat.S_IMODE(found.st_mode), (found.st_uid, found.st_gid)
        with tempfile.NamedTemporaryFile(
            "w", dir=target.parent, prefix=".known_hosts.", delete=False
        ) as temporary:
            os.fchmod(temporary.fileno(), mode)
            if owner is not None and owner != (os.geteuid(), os.getegid()):
                with contextlib.suppress(PermissionError):  # only root can give a file away
                    os.fchown(temporary.fileno(), *owner)
            temporary.write("".join(f"{line}\n" for line in lines))
        os.replace(temporary.name, target)
    finally:
        os.close(directory)  # releases the lock
