"""Shared fixtures: lab files written into a test's own directory."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.labtools import stop_background_orchestrators


@pytest.fixture(autouse=True)
def no_orchestrator_outlives_its_test() -> Iterator[None]:
    yield
    stop_background_orchestrators()


@pytest.fixture
def state_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private TESTBED_STATE_DIR for the test."""
    state = tmp_path / "state"
    monkeypatch.setenv("TESTBED_STATE_DIR", str(state))
    return state
