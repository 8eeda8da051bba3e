"""The orchestrator's architecture, checked from its imports: each sub-package imports only
from the packages below it, so the layering cannot silently decay.

    cli, ui  >  nightly  >  run  >  report, monitoring  >  results, lab  >  config  >  version
        >  basics  >  errors

(`version` asks git through `local` and finds the checkout through `paths`: a level of its own.)

Packages on one level do not import each other. `agents` is below everything: it never imports
the orchestrator, and the orchestrator imports only its pure modules (AGENTS_PURE: standard
library only, no process started), never an agent's processes, exporter or HTTP control.
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


# The agents' modules the orchestrator may import (packages count: importing a module imports
# them). Each imports only the others and the standard library.
AGENTS = ROOT / "agents"
AGENTS_PURE = frozenset(
    {
        "agents",
        "agents._cli",
        "agents.ids",
        "agents.workloads",
        "agents.load",
        "agents.load.args",
        "agents.load.request",
        "agents.load.result",
        "agents.load.tbload",
    }
)


def agent_module(name: str) -> bool:
    """Whether `name` is a module or package of the agents' tree."""
    path = ROOT.joinpath(*name.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def imported_modules(path: Path) -> set[str]:
    """Every module `path` imports, top-level or inside functions: `from a.b import c` is
    a.b.c when that is a module of the agents' tree, else a.b."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                name = f"{node.module}.{alias.name}"
                found.add(name if agent_module(name) else node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def impure_agents_imports(path: Path) -> set[str]:
    """The agents' modules `path` imports that are not on the orchestrator's list."""
    return {
        name
        for name in imported_modules(path)
        if name.split(".")[0] == "agents" and name not in AGENTS_PURE
    }


def test_the_orchestrator_imports_only_the_agents_pure_modules() -> None:
    offenders = [
        f"{path.relative_to(ROOT)} imports {name}"
        for path in module_files()
        for name in sorted(impure_agents_imports(path))
    ]
    assert not offenders, "\n".join(offenders)


def test_the_agents_pure_modules_need_only_each_other_and_the_standard_library() -> None:
    allowed = set(sys.stdlib_module_names) | {"__future__"}
    for name in sorted(AGENTS_PURE):
        path = ROOT.joinpath(*name.split("."))
        path = path / "__init__.py" if path.is_dir() else path.with_suffix(".py")
        outside = {
            module
            for module in imported_modules(path)
            if module.split(".")[0] not in allowed and module not in AGENTS_PURE
        }
        assert not outside, f"{name} imports {sorted(outside)}"


def test_the_agents_rule_fails_on_an_import_of_an_agents_process_module(tmp_path: Path) -> None:
    """The check itself can fail: an orchestrator module importing the load agent's process
    runner (or the whole httperf parser through its package) is caught; its result is not."""
    bad = tmp_path / "bad.py"
    bad.write_text(
        "from agents.load.runner import Runner\n"
        "from agents.load import httperf\n"
        "from agents.load.result import LoadResult\n"
    )
    assert impure_agents_imports(bad) == {"agents.load.runner", "agents.load.httperf"}


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
