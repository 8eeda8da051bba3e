"""HTTP behaviour of userver under every mechanism, with curl and raw sockets on loopback."""

from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path

from tests.support.userver import Userver, raw_request, read_response


def curl(*args: str) -> subprocess.CompletedProcess[str]:
    """Run curl; stdout and stderr decoded as they are (CRLF kept)."""
    r = subprocess.run(["curl", "-sS", "--max-time", "5", *args], capture_output=True, check=False)
    return subprocess.CompletedProcess(
        r.args, r.returncode, r.stdout.decode(errors="replace"), r.stderr.decode()
    )


def status_of(url: str, *extra: str) -> int:
    return int(curl("-o", "/dev/null", "-w", "%{http_code}", *extra, url).stdout)


def test_get_one_byte_file(server: Userver) -> None:
    r = curl("-D", "-", server.url("/one"))
    assert r.returncode == 0, r.stderr
    head, body = r.stdout.split("\r\n\r\n", 1)
    assert head.startswith("HTTP/1.1 200 OK")
    assert "Content-Length: 1\r\n" in head
    assert "Content-Type: application/octet-stream" in head
    assert "\r\nDate: " in head and "\r\nLast-Modified: " in head
    assert body == "x"


def test_keep_alive_serves_several_requests_on_one_connection(server: Userver) -> None:
    before = server.metrics()
    urls = [server.url(p) for p in ("/one", "/index.html", "/dir00000/class1_2", "/one")]
    r = curl("-v", *["-o", "/dev/null"] * len(urls), *urls)
    assert r.returncode == 0, r.stderr
    assert r.stderr.count("Re-using existing connection") == 3
    after = server.metrics()
    assert after["testbed_server_connections_accepted_total"] == (
        before["testbed_server_connections_accepted_total"] + 1
    )
    assert after['testbed_server_replies_total{status="200"}'] == (
        before['testbed_server_replies_total{status="200"}'] + 4
    )


def test_head_has_headers_and_no_body(server: Userver) -> None:
    r = raw_request(server.port, b"HEAD /dir00000/class2_0 HTTP/1.0\r\n\r\n")
    head, _, body = r.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK")
    assert b"Content-Length: 10240\r\n" in head
    assert b"Connection: close" in head
    assert body == b""


def test_missing_file_is_404_and_keeps_the_connection(server: Userver) -> None:
    assert status_of(server.url("/no/such/file")) == 404
    assert status_of(server.url("/dir00000")) == 404  # a directory without an index
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as s:
        s.sendall(b"GET /nope HTTP/1.1\r\nHost: t\r\n\r\nGET /one HTTP/1.1\r\nHost: t\r\n\r\n")
        buf = bytearray()
        head, _ = read_response(s, buf)
        assert head.startswith(b"HTTP/1.1 404")
        head, body = read_response(s, buf)
        assert head.startswith(b"HTTP/1.1 200") and body == b"x"


def test_paths_never_leave_the_docroot(server: Userver, docroot: Path) -> None:
    secret = (docroot.parent / "secret").read_bytes()
    attempts = [
        "/../secret",
        "/%2e%2e/secret",
        "/%2E%2E%2Fsecret",
        "/dir00000/../../secret",
        "/dir00000/%2e%2e/%2e%2e/secret",
        "/..%2fsecret",
        "/escape",
        "/escape-rel",
        "//etc/passwd",
        "/etc/passwd",
        "/" + str(docroot.parent / "secret"),
    ]
    for path in attempts:
        r = curl("--path-as-is", "-o", "-", "-w", "\n%{http_code}", server.url(path))
        assert r.returncode == 0, (path, r.stderr)
        body, code = r.stdout.rsplit("\n", 1)
        assert code in ("400", "404"), (path, code)
        assert secret.decode() not in body
    raw = raw_request(server.port, b"GET ../secret HTTP/1.1\r\nHost: t\r\n\r\n")
    assert raw.startswith(b"HTTP/1.1 400") and secret not in raw
    assert status_of(server.url("/inside")) == 200  # a link that stays inside is served


