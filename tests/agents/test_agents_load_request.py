"""A load service's run request and start instants, checked before anything starts: every field
named, typed and bounded, the target never a field, each refusal one line naming the field and
its value (`agents.load.request`; the live service answers these with 400)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from agents.load.request import (
    MAX_PROCESSES,
    MAX_RATE,
    MAX_SECONDS,
    MAX_TIMEOUT,
    LoadRequest,
    RequestError,
    parse_instants,
    parse_run,
)

GOOD: dict[str, Any] = {
    "id": "12-1",
    "workload": "one-byte",
    "rate": 625,
    "duration": 20,
    "timeout": 2,
}
NOW = 1_800_000_000.0


def refused(body: str) -> str:
    with pytest.raises(RequestError) as caught:
        parse_run(body)
    line = str(caught.value)
    assert line and "\n" not in line, line
    return line


def test_a_good_request_with_its_defaults_and_back_again() -> None:
    request = parse_run(json.dumps(GOOD))
    assert request == LoadRequest("12-1", "one-byte", 625.0, 20.0, 2.0)
    assert (request.warmup, request.processes, request.cpus, request.starved_below) == (
        0.0,
        None,
        None,
        90.0,
    )
    full = LoadRequest("3-1", "specweb99", 50.5, 30, 5, 1, 2, (2, 3), 0)
    assert parse_run(full.to_json()) == full


# (changes to GOOD, text the refusal must hold): the review's findings and their neighbours.
BAD: list[tuple[dict[str, Any], str]] = [
    # the target and the files are fixed when the service starts, never by a run
    ({"server": "6.6.6.6"}, "field 'server': fixed when the service starts"),
    ({"port": 22}, "field 'port': fixed when the service starts"),
    ({"sessions": "/etc/shadow"}, "field 'sessions': fixed when the service starts"),
    ({"start_file": "/etc/passwd"}, "field 'start_file': fixed when the service starts"),
    ({"host": "client9"}, "field 'host': fixed when the service starts"),
    # argparse's prefixes mean nothing here: a field is its whole name or refused
    ({"ser": "6.6.6.6"}, "field 'ser': not a field of a run"),
    ({"args": ["--ser", "6.6.6.6", "--po", "22"]}, "field 'args': not a field of a run"),
    ({"rat": 5}, "field 'rat': not a field of a run"),
    # bounds
    ({"rate": 0}, "rate 0: expected a number > 0 to 1e+06"),
    ({"rate": -5}, "rate -5:"),
    ({"rate": MAX_RATE * 2}, "rate 2000000.0:"),
    ({"duration": MAX_SECONDS + 1}, "duration 86401.0: expected a number > 0 to 86400"),
    ({"timeout": MAX_TIMEOUT + 1}, "timeout 3601.0:"),
    ({"warmup": -1}, "warmup -1: expected a number from 0 to 86400"),
    ({"processes": MAX_PROCESSES + 1}, 'processes 65: expected "auto" or an integer from 1 to 64'),
    ({"processes": 100000}, "processes 100000:"),
    ({"processes": 0}, "processes 0:"),
    ({"starved_below": 101}, "starved_below 101:"),
    ({"cpus": list(range(MAX_PROCESSES + 1))}, "cpus [0, 1, 2"),
    ({"cpus": [-1]}, "cpus [-1]:"),
    ({"cpus": [4096]}, "cpus [4096]:"),
    ({"cpus": []}, "cpus []:"),
    # types
    ({"rate": "625"}, 'rate "625":'),
    ({"rate": True}, "rate true:"),
    ({"rate": None}, "rate null:"),
    ({"rate": [1]}, "rate [1]:"),
    ({"processes": "64"}, 'processes "64":'),
    ({"processes": 2.0}, "processes 2.0:"),
    ({"cpus": "0-3"}, 'cpus "0-3":'),
    ({"cpus": [True]}, "cpus [true]:"),
    ({"workload": "two-byte"}, 'workload "two-byte": expected one of one-byte, specweb99'),
    ({"workload": None}, "workload null:"),
    ({"id": "bad id!"}, 'id "bad id!":'),
    ({"id": "x" * 65}, "id "),
    ({"id": 12}, "id 12:"),
]


@pytest.mark.parametrize(("changes", "expected"), BAD)
def test_a_wrong_field_is_refused_with_one_line_naming_it_and_its_value(
    changes: dict[str, Any], expected: str
) -> None:
    line = refused(json.dumps({**GOOD, **changes}))
    assert expected in line, line
    assert len(line) < 200


@pytest.mark.parametrize("field", ["id", "workload", "rate", "duration", "timeout"])
def test_each_required_field_is_required(field: str) -> None:
    body = {name: value for name, value in GOOD.items() if name != field}
    assert refused(json.dumps(body)) == f"field {field!r}: required"


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ('{"id": "1", "rate": NaN}', "NaN is not a JSON number a run takes"),
        ('{"id": "1", "rate": Infinity}', "Infinity is not"),
        ('{"id": "1", "rate": -Infinity}', "-Infinity is not"),
        (json.dumps(GOOD).replace("625", "1e400"), "rate Infinity:"),  # a float's overflow
        ('{"rate": 1, "rate": 2}', "field 'rate' given twice"),
        ("not json", "not JSON:"),
        ("", "not JSON:"),
        ('["--server", "6.6.6.6"]', "expected a JSON object"),
        ("[" * 100_000, "nested too deeply"),
    ],
)
def test_a_body_that_is_no_run_request_is_refused_with_one_line(body: str, expected: str) -> None:
    line = refused(body)
    assert expected in line, line


def test_instants_are_finite_times_near_now_the_measurement_not_first() -> None:
    assert parse_instants(f"{NOW + 1:.3f} {NOW + 2:.3f}\n", NOW) == (NOW + 1, NOW + 2)
    assert parse_instants(f"{NOW - 5:.3f}", NOW) == (NOW - 5, None)  # late: starts at once
    for text in ("", "junk", "nan", "inf", "-inf", f"{NOW} nan", "-1", "1e308", f"{NOW + 86401}",
                 f"{NOW} {NOW} {NOW}", "0x10", f"{NOW + 2} {NOW + 1}"):  # fmt: skip
        with pytest.raises(RequestError) as caught:
            parse_instants(text, NOW)
        assert "\n" not in str(caught.value), text
