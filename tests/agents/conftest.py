"""Fixtures for the agents' tests: a generated docroot and our own nginx on it, and a server
that holds the connections it accepts (for the idle agent)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from agents import workloads
from tests.support.agents import FILESET_DIRECTORIES, FILESET_SEED, HoldingServer, Nginx


@pytest.fixture(scope="session")
def docroot(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The one-byte file and a 3-directory SPECweb99 file set (seed 1)."""
    root = tmp_path_factory.mktemp("docroot")
    workloads.write_fileset(root, FILESET_SEED, FILESET_DIRECTORIES)
    return root


@pytest.fixture
def nginx(docroot: Path) -> Iterator[Nginx]:
    """nginx (keep-alive) serving the docroot, logging every request's status and URI."""
    if shutil.which("nginx") is None:
        pytest.fail("nginx is not installed (Debian package nginx-light)")
    with Nginx(docroot, access_log=True) as server:
        yield server


@pytest.fixture
def holding_server() -> Iterator[HoldingServer]:
    """A local listener that accepts and holds connections, counting those open."""
    server = HoldingServer()
    yield server
    server.stop()