def test_http10_closes_and_http11_close_header_closes(server: Userver) -> None:
    r = raw_request(server.port, b"GET /one HTTP/1.0\r\n\r\n")
    assert r.startswith(b"HTTP/1.1 200 OK") and r.endswith(b"\r\n\r\nx")
    r = raw_request(server.port, b"GET /one HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
    assert b"Connection: close" in r and r.endswith(b"\r\n\r\nx")
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as s:
        s.sendall(b"GET /one HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        buf = bytearray()
        head, body = read_response(s, buf)
        assert b"Connection: keep-alive" in head and body == b"x"
        s.sendall(b"GET /one HTTP/1.0\r\n\r\n")
        head, body = read_response(s, buf)
        assert body == b"x" and s.recv(10) == b""


def test_pipelined_requests_are_answered_in_order(server: Userver, docroot: Path) -> None:
    names = ["class0_0", "class3_8", "class1_4", "class0_1", "class2_2"]
    req = b"".join(f"GET /dir00000/{n} HTTP/1.1\r\nHost: t\r\n\r\n".encode() for n in names)
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as s:
        s.sendall(req + b"HEAD /one HTTP/1.1\r\nHost: t\r\n\r\n")
        buf = bytearray()
        for n in names:
            head, body = read_response(s, buf)
            assert head.startswith(b"HTTP/1.1 200"), n
            assert body == (docroot / "dir00000" / n).read_bytes(), n
        head, body = read_response(s, buf, head_only=True)
        assert b"Content-Length: 1\r\n" in head and body == b""
        s.settimeout(0.3)
        try:
            extra = s.recv(10)
        except TimeoutError:
            extra = b""
        assert extra == b""  # HEAD sent no body


def test_large_file_arrives_intact(server: Userver, docroot: Path) -> None:
    r = subprocess.run(
        ["curl", "-sS", "--max-time", "5", server.url("/dir00000/class3_8")],
        capture_output=True,
        check=True,
    )
    assert r.stdout == (docroot / "dir00000" / "class3_8").read_bytes()


def test_malformed_and_oversized_requests_get_400_and_close(server: Userver) -> None:
    before = server.metrics()['testbed_server_errors_total{kind="parse"}']
    for junk in [b"GARBAGE\r\n\r\n", b"GET / HTTP/1.1\r\nBad Header\r\n\r\n", b"GET /\r\n\r\n"]:
        r = raw_request(server.port, junk)
        assert r.startswith(b"HTTP/1.1 400 Bad Request"), junk
        assert b"Connection: close" in r
    assert raw_request(server.port, b"GET /one HTTP/1.1\r\n\r\n").startswith(b"HTTP/1.1 400")
    huge = b"GET /one HTTP/1.1\r\nX: " + b"a" * 9000  # never ends its head
    assert raw_request(server.port, huge).startswith(b"HTTP/1.1 400")
    after = server.metrics()
    assert after['testbed_server_errors_total{kind="parse"}'] == before + 4
    assert after['testbed_server_errors_total{kind="oversize"}'] >= 1


def test_other_methods_and_versions(server: Userver) -> None:
    r = raw_request(server.port, b"POST /one HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\n\r\nbody")
    assert r.startswith(b"HTTP/1.1 405") and b"Allow: GET, HEAD" in r
    assert b"Connection: close" in r  # the body was not read: the connection cannot go on
    r = raw_request(server.port, b"BREW /pot HTTP/1.1\r\nHost: t\r\n\r\n")
    assert r.startswith(b"HTTP/1.1 501")
    r = raw_request(server.port, b"GET /one HTTP/2.0\r\n\r\n")
    assert r.startswith(b"HTTP/1.1 505")


def test_a_slow_client_does_not_stall_others(server: Userver) -> None:
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as slow:
        slow.sendall(b"GET /one HT")  # and then nothing for a while
        t0 = time.monotonic()
        for _ in range(20):
            assert raw_request(server.port, b"GET /one HTTP/1.0\r\n\r\n").endswith(b"x")
        assert time.monotonic() - t0 < 2.0
        slow.sendall(b"TP/1.1\r\nHost: t\r\n\r\n")
        head, body = read_response(slow, bytearray())
        assert head.startswith(b"HTTP/1.1 200") and body == b"x"
