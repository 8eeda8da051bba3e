"""The paper's interest-set handling (issue 12, item 4) and the per-call CPU profile (item 3),
checked on real one-byte runs: httperf, HTTP/1.0, one request per connection."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
from pathlib import Path

import pytest

from tests.support.userver import Userver, parse_httperf, read_response

CONNS = 300
OPS = "testbed_server_epoll_ctl_operations_total"


def one_byte_run(srv: Userver) -> tuple[dict[str, float], dict[str, float]]:
    """CONNS HTTP/1.0 connections of one request each; the counters before and after. httperf
    says "Connection: keep-alive" even in HTTP/1.0; the "close" added after it wins."""
    before = srv.metrics()
    r = subprocess.run(
        ["httperf", "--server", "127.0.0.1", "--port", str(srv.port), "--uri", "/one",
         "--http-version", "1.0", "--add-header", "Connection: close\\n",
         "--rate", "200", "--num-conns", str(CONNS), "--timeout", "10"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    res = parse_httperf(r.stdout)
    assert (res.replies, res.errors) == (CONNS, 0)
    srv.wait_metric("testbed_server_connections_open", lambda v: v == 0)
    return before, srv.metrics()


def ops(before: dict[str, float], after: dict[str, float], mech: str, via: str = "") -> float:
    """epoll interest operations between two snapshots (all, or those carried by `via`)."""
    total = 0.0
    for op in ("add", "mod", "del"):
        for v in ("epoll_ctl", "epoll_ctlv"):
            if via in ("", v):
                key = f'{OPS}{{op="{op}",via="{v}",mechanism="{mech}"}}'
                total += after[key] - before[key]
    return total


def calls(before: dict[str, float], after: dict[str, float], mech: str, name: str) -> float:
    key = f'testbed_server_syscalls_total{{syscall="{name}",mechanism="{mech}"}}'
    return after[key] - before[key]


def replies(before: dict[str, float], after: dict[str, float]) -> float:
    key = 'testbed_server_replies_total{status="200"}'
    return after[key] - before[key]


# The paper (section 3): epoll-LT changes interest at every state change (ADD for reading at
# accept, MOD to writing when the reply is ready, DEL at close); epoll-ET and epoll2 register
# read and write once (ADD, DEL); epoll-ctlv makes epoll-LT's changes, ADD and MOD batched.
EXPECTED = [
    ("epoll-lt", [], 3.0),
    ("epoll-et", [], 2.0),
    ("epoll2", [], 2.0),
    ("epoll-ctlv", [], 3.0),
    ("epoll-lt", ["--write-first"], 2.0),  # the modern shortcut: no MOD, the reply fits
    ("epoll-et", ["--write-first"], 2.0),
]


@pytest.mark.parametrize(("mechanism", "extra", "per_reply"), EXPECTED)
def test_epoll_ctl_operations_per_reply(
    mechanism: str, extra: list[str], per_reply: float, userver_bin: Path, docroot: Path
) -> None:
    srv = Userver(mechanism, docroot, extra=extra).start()
    try:
        before, after = one_byte_run(srv)
        n = replies(before, after)
        assert n == CONNS
        assert abs(ops(before, after, mechanism) / n - per_reply) <= 0.3
        if mechanism == "epoll-ctlv":
            # Deletions go by plain epoll_ctl before close; additions and modifications by
            # the batched submissions, never more submissions than operations.
            assert calls(before, after, mechanism, "epoll_ctl") == ops(
                before, after, mechanism, "epoll_ctl"
            )
            assert calls(before, after, mechanism, "epoll_ctlv") <= ops(
                before, after, mechanism, "epoll_ctlv"
            )
        else:
            # One operation, one system call.
            assert calls(before, after, mechanism, "epoll_ctl") == ops(before, after, mechanism)
    finally:
        assert srv.stop() == 0


def test_epoll_ctlv_carries_many_operations_per_submission(
    userver_bin: Path, docroot: Path
) -> None:
    """50 connections queue while the server is stopped: the round that accepts them submits
    their 50 ADDs in one epoll_ctlv, and their MODs to writing in another."""
    srv = Userver("epoll-ctlv", docroot).start()
    socks: list[socket.socket] = []
    try:
        before = srv.metrics()
        os.kill(srv.pid, signal.SIGSTOP)
        try:
            for _ in range(50):
                s = socket.create_connection(("127.0.0.1", srv.port), timeout=5)
                s.sendall(b"GET /one HTTP/1.0\r\n\r\n")
                socks.append(s)
        finally:
            os.kill(srv.pid, signal.SIGCONT)
        for s in socks:
            head, body = read_response(s, bytearray())
            assert head.startswith(b"HTTP/1.1 200") and body == b"x"
        srv.wait_metric("testbed_server_connections_open", lambda v: v == 0)
        after = srv.metrics()
        carried = ops(before, after, "epoll-ctlv", "epoll_ctlv")
        # An ADD and a MOD per connection (+1: a fresh server's listener ADD may be submitted
        # after the first scrape).
        assert 100 <= carried <= 101
        assert calls(before, after, "epoll-ctlv", "epoll_ctlv") < carried / 5
    finally:
        for s in socks:
            s.close()
        assert srv.stop() == 0


@pytest.mark.parametrize("mechanism", ["select", "epoll-lt", "epoll-et", "io_uring"])
def test_profile_switch_times_cpu_apart_from_blocked(
    mechanism: str, userver_bin: Path, docroot: Path
) -> None:
    """--profile-syscalls measures each call's CPU time apart from its wall time: cpu <= wall
    for every call, the wait spends most of its wall time blocked at this low rate; without the
    switch nothing is timed at all."""
    plain = Userver(mechanism, docroot).start()
    try:
        _, after = one_byte_run(plain)
        timed = [
            k
            for k, v in after.items()
            if "seconds" in k and k.startswith("testbed_server_syscall") and v
        ]
        assert timed == []
    finally:
        assert plain.stop() == 0

    srv = Userver(mechanism, docroot, extra=["--profile-syscalls"]).start()
    try:
        assert "syscall-timing=cpu" in srv.stderr_lines[0]
        before, after = one_byte_run(srv)
        assert replies(before, after) == CONNS
        seen = 0
        for key, value in after.items():
            if not key.startswith("testbed_server_syscalls_total{"):
                continue
            labels = key[key.index("{") :]
            n = value - before[key]
            wall = after["testbed_server_syscall_seconds_total" + labels]
            cpu = after["testbed_server_syscall_cpu_seconds_total" + labels]
            blocked = after["testbed_server_syscall_blocked_seconds_total" + labels]
            assert 0 <= cpu <= wall, key
            assert blocked == pytest.approx(wall - cpu, abs=1e-6), key
            if n > 0:
                seen += 1
                assert wall > 0, key
        assert seen >= 4  # accept4, read, sendmsg, close, the wait ...
        wait = {"select": "select", "io_uring": "io_uring_enter"}.get(mechanism, "epoll_wait")
        labels = f'{{syscall="{wait}",mechanism="{mechanism}"}}'
        # 300 connections at 200/s: the server is idle most of the time, inside its wait.
        assert (
            after["testbed_server_syscall_blocked_seconds_total" + labels]
            > after["testbed_server_syscall_cpu_seconds_total" + labels]
        )
        # Every call's CPU time is inside the process's CPU time: shares sum to <= 100 %.
        total_cpu = sum(
            v for k, v in after.items() if k.startswith("testbed_server_syscall_cpu_seconds")
        )
        # ... and so does the timing's own cost, which the profile reports apart.
        overhead = after["testbed_server_syscall_timing_cpu_seconds_total"]
        assert overhead > 0
        assert 0 < total_cpu + overhead <= after["process_cpu_seconds_total"]
    finally:
        assert srv.stop() == 0
