"""The review of issue 25, as a test: the real load and idle services, walked with hostile
requests on their control (`agents.control`), each followed by a good one they must answer.

- Without the key, or with a wrong one, every control request of both services is refused (401)
  and nothing starts: no httperf process, no run, no hold. `/metrics` stays readable.
- With the key, a run that names another target, an argparse abbreviation, an unknown field or
  a bound exceeded is refused with one line; so is a hold past the service's cap, and the
  descriptor limit does not move.
- `PUT /start` with junk, NaN, infinities or a negative time; query seconds that are not
  seconds; `Content-Length: -1`, malformed or doubled; a huge body; a body cut short or not
  UTF-8; a slow client (half a request, then silence, or a byte now and then): each is
  answered 4xx or cut off, and the service answers the next request.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agents.control import MAX_BODY, MAX_HANDLERS, REQUEST_TIMEOUT_S
from tests.support.agents import AgentService, HoldingServer, Nginx, closed_port

RUN: dict[str, Any] = {"workload": "one-byte", "rate": 20, "duration": 1, "timeout": 1}
WRONG_KEYS: list[dict[str, str]] = [
    {},  # none
    {"Authorization": "Bearer " + "x" * 43},  # a wrong key
    {"Authorization": "Bearer"},
    {"Authorization": ""},
]


class LoadService(AgentService):
    def __init__(self, server_port: int, log: Path) -> None:
        argv = ["--server", "127.0.0.1", "--port", str(server_port), "--host", "client1"]
        super().__init__("load.service", [*argv, "--start-file", str(log.parent / "go")], log)

    def good(self) -> None:
        """A request it must answer as it always does."""
        assert self.ask("GET", "/result?id=none&wait=0") == (404, "no run 'none'")


class IdleService(AgentService):
    def __init__(self, server_port: int, log: Path) -> None:
        argv = ["--server", "127.0.0.1", "--port", str(server_port), "--host", "client5"]
        super().__init__("idle.service", [*argv, "--max-connections", "1000"], log)

    def good(self) -> None:
        assert self.ask("GET", "/hold") == (204, "")


@pytest.fixture
def load(tmp_path: Path) -> Iterator[LoadService]:
    with LoadService(closed_port(), tmp_path / "load.log") as service:
        yield service


@pytest.fixture
def idle(tmp_path: Path, holding_server: HoldingServer) -> Iterator[IdleService]:
    with IdleService(holding_server.port, tmp_path / "idle.log") as service:
        yield service


def children(pid: int) -> list[str]:
    """The names of `pid`'s child processes (httperf, when a run started)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:  # ended meanwhile
            continue
        name, _, rest = stat.rpartition(")")
        if int(rest.split()[1]) == pid:
            found.append(name.partition("(")[2])
    return found


def open_files_limit(pid: int) -> int:
    for line in Path(f"/proc/{pid}/limits").read_text().splitlines():
        if line.startswith("Max open files"):
            return int(line.split()[3])
    raise AssertionError("no open-files limit")


def one_line(text: str) -> bool:
    return bool(text) and "\n" not in text.strip()


# -- the key -------------------------------------------------------------------------------------

LOAD_CONTROL = [
    ("POST", "/run", json.dumps({"id": "1-1", **RUN})),
    ("PUT", "/start", f"{time.time():.3f}"),
    ("GET", "/result?id=1-1&wait=0", None),
    ("POST", "/stop", ""),
    ("GET", "/cooldown?max=0", None),
    ("GET", "/anything-else", None),
]
IDLE_CONTROL = [
    ("POST", "/run", json.dumps({"id": "1-1", "connections": 10})),
    ("POST", "/stop?id=1-1", ""),
    ("GET", "/hold", None),
    ("GET", "/anything-else", None),
]


