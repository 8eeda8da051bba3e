"""The server's counters parsed from two real scrapes of userver (epoll-lt, wall-clock timing
only) around 20 one-byte requests and one 404, and their difference as stored with a point."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.run.servermetrics import difference, parse

FIXTURES = Path(__file__).parent / "fixtures"
BEFORE = (FIXTURES / "server-metrics-before.txt").read_text()
AFTER = (FIXTURES / "server-metrics-after.txt").read_text()


def test_a_scrape_parses_into_counters() -> None:
    after = parse(AFTER)
    assert after.info["mechanism"] == "epoll-lt"
    assert after.replies["200"] == 20 and after.replies["404"] == 1
    assert after.replies_total == 21
    calls, seconds = after.syscalls["epoll_ctl"]
    assert calls > 0 and seconds >= 0
    assert after.open_connections == 0
    assert after.totals["testbed_server_requests_total"] == 21


def test_the_difference_is_what_happened_between_the_scrapes() -> None:
    server = difference(parse(BEFORE), parse(AFTER))
    assert server["replies_total"] == 21
    assert server["replies"]["200"] == 20
    assert server["syscalls"]["accept4"]["calls"] > 0
    assert all(v["calls"] >= 0 and v["seconds"] >= 0 for v in server["syscalls"].values())
    assert server["cpu_seconds"] >= 0
    assert server["info"]["mechanism"] == "epoll-lt"


def test_a_snapshot_against_itself_is_all_zero() -> None:
    server = difference(parse(AFTER), parse(AFTER))
    assert server["replies_total"] == 0 and server["cpu_seconds"] == 0
    assert {v["calls"] for v in server["syscalls"].values()} == {0}


def test_text_that_is_not_an_exposition_raises() -> None:
    with pytest.raises(ValueError):
        parse("this is { not prometheus text\n")
