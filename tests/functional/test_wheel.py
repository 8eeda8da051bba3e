"""`pip install .` gives a working tool: the wheel carries the dashboards, playbooks and the
sources staged to hosts, and the installed tool finds them without the checkout.

The wheel is built from this checkout (pip's build isolation fetches setuptools) and installed
with --no-deps into a fresh venv; the dependencies come from the interpreter running the tests
through a .pth file, so nothing else is downloaded. The installed tool runs from a directory
outside the checkout, and every path it reports must lie inside the new venv.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
import tarfile
from pathlib import Path

import pytest

from tests.support.labfiles import REPOSITORY


def run(*argv: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    return subprocess.run(
        [str(a) for a in argv],
        cwd=cwd,
        capture_output=True,
        text=True,
        env=environment,
        timeout=600,
    )


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("wheel")
    wheels = root / "wheels"
    built = run(sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", wheels, ".",
                cwd=REPOSITORY)  # fmt: skip
    assert built.returncode == 0, built.stderr
    (wheel,) = wheels.glob("testbed-*.whl")
    venv = root / "venv"
    made = run(sys.executable, "-m", "venv", "--without-pip", venv, cwd=root)
    assert made.returncode == 0, made.stderr
    python = venv / "bin" / "python"
    site = run(python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))", cwd=root)
    # The test interpreter's dependencies, after the venv's own site-packages.
    Path(site.stdout.strip(), "testbed-deps.pth").write_text(sysconfig.get_path("purelib") + "\n")
    installed = run(sys.executable, "-m", "pip", "--python", python, "install", "-q",
                    "--no-deps", wheel, cwd=root)  # fmt: skip
    assert installed.returncode == 0, installed.stderr
    return venv


def test_the_installed_tool_exports_the_dashboards(venv: Path, tmp_path: Path) -> None:
    out = tmp_path / "grafana"
    done = run(venv / "bin" / "orchestrate", "dashboards", "export", out, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    boards = sorted((out / "dashboards").glob("*.json"))
    assert len(boards) == len(list((REPOSITORY / "dashboards").glob("*.json"))) > 0
    for board in boards:
        assert json.loads(board.read_text())["panels"]


def test_the_installed_tool_finds_playbooks_and_staged_sources(venv: Path, tmp_path: Path) -> None:
    assert run(venv / "bin" / "orchestrate", "provision", "--help", cwd=tmp_path).returncode == 0
    probe = (
        "import json, sys\n"
        "from pathlib import Path\n"
        "from orchestrator.lab.provision import PLAYBOOKS\n"
        "from orchestrator.lab.staging import stage_sources\n"
        "from orchestrator.monitoring.dashboards import DASHBOARDS\n"
        "stage = stage_sources(Path(sys.argv[1]))\n"
        "print(json.dumps({'playbooks': str(PLAYBOOKS), 'dashboards': str(DASHBOARDS)}))\n"
    )
    stage = tmp_path / "stage"
    done = run(venv / "bin" / "python", "-c", probe, stage, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    paths = {name: Path(path) for name, path in json.loads(done.stdout).items()}
    for path in paths.values():
        assert path.is_relative_to(venv), f"{path} is not the installed copy"
    assert (paths["playbooks"] / "site.yml").is_file()
    assert (paths["playbooks"] / "ansible.cfg").is_file()
    with tarfile.open(stage / "server.tar") as server:
        names = server.getnames()
        assert "server/main.c" in names and "server/Makefile" in names
    with tarfile.open(stage / "agents.tar") as agents:
        assert "agents/load/__main__.py" in agents.getnames()


def test_the_installed_tool_knows_its_version_and_revision(venv: Path, tmp_path: Path) -> None:
    done = run(venv / "bin" / "orchestrate", "--version", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    revision = run("git", "-C", REPOSITORY, "rev-parse", "HEAD", cwd=tmp_path).stdout.strip()
    assert "0.1.0" in done.stdout and revision in done.stdout


def test_the_installed_tool_renders_pages_from_its_own_templates(
    venv: Path, tmp_path: Path
) -> None:
    script = (
        "from orchestrator.report.html.kit import environment, page, render\n"
        "print(environment().get_template('page.html').filename)\n"
        "print(page('<t>', render('servers.html', servers=[('<b>', 'x')])))\n"
    )
    done = run(venv / "bin" / "python", "-c", script, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    where, _, html = done.stdout.partition("\n")
    assert Path(where).is_relative_to(venv)  # the wheel's template, not the checkout's
    assert "<title>&lt;t&gt;</title>" in html and "<b>&lt;b&gt;</b>" in html