def test_without_the_key_every_control_request_is_refused_and_nothing_starts(
    load: LoadService, idle: IdleService, holding_server: HoldingServer
) -> None:
    for service, requests in ((load, LOAD_CONTROL), (idle, IDLE_CONTROL)):
        for headers in WRONG_KEYS:
            for method, path, body in requests:
                status, text = service.ask(method, path, body, headers)
                case = (service.__class__.__name__, headers, method, path)
                assert status == 401 and one_line(text), (case, status, text)
        # the right key with another scheme, or said twice, is no key either
        for headers in ({"Authorization": f"Basic {service.key}"},):
            assert service.ask("POST", "/run", "{}", headers)[0] == 401
        # Prometheus reads the metrics without it
        status, text = service.ask("GET", "/metrics", None, {})
        assert status == 200 and "process_cpu_seconds_total" in text
    # Nothing began: no httperf, no run, no hold, no connection to the server.
    assert children(load.proc.pid) == [] and children(idle.proc.pid) == []
    assert load.ask("GET", "/result?id=1-1&wait=0")[0] == 404
    assert idle.ask("GET", "/hold")[0] == 204
    assert holding_server.count() == (0, 0)
    # The key is in no command line (`ps`) and in no log.
    for service in (load, idle):
        assert service.key not in Path(f"/proc/{service.proc.pid}/cmdline").read_text()
        assert service.key not in service.log.read_text()
        service.good()


def test_the_same_header_twice_is_refused(load: LoadService) -> None:
    request = (
        "GET /cooldown?max=0 HTTP/1.0\r\n"
        f"Authorization: Bearer {load.key}\r\nAuthorization: Bearer {load.key}\r\n\r\n"
    )
    assert status_of(raw(load.port, request.encode())) == 401
    load.good()


# -- what a request may say --------------------------------------------------------------------

HOSTILE_RUNS: list[tuple[dict[str, Any], str]] = [
    ({"server": "6.6.6.6", "port": 22}, "field 'server': fixed when the service starts"),
    ({"port": 22}, "field 'port': fixed when the service starts"),
    ({"args": ["--ser", "6.6.6.6", "--po", "22"]}, "field 'args': not a field of a run"),
    ({"ser": "6.6.6.6", "po": 22}, "field 'ser': not a field of a run"),
    ({"sessions": "/etc/shadow"}, "field 'sessions': fixed when the service starts"),
    ({"start_file": "/etc/passwd"}, "field 'start_file': fixed when the service starts"),
    ({"processes": 100_000}, 'processes 100000: expected "auto" or an integer from 1 to 64'),
    ({"rate": 1e9}, "rate 1000000000.0: expected a number > 0 to 1e+06"),
    ({"duration": 1e7}, "duration 10000000.0: expected a number > 0 to 86400"),
    ({"warmup": 1e7}, "warmup 10000000.0: expected a number from 0 to 86400"),
    ({"timeout": 1e5}, "timeout 100000.0: expected a number > 0 to 3600"),
    ({"cpus": [99999]}, "cpus [99999]: expected null or a list"),
]


def test_a_run_naming_another_target_a_prefix_or_past_a_bound_is_refused_with_one_line(
    load: LoadService,
) -> None:
    for changes, expected in HOSTILE_RUNS:
        status, text = load.ask("POST", "/run", json.dumps({"id": "1-1", **RUN, **changes}))
        assert status == 400 and one_line(text) and expected in text, (changes, status, text)
        load.good()
    for body in ('{"id": "1-1", "rate": NaN}', "[" * 50_000, '"--ser 6.6.6.6 --po 22"'):
        status, text = load.ask("POST", "/run", body)
        assert status == 400 and one_line(text), (body[:20], status, text)
    assert children(load.proc.pid) == []
    assert load.ask("GET", "/result?id=1-1&wait=0")[0] == 404  # none was taken


def test_a_hold_past_the_cap_is_refused_and_the_descriptor_limit_stays(
    idle: IdleService, holding_server: HoldingServer
) -> None:
    before = open_files_limit(idle.proc.pid)
    for body in ('{"id": "1-1", "connections": NaN}', "[" * 50_000, '{"id": "1-1"}'):
        status, text = idle.ask("POST", "/run", body)
        assert status == 400 and one_line(text), (body[:20], status, text)
    for connections in (1001, 1_000_000, 2**40):
        status, text = idle.ask(
            "POST", "/run", json.dumps({"id": "1-1", "connections": connections})
        )
        assert status == 400 and one_line(text), (connections, status, text)
        assert f"connections {connections}: expected an integer from 1 to 1000" == text
        idle.good()
    assert open_files_limit(idle.proc.pid) == before
    assert holding_server.count() == (0, 0)
    # the cap itself is a hold like any other
    assert idle.ask("POST", "/run", json.dumps({"id": "2-1", "connections": 1000})) == (202, "")
    holding_server.wait_for(1000, timeout=20)
    status, text = idle.ask("POST", "/stop?id=2-1", "")
    assert status == 200 and json.loads(text)["open_at_stop"] == 1000


