"""An HTTP proxy for apt, so the machines of a lab install packages from the Debian mirror.

    python -m orchestrator.lab.aptproxy --listen 198.18.16.1:3142 --cache DIR --allow deb.debian.org

A lab's machines only have the lab's networks; the orchestrator, on the management bridge,
forwards their apt requests to the mirror, as an apt proxy (apt-cacher-ng, squid) does for a
physical lab without a route out. Each machine's apt names it in
/etc/apt/apt.conf.d/01testbed-proxy. Only plain-HTTP GET and HEAD to the allowed hosts are
forwarded; `.deb` files and by-hash package lists, which never change under one name, are kept
in the cache directory, so the next lab installs from there. Standard library only.
"""

from __future__ import annotations

import argparse
import http.client
import os
import shutil
import tempfile
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authorization",
    "proxy-authenticate",
    "te",
    "trailers",
    "transfer-encoding",
    "upgrade",
}
CHUNK = 1 << 16
UPSTREAM_TIMEOUT = 60.0


class ProxyServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, listen: tuple[str, int], allowed: set[str], cache: Path) -> None:
        super().__init__(listen, ProxyHandler)
        self.allowed = allowed
        self.cache = cache


class ProxyHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: ProxyServer

    def do_GET(self) -> None:
        self._forward(body=True)

    def do_HEAD(self) -> None:
        self._forward(body=False)

    def log_message(self, format: str, *args: object) -> None:
        pass  # apt's requests are not worth a line each

    def _forward(self, body: bool) -> None:
        url = urllib.parse.urlsplit(self.path)
        if url.scheme != "http" or url.hostname not in self.server.allowed:
            self._refuse(403, f"not forwarded: {self.path}")
            return
        path = url.path + (f"?{url.query}" if url.query else "")
        immutable = url.path.endswith(".deb") or "/by-hash/" in url.path
        cached = self._cache_path(url) if immutable else None
        if cached is not None and cached.is_file():
            self._send_file(cached, body)
            return
        headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
        headers["Host"] = url.netloc
        upstream = http.client.HTTPConnection(
            url.hostname or "", url.port or 80, timeout=UPSTREAM_TIMEOUT
        )
        try:
            upstream.request(self.command, path, headers=headers)
            response = upstream.getresponse()
            data = response.read() if body else b""
        except OSError as error:
            self._refuse(502, f"{url.hostname}: {error}")
            return
        finally:
            upstream.close()
        self.send_response(response.status, response.reason)
        for key, value in response.getheaders():
            if key.lower() not in HOP_BY_HOP and key.lower() != "content-length":
                self.send_header(key, value)
        length = len(data) if body else int(response.getheader("Content-Length") or 0)
        self.send_header("Content-Length", str(length))
        self.end_headers()
        if body:
            self.wfile.write(data)
            if cached is not None and response.status == 200:
                _store(cached, data)

    def _cache_path(self, url: urllib.parse.SplitResult) -> Path | None:
        relative = Path(urllib.parse.unquote(url.path)).relative_to("/")
        if ".." in relative.parts:
            return None
        return self.server.cache / (url.hostname or "") / relative

    def _send_file(self, path: Path, body: bool) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/vnd.debian.binary-package")
        self.send_header("Content-Length", str(path.stat().st_size))
        self.end_headers()
        if body:
            with path.open("rb") as source:
                shutil.copyfileobj(source, self.wfile, CHUNK)

    def _refuse(self, status: int, message: str) -> None:
        data = (message + "\n").encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)


def _store(path: Path, data: bytes) -> None:
    """Write a cached file whole or not at all (two machines may fetch it at once)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=path.parent, delete=False) as temporary:
        temporary.write(data)
    os.replace(temporary.name, path)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description="An HTTP proxy for apt (see the module doc).", allow_abbrev=False
    )
    parser.add_argument("--listen", required=True, help="ADDRESS:PORT")
    parser.add_argument("--cache", required=True, type=Path, help="where .deb files are kept")
    parser.add_argument("--allow", action="append", required=True, help="a mirror host name")
    options = parser.parse_args(argv)
    address, _, port = options.listen.rpartition(":")
    server = ProxyServer((address, int(port)), set(options.allow), options.cache)
    server.serve_forever()


if __name__ == "__main__":
    main()
