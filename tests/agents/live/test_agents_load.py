"""The load agent end to end: real httperf against our own nginx, the JSON checked against what
nginx counted (its access log and stub_status), live metrics through promtool, sessions over a
generated file set, bad arguments, an unreachable server, SIGTERM and the watchdog."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from agents import workloads
from tests.support.agents import (
    FILESET_DIRECTORIES,
    REPO,
    Nginx,
    closed_port,
    free_port,
    metric_value,
    promtool_check,
    run_module,
    scrape,
    write_key,
)

ERRORS = ["client-timo", "socket-timo", "connrefused", "connreset", "fd-unavail", "addrunavail"]
ERRORS += ["ftab-full", "other", "total"]


def load_json(out: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    assert out.stdout.count("\n{") == 0 and out.stdout.startswith("{"), out.stdout[:200]
    result: dict[str, Any] = json.loads(out.stdout)
    return result


def assert_verdict_is_consistent(result: dict[str, Any], allowed: set[str]) -> None:
    """client_limited must follow from its reasons; on this shared 2-core machine a healthy run
    may still find its httperf starved of CPU (that reason must then show in the CPU figures)."""
    reasons = set(result["client_limited_reasons"])
    assert result["client_limited"] is bool(reasons)
    assert reasons <= allowed | {"client-cpu-starved"}, reasons
    starved = [p for p in result["client_cpu"]["per_process_pct"] if p < 90]
    assert ("client-cpu-starved" in reasons) == bool(starved)


def test_one_byte_run_matches_what_nginx_counted(nginx: Nginx) -> None:
    metrics_port = free_port()
    before = nginx.stub_status()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "agents.load",
            *f"--server 127.0.0.1 --port {nginx.port}"
            f" --workload one-byte --rate 200 --duration 8 --timeout 2 --host client1"
            f" --metrics-port {metrics_port} --metrics-address 127.0.0.1".split(),
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    # While it runs: the exporter is up, passes promtool, shows the target and, once httperf
    # took its first 5 s sample, the reply rate. Scraped until that sample shows (a fixed
    # 5.6 s sleep came before it when a busy machine started Python and httperf slowly); the
    # 8 s run leaves 3 s to see it in.
    live = ""
    while proc.poll() is None and metric_value(live, "testbed_load_rate_samples_total") != 1:
        time.sleep(0.1)
        try:
            live = scrape(metrics_port)
        except OSError:  # its exporter not up yet, or gone as the run ended
            continue
    stdout, stderr = proc.communicate(timeout=30)
    after = nginx.stub_status()
    assert proc.returncode == 0, stderr
    check = promtool_check(live)
    assert check.returncode == 0 and not check.stdout.strip(), check.stdout + check.stderr
    assert metric_value(live, "testbed_load_target_request_rate") == 200
    assert metric_value(live, "testbed_load_phase", 'phase="running"') == 1
    assert metric_value(live, "testbed_load_processes_running") == 1
    assert metric_value(live, "testbed_load_reply_rate") == pytest.approx(200, rel=0.05)
    assert metric_value(live, "testbed_load_rate_samples_total") == 1

    r = json.loads(stdout)
    logged = nginx.access_log_statuses()
    assert r["error"] is None and r["host"] == "client1"
    assert r["totals"]["replies"] == r["totals"]["requests"] == 1600
    assert sum(logged.values()) == r["totals"]["requests"]
    assert r["replies_by_status"]["2xx"] == logged["200"] == 1600
    # stub_status: our connections, plus the agent's preflight connect, plus its own request.
    assert after["accepts"] - before["accepts"] == r["totals"]["connections"] + 2
    assert r["errors"] == dict.fromkeys(ERRORS, 0)
    assert r["request_rate"]["target"] == 200
    assert r["request_rate"]["issued"] == pytest.approx(200, rel=0.01)
    assert r["request_rate"]["achieved"] == pytest.approx(200, rel=0.02)
    assert r["reply_rate"]["samples"] == 1
    assert r["reply_rate"]["avg"] == pytest.approx(200, rel=0.05)
    assert r["reply_rate"]["total"] == pytest.approx(1600 / r["test_duration_s"], rel=0.001)
    assert r["reply_size_bytes"]["content"] == 1.0
    assert r["processes"] == 1 and len(r["runs"]) == 1
    run = r["runs"][0]
    assert "Total: connections 1600 requests 1600 replies 1600" in run["stdout"]
    assert run["reply_rate_samples"] == r["runs"][0]["result"]["reply_rate_samples"]
    assert not run["overran"] and run["exit_status"] == 0
    assert "--hog" not in run["argv"]
    assert_verdict_is_consistent(r, allowed=set())


def test_specweb99_sessions_over_the_generated_file_set(nginx: Nginx, tmp_path: Path) -> None:
    sessions_file = tmp_path / "sessions.txt"
    out = run_module(
        "agents.workloads",
        f"sessions --seed 4 --client 0 --clients 1 --directories {FILESET_DIRECTORIES}"
        f" --sessions 400 --output {sessions_file}".split(),
        timeout=30,
    )
    assert out.returncode == 0, out.stderr
    out = run_module(
        "agents.load",
        f"--server 127.0.0.1 --port {nginx.port} --workload specweb99 --sessions {sessions_file}"
        " --rate 30 --duration 6 --timeout 2 --processes 2 --metrics-port 0".split(),
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    r = load_json(out)
    assert r["error"] is None
    assert r["rate_unit"] == "sessions/s"
    assert r["totals"]["sessions_started"] == r["totals"]["sessions_completed"] == 180
    # The requests nginx logged are exactly those of the sessions each process was dealt:
    # process i takes sessions i, i+2, ... of the file, 90 each.
    drawn = workloads.generate_sessions(4, 0, FILESET_DIRECTORIES, 400)
    requests = [req for s in drawn[0:180:2] + drawn[1:180:2] for req in s]
    expected = Counter(req.uri for req in requests)
    assert Counter(nginx.access_log_uris()) == expected
    assert nginx.access_log_statuses() == {"200": sum(expected.values())}
    assert r["totals"]["replies"] == r["replies_by_status"]["2xx"] == sum(expected.values())
    assert r["request_rate"]["target"] == pytest.approx(sum(expected.values()) / 6, rel=1e-3)
    mean_body = sum(workloads.file_size(q.cls, q.index) for q in requests) / len(requests)
    assert r["reply_size_bytes"]["content"] == pytest.approx(mean_body, abs=1)
    assert r["session_rate"]["issued"] == pytest.approx(30, rel=0.01)
    assert r["errors"]["total"] == 0
    assert [run["client"] for run in r["runs"]] == ["0/2", "1/2"]
    assert_verdict_is_consistent(r, allowed=set())


@pytest.mark.parametrize("told_by", ["file", "http"])
def test_warm_up_then_measurement_from_a_start_file(
    nginx: Nginx, tmp_path: Path, told_by: str
) -> None:
    """Launched early, the agent waits for the start file (or the same line by HTTP PUT on its
    metrics port); the warm-up runs from START, the measurement from MEASURE, never
    overlapping; nginx saw both, the JSON counts only the measurement."""
    start_file = tmp_path / "go"
    metrics_port = free_port()
    key = "k" * 32
    proc = subprocess.Popen(
        [
            sys.executable,
            *f"-m agents.load --server 127.0.0.1 --port {nginx.port} --workload one-byte"
            f" --rate 100 --duration 2 --warmup 1 --timeout 1 --processes 1"
            f" --start-file {start_file} --metrics-address 127.0.0.1"
            f" --metrics-port {metrics_port}"
            f" --control-key-file {write_key(tmp_path / 'key', key)}".split(),
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    time.sleep(1.0)
    assert proc.poll() is None  # still waiting for the file
    start = time.time() + 0.5
    measure = start + 1.0 + 0.6
    line = f"{start:.3f} {measure:.3f}\n"
    if told_by == "file":
        (tmp_path / "go.tmp").write_text(line)
        (tmp_path / "go.tmp").rename(start_file)
    else:
        deadline = time.monotonic() + 20
        while True:  # the agent's interpreter may still be starting on a busy machine
            try:
                assert 'testbed_load_phase{phase="waiting"} 1.0' in scrape(metrics_port)
                break
            except OSError:
                assert time.monotonic() < deadline, "the agent's metrics never answered"
                time.sleep(0.1)
        put = urllib.request.Request(
            f"http://127.0.0.1:{metrics_port}/start",
            data=line.encode(),
            method="PUT",
            headers={"Authorization": f"Bearer {key}"},
        )
        with urllib.request.urlopen(put, timeout=5) as response:
            assert response.status == 204
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    r = json.loads(out)
    warm = r["warmup"]
    assert warm["start_at"] == pytest.approx(start, abs=0.001)
    assert warm["started_at"] >= start - 0.001
    assert r["start_at"] == pytest.approx(measure, abs=0.001)
    assert r["started_at"] >= measure - 0.001
    assert warm["started_at"] + warm["test_duration_s"] <= r["started_at"]
    assert warm["request_rate"]["target"] == r["request_rate"]["target"] == 100
    assert r["totals"]["replies"] == 200
    assert sum(nginx.access_log_statuses().values()) == 300


def test_split_over_processes_on_debian_python_with_a_start_instant(nginx: Nginx) -> None:
    """Lab hosts run Debian's python3 (prometheus-client 0.16); two pinned processes, started
    together at a given instant, sum to what one would do."""
    start_at = time.time() + 1.5
    out = run_module(
        "agents.load",
        f"--server 127.0.0.1 --port {nginx.port} --workload one-byte --rate 300 --duration 6"
        f" --timeout 2 --processes 2 --cpus 0-1 --start-at {start_at:.3f} --metrics-port 0".split(),
        timeout=60,
        python="/usr/bin/python3",
    )
    assert out.returncode == 0, out.stderr
    r = load_json(out)
    assert r["started_at"] >= start_at - 0.001
    assert 0 <= r["start_lateness_s"] < 0.5
    assert r["cpus"] == [[0], [1]]
    assert [run["cpus"] for run in r["runs"]] == [[0], [1]]
    assert [run["count"] for run in r["runs"]] == [900, 900]
    assert all("--client" in run["argv"] for run in r["runs"])
    assert r["totals"]["replies"] == 1800 == sum(nginx.access_log_statuses().values())
    assert r["reply_rate"]["samples"] == 1
    samples = [run["reply_rate_samples"][0] for run in r["runs"]]
    assert r["reply_rate"]["avg"] == pytest.approx(sum(samples), abs=0.1)
    assert r["request_rate"]["issued"] == pytest.approx(300, rel=0.01)
    assert r["connection_time_ms"]["median"] is None  # not combinable over processes
    assert_verdict_is_consistent(r, allowed=set())


def test_unreachable_server_is_an_error_in_the_json_quickly() -> None:
    for server, port, reason in (
        ("127.0.0.1", closed_port(), "Connection refused"),
        ("no-such-host.invalid", 80, "no-such-host.invalid"),
    ):
        started = time.monotonic()
        out = run_module(
            "agents.load",
            f"--server {server} --port {port} --workload one-byte --rate 10 --duration 60"
            " --timeout 5 --metrics-port 0".split(),
            timeout=30,
        )
        assert time.monotonic() - started < 5
        assert out.returncode == 1
        r = load_json(out)
        assert reason in r["error"]
        assert r["runs"] == [] and r["totals"] is None


def test_sigterm_stops_the_run_and_still_reports(nginx: Nginx) -> None:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "agents.load",
            *f"--server 127.0.0.1 --port {nginx.port}"
            " --workload one-byte --rate 100 --duration 60 --timeout 2 --metrics-port 0".split(),
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    # SIGTERM once httperf has done some work: after a fixed sleep, a busy machine's slow start
    # (Python, then httperf) left it fewer than 100 replies now and then.
    deadline = time.monotonic() + 30
    while sum(nginx.access_log_statuses().values()) < 150 and time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.1)
    os.kill(proc.pid, signal.SIGTERM)
    started = time.monotonic()
    stdout, _ = proc.communicate(timeout=20)
    assert time.monotonic() - started < 5
    assert proc.returncode == 1
    r = json.loads(stdout)
    assert r["error"] == "interrupted by SIGTERM"
    assert 150 <= r["totals"]["replies"] < 6000  # httperf printed what it had done, not 60 s
    # What nginx served lies between what httperf counted and what it sent: a request in
    # flight at the signal can be served and logged after httperf stopped counting (a busy
    # machine's 162 replies against nginx's 163).
    served = sum(nginx.access_log_statuses().values())
    assert r["totals"]["replies"] <= served <= r["totals"]["requests"], (served, r["totals"])
    pid = r["runs"][0]["pid"]
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


BASE = ["--server", "127.0.0.1", "--port", "80", "--duration", "5", "--timeout", "1"]


@pytest.mark.parametrize(
    ("args", "expect"),
    [
        ([*BASE, "--workload", "one-byte", "--rate", "-5"], ["--rate", "'-5'"]),
        ([*BASE, "--workload", "one-byte", "--rate", "fast"], ["--rate", "'fast'"]),
        ([*BASE, "--workload", "ftp", "--rate", "5"], ["--workload", "'ftp'"]),
        ([*BASE, "--workload", "one-byte", "--rate", "5", "--processes", "0"], ["--processes"]),
        ([*BASE, "--workload", "one-byte", "--rate", "5", "--cpus", "999"], ["--cpus", "999"]),
        ([*BASE, "--workload", "one-byte", "--rate", "5", "--cpus", "3-1"], ["--cpus", "3-1"]),
        ([*BASE, "--workload", "one-byte", "--rate", "5", "--uri", "x y"], ["--uri", "'x y'"]),
        ([*BASE, "--workload", "one-byte", "--rate", "5", "--sessions", "f"], ["--sessions"]),
        ([*BASE, "--workload", "specweb99", "--rate", "5"], ["--sessions", "required"]),
        (
            [*BASE, "--workload", "specweb99", "--rate", "5", "--sessions", "/nonexistent/s"],
            ["--sessions", "/nonexistent/s"],
        ),
        ([*BASE, "--workload", "one-byte", "--rate", "5", "--start-at", "1e12"], ["--start-at"]),
        ([*BASE, "--workload", "one-byte", "--rate", "5", "--metrics-port", "x"], ["'x'"]),
        ([*BASE[2:], "--workload", "one-byte", "--rate", "5"], ["--server"]),
    ],
)
def test_bad_arguments_exit_2_with_one_line(args: list[str], expect: list[str]) -> None:
    out = run_module("agents.load", args, timeout=30)
    assert out.returncode == 2
    assert out.stdout == ""
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1, out.stderr
    for word in expect:
        assert word in lines[0], lines[0]


@pytest.mark.parametrize("module", ["agents.load", "agents.idle"])
def test_metrics_port_taken_is_an_error_in_the_json(module: str) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", free_port()))
        taken.listen()
        port = taken.getsockname()[1]
        extra = "--workload one-byte --rate 1 --duration 1 --timeout 1"
        if module == "agents.idle":
            extra = "--connections 1"
        out = run_module(
            module,
            f"--server 127.0.0.1 --port {port} --metrics-address 127.0.0.1 --metrics-port {port}"
            f" {extra}".split(),
            timeout=30,
        )
    assert out.returncode == 1
    assert f"cannot serve metrics on 127.0.0.1:{port}" in load_json(out)["error"]
