"""Fixtures for the userver functional tests: a built binary, a docroot, running servers."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.userver import MECHANISMS, REPO, USERVER, Userver

CLASS_BASE = [102, 1024, 10240, 102400]  # SPECweb99 classes: file i of class c is base*(i+1)


@pytest.fixture(scope="session")
def userver_bin() -> Path:
    subprocess.run(["make", "-s", "-C", str(REPO / "server"), "userver"], check=True)
    return USERVER


@pytest.fixture(scope="session")
def docroot(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A one-byte file, an index, one SPECweb99-like directory, and traps outside the root."""
    base = tmp_path_factory.mktemp("www")
    root = base / "docroot"
    root.mkdir()
    (root / "one").write_bytes(b"x")
    (root / "index.html").write_bytes(b"<h1>userver</h1>\n")
    d = root / "dir00000"
    d.mkdir()
    for c, size in enumerate(CLASS_BASE):
        for i in range(9):
            (d / f"class{c}_{i}").write_bytes(os.urandom(size * (i + 1)))
    (base / "secret").write_bytes(b"TOP-SECRET outside the docroot\n")
    (root / "escape").symlink_to(base / "secret")
    (root / "escape-rel").symlink_to("../secret")
    (root / "inside").symlink_to("dir00000/class0_0")
    return root


@pytest.fixture(scope="module", params=MECHANISMS)
def server(request: pytest.FixtureRequest, userver_bin: Path, docroot: Path) -> Iterator[Userver]:
    """One server per mechanism, shared by a module's tests; must stop cleanly afterwards."""
    srv = Userver(request.param, docroot).start()
    try:
        yield srv
    finally:
        rc = srv.stop()
        assert rc == 0, srv.stderr_lines
