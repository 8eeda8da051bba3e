"""Request framing per RFC 9112 under every mechanism, with raw sockets (issue 14).

The server implements no transfer coding and never reads a body: a request with
Transfer-Encoding gets 501, a Content-Length that is not one plain decimal value gets 400, both
together get 400, and every one of them closes the connection. A well-framed request with a body
is answered and the connection closed, so that the body is never parsed as a request: each case
below puts a whole "GET /one" request where a body or chunk goes and checks that it is never
answered. nginx's answers to the same bytes are noted for comparison (1.22, `root` only).
"""

from __future__ import annotations

import re
import socket

import pytest

from tests.support.userver import Userver

SMUGGLED = b"GET /one HTTP/1.1\r\nHost: t\r\n\r\n"
STATUS = re.compile(rb"HTTP/1\.1 (\d{3}) ")


def exchange(port: int, data: bytes, wait: float = 5.0) -> tuple[list[int], bool, bytes]:
    """Send data, read until the server closes or is silent for `wait` seconds.

    Returns the status codes of every response seen, whether the server closed, and the bytes.
    """
    with socket.create_connection(("127.0.0.1", port), timeout=wait) as s:
        s.sendall(data)
        got = b""
        closed = False
        try:
            while chunk := s.recv(65536):
                got += chunk
            closed = True
        except TimeoutError:
            pass
        except ConnectionResetError:  # the answer may be lost with an RST: count as closed
            closed = True
    return [int(code) for code in STATUS.findall(got)], closed, got


def one_response_then_close(port: int, data: bytes, status: int) -> bytes:
    codes, closed, got = exchange(port, data)
    assert codes == [status], got
    assert closed, got
    assert b"Connection: close\r\n" in got
    return got


# ------------------------------------------------------------------------ Transfer-Encoding


@pytest.mark.parametrize(
    "data",
    [
        # nginx: 400 (it reads the chunk and finds it malformed); before the fix userver gave 200
        # and left the chunk on the connection.
        b"GET /one HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n" + SMUGGLED,
        # nginx: 200, the chunked body read and discarded, keep-alive.
        b"GET /one HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
        + b"%x\r\n" % len(SMUGGLED)
        + SMUGGLED
        + b"\r\n0\r\n\r\n"
        + SMUGGLED,
        # nginx: 501.
        b"GET /one HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip, chunked\r\n\r\n" + SMUGGLED,
        # nginx: 400 (TE in HTTP/1.0, RFC 9112 6.1).
        b"GET /one HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + SMUGGLED,
        # nginx: 405 after reading the chunked body.
        b"POST /one HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + SMUGGLED,
    ],
    ids=["malformed-chunk", "well-formed-chunks", "gzip", "http10", "post"],
)
def test_transfer_encoding_gets_501_and_close(server: Userver, data: bytes) -> None:
    one_response_then_close(server.port, data, 501)


@pytest.mark.parametrize(
    "headers",
    [
        b"Transfer-Encoding: chunked\r\nContent-Length: 5\r\n",
        b"Content-Length: 0\r\nTransfer-Encoding: chunked\r\n",
    ],
    ids=["te-then-cl", "cl-then-te"],
)
def test_transfer_encoding_with_content_length_gets_400(server: Userver, headers: bytes) -> None:
    # nginx: 400 for both orders.
    data = b"POST /one HTTP/1.1\r\nHost: t\r\n" + headers + b"\r\n0\r\n\r\n" + SMUGGLED
    one_response_then_close(server.port, data, 400)


# ---------------------------------------------------------------------------- Content-Length


@pytest.mark.parametrize(
    "value",
    [
        b"99999999999999999999999",  # overflow; before the fix userver answered 200
        b"9223372036854775808",  # LLONG_MAX + 1
        b"+5",
        b"-5",
        b"0x5",
        b"5 5",
        b"5, 6",
        b"5,",
        b"",
    ],
)
def test_bad_content_length_gets_400_and_close(server: Userver, value: bytes) -> None:
    # nginx: 400 for every one of these.
    before = server.metrics()['testbed_server_errors_total{kind="parse"}']
    data = b"GET /one HTTP/1.1\r\nHost: t\r\nContent-Length: " + value + b"\r\n\r\n" + SMUGGLED
    one_response_then_close(server.port, data, 400)
    assert server.metrics()['testbed_server_errors_total{kind="parse"}'] == before + 1


def test_differing_content_length_lines_get_400(server: Userver) -> None:
    # nginx: 400 ("duplicate header line"); before the fix userver answered 200.
    data = b"GET /one HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello"
    one_response_then_close(server.port, data + SMUGGLED, 400)


def test_identical_content_lengths_are_one_value(server: Userver) -> None:
    """RFC 9110 8.6 lets a recipient take "5, 5" (or two lines of 5) as 5: userver does.

    nginx answers 400 to both. Either way the body is not parsed as a request.
    """
    for headers in [b"Content-Length: 5, 5\r\n", b"Content-Length: 5\r\ncontent-length: 5\r\n"]:
        data = b"GET /one HTTP/1.1\r\nHost: t\r\n" + headers + b"\r\nhello" + SMUGGLED
        got = one_response_then_close(server.port, data, 200)
        assert got.endswith(b"\r\n\r\nx")