def test_junk_instants_and_seconds_are_refused_and_the_run_still_starts(
    tmp_path: Path, nginx: Nginx
) -> None:
    with LoadService(nginx.port, tmp_path / "load.log") as load:
        assert load.ask("PUT", "/start", "1 2")[0] == 409  # no run waits yet
        assert load.ask("POST", "/run", json.dumps({"id": "1-1", **RUN})) == (202, "")
        now = time.time()
        for body in (
            "junk",
            "nan",
            "inf",
            "-inf",
            "-1",
            "1e999",
            "",
            f"{now} nan",
            f"{now} {now} {now}",
            f"{now + 2} {now + 1}",
            "\x00",
            f"{now + 10**6}",
        ):
            status, text = load.ask("PUT", "/start", body)
            assert status == 400 and one_line(text) and text.startswith("start "), (body, text)
        for path in (
            "/result?id=1-1&wait=nan",
            "/result?id=1-1&wait=-1",
            "/result?id=1-1&wait=inf",
            "/result?id=1-1&wait=31",
            "/result?id=1-1&wait=1&wait=2",
            "/cooldown?max=nan",
            "/cooldown?max=-5",
            "/cooldown?max=1e999",
        ):
            status, text = load.ask("GET", path)
            assert status == 400 and one_line(text) and "expected seconds from 0 to 30" in text
        # the run still waits for its instants (no httperf yet), and takes good ones
        assert children(load.proc.pid) == []
        assert load.ask("GET", "/result?id=1-1&wait=0") == (204, "")
        start = time.time() + 0.3
        assert load.ask("PUT", "/start", f"{start:.3f} {start:.3f}") == (204, "")
        status, text = load.ask("GET", "/result?id=1-1&wait=30")
        assert status == 200, text
        answer = json.loads(text)
        assert answer["exit_status"] == 0, answer["result"]["error"]
        assert answer["result"]["totals"]["replies"] == 20
        assert answer["result"]["server"] == "127.0.0.1"
        assert answer["result"]["port"] == nginx.port


# -- the framing of a request ------------------------------------------------------------------


