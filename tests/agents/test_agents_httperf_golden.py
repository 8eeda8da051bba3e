"""The httperf parser against golden files of real httperf output (tests/agents/golden/*.txt,
captured by golden/capture.py). Each file's parse is compared with the JSON beside it;
TESTBED_UPDATE_GOLDEN=1 rewrites those JSON files (then review the diff), as node_exporter's
golden files are regenerated with a flag.

Besides the snapshots, the parses are checked for what httperf's numbers must satisfy, so a wrong
snapshot cannot pass unnoticed."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import pytest

from agents.load.httperf import (
    HttperfParseError,
    HttperfResult,
    parse,
    parse_progress,
    to_dict,
)
from agents.load.merge import merge, rate_stats

GOLDEN = Path(__file__).parent / "golden"
UPDATE = os.environ.get("TESTBED_UPDATE_GOLDEN") == "1"
CASES = sorted(GOLDEN.glob("*.txt"))
EXPECTED_CASES = {
    "one-byte-0samples",
    "one-byte-1sample",
    "one-byte-2samples",
    "one-byte-404",
    "one-byte-sigint",
    "one-byte-split-0of2",
    "one-byte-split-1of2",
    "session-specweb99",
    "session-connreset",
    "errors-connrefused",
    "errors-client-timo",
    "errors-fd-unavail",
}


def load(name: str) -> HttperfResult:
    return parse((GOLDEN / f"{name}.txt").read_text())


def test_every_kind_of_run_has_a_golden_file() -> None:
    assert {p.stem for p in CASES} >= EXPECTED_CASES


@pytest.mark.parametrize("path", CASES, ids=lambda p: p.stem)
def test_parse_matches_golden_json(path: Path) -> None:
    got = to_dict(parse(path.read_text()))
    expected_path = path.with_suffix(".json")
    if UPDATE:
        expected_path.write_text(json.dumps(got, indent=2, sort_keys=True) + "\n")
    assert expected_path.exists(), f"no {expected_path.name}: run with TESTBED_UPDATE_GOLDEN=1"
    assert got == json.loads(expected_path.read_text())


@pytest.mark.parametrize("path", CASES, ids=lambda p: p.stem)
def test_parse_is_self_consistent(path: Path) -> None:
    r = parse(path.read_text())
    errors = r.errors.as_dict()
    assert errors["total"] == sum(v for k, v in errors.items() if k != "total")
    assert sum(r.status.as_dict().values()) == r.replies
    assert r.reply_rate.samples == len(r.reply_rate_samples)
    assert r.reply_rate_total == pytest.approx(r.replies / r.test_duration_s)
    if r.reply_rate_samples:
        mine = rate_stats(r.reply_rate_samples)
        assert mine.min == pytest.approx(r.reply_rate.min, abs=0.05)
        assert mine.avg == pytest.approx(r.reply_rate.avg, abs=0.05)
        assert mine.max == pytest.approx(r.reply_rate.max, abs=0.05)
        assert mine.stddev == pytest.approx(r.reply_rate.stddev, abs=0.05)
    assert r.command is not None and r.command.startswith("httperf --")
    assert r.max_open_descriptors == 1024
    assert r.cpu.total_pct == pytest.approx(r.cpu.user_pct + r.cpu.system_pct, abs=0.2)


def test_one_byte_run_counts() -> None:
    r = load("one-byte-1sample")  # --rate 200 --num-conns 1200
    assert (r.connections, r.requests, r.replies) == (1200, 1200, 1200)
    assert r.status.as_dict() == {"1xx": 0, "2xx": 1200, "3xx": 0, "4xx": 0, "5xx": 0}
    assert r.reply_rate_samples == (200.0,)
    assert r.reply_size.content_bytes == 1.0
    assert r.errors.total == 0
    assert r.sessions is None


def test_run_shorter_than_one_sample_has_no_samples_but_a_total_rate() -> None:
    r = load("one-byte-0samples")  # --rate 100 --num-conns 200: 2 s
    assert r.reply_rate.samples == 0
    assert r.reply_rate.avg == 0.0
    assert r.reply_rate_total == pytest.approx(100, rel=0.02)


def test_status_classes_of_missing_file() -> None:
    r = load("one-byte-404")
    assert r.status.s4xx == r.replies == 200
    assert r.status.s2xx == 0


def test_error_runs() -> None:
    refused = load("errors-connrefused")
    assert refused.errors.connrefused == 300 == refused.connections
    assert refused.requests == refused.replies == 0
    timo = load("errors-client-timo")
    assert timo.errors.client_timo == 100 == timo.requests
    fd = load("errors-fd-unavail")  # 2,500 connections asked, about 1,020 descriptors
    assert fd.errors.fd_unavail > 0
    assert fd.connections + fd.errors.fd_unavail == 2500
    assert 1000 < fd.max_concurrent_connections <= 1024


def test_session_run() -> None:
    r = load("session-specweb99")  # --wsesslog 180,...: 180 sessions
    assert r.sessions is not None
    assert r.sessions.started == r.sessions.completed == 180
    assert sum(r.sessions.length_histogram) == 180
    requests = sum(n * count for n, count in enumerate(r.sessions.length_histogram))
    assert requests == r.replies == r.requests
    assert r.session_rate_samples == (30.0,)
    assert r.replies_per_connection == pytest.approx(r.replies / 180, abs=0.001)


def test_sessions_on_a_server_that_closes_end_in_connreset() -> None:
    r = load("session-connreset")
    assert r.sessions is not None
    assert r.errors.connreset > 0
    assert r.replies_per_connection == 1.0


def test_interrupted_run_still_parses() -> None:
    r = load("one-byte-sigint")  # SIGINT after about 3 s of a 1,000 s run
    assert 200 < r.connections < 400
    assert r.test_duration_s < 5


def test_merge_of_split_clients_adds_up() -> None:
    a, b = load("one-byte-split-0of2"), load("one-byte-split-1of2")
    m = merge([a, b])
    assert (m.connections, m.replies) == (1800, 1800)
    assert m.request_rate == pytest.approx(a.request_rate + b.request_rate)
    assert m.reply_rate_samples == (a.reply_rate_samples[0] + b.reply_rate_samples[0],)
    assert m.reply_rate.avg == pytest.approx(300, abs=1)
    assert m.reply_rate_total == pytest.approx(a.reply_rate_total + b.reply_rate_total)
    assert m.test_duration_s == max(a.test_duration_s, b.test_duration_s)
    assert m.status.s2xx == 1800
    assert m.connection_time.median_ms is None
    assert m.connection_time.max_ms == max(a.connection_time.max_ms, b.connection_time.max_ms)
    assert m.cpu.total_pct == pytest.approx(a.cpu.total_pct + b.cpu.total_pct)
    assert merge([a]) is a
    with pytest.raises(ValueError):
        merge([])


def test_merge_of_sessions_and_errors() -> None:
    ok, reset = load("session-specweb99"), load("session-connreset")
    m = merge([ok, reset])
    assert m.sessions is not None and ok.sessions is not None and reset.sessions is not None
    assert m.sessions.started == 360
    assert m.errors.connreset == reset.errors.connreset
    assert m.errors.total == ok.errors.total + reset.errors.total
    pairs = zip(ok.sessions.length_histogram, reset.sessions.length_histogram, strict=True)
    assert list(m.sessions.length_histogram) == [x + y for x, y in pairs]


def test_merge_weights_connection_time_by_connections() -> None:
    a, b = load("one-byte-1sample"), load("errors-connrefused")  # b had no completed connection
    m = merge([a, b])
    assert m.connection_time.avg_ms == pytest.approx(a.connection_time.avg_ms)
    assert m.connection_time.min_ms == a.connection_time.min_ms
    assert math.isclose(m.replies_per_connection, 1.0)


def test_truncated_output_is_an_error_naming_the_missing_line() -> None:
    text = (GOLDEN / "one-byte-1sample.txt").read_text()
    with pytest.raises(HttperfParseError, match="no 'Total:' line"):
        parse(text.split("Total:")[0])
    with pytest.raises(HttperfParseError, match="errors2"):
        parse(text.split("Errors: fd-unavail")[0])
    session = (GOLDEN / "session-specweb99.txt").read_text()
    with pytest.raises(HttperfParseError, match="sess_hist"):
        parse(session.split("Session length histogram")[0])
    with pytest.raises(HttperfParseError, match="too many sessions"):
        parse("httperf: too many sessions (1001) specified in x.txt\n")


def test_progress_lines() -> None:
    assert parse_progress("reply-rate = 200.0   ") == ("reply-rate", 200.0)
    assert parse_progress("session-rate = 30.0    \r\n") == ("session-rate", 30.0)
    assert parse_progress("Reply rate [replies/s]: min 1.0 avg 1.0") is None


def test_carriage_returns_from_a_terminal_are_harmless() -> None:
    text = (GOLDEN / "one-byte-2samples.txt").read_text()
    assert to_dict(parse(text.replace("\n", "\r\n"))) == to_dict(parse(text))
