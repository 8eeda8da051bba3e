"""The cooldown between points, on the host it runs on: wait until the host holds no TIME_WAIT
socket, at most a given time, and say how long that took and how many are left.

The load service answers it over HTTP (``GET /cooldown``), so a client cools down without an
SSH session and a shell per point; hosts without a service run the orchestrator's shell form of
the same wait (``orchestrator.run.commands.cooldown_script``), which this follows step for step:

- the TIME_WAIT state itself is counted with ``ss``, not sockstat's ``tw`` (orphaned FIN-WAIT-2
  sockets count there);
- while waiting only the first socket is read and ``ss`` is then ended: after a point a client
  holds tens of thousands, and listing them all five times a second on eight clients sharing a
  core took that core; they are counted once, at the end.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable

SS = ["ss", "-Htan", "state", "time-wait"]
LOOK_EVERY = 0.2  # seconds between looks while sockets are left


def any_time_wait() -> bool:
    """Whether the host holds a TIME_WAIT socket: ss is ended after its first byte."""
    with subprocess.Popen(SS, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL) as ss:
        assert ss.stdout is not None
        first = ss.stdout.read(1)
        ss.kill()
    return bool(first)


def count_time_wait() -> int:
    """The host's TIME_WAIT sockets, all listed once."""
    done = subprocess.run(SS, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, check=False)
    return done.stdout.count(b"\n")


def cool_down(
    max_seconds: float,
    present: Callable[[], bool] = any_time_wait,
    count: Callable[[], int] = count_time_wait,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> tuple[float, int]:
    """Wait until no TIME_WAIT socket is left, at most `max_seconds`; (seconds waited,
    sockets left)."""
    start = clock()
    while present() and clock() - start < max_seconds:
        sleep(LOOK_EVERY)
    waited = clock() - start
    return waited, count()