def raw(port: int, data: bytes, *, half_close: bool = False, timeout: float = 20) -> bytes:
    """Send `data` on a fresh connection and read until the service closes it."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(data)
        if half_close:
            sock.shutdown(socket.SHUT_WR)
        return read_all(sock)


def read_all(sock: socket.socket) -> bytes:
    chunks = []
    while True:
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks)


def status_of(response: bytes) -> int:
    assert response.startswith(b"HTTP/1."), response[:80]
    return int(response.split(b" ", 2)[1])


def body_of(response: bytes) -> str:
    return response.partition(b"\r\n\r\n")[2].decode()


def framed(key: str, headers: str, body: bytes = b"") -> bytes:
    return (
        f"POST /run HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {key}\r\n{headers}\r\n".encode()
        + body
    )


@pytest.mark.parametrize("kind", ["load", "idle"])
def test_malformed_framing_is_answered_4xx_and_the_next_request_is_served(
    kind: str, request: pytest.FixtureRequest
) -> None:
    service: LoadService | IdleService = request.getfixturevalue(kind)
    key, port = service.key, service.port
    cases: list[tuple[bytes, int, str, bool]] = [
        (framed(key, "Content-Length: -1\r\n", b"{}"), 400, "Content-Length '-1'", False),
        (framed(key, "Content-Length: abc\r\n", b"{}"), 400, "Content-Length 'abc'", False),
        (
            framed(key, "Content-Length: 2\r\nContent-Length: 3\r\n", b"{}"),
            400,
            "one number",
            False,
        ),
        (framed(key, "Content-Length: +2\r\n", b"{}"), 400, "Content-Length '+2'", False),
        (
            framed(key, "Transfer-Encoding: chunked\r\n", b"2\r\n{}\r\n0\r\n\r\n"),
            400,
            "Transfer-Encoding",
            False,
        ),
        (
            framed(key, f"Content-Length: {10**12}\r\n", b"{" * 1000),
            413,
            f"at most {MAX_BODY}",
            False,
        ),
        (framed(key, f"Content-Length: {MAX_BODY + 1}\r\n", b"x" * 1000), 413, "at most", False),
        (framed(key, "Content-Length: 100\r\n", b'{"id": "1'), 400, "ended after 9 of 100", True),
        (framed(key, "Content-Length: 4\r\n", b"\xff\xfe\xfd\xfc"), 400, "not UTF-8", False),
        (b"POST /run HTTP/1.1\r\n" + b"X: y\r\n" * 200 + b"\r\n", 431, "", False),
        (
            b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 64 + b"\r\n\r\n",
            400,
            "",
            False,
        ),
    ]
    for data, expected, text, half_close in cases:
        response = raw(port, data, half_close=half_close)
        assert status_of(response) == expected, (data[:80], response[:200])
        assert text in body_of(response), (data[:80], response[:300])
        service.good()
    # a body that is just too long is read no further than its cap, and refused unread
    with socket.create_connection(("127.0.0.1", port), timeout=20) as sock:
        sock.sendall(framed(key, f"Content-Length: {MAX_BODY * 100}\r\n"))
        # the service may close before taking it all
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            sock.sendall(b"x" * MAX_BODY * 4)
        response = read_all(sock)
    assert response == b"" or status_of(response) == 413
    service.good()
    assert service.proc.poll() is None


# -- slow clients --------------------------------------------------------------------------------


def served_again(service: LoadService | IdleService, patience: float = 5.0) -> None:
    """Until the service's handlers are free again (a client sees its connection closed a
    moment before its handler is given back), then a good request."""
    deadline = time.monotonic() + patience
    while True:
        try:  # a 503 is sent without reading the request: the client may see a reset instead
            status = service.ask("GET", "/metrics", None, {})[0]
        except OSError as error:
            status = -1
            assert time.monotonic() < deadline, error
        if status == 200:
            break
        assert status in (-1, 503) and time.monotonic() < deadline, status
        time.sleep(0.05)
    service.good()


def test_slow_clients_are_cut_off_their_excess_refused_and_the_services_answer_after(
    load: LoadService, idle: IdleService
) -> None:
    """Per service, a client sends a byte every 0.3 s (a per-read timeout would never end it),
    then MAX_HANDLERS + 3 send half a request (one of them half its body) and stall. While
    they hold every handler, a newcomer gets 503 at once; within REQUEST_TIMEOUT_S (plus slack)
    each is cut off, and the services answer again."""
    stalled: list[tuple[socket.socket, float]] = []
    tricklers: list[socket.socket] = []
    stop = threading.Event()

    def trickle(sock: socket.socket) -> None:
        for byte in b"GET /metrics HTTP/1.0\r\nX-Slow: " + b"a" * 10_000:
            if stop.is_set():
                return
            try:
                sock.send(bytes([byte]))
            except OSError:  # cut off: what the test waits for
                return
            stop.wait(0.3)

    threads = []
    try:
        for service in (load, idle):
            # The trickler first, so that it holds a handler (the last ones get 503 at once).
            sock = socket.create_connection(("127.0.0.1", service.port), timeout=30)
            tricklers.append(sock)
            threads.append(threading.Thread(target=trickle, args=(sock,), daemon=True))
            for index in range(MAX_HANDLERS + 3):
                sock = socket.create_connection(("127.0.0.1", service.port), timeout=30)
                if index == 0:  # half a body
                    sock.sendall(framed(service.key, "Content-Length: 100\r\n", b'{"id": '))
                else:
                    sock.sendall(b"POST /run HTTP/1.1\r\nAuthoriz")
                stalled.append((sock, time.monotonic()))
        for thread in threads:
            thread.start()
        # every handler is held: a newcomer is refused at once, not queued behind them (it
        # sends nothing, so the refusal is not lost to a reset)
        for service in (load, idle):
            response = raw(service.port, b"", timeout=5)
            assert status_of(response) == 503, response[:200]
        # each stalled client is cut off once its request is overdue, whatever it sends
        for sock, opened in stalled:
            sock.settimeout(REQUEST_TIMEOUT_S + 10)
            response = read_all(sock)
            took = time.monotonic() - opened
            assert took <= REQUEST_TIMEOUT_S + 8, took
            assert response == b"" or status_of(response) in (408, 503), response[:200]
        for sock in tricklers:
            sock.settimeout(REQUEST_TIMEOUT_S + 10)
            assert read_all(sock) == b""  # closed, though a byte came every 0.3 s
        for service in (load, idle):
            served_again(service)
            assert service.proc.poll() is None
    finally:
        stop.set()
        for sock, _ in stalled:
            sock.close()
        for sock in tricklers:
            sock.close()
        for thread in threads:
            thread.join(timeout=5)
