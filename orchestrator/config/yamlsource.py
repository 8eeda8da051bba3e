"""YAML documents that remember where each value came from, so errors can name the line.

Lab files and inventories are read once through `YamlDocument.load`; validation reports a problem
with `doc.where(path)`, which gives `file:line: dotted.path` for the deepest node of `path` that
exists in the file.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from orchestrator.errors import ConfigError

PathElement = str | int
MAX_BYTES = 4 * 1024 * 1024  # a lab file or inventory is a few kilobytes; refuse a disk image
MAX_DEPTH = 64  # nesting of [ and { (PyYAML's parser slows down and recurses with depth)
MAX_INDENT = 256  # columns: block nesting is bounded by indentation
MAX_NODES = 200_000  # values after aliases are expanded: refuses a "billion laughs" document


def dotted(path: Sequence[PathElement]) -> str:
    """`("experiment", "rates", 2)` -> `experiment.rates[2]`."""
    text = ""
    for element in path:
        if isinstance(element, int):
            text += f"[{element}]"
        else:
            text += f".{element}" if text else str(element)
    return text or "(top level)"


@dataclass(frozen=True)
class YamlDocument:
    """A parsed YAML file: its data and the node tree that knows line numbers."""

    path: Path
    data: Any
    root: yaml.Node | None
    text: str = ""  # the file as read (decoded once, so the model never reads it twice)

    @classmethod
    def load(cls, path: Path, what: str) -> YamlDocument:
        """Read and parse `path`; `what` names the file's role in errors ("lab file", ...).

        Raises ConfigError for a missing or unreadable file, a syntax error (with its line) and
        duplicate keys, which YAML would otherwise resolve silently to the last one.
        """
        try:
            with path.open("rb") as source:
                raw = source.read(MAX_BYTES + 1)
        except FileNotFoundError:
            raise ConfigError([f"{path}: {what} not found"]) from None
        except OSError as error:
            raise ConfigError([f"{path}: cannot read {what}: {error.strerror}"]) from None
        if len(raw) > MAX_BYTES:
            raise ConfigError([f"{path}: {what} larger than {MAX_BYTES // 1024} KiB: refused"])
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as error:
            number = raw[: error.start].count(b"\n") + 1
            raise ConfigError(
                [f"{path}:{number}: {what} is not UTF-8 text (byte {raw[error.start]:#04x})"]
            ) from None
        too_deep = _too_deep(text)
        if too_deep is not None:
            raise ConfigError([f"{path}:{too_deep}: {what} nested too deeply: refused"])
        try:
            root = yaml.compose(text, Loader=yaml.SafeLoader)
            size = expanded_size(root)
            if size > MAX_NODES:  # counted over shared nodes, before anything expands them
                raise ConfigError(
                    [
                        f"{path}: {what} expands to more than {MAX_NODES} values (YAML"
                        " aliases): refused"
                    ]
                )
            data = yaml.safe_load(text)
        except yaml.MarkedYAMLError as error:
            mark = error.problem_mark or error.context_mark
            line = f":{mark.line + 1}" if mark is not None else ""
            problem = error.problem or error.context or "invalid YAML"
            raise ConfigError([f"{path}{line}: YAML syntax error: {problem}"]) from None
        except yaml.YAMLError as error:
            raise ConfigError([f"{path}: YAML syntax error: {error}"]) from None
        except RecursionError:
            raise ConfigError([f"{path}: {what} nested too deeply: refused"]) from None
        document = cls(path, data, root, text)
        duplicates = document._duplicate_keys(root, ())
        if duplicates:
            raise ConfigError(duplicates)
        return document

    def line(self, path: Sequence[PathElement]) -> int | None:
        """1-based line of the deepest node along `path` (a key's own line for a mapping key)."""
        node = self.root
        line = node.start_mark.line + 1 if node is not None else None
        for element in path:
            if isinstance(node, yaml.MappingNode):
                for key, value in node.value:
                    if key.value == element:
                        line = key.start_mark.line + 1
                        node = value
                        break
                else:
                    return line
            elif isinstance(node, yaml.SequenceNode) and isinstance(element, int):
                if not 0 <= element < len(node.value):
                    return line
                node = node.value[element]
                line = node.start_mark.line + 1
            else:
                return line
        return line

    def where(self, path: Sequence[PathElement]) -> str:
        """`lab.yml:12: experiment.rates` for messages."""
        line = self.line(path)
        location = f"{self.path}:{line}" if line is not None else str(self.path)
        return f"{location}: {dotted(path)}"

    def _duplicate_keys(self, node: yaml.Node | None, path: tuple[PathElement, ...]) -> list[str]:
        problems: list[str] = []
        if isinstance(node, yaml.MappingNode):
            seen: set[str] = set()
            for key, value in node.value:
                name = key.value
                if name in seen:
                    where = f"{self.path}:{key.start_mark.line + 1}: {dotted((*path, name))}"
                    problems.append(f"{where}: duplicate key")
                seen.add(name)
                problems += self._duplicate_keys(value, (*path, name))
        elif isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                problems += self._duplicate_keys(item, (*path, index))
        return problems


def expanded_size(root: yaml.Node | None) -> int:
    """How many values `root` stands for once every alias is expanded, computed without
    expanding: each distinct node is counted once and its size reused wherever it is aliased.
    (A node graph from `yaml.compose` has no cycles for the SafeLoader's tags we accept; a
    recursive alias is cut off at its first repetition.)"""
    sizes: dict[int, int] = {}
    active: set[int] = set()

    def size(node: yaml.Node) -> int:
        key = id(node)
        if key in sizes:
            return sizes[key]
        if key in active:
            return MAX_NODES + 1  # a recursive structure: refuse as too large
        active.add(key)
        total = 1
        if isinstance(node, yaml.SequenceNode):
            for item in node.value:
                total += size(item)
        elif isinstance(node, yaml.MappingNode):
            for key_node, value in node.value:
                total += size(key_node) + size(value)
        active.discard(key)
        total = min(total, MAX_NODES + 1)  # past the limit the exact count does not matter
        sizes[key] = total
        return total

    return size(root) if root is not None else 0


def _too_deep(text: str) -> int | None:
    """The first line nested deeper than MAX_DEPTH flow brackets or indented past MAX_INDENT,
    found by a linear scan before the parser sees the text (None: none is)."""
    depth = 0
    for number, line in enumerate(text.splitlines(), 1):
        if len(line) - len(line.lstrip(" ")) > MAX_INDENT:
            return number
        quote = ""
        for char in line:
            if quote:
                quote = "" if char == quote else quote
            elif char in "'\"":
                quote = char
            elif char == "#":
                break
            elif char in "[{":
                depth += 1
                if depth > MAX_DEPTH:
                    return number
            elif char in "]}":
                depth = max(0, depth - 1)
    return None
