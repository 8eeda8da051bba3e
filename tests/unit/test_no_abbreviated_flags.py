"""Every argparse parser in the tree takes flags by their whole names only: argparse's default
(`allow_abbrev=True`) reads `--ser 6.6.6.6 --po 22` as `--server 6.6.6.6 --port 22`, so a check
of flag names can be walked around. The agents' own `ArgumentParser` sets it for all of them."""

from __future__ import annotations

import ast
from pathlib import Path

import agents._cli

ROOT = Path(__file__).resolve().parents[2]
FOLDERS = ("agents", "orchestrator", "scripts", "server", "tests")


def sources() -> list[Path]:
    found = []
    for folder in FOLDERS:
        for path in (ROOT / folder).rglob("*"):
            if path.is_file() and (path.suffix == ".py" or path.parent.name == "scripts"):
                found.append(path)
    return found


def parsers_without_allow_abbrev(path: Path) -> list[int]:
    """Lines of `argparse.ArgumentParser(...)` calls in `path` that do not pass
    allow_abbrev=False."""
    tree = ast.parse(path.read_text(errors="replace"))
    lines = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if not (isinstance(func, ast.Attribute) and func.attr == "ArgumentParser"):
            continue
        if not (isinstance(func.value, ast.Name) and func.value.id == "argparse"):
            continue
        ok = any(
            k.arg == "allow_abbrev" and isinstance(k.value, ast.Constant) and k.value.value is False
            for k in node.keywords
        )
        if not ok:
            lines.append(node.lineno)
    return lines


def test_every_argparse_parser_refuses_abbreviated_flags() -> None:
    paths = sources()
    assert any(path.name == "aptproxy.py" for path in paths)  # the walk finds the parsers
    offenders = {
        str(path.relative_to(ROOT)): lines
        for path in paths
        if path.suffix == ".py"
        or path.read_text(errors="replace").startswith("#!/usr/bin/env python")
        if (lines := parsers_without_allow_abbrev(path))
    }
    assert offenders == {}


def test_the_agents_parser_refuses_them_for_every_agent_and_subcommand() -> None:
    parser = agents._cli.ArgumentParser(prog="x")
    assert parser.allow_abbrev is False
    sub = parser.add_subparsers().add_parser("fileset")
    assert sub.allow_abbrev is False
