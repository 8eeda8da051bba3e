"""A small validator that collects every problem in a YAML document as one line each.

Each check takes the path of the value inside the document, records a problem naming the file,
line, field path, the offending value and what was expected, and returns the converted value or
None. Callers build the model only when `problems` stays empty, so nothing half-valid escapes.
"""

from __future__ import annotations

import difflib
import ipaddress
import re
from collections.abc import Callable, Collection, Sequence
from typing import Any, TypeVar

from orchestrator.config.units import parse_duration
from orchestrator.config.yamlsource import PathElement, YamlDocument

T = TypeVar("T")
FieldPath = tuple[PathElement, ...]


def show(value: Any) -> str:
    """A value as the user wrote it, short enough for a one-line message."""
    text = repr(value) if isinstance(value, str) else str(value)
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif value is None:
        text = "null"
    return text if len(text) <= 60 else text[:57] + "..."


class Checker:
    """Collects problems about one document. See the module docstring."""

    def __init__(self, document: YamlDocument) -> None:
        self.document = document
        self.problems: list[str] = []

    # -- recording ---------------------------------------------------------------------------

    def fail(self, path: FieldPath, value: Any, expected: str) -> None:
        """Record `file:line: path: value: expected ...`."""
        self.problems.append(f"{self.document.where(path)}: {show(value)}: {expected}")

    def fail_plain(self, path: FieldPath, message: str) -> None:
        """Record a problem about a place rather than a value (missing key, unknown key)."""
        self.problems.append(f"{self.document.where(path)}: {message}")

    # -- structure ---------------------------------------------------------------------------

    def mapping(
        self,
        path: FieldPath,
        value: Any,
        known: Collection[str],
        required: Collection[str] = (),
        open_prefixes: Sequence[str] = (),
    ) -> dict[str, Any] | None:
        """Check that `value` is a mapping with only `known` keys and every `required` one.

        Keys starting with one of `open_prefixes` are allowed without being listed (used for
        Ansible's own variables in inventories).
        """
        if not isinstance(value, dict):
            self.fail(path, value, f"expected a mapping with keys {', '.join(sorted(known))}")
            return None
        for key in value:
            if not isinstance(key, str):
                self.fail((*path, str(key)), key, "expected a string key")
            elif key not in known and not key.startswith(tuple(open_prefixes) or ("\0",)):
                hint = difflib.get_close_matches(key, list(known), n=1)
                suffix = f" (did you mean '{hint[0]}'?)" if hint else ""
                self.fail_plain(
                    (*path, key), f"unknown key{suffix}; expected one of {', '.join(sorted(known))}"
                )
        for key in required:
            if key not in value:
                self.fail_plain((*path, key), "missing (required)")
        return value

    def sequence(self, path: FieldPath, value: Any, *, non_empty: bool = True) -> list[Any] | None:
        if not isinstance(value, list):
            self.fail(path, value, "expected a list")
            return None
        if non_empty and not value:
            self.fail(path, value, "expected a non-empty list")
            return None
        return value

    def each(
        self,
        path: FieldPath,
        value: Any,
        check: Callable[[FieldPath, Any], T | None],
        *,
        non_empty: bool = True,
    ) -> tuple[T, ...] | None:
        """Apply `check` to every item of a list; None if the list or any item is bad."""
        items = self.sequence(path, value, non_empty=non_empty)
        if items is None:
            return None
        results = [check((*path, index), item) for index, item in enumerate(items)]
        if any(result is None for result in results):
            return None
        return tuple(result for result in results if result is not None)

    # -- scalars -----------------------------------------------------------------------------

    def string(
        self, path: FieldPath, value: Any, pattern: str | None = None, expected: str = "a string"
    ) -> str | None:
        if not isinstance(value, str) or (pattern is not None and not re.fullmatch(pattern, value)):
            self.fail(path, value, f"expected {expected}")
            return None
        return value

    def boolean(self, path: FieldPath, value: Any) -> bool | None:
        if not isinstance(value, bool):
            self.fail(path, value, "expected true or false")
            return None
        return value

    def integer(
        self, path: FieldPath, value: Any, minimum: int | None = None, maximum: int | None = None
    ) -> int | None:
        ok = isinstance(value, int) and not isinstance(value, bool)
        ok = ok and (minimum is None or value >= minimum) and (maximum is None or value <= maximum)
        if not ok:
            bounds = _bounds(minimum, maximum)
            self.fail(path, value, f"expected an integer{bounds}")
            return None
        return int(value)

    def positive_number(self, path: FieldPath, value: Any, maximum: float = 1e9) -> float | None:
        number = isinstance(value, int | float) and not isinstance(value, bool)
        if not number or not 0 < value <= maximum:  # also refuses .nan and .inf
            self.fail(path, value, f"expected a positive number up to {maximum:g}")
            return None
        return float(value)

    def duration(
        self, path: FieldPath, value: Any, *, allow_zero: bool = True, maximum: float = 86_400.0
    ) -> float | None:
        try:
            if isinstance(value, bool) or not isinstance(value, str):
                raise ValueError("expected a duration string with a unit, like '120s' or '2m'")
            seconds = parse_duration(value)
        except ValueError as error:
            self.fail(path, value, str(error))
            return None
        if seconds == 0 and not allow_zero:
            self.fail(path, value, "expected a duration greater than zero")
            return None
        if seconds > maximum:
            self.fail(path, value, f"expected a duration of at most {maximum:g} s")
            return None
        return seconds

    def choice(self, path: FieldPath, value: Any, choices: Sequence[str]) -> str | None:
        if not isinstance(value, str) or value not in choices:
            hint = difflib.get_close_matches(str(value), list(choices), n=1)
            suffix = f" (did you mean '{hint[0]}'?)" if hint else ""
            self.fail(path, value, f"expected one of {', '.join(choices)}{suffix}")
            return None
        return value

    def ipv4_address(self, path: FieldPath, value: Any) -> ipaddress.IPv4Address | None:
        try:
            if not isinstance(value, str):
                raise ValueError
            return ipaddress.IPv4Address(value)
        except ValueError:
            self.fail(path, value, "expected an IPv4 address like 198.18.1.1")
            return None

    def ipv4_network(self, path: FieldPath, value: Any) -> ipaddress.IPv4Network | None:
        try:
            if not isinstance(value, str) or "/" not in value:
                raise ValueError
            return ipaddress.IPv4Network(value)
        except ValueError:
            self.fail(path, value, "expected an IPv4 network like 198.18.1.0/24 (host bits zero)")
            return None

    def unique(self, path: FieldPath, values: Sequence[Any]) -> None:
        """Record each value listed twice in `values`, at the position of its repetition."""
        seen: set[Any] = set()
        for index, item in enumerate(values):
            if item in seen:
                self.fail((*path, index), item, "listed twice")
            seen.add(item)


def _bounds(minimum: int | None, maximum: int | None) -> str:
    if minimum is not None and maximum is not None:
        return f" from {minimum} to {maximum}"
    if minimum is not None:
        return " > 0" if minimum == 1 else f" >= {minimum}"
    if maximum is not None:
        return f" <= {maximum}"
    return ""
