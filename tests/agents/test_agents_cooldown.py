"""The cooldown the load service runs between points (`agents.load.cooldown`): the kernel's own
TIME_WAIT sockets counted in a network namespace of the test's own, the same count as `ss`; the
`ss` fallback with `ss` faked on PATH (one socket looked at while waiting, all counted once);
and the wait itself on a fake clock, never past its maximum."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from agents.load import cooldown
from tests.support.agents import REPO, fake_ss


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_it_waits_until_no_socket_is_left_and_then_counts_once() -> None:
    clock, looks = Clock(), [True, True, True, False]
    counts: list[int] = []

    def count() -> int:
        counts.append(1)
        return 0

    waited, left = cooldown.cool_down(5.0, lambda: looks.pop(0), count, clock, clock.sleep)
    assert waited == pytest.approx(3 * cooldown.LOOK_EVERY) and left == 0
    assert looks == [] and counts == [1]


def test_it_never_waits_past_its_maximum() -> None:
    clock = Clock()
    waited, left = cooldown.cool_down(1.0, lambda: True, lambda: 42, clock, clock.sleep)
    assert 1.0 <= waited < 1.0 + cooldown.LOOK_EVERY + 1e-9 and left == 42


# Runs in a new network namespace (its own loopback, no other socket): the counts are exact.
IN_A_NETNS = textwrap.dedent(
    """
    import json, socket, subprocess
    from agents.load import cooldown
    from tests.support.agents import make_time_wait
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    seen = {"empty": [cooldown.count_time_wait(), cooldown.any_time_wait()]}
    make_time_wait(3000)
    make_time_wait(7, socket.AF_INET6)
    ss = subprocess.run(cooldown.SS, capture_output=True, check=True).stdout.count(b"\\n")
    seen["made"] = [cooldown.count_time_wait(), cooldown.any_time_wait(), ss]
    seen["first"] = cooldown.time_wait_sockets(most=1)
    print(json.dumps(seen))
    """
)


def test_the_kernels_time_wait_sockets_are_counted_as_ss_counts_them() -> None:
    done = subprocess.run(
        ["unshare", "--net", sys.executable, "-c", IN_A_NETNS],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout)
    assert seen["empty"] == [0, False]
    assert seen["made"] == [3007, True, 3007]  # IPv4 and IPv6, as ss lists them
    assert seen["first"] == 1  # looking stops at the first socket


def refused(most: int | None = None) -> int:
    """`time_wait_sockets` on a kernel without sock_diag for TCP."""
    raise OSError(93, "sock_diag: Protocol not supported")


def test_ss_does_it_when_the_kernel_refuses_the_dump(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without sock_diag for TCP: ss, ended after one socket while looking, listed once."""
    monkeypatch.setattr(cooldown, "time_wait_sockets", refused)
    monkeypatch.setenv("PATH", f"{fake_ss(tmp_path, 3000)}:/usr/bin:/bin")
    assert cooldown.any_time_wait()
    assert cooldown.count_time_wait() == 3000
    calls = (tmp_path / "calls").read_text().splitlines()
    assert calls == ["call", "call", "listed 3000"], calls  # the first look listed nothing more


def test_no_socket_means_none_present(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cooldown, "time_wait_sockets", refused)
    monkeypatch.setenv("PATH", f"{fake_ss(tmp_path, 0)}:/usr/bin:/bin")
    assert not cooldown.any_time_wait()
    assert cooldown.count_time_wait() == 0
