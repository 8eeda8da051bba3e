"""The harness's parsers of httperf, wrk and Prometheus output, on captured text."""

from __future__ import annotations

import pytest

from tests.support.userver import parse_httperf, parse_metrics, parse_wrk

HTTPERF_SESSIONS = """\
httperf --timeout=5 --client=0/1 --server=127.0.0.1 --port=18123 --uri=/ --rate=20 \
--send-buffer=4096 --recv-buffer=16384 --wsesslog=20,0.000,/tmp/s.txt
Maximum connect burst length: 1

Total: connections 20 requests 70 replies 70 test-duration 1.012 s

Connection rate: 19.8 conn/s (50.6 ms/conn, <=2 concurrent connections)
Reply status: 1xx=0 2xx=70 3xx=0 4xx=0 5xx=0

Errors: total 0 client-timo 0 socket-timo 0 connrefused 0 connreset 0
Errors: fd-unavail 0 addrunavail 0 ftab-full 0 other 0

Session rate [sess/s]: min 0.00 avg 19.77 max 0.00 stddev 0.00 (20/20)
Session: avg 1.00 connections/session
"""

HTTPERF_ERRORS = """\
Total: connections 51175 requests 51175 replies 49000 test-duration 4.014 s
Reply status: 1xx=0 2xx=48990 3xx=0 4xx=10 5xx=0
Errors: total 4825 client-timo 2 socket-timo 0 connrefused 0 connreset 3
Errors: fd-unavail 4820 addrunavail 0 ftab-full 0 other 0
"""

WRK = """\
Running 2s test @ http://127.0.0.1:18001/one
  2 threads and 200 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     2.10ms  400.00us   9.00ms   90.00%
  60123 requests in 2.00s, 12.34MB read
  Socket errors: connect 0, read 2, write 0, timeout 1
  Non-2xx or 3xx responses: 7
Requests/sec:  30061.50
"""


def test_httperf_sessions() -> None:
    r = parse_httperf(HTTPERF_SESSIONS)
    assert (r.connections, r.requests, r.replies, r.errors, r.status_2xx) == (20, 70, 70, 0, 70)
    assert (r.sessions_done, r.sessions_total) == (20, 20)


def test_httperf_errors_and_no_sessions() -> None:
    r = parse_httperf(HTTPERF_ERRORS)
    assert (r.replies, r.errors, r.status_2xx) == (49000, 4825, 48990)
    assert r.sessions_done is None


def test_httperf_rejects_other_text() -> None:
    with pytest.raises(ValueError):
        parse_httperf("httperf: connection refused\n")


def test_wrk() -> None:
    r = parse_wrk(WRK)
    assert (r.requests, r.socket_errors, r.non_2xx) == (60123, 3, 7)
    clean = parse_wrk("  10 requests in 1.00s, 1KB read\nRequests/sec: 10\n")
    assert (clean.requests, clean.socket_errors, clean.non_2xx) == (10, 0, 0)


def test_metrics_text() -> None:
    text = '# HELP a x\n# TYPE a counter\na_total 3\nb{k="v"} 1.5e+03\n'
    assert parse_metrics(text) == {"a_total": 3.0, 'b{k="v"}': 1500.0}
