"""No module over 450 lines and no function over 80: past that a module is usually two
concerns and a function two steps (see ../shared/STYLE.md, "Files stay small"). Read with
`ast`, so a function's length counts its decorators, docstring and body."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.support.labfiles import REPOSITORY

MAX_MODULE_LINES = 450
MAX_FUNCTION_LINES = 80
CHECKED = [REPOSITORY / "orchestrator", REPOSITORY / "agents"]
NOT_YET: list[Path] = []  # every module is held to the limits


def modules() -> list[Path]:
    found = []
    for root in CHECKED:
        for path in sorted(root.rglob("*.py")):
            if not any(path.is_relative_to(skipped) for skipped in NOT_YET):
                found.append(path)
    return found


def too_long(path: Path, root: Path = REPOSITORY) -> list[str]:
    """What in `path` is over the limits, each as 'file[:line name]: N lines' (the file named
    from `root`)."""
    text = path.read_text()
    shown = path.relative_to(root)
    problems = []
    lines = len(text.splitlines())
    if lines > MAX_MODULE_LINES:
        problems.append(f"{shown}: {lines} lines (at most {MAX_MODULE_LINES})")
    for node in ast.walk(ast.parse(text, str(path))):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
            length = (node.end_lineno or node.lineno) - first + 1
            if length > MAX_FUNCTION_LINES:
                problems.append(
                    f"{shown}:{node.lineno} {node.name}: {length} lines"
                    f" (at most {MAX_FUNCTION_LINES})"
                )
    return problems


def test_no_module_or_function_is_over_its_size() -> None:
    problems = [problem for path in modules() for problem in too_long(path)]
    assert not problems, "split by job:\n" + "\n".join(problems)


def test_the_checker_sees_a_long_function_and_a_long_module(tmp_path: Path) -> None:
    body = "\n".join(f"    x{n} = {n}" for n in range(MAX_FUNCTION_LINES))
    long = tmp_path / "long.py"
    long.write_text(f"def long():\n{body}\n" + "\n" * MAX_MODULE_LINES)
    fits = tmp_path / "fits.py"
    fits.write_text("def short():\n    return 1\n")
    found = [problem.split(": ", 1)[1] for problem in too_long(long, tmp_path)]
    assert found == [
        f"{MAX_FUNCTION_LINES + 1 + MAX_MODULE_LINES} lines (at most {MAX_MODULE_LINES})",
        f"{MAX_FUNCTION_LINES + 1} lines (at most {MAX_FUNCTION_LINES})",
    ]
    assert too_long(fits, tmp_path) == []
    assert modules() and all(path.suffix == ".py" for path in modules())
