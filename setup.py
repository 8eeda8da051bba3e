"""Build hook: the wheel carries what the orchestrator needs at run time as package data.

The dashboards, the playbooks and the sources of the server, tbload and linkem live at the top
of the repository (where people edit them and the other tools look for them); a wheel copies
them under `orchestrator/data/`, where `orchestrator.paths.resource` finds them through
importlib.resources, with the git revision it was built from in `orchestrator/data/REVISION`.
Everything else is in pyproject.toml.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent
# What each directory ships: only sources, never build outputs or caches.
SHIPPED = {
    "dashboards": ["*.json"],
    "playbooks": ["**/*"],
    "server": ["*.c", "*.h", "Makefile"],
    "tbload": ["*.c", "*.h", "Makefile"],
    "linkem": ["*.c", "*.h", "Makefile"],
}


def shipped_files(name: str) -> list[Path]:
    root = HERE / name
    found = {path for pattern in SHIPPED[name] for path in root.glob(pattern) if path.is_file()}
    return sorted(p for p in found if "__pycache__" not in p.parts and p.suffix != ".pyc")


def built_revision() -> str:
    try:
        git = ["git", "-C", str(HERE)]
        found = subprocess.run([*git, "rev-parse", "HEAD"], capture_output=True, text=True)
        dirty = subprocess.run(
            [*git, "status", "--porcelain", "--untracked-files=no"], capture_output=True, text=True
        )
    except OSError:
        return "unknown"
    revision = found.stdout.strip() or "unknown"
    return f"{revision}-dirty" if revision != "unknown" and dirty.stdout.strip() else revision


class BuildWithData(build_py):  # type: ignore[misc]
    def run(self) -> None:
        super().run()
        data = Path(self.build_lib) / "orchestrator" / "data"
        if data.exists():
            shutil.rmtree(data)
        for name in SHIPPED:
            for source in shipped_files(name):
                target = data / source.relative_to(HERE)
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source, target)
        if (HERE / ".git").exists():
            (data / "REVISION").write_text(built_revision() + "\n")
        elif (HERE / "REVISION").exists():  # an sdist made from a checkout
            shutil.copy2(HERE / "REVISION", data / "REVISION")


setup(cmdclass={"build_py": BuildWithData})
