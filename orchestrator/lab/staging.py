"""Packing the project's sources that lab hosts need, for the playbooks to copy.

Each component (the agents package, the server's sources, tbload's sources) becomes one tar
file: a playbook copies one file per host instead of one round trip per source file, and unpacks
it only when it changed. The archives are deterministic (sorted entries, fixed owners and modes,
the sources' own modification times), so an unchanged tree gives a byte-identical archive and a
second provisioning run changes nothing. Modification times are kept so `make` on the host
rebuilds exactly when a source changed. Only sources go in: no build outputs, caches or tests.

The sources come from `orchestrator.paths.resource`: the checkout, or the installed package.
"""

from __future__ import annotations

import io
import tarfile
from collections.abc import Iterable
from pathlib import Path

from orchestrator.paths import resource


def agents_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*.py") if "__pycache__" not in p.parts)


def server_files(root: Path) -> list[Path]:
    patterns = ("*.c", "*.h", "Makefile")
    return sorted(path for pattern in patterns for path in root.glob(pattern))


def stage_sources(destination: Path) -> Path:
    """Write `agents.tar`, `server.tar` and `tbload.tar` into `destination`; return it. Each
    is part of the provisioning fingerprint (`lab.provision`): a changed source provisions
    again."""
    destination.mkdir(parents=True, exist_ok=True)
    components = (("agents", agents_files), ("server", server_files), ("tbload", server_files))
    for name, list_files in components:
        root = resource(name)
        data = _archive(name, list_files(root), root)
        target = destination / f"{name}.tar"
        if not target.exists() or target.read_bytes() != data:
            target.write_bytes(data)
    return destination


def _archive(name: str, files: Iterable[Path], root: Path) -> bytes:
    """A tar of `files` under `name/`, whatever directory `root` they come from."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for path in files:
            info = tarfile.TarInfo(f"{name}/{path.relative_to(root).as_posix()}")
            stat = path.stat()
            info.size = stat.st_size
            info.mtime = int(stat.st_mtime)
            info.mode = 0o644
            info.uid = info.gid = 0
            info.uname = info.gname = "root"
            with path.open("rb") as source:
                archive.addfile(info, source)
    return buffer.getvalue()