@pytest.mark.parametrize(
    ("method", "status"),
    [(b"GET", 200), (b"POST", 405), (b"HEAD", 200), (b"DELETE", 405), (b"BREW", 501)],
)
def test_a_body_holding_a_request_is_never_parsed(
    server: Userver, method: bytes, status: int
) -> None:
    """The body is left unread and the connection closed: the request inside is not answered.

    nginx reads and discards the body, answers 200 (GET, HEAD) or 405 and keeps the connection.
    """
    data = (
        method
        + b" /one HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n\r\n" % len(SMUGGLED)
        + SMUGGLED
    )
    one_response_then_close(server.port, data, status)
    # The body in a later segment than the head: still never parsed.
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as s:
        s.sendall(data[: -len(SMUGGLED)])
        got = s.recv(65536)
        s.sendall(SMUGGLED)
        while chunk := s.recv(65536):
            got += chunk
    assert [int(c) for c in STATUS.findall(got)] == [status], got


def test_content_length_zero_keeps_the_connection(server: Userver) -> None:
    data = b"GET /one HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n" + SMUGGLED
    codes, closed, _ = exchange(server.port, data, wait=0.5)
    assert codes == [200, 200] and not closed


# ------------------------------------------------------------------------------------ Host


@pytest.mark.parametrize(
    "data",
    [
        b"GET /one HTTP/1.1\r\nHost: t\r\nHost: other\r\n\r\n",
        b"GET /one HTTP/1.1\r\nHost: t\r\nhost: t\r\n\r\n",
        b"GET /one HTTP/1.0\r\nHOST: t\r\nX-A: b\r\nHost: other\r\n\r\n",
    ],
    ids=["two-values", "same-value-lower-case", "http10-apart"],
)
def test_two_host_headers_get_400_and_close(server: Userver, data: bytes) -> None:
    # RFC 9112 3.2; nginx: 400 ("client sent duplicate host header"). Before issue 25 userver
    # answered 200. The request after it on the connection is never answered.
    before = server.metrics()['testbed_server_errors_total{kind="parse"}']
    one_response_then_close(server.port, data + SMUGGLED, 400)
    assert server.metrics()['testbed_server_errors_total{kind="parse"}'] == before + 1


# --------------------------------------------------------------- Connection, empty lines, 405


@pytest.mark.parametrize(
    "headers",
    [
        b"Connection: close, keep-alive\r\n",
        b"Connection: keep-alive, close\r\n",
        b"Connection: close\r\nConnection: keep-alive\r\n",
    ],
    ids=["close-first", "close-last", "two-lines"],
)
def test_close_wins_over_keep_alive(server: Userver, headers: bytes) -> None:
    # nginx: closes for the first two; keeps the connection for two lines (the last one wins).
    data = b"GET /one HTTP/1.1\r\nHost: t\r\n" + headers + b"\r\n" + SMUGGLED
    got = one_response_then_close(server.port, data, 200)
    assert got.endswith(b"\r\n\r\nx")


def test_leading_empty_lines_are_ignored(server: Userver) -> None:
    # nginx: the same (RFC 9112 2.2); before the fix userver answered 400.
    data = b"\r\n\r\nGET /one HTTP/1.1\r\nHost: t\r\n\r\n\r\n" + SMUGGLED + b"\n" + SMUGGLED
    codes, closed, _ = exchange(server.port, data, wait=0.5)
    assert codes == [200, 200, 200] and not closed
    # Sent alone first, the empty lines are held until the request line comes.
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as s:
        s.sendall(b"\r\n\r\n")
        s.settimeout(0.3)
        with pytest.raises(TimeoutError):
            s.recv(10)
        s.settimeout(5)
        s.sendall(b"GET /one HTTP/1.0\r\n\r\n")
        got = b""
        while chunk := s.recv(65536):
            got += chunk
    assert got.startswith(b"HTTP/1.1 200 OK") and got.endswith(b"\r\n\r\nx")


def test_405_keeps_the_connection_unless_a_body_came(server: Userver) -> None:
    """As server/README.md says: a 405 to a request without a body keeps the connection.

    nginx: 405 keeps the connection in both cases (it discards the body).
    """
    data = b"POST /one HTTP/1.1\r\nHost: t\r\n\r\n" + SMUGGLED
    codes, closed, got = exchange(server.port, data, wait=0.5)
    assert codes == [405, 200] and not closed, got
    assert b"Allow: GET, HEAD\r\n" in got and b"Connection: keep-alive\r\n" in got
    data = b"OPTIONS * HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n" + SMUGGLED
    codes, closed, got = exchange(server.port, data, wait=0.5)
    assert codes == [405, 200] and not closed, got
    data = b"POST /one HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\n\r\nbody" + SMUGGLED
    one_response_then_close(server.port, data, 405)
