"""The idle-connection agent's loop in-process, over UNIX sockets: no agent process, no server
(the end-to-end tests are in live/test_agents_idle.py)."""

from __future__ import annotations

import contextlib
import socket
import time
from pathlib import Path

from agents.idle.agent import IdleAgent
from agents.idle.metrics import Metrics


def test_agent_loop_counts_reopens_and_registers_instant_connects(tmp_path: Path) -> None:
    """The loop itself, in-process, over UNIX sockets: their connect() completes at once (the
    path TCP takes only sometimes on loopback), and the server side closes 5 of 20."""
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(str(tmp_path / "sock"))
    listener.listen(64)
    listener.setblocking(False)
    metrics = Metrics()
    agent = IdleAgent(str(tmp_path / "sock"), socket.AF_UNIX, 20, metrics)
    accepted: list[socket.socket] = []
    closed = False
    deadline = time.monotonic() + 10

    def step() -> bool:
        nonlocal closed
        with contextlib.suppress(BlockingIOError):
            while True:
                accepted.append(listener.accept()[0])
        if not closed and agent.n_open == 20 and len(accepted) == 20:
            for conn in accepted[:5]:
                conn.close()
            closed = True
        done = closed and agent.stats.reopened == 5 and agent.n_open == 20
        return done or time.monotonic() > deadline

    try:
        agent.run(step)
    finally:
        for conn in accepted:
            conn.close()
        listener.close()
    assert closed
    assert agent.stats.reopened == agent.stats.closed_by_server == 5
    assert agent.stats.opened == 25
    assert agent.stats.max_open == 20
    summary = agent.summary()
    assert summary["reopen_delay_s"]["count"] == 5 and summary["reopen_delay_s"]["max"] < 1
    assert summary["errors"]["total"] == 0
    assert metrics.registry.get_sample_value("testbed_idle_connections_reopened_total") == 5
    assert metrics.registry.get_sample_value("testbed_idle_connections_open") == 0  # closed
