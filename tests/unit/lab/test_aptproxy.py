"""The lab's apt proxy against a local stand-in for the mirror (never the internet): forwards
what apt asks for, refuses other hosts and ports, serves immutable files from its cache once
fetched, streams answers with a cap, and answers every malformed request 400 and then the next
request as before (issue 25, finding 5)."""

from __future__ import annotations

import re
import socket
import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from orchestrator.lab.aptproxy import ProxyServer, Refusal, parse_target

HALF = b"x" * 1000


class Mirror:
    """The mirror: files from a directory, a record of every request it got, and two answers of
    its own: /slow.deb (half, then the rest once `release` is set) and /unbounded.deb (no
    Content-Length, ended by closing)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.requests: list[tuple[str, list[tuple[str, str]]]] = []
        self.release = threading.Event()
        mirror = self

        class Handler(SimpleHTTPRequestHandler):
            def do_GET(self) -> None:
                mirror.requests.append((self.path, list(self.headers.items())))
                if self.path == "/slow.deb":
                    self.send_response(200)
                    self.send_header("Content-Length", str(2 * len(HALF)))
                    self.end_headers()
                    self.wfile.write(HALF)
                    self.wfile.flush()
                    if mirror.release.wait(10):  # else end short: a buffering proxy fails
                        self.wfile.write(HALF)
                    return
                if self.path == "/unbounded.deb":
                    self.protocol_version = "HTTP/1.0"
                    self.send_response(200)
                    self.end_headers()
                    self.wfile.write(HALF)
                    self.close_connection = True
                    return
                super().do_GET()

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), partial(Handler, directory=str(root)))
        self.port = self.server.server_address[1]
        self.base = f"http://127.0.0.1:{self.port}"

    def paths(self) -> list[str]:
        return [path for path, _ in self.requests]


@pytest.fixture
def mirror(tmp_path: Path) -> Iterator[Mirror]:
    root = tmp_path / "mirror"
    (root / "pool").mkdir(parents=True)
    (root / "pool" / "hello_1.0_amd64.deb").write_bytes(b"deb contents")
    (root / "Release").write_text("Suite: bookworm\n")
    started = Mirror(root)
    serving = {"poll_interval": 0.05}  # a quick shutdown
    threading.Thread(target=started.server.serve_forever, kwargs=serving, daemon=True).start()
    yield started
    started.release.set()
    started.server.shutdown()
    started.server.server_close()


Start = Callable[..., tuple[int, Path]]


@pytest.fixture
def start_proxy(tmp_path: Path, mirror: Mirror) -> Iterator[Start]:
    """Starts a proxy forwarding to the mirror (its port standing in for 80): (port, cache)."""
    running: list[ProxyServer] = []

    def start(**options: int) -> tuple[int, Path]:
        cache = tmp_path / f"cache{len(running)}"
        server = ProxyServer(("127.0.0.1", 0), {"127.0.0.1"}, cache, mirror.port, **options)
        serving = {"poll_interval": 0.05}  # a quick shutdown
        threading.Thread(target=server.serve_forever, kwargs=serving, daemon=True).start()
        running.append(server)
        return server.server_address[1], cache

    yield start
    for server in running:
        server.shutdown()
        server.server_close()


def fetch(proxy_port: int, url: str) -> tuple[int, bytes]:
    proxy = {"http": f"http://127.0.0.1:{proxy_port}"}
    opener = urllib.request.build_opener(urllib.request.ProxyHandler(proxy))
    try:
        with opener.open(url, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def exchange(proxy_port: int, data: bytes) -> tuple[list[int], bytes]:
    """Send raw bytes, read until the proxy closes: every status seen, and the bytes."""
    with socket.create_connection(("127.0.0.1", proxy_port), timeout=10) as client:
        client.sendall(data)
        got = b""
        while chunk := client.recv(65536):
            got += chunk
    return [int(code) for code in re.findall(rb"HTTP/1\.[01] (\d{3}) ", got)], got


def test_forwards_caches_debs_and_refuses_other_hosts(mirror: Mirror, start_proxy: Start) -> None:
    port, cache = start_proxy()
    base = mirror.base
    assert fetch(port, f"{base}/Release") == (200, b"Suite: bookworm\n")
    assert fetch(port, f"{base}/pool/hello_1.0_amd64.deb") == (200, b"deb contents")
    assert fetch(port, f"{base}/missing.deb")[0] == 404
    (mirror.root / "pool" / "hello_1.0_amd64.deb").unlink()  # the cache answers from now on
    assert fetch(port, f"{base}/pool/hello_1.0_amd64.deb") == (200, b"deb contents")
    assert not list(cache.rglob("Release")) and not list(cache.rglob("missing.deb"))
    status, body = fetch(port, "http://localhost/pool/hello_1.0_amd64.deb")
    assert status == 403 and b"not forwarded" in body


def test_forwards_one_host_header_and_no_content_length(mirror: Mirror, start_proxy: Start) -> None:
    port, _ = start_proxy()
    request = (
        f"GET {mirror.base}/Release HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n"
        "User-Agent: Debian APT-HTTP/1.3\r\nX-Private: mine\r\nConnection: close\r\n\r\n"
    )
    codes, _ = exchange(port, request.encode())
    assert codes == [200]
    [(_, headers)] = mirror.requests
    names = [name.lower() for name, _ in headers]
    assert names.count("host") == 1 and dict(headers)["Host"] == f"127.0.0.1:{mirror.port}"
    assert "content-length" not in names and "x-private" not in names
    assert "user-agent" in names


MALFORMED = {
    "double-slash-path": (b"GET http://127.0.0.1:{port}//x.deb HTTP/1.1\r\n", 400),
    "origin-form-double-slash": (b"GET //x.deb HTTP/1.1\r\n", 400),
    "port-not-a-number": (b"GET http://127.0.0.1:abc/x.deb HTTP/1.1\r\n", 400),
    "port-out-of-range": (b"GET http://127.0.0.1:99999/x.deb HTTP/1.1\r\n", 400),
    "another-port": (b"GET http://127.0.0.1:1/x.deb HTTP/1.1\r\n", 403),
    "nul-in-target": (b"GET http://127.0.0.1:{port}/po\x00ol/x.deb HTTP/1.1\r\n", 400),
    "encoded-nul": (b"GET http://127.0.0.1:{port}/pool/x%00.deb HTTP/1.1\r\n", 400),
    "encoded-dot-dot": (b"GET http://127.0.0.1:{port}/pool/..%2f..%2fetc.deb HTTP/1.1\r\n", 400),
    "non-ascii": (b"GET http://127.0.0.1:{port}/pool/\xff.deb HTTP/1.1\r\n", 400),
    "two-host-headers": (
        b"GET http://127.0.0.1:{port}/Release HTTP/1.1\r\nHost: 127.0.0.1\r\nhost: evil\r\n",
        400,
    ),
    "content-length-without-body": (
        b"GET http://127.0.0.1:{port}/Release HTTP/1.1\r\nContent-Length: 5\r\n",
        400,
    ),
    "negative-content-length": (
        b"GET http://127.0.0.1:{port}/Release HTTP/1.1\r\nContent-Length: -1\r\n",
        400,
    ),
    "transfer-encoding": (
        b"GET http://127.0.0.1:{port}/Release HTTP/1.1\r\nTransfer-Encoding: chunked\r\n",
        400,
    ),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_a_malformed_request_gets_400_and_the_proxy_answers_the_next(
    mirror: Mirror, start_proxy: Start, case: str
) -> None:
    port, cache = start_proxy()
    head, status = MALFORMED[case]
    request = head.replace(b"{port}", str(mirror.port).encode()) + b"Connection: close\r\n\r\n"
    codes, got = exchange(port, request)
    assert codes == [status], got
    assert mirror.requests == []  # nothing of it reached the mirror
    assert not cache.exists() or not any(cache.rglob("*.deb"))
    assert fetch(port, f"{mirror.base}/Release") == (200, b"Suite: bookworm\n")


def test_a_body_is_never_read_as_the_next_request(mirror: Mirror, start_proxy: Start) -> None:
    port, _ = start_proxy()
    smuggled = f"GET {mirror.base}/pool/hello_1.0_amd64.deb HTTP/1.1\r\n\r\n".encode()
    head = f"GET {mirror.base}/Release HTTP/1.1\r\nContent-Length: {len(smuggled)}\r\n\r\n"
    codes, _ = exchange(port, head.encode() + smuggled)
    assert codes == [400] and mirror.requests == []
    assert fetch(port, f"{mirror.base}/Release")[0] == 200


def test_answers_are_streamed_as_they_arrive_and_cached_whole(
    mirror: Mirror, start_proxy: Start
) -> None:
    """The first half reaches the machine while the mirror still holds the second back: the
    proxy does not wait for the whole answer (the mirror ends short after 10 s otherwise)."""
    port, cache = start_proxy()
    with socket.create_connection(("127.0.0.1", port), timeout=10) as client:
        client.sendall(f"GET {mirror.base}/slow.deb HTTP/1.1\r\n\r\n".encode())
        got = b""
        while b"\r\n\r\n" not in got or len(got.split(b"\r\n\r\n", 1)[1]) < len(HALF):
            chunk = client.recv(65536)
            assert chunk, got
            got += chunk
        assert not mirror.release.is_set()
        mirror.release.set()
        head, body = got.split(b"\r\n\r\n", 1)
        while len(body) < 2 * len(HALF):
            chunk = client.recv(65536)
            assert chunk, body
            body += chunk
        assert head.startswith(b"HTTP/1.1 200 ") and body == HALF * 2
        # A second request on the same connection is answered after the first is done.
        client.sendall(f"GET {mirror.base}/Release HTTP/1.1\r\nConnection: close\r\n\r\n".encode())
        rest = b""
        while chunk := client.recv(65536):
            rest += chunk
        assert rest.startswith(b"HTTP/1.1 200 ")
    assert (cache / "127.0.0.1" / "slow.deb").read_bytes() == HALF * 2


def test_an_answer_above_the_cap_is_refused_or_cut_and_never_cached(
    mirror: Mirror, start_proxy: Start
) -> None:
    port, cache = start_proxy(max_body=100)
    status, body = fetch(port, f"{mirror.base}/pool/hello_1.0_amd64.deb")
    assert (status, body) == (200, b"deb contents")  # 12 bytes: under the cap
    (mirror.root / "pool" / "big.deb").write_bytes(HALF)
    status, body = fetch(port, f"{mirror.base}/pool/big.deb")
    assert status == 502 and b"above the proxy's cap of 100" in body
    # Without a Content-Length the cap cuts the answer short and closes.
    codes, got = exchange(port, f"GET {mirror.base}/unbounded.deb HTTP/1.1\r\n\r\n".encode())
    assert codes == [200] and len(got.split(b"\r\n\r\n", 1)[1]) <= 100
    assert not list(cache.rglob("big.deb")) and not list(cache.rglob("unbounded.deb"))
    assert not list(cache.rglob(".part.*"))
    assert fetch(port, f"{mirror.base}/Release")[0] == 200


@pytest.mark.parametrize(
    ("target", "status"),
    [
        ("http://m/x.deb?a=1", None),
        ("http://m:80/pool/a%3a1.deb", None),
        ("https://m/x.deb", 403),
        ("http://other/x.deb", 403),
        ("http://m:8080/x.deb", 403),
        ("http://m:/x.deb", None),
        ("http://m:65536/x.deb", 400),
        ("http://m/a/./b.deb", 400),
        ("http://m/a%2f..%2f..%2fb.deb", 400),
        ("http://m", 400),
        ("/x.deb", 400),
        ("http://m/a b", 400),
    ],
)
def test_parse_target(target: str, status: int | None) -> None:
    if status is None:
        parsed = parse_target(target, {"m"})
        assert parsed.host == "m" and parsed.path.startswith("/")
        return
    with pytest.raises(Refusal) as caught:
        parse_target(target, {"m"})
    assert caught.value.status == status and "\n" not in caught.value.message


def test_the_cache_path_is_the_decoded_path_inside_the_cache() -> None:
    parsed = parse_target("http://m/debian/pool/a%3a1.deb", {"m"})
    assert str(parsed.cache) == "m/debian/pool/a:1.deb"
    assert parse_target("http://m/dists/bookworm/InRelease", {"m"}).cache is None
    assert str(parse_target("http://m/d/by-hash/SHA256/ab", {"m"}).cache) == "m/d/by-hash/SHA256/ab"
