"""Packing the project's sources that lab hosts need, for the playbooks to copy.

Each component (the agents package, the server's sources) becomes one tar file: a playbook
copies one file per host instead of one round trip per source file, and unpacks it only when it
changed. The archives are deterministic (sorted entries, fixed owners and modes, the sources'
own modification times), so an unchanged tree gives a byte-identical archive and a second
provisioning run changes nothing. Modification times are kept so `make` on the host rebuilds
exactly when a source changed. Only sources go in: no build outputs, caches or tests.
"""

from __future__ import annotations

import io
import tarfile
from collections.abc import Iterable
from pathlib import Path

from orchestrator.paths import REPOSITORY


def agents_files(repository: Path) -> list[Path]:
    root = repository / "agents"
    return sorted(p for p in root.rglob("*.py") if "__pycache__" not in p.parts)


def server_files(repository: Path) -> list[Path]:
    root = repository / "server"
    patterns = ("*.c", "*.h", "Makefile")
    return sorted(path for pattern in patterns for path in root.glob(pattern))


def stage_sources(destination: Path, repository: Path = REPOSITORY) -> Path:
    """Write `agents.tar` and `server.tar` into `destination`; return `destination`."""
    destination.mkdir(parents=True, exist_ok=True)
    for name, files in (
        ("agents", agents_files(repository)),
        ("server", server_files(repository)),
    ):
        data = _archive(files, repository)
        target = destination / f"{name}.tar"
        if not target.exists() or target.read_bytes() != data:
            target.write_bytes(data)
    return destination


def _archive(files: Iterable[Path], repository: Path) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for path in files:
            info = tarfile.TarInfo(str(path.relative_to(repository)))
            stat = path.stat()
            info.size = stat.st_size
            info.mtime = int(stat.st_mtime)
            info.mode = 0o644
            info.uid = info.gid = 0
            info.uname = info.gname = "root"
            with path.open("rb") as source:
                archive.addfile(info, source)
    return buffer.getvalue()
