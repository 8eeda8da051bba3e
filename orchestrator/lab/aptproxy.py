"""An HTTP proxy for apt, so the machines of a lab install packages from the Debian mirror.

    python -m orchestrator.lab.aptproxy --listen 198.18.16.1:3142 --cache DIR --allow deb.debian.org

A lab's machines only have the lab's networks; the orchestrator, on the management bridge,
forwards their apt requests to the mirror, as an apt proxy (apt-cacher-ng, squid) does for a
physical lab without a route out. Each machine's apt names it in
/etc/apt/apt.conf.d/01testbed-proxy. Only plain-HTTP GET and HEAD to the allowed hosts on
port 80 are forwarded, with the few request headers apt's answers depend on; `.deb` files and
by-hash package lists, which never change under one name, are kept in the cache directory, so
the next lab installs from there. Standard library only.

The machines are the lab's guests, so their requests are the guest's input: each answer is
streamed to the machine a chunk at a time as it arrives (never a whole package in memory) and
capped at MAX_BODY, a cached file is kept only when it arrived whole, and a request the proxy
cannot forward as sent (a bad port, a control character or NUL, a path such as `//x.deb` or
with `..`, two Host headers, a body) gets 400 with a line saying why; no request stops the
proxy or holds a thread for longer than REQUEST_TIMEOUT of silence.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import os
import shutil
import tempfile
import urllib.parse
from collections.abc import Collection
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path, PurePosixPath
from typing import IO

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
# The request headers forwarded: what apt sends that its answers depend on. Not Host (the
# proxy names the mirror itself), not Content-Length (apt's GET and HEAD have no body), not
# Accept-Encoding (the cache keeps and serves files as they are).
FORWARDED = {
    "accept",
    "cache-control",
    "if-modified-since",
    "if-none-match",
    "if-range",
    "pragma",
    "range",
    "user-agent",
}
CHUNK = 1 << 16
UPSTREAM_PORT = 80  # the mirror's; a request cannot name another port of it
UPSTREAM_TIMEOUT = 60.0
REQUEST_TIMEOUT = 60.0  # a machine silent this long mid-request is dropped
MAX_BODY = 1 << 30  # per answer: far above any package the labs install, far below the disk


class Refusal(Exception):
    """A request the proxy does not forward: its HTTP status and why, in one line."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class Target:
    """Where a proxy request goes upstream."""

    host: str  # the mirror's host name, as allowed
    path: str  # path and query, as sent by the machine (checked printable ASCII)
    cache: PurePosixPath | None  # where an immutable file is kept, relative to the cache


def parse_target(raw: str, allowed: Collection[str], port: int = UPSTREAM_PORT) -> Target:
    """The upstream request for a proxy request's target, `http://HOST[:PORT]/PATH` (a pure
    function); Refusal with 400 for a malformed one, 403 for one not forwarded."""
    if any(not 0x21 <= ord(char) <= 0x7E for char in raw):
        raise Refusal(400, "the request target holds a control character, a space or non-ASCII")
    url = urllib.parse.urlsplit(raw)
    if not url.scheme or not url.netloc:
        raise Refusal(400, f"not a proxy request (an absolute http:// URL): {raw}")
    try:
        named_port = url.port
    except ValueError:
        raise Refusal(400, f"a bad port: {url.netloc}") from None
    host = url.hostname or ""
    if url.scheme != "http" or host not in allowed or named_port not in (None, port):
        hosts = ", ".join(sorted(allowed))
        raise Refusal(403, f"not forwarded: {raw} (only http:// to {hosts}, port {port})")
    decoded = urllib.parse.unquote(url.path)
    segments = decoded.split("/")[1:]
    if (
        not url.path.startswith("/")
        or "//" in url.path
        or "\0" in decoded
        or any(segment in (".", "..") for segment in segments)
    ):
        raise Refusal(400, f"a bad path: {url.path}")
    immutable = url.path.endswith(".deb") or "/by-hash/" in url.path
    # Decoded, so that one file is one cache entry; the checks above keep it inside the cache.
    cache = PurePosixPath(host, *segments) if immutable and all(segments) else None
    path = url.path + (f"?{url.query}" if url.query else "")
    return Target(host, path, cache)


class ProxyServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(
        self,
        listen: tuple[str, int],
        allowed: set[str],
        cache: Path,
        upstream_port: int = UPSTREAM_PORT,  # tests point it at a mirror of their own
        max_body: int = MAX_BODY,
    ) -> None:
        super().__init__(listen, ProxyHandler)
        self.allowed = allowed
        self.cache = cache
        self.upstream_port = upstream_port
        self.max_body = max_body


class ProxyHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = REQUEST_TIMEOUT
    server: ProxyServer

    def do_GET(self) -> None:
        self._forward(body=True)

    def do_HEAD(self) -> None:
        self._forward(body=False)

    def log_message(self, format: str, *args: object) -> None:
        pass  # apt's requests are not worth a line each

    def _forward(self, body: bool) -> None:
        try:
            self._check_headers()
            target = parse_target(self.path, self.server.allowed, self.server.upstream_port)
        except Refusal as refusal:
            self._refuse(refusal.status, refusal.message)
            return
        cached = None if target.cache is None else self.server.cache / target.cache
        if cached is not None and cached.is_file():
            self._send_file(cached, body)
            return
        headers = {
            key: value
            for key, value in self.headers.items()
            if key.lower() in FORWARDED and value.isprintable()
        }
        port = self.server.upstream_port
        headers["Host"] = target.host if port == UPSTREAM_PORT else f"{target.host}:{port}"
        upstream = http.client.HTTPConnection(target.host, port, timeout=UPSTREAM_TIMEOUT)
        try:
            try:
                upstream.request(self.command, target.path, headers=headers)
                response = upstream.getresponse()
            except (OSError, http.client.HTTPException) as error:
                self._refuse(502, f"{target.host}: {error}")
                return
            self._relay(response, body, cached if response.status == 200 else None)
        finally:
            upstream.close()

    def _check_headers(self) -> None:
        """Refuse two Host headers (RFC 9112 3.2: 400) and a request with a body, which the
        proxy would never read: the body would be taken as the machine's next request."""
        if len(self.headers.get_all("Host") or []) > 1:
            raise Refusal(400, "more than one Host header")
        lengths = self.headers.get_all("Content-Length") or []
        if self.headers.get("Transfer-Encoding") is not None or any(v != "0" for v in lengths):
            raise Refusal(400, "a request with a body (apt's GET and HEAD have none)")

    def _relay(self, response: http.client.HTTPResponse, body: bool, cached: Path | None) -> None:
        """The upstream answer to the machine as it arrives, a chunk at a time, and into the
        cache when `cached` is given and the answer arrives whole."""
        cap = self.server.max_body
        declared = _length(response.getheader("Content-Length"))
        if declared is not None and declared > cap:
            self._refuse(502, f"an answer of {declared} bytes, above the proxy's cap of {cap}")
            return
        self.send_response(response.status, response.reason)
        for key, value in response.getheaders():
            if key.lower() not in HOP_BY_HOP and key.lower() != "content-length":
                self.send_header(key, value)
        if declared is not None and not response.chunked:
            self.send_header("Content-Length", str(declared))
        elif body:  # no length known: the end of the answer is the end of the connection
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        if not body:
            return
        spool = _Spool.beside(cached) if cached is not None else None
        sent, whole = 0, False
        try:
            while chunk := response.read1(CHUNK):  # what has arrived, not a whole CHUNK
                sent += len(chunk)
                if sent > cap:  # an answer without a length, past the cap
                    break
                self.wfile.write(chunk)
                if spool is not None:
                    spool.file.write(chunk)
            else:
                whole = True
        except (OSError, http.client.HTTPException):
            pass  # the mirror or the machine went away mid-answer
        finally:
            if spool is not None:
                spool.finish(whole)
        if not whole:
            # The head has gone out: all that is left is to cut the answer short, which the
            # machine notices (a short body, or apt's hash check).
            self.close_connection = True

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
        if status == 400:  # whatever else the machine sent cannot be trusted to frame a request
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)


class _Spool:
    """A temporary file beside a cached file's place that becomes that file only when the
    answer arrived whole (two machines may fetch one file at once: each renames a whole one)."""

    def __init__(self, path: Path, file: IO[bytes]) -> None:
        self.path = path
        self.file = file

    @classmethod
    def beside(cls, path: Path) -> _Spool | None:
        """None when the cache cannot be written: the answer still goes to the machine."""
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            # Open across the whole answer; `finish` closes it.
            file = tempfile.NamedTemporaryFile(  # noqa: SIM115
                dir=path.parent, prefix=".part.", delete=False
            )
        except OSError:
            return None
        return cls(path, file)

    def finish(self, whole: bool) -> None:
        self.file.close()
        if whole:
            with contextlib.suppress(OSError):
                os.replace(self.file.name, self.path)
                return
        with contextlib.suppress(OSError):
            os.unlink(self.file.name)


def _length(value: str | None) -> int | None:
    return int(value) if value is not None and value.isdigit() else None


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
