"""The orchestrator's architecture, checked from its imports: each sub-package imports only
from the packages below it, so the layering cannot silently decay.

    cli, ui  >  nightly  >  run  >  report, monitoring  >  results, lab  >  config  >  version
        >  basics  >  errors

(`version` asks git through `local` and finds the checkout through `paths`: a level of its own.)

Packages on one level do not import each other. `agents` is below everything (the orchestrator
may use its pure parts; it never imports the orchestrator).
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "orchestrator"

BASICS = {"paths", "naming", "ports", "local"}
LEVELS: list[set[str]] = [
    {"cli", "ui"},
    {"nightly"},
    {"run"},
    {"report", "monitoring"},
    {"results", "lab"},
    {"config"},
    {"version"},
    BASICS,
    {"errors"},
]
# ui prints what the layers below return: a level of its own under cli.
LEVEL_OF: dict[str, float] = {name: index for index, names in enumerate(LEVELS) for name in names}
LEVEL_OF["ui"] = 0.5
SUBPACKAGES = sorted(path.name for path in PACKAGE.iterdir() if (path / "__init__.py").exists())


def unit_of(module: str) -> str:
    """'orchestrator.run.sweep' -> 'run'; 'orchestrator.ports' -> 'ports'."""
    return module.split(".")[1]


def imports_of(path: Path) -> set[str]:
    """Every orchestrator module `path` imports (also inside functions)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
            found.update(name for name in names if name.startswith("orchestrator."))
            if node.module == "orchestrator":
                found.update(f"orchestrator.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("orchestrator."))
    return found


def module_files() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if p.name != "__init__.py" or p.stat().st_size)


def test_every_unit_has_a_level() -> None:
    units = {unit_of("orchestrator." + ".".join(p.relative_to(PACKAGE).with_suffix("").parts))
             for p in module_files()}  # fmt: skip
    assert units - {"__init__"} <= set(LEVEL_OF), units - set(LEVEL_OF)


def test_packages_import_only_from_below() -> None:
    upward = []
    for path in module_files():
        own = unit_of("orchestrator." + ".".join(path.relative_to(PACKAGE).with_suffix("").parts))
        for target in imports_of(path):
            other = unit_of(target)
            if other == own or other not in LEVEL_OF:
                continue
            if LEVEL_OF[other] <= LEVEL_OF[own]:
                upward.append(f"{path.relative_to(ROOT)} ({own}) imports {target} ({other})")
    assert not upward, "imports that go up or sideways:\n" + "\n".join(sorted(upward))


def test_the_layering_test_sees_an_upward_import(tmp_path: Path) -> None:
    """The check itself can fail: a config module importing run is caught."""
    bad = tmp_path / "bad.py"
    bad.write_text("from orchestrator.run.sweep import SweepRunner\n")
    (target,) = imports_of(bad) - {"orchestrator.run.sweep.SweepRunner"}
    assert LEVEL_OF[unit_of(target)] < LEVEL_OF["config"]


def test_agents_never_import_the_orchestrator() -> None:
    offenders = [
        str(path.relative_to(ROOT))
        for path in (ROOT / "agents").rglob("*.py")
        if any(name.startswith("orchestrator") for name in imports_of(path))
        or "import orchestrator" in path.read_text()
    ]
    assert not offenders


@pytest.mark.parametrize("package", SUBPACKAGES)
def test_each_subpackage_imports_alone(package: str) -> None:
    """A fresh interpreter imports every module of one sub-package first: no hidden cycles."""
    modules = [
        f"orchestrator.{package}.{path.stem}"
        for path in sorted((PACKAGE / package).glob("*.py"))
        if path.stem not in {"__init__", "__main__"}  # __main__ runs the command: not a module
    ]
    code = f"import importlib\nfor m in {modules!r}: importlib.import_module(m)"
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr[-2000:]
