"""Parsing of the human units used in lab files: durations like `120s`, `2m`, `1m30s`, `500ms`."""

from __future__ import annotations

import re

_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h)")
_SECONDS_PER_UNIT = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(text: str) -> float:
    """Return the number of seconds in `text` (`"2m"` -> 120.0, `"1m30s"` -> 90.0).

    Raises ValueError for anything else, including bare numbers: a lab file must say its unit.
    """
    if not isinstance(text, str):
        raise ValueError("expected a duration string like '120s' or '2m'")
    compact = text.strip().replace(" ", "")
    if not compact:
        raise ValueError("expected a duration string like '120s' or '2m'")
    position = 0
    seconds = 0.0
    for match in _DURATION_PART.finditer(compact):
        if match.start() != position:
            break
        seconds += float(match.group(1)) * _SECONDS_PER_UNIT[match.group(2)]
        position = match.end()
    if position != len(compact):
        raise ValueError("expected a duration like '120s', '2m', '1m30s' or '500ms'")
    return seconds


def format_duration(seconds: float) -> str:
    """The inverse of `parse_duration` for display: 90 -> '1m30s', 0.5 -> '500ms'."""
    if seconds < 1:
        return f"{round(seconds * 1000)}ms"
    whole = round(seconds)
    minutes, secs = divmod(whole, 60)
    hours, minutes = divmod(minutes, 60)
    parts = [(hours, "h"), (minutes, "m"), (secs, "s")]
    return "".join(f"{count}{unit}" for count, unit in parts if count) or "0s"


_RATE = re.compile(r"(\d+(?:\.\d+)?)(bit|kbit|mbit|gbit)")
_BITS_PER_UNIT = {"bit": 1, "kbit": 1_000, "mbit": 1_000_000, "gbit": 1_000_000_000}
_PERCENT = re.compile(r"(\d+(?:\.\d+)?)%")


def parse_rate(text: str) -> int:
    """Bits per second in a bandwidth like `100mbit`, `1gbit`, `512kbit` (tc's spelling).

    Raises ValueError for anything else, bare numbers included: bits or bytes, a lab file must
    say which."""
    match = _RATE.fullmatch(text.strip().lower()) if isinstance(text, str) else None
    if match is None:
        raise ValueError("expected a bandwidth with its unit, like '100mbit', '1gbit' or '512kbit'")
    return round(float(match.group(1)) * _BITS_PER_UNIT[match.group(2)])


def parse_percent(text: str) -> float:
    """A fraction from a percentage: `0.1%` -> 0.001. Raises ValueError for anything else."""
    match = _PERCENT.fullmatch(text.strip()) if isinstance(text, str) else None
    if match is None:
        raise ValueError("expected a percentage like '0.1%'")
    return float(match.group(1)) / 100
