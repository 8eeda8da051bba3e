"""The orchestrator's version and the git revision it was built from.

    >>> version()          # "0.1.0", from the installed package's metadata
    >>> revision()         # "3db71fb…", "…-dirty" for uncommitted changes, or "unknown"

A checkout asks git; a wheel carries the revision it was built from in `orchestrator/data/REVISION`
(written by setup.py), since site-packages has no git history.
"""

from __future__ import annotations

import importlib.metadata
import importlib.resources
import platform
import re
from typing import Any

from orchestrator import local
from orchestrator.errors import TestbedError
from orchestrator.paths import REPOSITORY

DISTRIBUTION = "testbed"


def version() -> str:
    try:
        return importlib.metadata.version(DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def revision() -> str:
    """The project's git revision, '-dirty' when the tree has uncommitted changes."""
    if (REPOSITORY / ".git").exists():  # a checkout (a worktree's .git is a file)
        return git_revision()
    baked = importlib.resources.files("orchestrator").joinpath("data", "REVISION")
    try:
        return baked.read_text().strip() or "unknown"
    except OSError:
        return "unknown"


def git_revision() -> str:
    def git(*args: str) -> str:
        return local.run(["git", "-C", str(REPOSITORY), *args], check=False, timeout=10).stdout

    try:
        found = git("rev-parse", "HEAD").strip() or "unknown"
        dirty = git("status", "--porcelain", "--untracked-files=no").strip()
    except TestbedError:
        return "unknown"
    return f"{found}-dirty" if dirty else found


def dependencies() -> dict[str, str]:
    """The installed version of each Python dependency the package declares (extras aside)."""
    try:
        requirements = importlib.metadata.requires(DISTRIBUTION) or []
    except importlib.metadata.PackageNotFoundError:
        return {}
    found = {}
    for requirement in requirements:
        if "extra ==" in requirement:
            continue
        name = re.split(r"[\s<>=!~;\[(]", requirement, maxsplit=1)[0]
        try:
            found[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            found[name] = "missing"
    return dict(sorted(found.items()))


def local_versions() -> dict[str, Any]:
    """What the orchestrator runs with: `orchestrate version --json`, and settings["versions"]
    of every sweep (where each host's httperf, kernel and compiler versions join it)."""
    return {
        "orchestrator": version(),
        "revision": revision(),
        "python": platform.python_version(),
        "dependencies": dependencies(),
    }
