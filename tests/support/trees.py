"""A directory tree as data, to show that code which was refused changed nothing in it."""

from __future__ import annotations

import os
import stat
from pathlib import Path


def snapshot(top: Path) -> dict[str, tuple[int, bytes | str]]:
    """Every path under `top` (links not followed): its type and mode, and its bytes (a
    regular file) or its target (a link)."""
    found: dict[str, tuple[int, bytes | str]] = {}
    for directory, names, files in os.walk(top):
        for name in names + files:
            path = Path(directory) / name
            info = path.lstat()
            if stat.S_ISLNK(info.st_mode):
                content: bytes | str = os.readlink(path)
            elif stat.S_ISREG(info.st_mode):
                content = path.read_bytes()
            else:
                content = ""
            found[str(path.relative_to(top))] = (info.st_mode, content)
    return found
