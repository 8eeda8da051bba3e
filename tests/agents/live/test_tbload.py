"""tbload, the open-loop C load generator, against real servers: a real userver (epoll-ET) on
127.0.0.1, a port nobody listens on, a listener that never answers, one that resets every
connection, a userver stopped mid-run, and a private network namespace with a narrow port
range. Every output goes through agents.load.httperf.parse, as the load agent reads httperf's."""

from __future__ import annotations

import contextlib
import re
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from agents import workloads
from agents.load import httperf
from tests.support.agents import closed_port, silent_listener
from tests.support.userver import REPO, USERVER, Userver

TBLOAD = REPO / "tbload" / "tbload"
SCHEDULE = re.compile(
    r"^tbload: schedule late-max-ms ([\d.]+) late-p99-ms ([\d.]+) late-bound-ms [\d.]+ "
    r"late-starts (\d+) of (\d+) kept (yes|no)$",
    re.M,
)


@pytest.fixture(scope="module")
def built() -> None:
    subprocess.run(["make", "-s", "-C", str(REPO / "tbload"), "tbload"], check=True)
    subprocess.run(["make", "-s", "-C", str(REPO / "server"), "userver"], check=True)


@pytest.fixture(scope="module")
def docroot(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("tbload-www")
    workloads.write_fileset(root, seed=1, directories=1)
    return root


@pytest.fixture
def userver(built: None, docroot: Path) -> Iterator[Userver]:
    srv = Userver("epoll-et", docroot).start()
    try:
        yield srv
    finally:
        assert srv.stop() == 0, srv.stderr_lines


def tbload(*args: str, timeout: float = 30) -> tuple[httperf.HttperfResult, re.Match[str], str]:
    """Runs tbload as the load agent builds httperf's command line; returns the parse, the
    schedule line and the whole output."""
    out = subprocess.run(
        [str(TBLOAD), "-v", "--client", "0/1", *args],
        capture_output=True, text=True, timeout=timeout, check=False,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    m = SCHEDULE.search(out.stdout)
    assert m, out.stdout
    return httperf.parse(out.stdout), m, out.stdout


def served(srv: Userver, expect: float) -> float:
    """userver's count of 200 replies, polled until it reaches `expect` (the server counts a
    reply once it is written, a moment after the client read it) or 10 s pass."""
    return srv.wait_metric('testbed_server_replies_total{status="200"}', lambda v: v >= expect)


def test_bounded_run_gets_every_reply_and_parses_as_httperf(userver: Userver) -> None:
    r, sched, text = tbload(
        "--server", "127.0.0.1", "--port", str(userver.port), "--timeout", "2",
        "--rate", "1000", "--uri", "/one-byte", "--num-conns", "2000", "--num-calls", "1",
    )  # fmt: skip
    assert text.startswith("tbload --verbose --timeout=2 --client=0/1 --server=127.0.0.1 ")
    # the echoed command names its engine: the agent never mistakes tbload's run for httperf's
    assert r.command == text.splitlines()[0] and r.command.startswith("tbload --")
    assert r.max_open_descriptors and r.max_open_descriptors > 1024  # no FD_SETSIZE cap
    assert (r.connections, r.requests, r.replies) == (2000, 2000, 2000)
    assert r.status.s2xx == 2000 and r.errors.total == 0
    assert r.reply_size.content_bytes == 1.0 and r.reply_size.header_bytes > 0
    assert r.request_size_bytes == len(
        "GET /one-byte HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    assert r.replies_per_connection == 1.0
    # The rate and duration follow the schedule: 2000 starts 1 ms apart.
    assert 1.99 <= r.test_duration_s < 3.5
    assert r.connection_rate == pytest.approx(1000, rel=0.35)
    assert r.cpu.user_s + r.cpu.system_s < r.test_duration_s  # it does not spin a core
    assert int(sched.group(4)) == 2000
    assert " late-bound-ms 20.0 " in text  # 1 % of the schedule's 2 s span
    assert served(userver, 2000) == 2000


def test_several_calls_per_connection_go_one_after_another_then_the_client_closes(
    userver: Userver,
) -> None:
    r, sched, text = tbload(
        "--server", "127.0.0.1", "--port", str(userver.port), "--timeout", "2",
        "--rate", "500", "--uri", "/one-byte", "--num-conns", "500", "--num-calls", "5",
    )  # fmt: skip
    assert "--num-conns=500 --num-calls=5" in text.splitlines()[0]
    assert (r.connections, r.requests, r.replies) == (500, 2500, 2500)
    assert r.replies_per_connection == 5.0 and r.errors.total == 0
    # keep-alive: no "Connection: close" (the client closes after the fifth reply)
    assert r.request_size_bytes == len("GET /one-byte HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    assert int(sched.group(4)) == 500
    assert served(userver, 2500) == 2500


def test_poisson_starts_get_every_reply(userver: Userver) -> None:
    r, sched, text = tbload(
        "--server", "127.0.0.1", "--port", str(userver.port), "--timeout", "2",
        "--rate", "500", "--poisson", "--seed", "7", "--uri", "/one-byte", "--num-conns", "500",
    )  # fmt: skip
    assert " --poisson --seed=7 " in text.splitlines()[0]
    assert r.replies == 500 and r.errors.total == 0 and int(sched.group(4)) == 500


def test_client_close_closes_like_httperf(userver: Userver) -> None:
    """--client-close: no "Connection: close"; the client closes after the reply, so the
    server reads the client's FIN (a second read per connection), as with httperf."""
    reads = 'testbed_server_syscalls_total{syscall="read",mechanism="epoll-et"}'
    before = userver.metrics()[reads]
    r, _, text = tbload(
        "--server", "127.0.0.1", "--port", str(userver.port), "--timeout", "2", "--rate", "500",
        "--uri", "/one-byte", "--num-conns", "300", "--client-close",
    )  # fmt: skip
    assert " --client-close " in text.splitlines()[0]
    assert r.replies == 300 and r.errors.total == 0
    assert r.request_size_bytes == len("GET /one-byte HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    assert served(userver, 300) == 300
    deadline = time.monotonic() + 10
    while userver.metrics()[reads] - before < 600 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert userver.metrics()[reads] - before == 600  # the request, then the client's FIN


def test_session_mode_completes_every_session(userver: Userver, tmp_path: Path) -> None:
    sessions = workloads.generate_sessions(seed=3, client=0, directories=1, sessions=20)
    path = tmp_path / "sessions.txt"
    path.write_text(workloads.session_file_text(sessions, ["tbload test"]))
    n = 60  # three passes over the 20 sessions
    r, sched, _ = tbload(
        "--server", "127.0.0.1", "--port", str(userver.port), "--timeout", "2",
        "--rate", "40", "--wsesslog", f"{n},0,{path}", "--max-connections", "1",
    )  # fmt: skip
    expected = sum(len(sessions[k % len(sessions)]) for k in range(n))
    assert r.sessions is not None
    assert (r.sessions.completed, r.sessions.started) == (n, n)
    assert r.replies == r.requests == expected and r.errors.total == 0
    assert r.sessions.connections_per_session == 1.0  # keep-alive: one connection each
    assert r.connections == n
    assert sum(r.sessions.length_histogram) == n
    assert sum(k * c for k, c in enumerate(r.sessions.length_histogram)) == expected
    assert int(sched.group(4)) == n
    assert served(userver, expected) == expected


def test_refused_port_counts_connrefused(built: None) -> None:
    r, sched, _ = tbload(
        "--server", "127.0.0.1", "--port", str(closed_port()), "--timeout", "1",
        "--rate", "200", "--uri", "/", "--num-conns", "100",
    )  # fmt: skip
    assert r.connections == 100 and r.replies == 0
    assert r.errors.connrefused == 100 and r.errors.total == 100
    assert int(sched.group(4)) == 100  # every start made (on time or not: the machine is shared)


def test_silent_server_counts_client_timo(built: None) -> None:
    with silent_listener() as port:
        r, _, _ = tbload(
            "--server", "127.0.0.1", "--port", str(port), "--timeout", "1",
            "--rate", "100", "--uri", "/", "--num-conns", "50",
        )  # fmt: skip
    assert r.connections == r.requests == 50 and r.replies == 0
    assert r.errors.client_timo == 50 and r.errors.total == 50
    assert r.test_duration_s >= 1.0  # the last one waited its timeout


def test_resetting_server_counts_connreset(built: None) -> None:
    """A listener that accepts, reads the request and closes with a reset (SO_LINGER 0)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(128)
    listener.settimeout(0.2)
    stop = threading.Event()

    def reset_all() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            conn.settimeout(2)
            with contextlib.suppress(OSError):
                conn.recv(4096)
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\0\0\0\0\0\0\0")
            conn.close()

    t = threading.Thread(target=reset_all, daemon=True)
    t.start()
    try:
        r, _, _ = tbload(
            "--server", "127.0.0.1", "--port", str(listener.getsockname()[1]),
            "--timeout", "2", "--rate", "100", "--uri", "/", "--num-conns", "30",
        )  # fmt: skip
    finally:
        stop.set()
        t.join(5)
        listener.close()
    assert r.connections == 30 and r.replies == 0
    assert r.errors.connreset == 30 and r.errors.total == 30


def test_open_loop_starts_on_schedule_while_the_server_is_stopped(userver: Userver) -> None:
    """SIGSTOP the server half a second into a 3 s run: a closed-loop client would stall on
    its open connections; tbload keeps starting one every 2 ms (the kernel still completes
    handshakes into the backlog, then the requests time out)."""
    proc = subprocess.Popen(
        [
            str(TBLOAD), "-v", "--server", "127.0.0.1", "--port", str(userver.port),
            "--timeout", "1", "--rate", "500", "--uri", "/one-byte", "--num-conns", "1500",
        ],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    server = userver.proc
    assert server is not None
    try:
        # Wait until it has replies (its first connections were served), then stop userver.
        deadline = time.monotonic() + 10
        while userver.metrics().get('testbed_server_replies_total{status="200"}', 0) < 100:
            assert time.monotonic() < deadline and proc.poll() is None
            time.sleep(0.02)
        server.send_signal(signal.SIGSTOP)
        stopped_at = time.monotonic()
        out, err = proc.communicate(timeout=30)
    finally:
        server.send_signal(signal.SIGCONT)
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    r = httperf.parse(out)
    m = SCHEDULE.search(out)
    assert m, out
    # Every start was made, about on time, though most never got an answer.
    assert r.connections + r.errors.fd_unavail == 1500 and int(m.group(4)) == 1500
    assert r.errors.client_timo > 500
    assert r.replies < 1000
    assert float(m.group(1)) < 1000  # no start waited for a reply (or a timeout)
    assert time.monotonic() - stopped_at < 3 + 1 + 5  # the schedule, the timeout, slack


def test_sigint_ends_early_with_the_summary(userver: Userver) -> None:
    proc = subprocess.Popen(
        [
            str(TBLOAD), "-v", "--server", "127.0.0.1", "--port", str(userver.port),
            "--timeout", "1", "--rate", "500", "--uri", "/one-byte", "--num-conns", "100000",
        ],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    deadline = time.monotonic() + 10
    while userver.metrics().get('testbed_server_replies_total{status="200"}', 0) < 50:
        assert time.monotonic() < deadline and proc.poll() is None
        time.sleep(0.02)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=10)
    assert proc.returncode == 0, err
    r = httperf.parse(out)
    assert 50 <= r.replies < 100000
    m = SCHEDULE.search(out)
    assert m and m.group(5) == "no"  # starts were left: the schedule was not kept


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--rate", "10", "--uri", "/"], "--num-conns or --wsesslog"),
        (["--num-conns", "5", "--uri", "/"], "--rate is required"),
        (["--rate", "0", "--num-conns", "5"], "--rate: bad value '0'"),
        (["--rate", "1", "--num-conns", "5", "--num-calls", "0"], "--num-calls: bad value '0'"),
        (["--rate", "1", "--wsesslog", "5,0,/x", "--num-calls", "2"], "not --wsesslog"),
        (["--rate", "1", "--num-conns", "5", "--bogus"], "unknown option '--bogus'"),
        (["--rate", "1", "--num-conns", "5", "--timeout"], "--timeout needs a value"),
        (["--rate", "1", "--wsesslog", "5,2,/x"], "think time"),
        (["--rate", "1", "--wsesslog", "5,0,/x", "--client-close"], "--client-close"),
        (["--rate", "1", "--wsesslog", "5,0,/nonexistent/s.txt"], "/nonexistent/s.txt"),
        (["--rate", "1", "--num-conns", "5", "--client", "2/2"], "--client: bad value"),
        (["--rate", "1", "--num-conns", "5", "--server", "no-such-host.invalid"], "--server"),
        (
            ["--rate", "1", "--num-conns", "5", "--server", "127.0.0.1",
             "--local-addresses", "198.51.100.77"],  # no address of this machine (TEST-NET-2)
            "--local-addresses: bad value '198.51.100.77'",
        ),
    ],
)  # fmt: skip
def test_bad_arguments_one_line_exit_2(built: None, args: list[str], words: str) -> None:
    out = subprocess.run([str(TBLOAD), *args], capture_output=True, text=True, timeout=10)
    assert out.returncode == 2
    assert out.stdout == ""
    lines = out.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("tbload: ") and words in lines[0], lines


def test_ports_are_reused_across_a_long_run(built: None, docroot: Path) -> None:
    """In a private network namespace whose port range holds 500 ports, 2,000 connections
    from two local addresses (round-robin) all get their reply: the server closes first and
    keeps the TIME_WAIT, so the client's ports come free again and again."""
    script = f"""
        set -e
        ip link set lo up
        sysctl -qw net.ipv4.ip_local_port_range="40000 40499"
        {USERVER} --mechanism epoll-et --address 127.0.0.1 --port 8080 --metrics-port 0 \\
            --docroot {docroot} 2>/dev/null &
        srv=$!
        trap 'kill $srv' EXIT
        for i in $(seq 100); do
            (exec 3<>/dev/tcp/127.0.0.1/8080) 2>/dev/null && break
            sleep 0.05
        done
        {TBLOAD} -v --server 127.0.0.1 --port 8080 --timeout 2 --rate 1000 --uri /one-byte \\
            --num-conns 2000 --local-addresses 127.0.0.1,127.0.0.2
    """
    out = subprocess.run(
        ["unshare", "--net", "bash", "-c", script],
        capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    r = httperf.parse(out.stdout)
    assert "--local-addresses=127.0.0.1,127.0.0.2" in out.stdout
    assert r.replies == 2000 and r.errors.total == 0, out.stdout
