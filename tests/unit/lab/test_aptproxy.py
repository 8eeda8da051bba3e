"""The lab's apt proxy against a local stand-in for the mirror: forwards what apt asks for,
refuses other hosts, and serves immutable files from its cache once fetched."""

from __future__ import annotations

import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from orchestrator.lab.aptproxy import ProxyServer


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def mirror(tmp_path: Path) -> Iterator[tuple[ThreadingHTTPServer, Path]]:
    root = tmp_path / "mirror"
    (root / "pool").mkdir(parents=True)
    (root / "pool" / "hello_1.0_amd64.deb").write_bytes(b"deb contents")
    (root / "Release").write_text("Suite: bookworm\n")
    handler = partial(QuietHandler, directory=str(root))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server, root
    server.shutdown()
    server.server_close()


@pytest.fixture
def proxy(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    cache = tmp_path / "cache"
    server = ProxyServer(("127.0.0.1", 0), {"127.0.0.1"}, cache)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", cache
    server.shutdown()
    server.server_close()


def fetch(proxy_url: str, url: str) -> tuple[int, bytes]:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({"http": proxy_url}))
    try:
        with opener.open(url, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def test_forwards_caches_debs_and_refuses_other_hosts(
    mirror: tuple[ThreadingHTTPServer, Path], proxy: tuple[str, Path]
) -> None:
    server, root = mirror
    proxy_url, cache = proxy
    base = f"http://127.0.0.1:{server.server_address[1]}"
    assert fetch(proxy_url, f"{base}/Release") == (200, b"Suite: bookworm\n")
    assert fetch(proxy_url, f"{base}/pool/hello_1.0_amd64.deb") == (200, b"deb contents")
    assert fetch(proxy_url, f"{base}/missing.deb")[0] == 404
    (root / "pool" / "hello_1.0_amd64.deb").unlink()  # the cache answers from now on
    assert fetch(proxy_url, f"{base}/pool/hello_1.0_amd64.deb") == (200, b"deb contents")
    assert not list(cache.rglob("Release")) and not list(cache.rglob("missing.deb"))
    status, body = fetch(proxy_url, "http://localhost/pool/hello_1.0_amd64.deb")
    assert status == 403 and b"not forwarded" in body
