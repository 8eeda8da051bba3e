"""tbload beside httperf, one after the other against the same real userver (epoll-ET), each
driven by the load agent as a lab drives it: at a rate both sustain they get the same reply rate
within a few percent (what the server did does not depend on who asked), and tbload costs the
client less CPU per request (httperf spins its core; tbload sleeps between starts). The numbers
are printed, side by side, with the server's CPU per reply under each (`pytest -s`)."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agents import workloads
from tests.support.agents import REPO, run_module
from tests.support.userver import Userver

RATE = 2000.0  # requests/s: one httperf process and one tbload keep it on a busy 2-core machine
DURATION = 4.0
TOLERANCE = 0.03  # "a few percent"
REPLIES = 'testbed_server_replies_total{status="200"}'


@pytest.fixture(scope="module")
def userver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Userver]:
    for directory in ("server", "tbload"):
        subprocess.run(["make", "-s", "-C", str(REPO / directory)], check=True)
    docroot = tmp_path_factory.mktemp("docroot")
    workloads.write_fileset(docroot, 1, 1)
    server = Userver("epoll-et", docroot).start()
    try:
        yield server
    finally:
        server.stop()


def cpu_seconds(pid: int) -> float:
    """The process's user and system CPU so far, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def load(engine: str, server: Userver) -> tuple[dict[str, Any], float]:
    """One agent run with `engine`: its JSON and the server's CPU seconds per reply."""
    before_cpu = cpu_seconds(server.pid)
    before = server.metrics()[REPLIES]
    args = ["--server", "127.0.0.1", "--port", str(server.port), "--workload", "one-byte"]
    args += ["--rate", f"{RATE:g}", "--duration", f"{DURATION:g}", "--timeout", "2"]
    args += ["--engine", engine, "--metrics-port", "0", "--starved-below", "0"]
    out = run_module("agents.load", args, timeout=DURATION + 30)
    assert out.returncode == 0, out.stderr[-2000:]
    result: dict[str, Any] = json.loads(out.stdout)
    replies = server.metrics()[REPLIES] - before
    return result, (cpu_seconds(server.pid) - before_cpu) / max(replies, 1)


def test_both_engines_get_the_same_reply_rate_from_the_same_server(userver: Userver) -> None:
    httperf, httperf_cost = load("httperf", userver)
    tbload, tbload_cost = load("tbload", userver)
    rows = []
    for name, result, cost in (("httperf", httperf, httperf_cost), ("tbload", tbload, tbload_cost)):
        assert result["engine"] == name and result["error"] is None
        assert result["errors"]["total"] == 0 and not result["client_limited"], result
        cpu = result["client_cpu"]["user_s"] + result["client_cpu"]["system_s"]
        per_request = cpu / max(result["totals"]["requests"], 1)
        rows.append((name, result["reply_rate"]["total"], 1e6 * cost, 1e6 * per_request))
    print(f"\n{'engine':8} {'replies/s':>10} {'server µs/reply':>16} {'client µs/request':>18}")
    for name, rate, server_us, client_us in rows:
        print(f"{name:8} {rate:10.1f} {server_us:16.1f} {client_us:18.1f}")
    (_, httperf_rate, _, httperf_client), (_, tbload_rate, _, tbload_client) = rows
    assert tbload_rate == pytest.approx(httperf_rate, rel=TOLERANCE)
    assert tbload_rate == pytest.approx(RATE, rel=TOLERANCE)
    assert tbload["schedule"]["kept"] and tbload["schedule"]["starts"] == RATE * DURATION
    assert httperf["schedule"] is None
    # httperf busy-polls its core whatever the rate; tbload sleeps between its starts
    assert tbload_client < httperf_client
