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

    @classmethod
    def load(cls, path: Path, what: str) -> YamlDocument:
        """Read and parse `path`; `what` names the file's role in errors ("lab file", ...).

        Raises ConfigError for a missing or unreadable file, a syntax error (with its line) and
        duplicate keys, which YAML would otherwise resolve silently to the last one.
        """
        try:
            text = path.read_text()
        except FileNotFoundError:
            raise ConfigError([f"{path}: {what} not found"]) from None
        except OSError as error:
            raise ConfigError([f"{path}: cannot read {what}: {error.strerror}"]) from None
        try:
            root = yaml.compose(text, Loader=yaml.SafeLoader)
            data = yaml.safe_load(text)
        except yaml.MarkedYAMLError as error:
            mark = error.problem_mark or error.context_mark
            line = f":{mark.line + 1}" if mark is not None else ""
            problem = error.problem or error.context or "invalid YAML"
            raise ConfigError([f"{path}{line}: YAML syntax error: {problem}"]) from None
        except yaml.YAMLError as error:
            raise ConfigError([f"{path}: YAML syntax error: {error}"]) from None
        document = cls(path, data, root)
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
