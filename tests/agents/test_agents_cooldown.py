"""The cooldown the load service runs between points (`agents.cooldown`): with `ss` faked on
PATH, it looks at one socket while waiting, counts them all once, and never waits past its
maximum; the wait itself on a fake clock."""

from __future__ import annotations

from pathlib import Path

import pytest

from agents import cooldown
from tests.support.agents import fake_ss


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_it_waits_until_no_socket_is_left_and_then_counts_once() -> None:
    clock, looks, counts = Clock(), [True, True, True, False], []
    waited, left = cooldown.cool_down(
        5.0, lambda: looks.pop(0), lambda: counts.append(1) or 0, clock, clock.sleep
    )
    assert (waited, left) == (pytest.approx(3 * cooldown.LOOK_EVERY), 0)
    assert looks == [] and counts == [1]


def test_it_never_waits_past_its_maximum() -> None:
    clock = Clock()
    waited, left = cooldown.cool_down(1.0, lambda: True, lambda: 42, clock, clock.sleep)
    assert 1.0 <= waited < 1.0 + cooldown.LOOK_EVERY + 1e-9 and left == 42


def test_ss_is_ended_after_one_socket_and_listed_whole_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", f"{fake_ss(tmp_path, 3000)}:/usr/bin:/bin")
    assert cooldown.any_time_wait()
    assert cooldown.count_time_wait() == 3000
    calls = (tmp_path / "calls").read_text().splitlines()
    assert calls == ["call", "call", "listed 3000"], calls  # the first look listed nothing more


def test_no_socket_means_none_present(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", f"{fake_ss(tmp_path, 0)}:/usr/bin:/bin")
    assert not cooldown.any_time_wait()
    assert cooldown.count_time_wait() == 0
