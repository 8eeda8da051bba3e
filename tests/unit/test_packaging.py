"""The locks and the install script: what `make up` and `make test` install."""

from __future__ import annotations

import re
import tomllib

from tests.support.labfiles import REPOSITORY


def pins(lock: str) -> dict[str, str]:
    """{normalised name: version} of a `uv pip compile --generate-hashes` lock; every pin must
    carry hashes."""
    text = (REPOSITORY / lock).read_text()
    found = {}
    for block in re.split(r"\n(?=[A-Za-z0-9])", text):
        match = re.match(r"([A-Za-z0-9._-]+)==(\S+)", block)
        if match:
            assert "--hash=sha256:" in block, f"{lock}: {match.group(1)} has no hash"
            found[normalise(match.group(1))] = match.group(2)
    return found


def normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def names(requirements: list[str]) -> set[str]:
    return {normalise(re.split(r"[\s<>=!~;\[]", r, maxsplit=1)[0]) for r in requirements}


def test_the_locks_pin_every_dependency_with_hashes_and_agree() -> None:
    project = tomllib.loads((REPOSITORY / "pyproject.toml").read_text())["project"]
    run, dev = pins("requirements.lock"), pins("requirements-dev.lock")
    assert names(project["dependencies"]) <= set(run)
    assert names(project["optional-dependencies"]["dev"]) <= set(dev)
    assert not names(project["optional-dependencies"]["dev"]) & set(run), "dev tools in run lock"
    assert {name: dev[name] for name in run} == run  # make test tests what make up installs


def test_install_deps_installs_dev_tools_only_for_tests() -> None:
    script = (REPOSITORY / "scripts" / "install-deps").read_text()
    run = re.search(r"^APT_PACKAGES=\((.*?)\)", script, re.S | re.M)
    dev = re.search(r"^APT_DEV_PACKAGES=\((.*?)\)", script, re.S | re.M)
    assert run and dev
    run_packages, dev_packages = set(run.group(1).split()), set(dev.group(1).split())
    assert "prometheus-pushgateway" not in run_packages | dev_packages  # never used
    assert {"clang", "chromium", "wrk"} <= dev_packages and not dev_packages & run_packages
    assert {"httperf", "prometheus", "openssh-server"} <= run_packages
    assert "--require-hashes" in script and "requirements-dev.lock" in script
    makefile = (REPOSITORY / "Makefile").read_text()
    assert re.search(r"^up: deps$", makefile, re.M)
    assert "scripts/stage install ./scripts/install-deps --dev" in makefile  # make test's first
    assert re.search(r"^check: dev-deps", makefile, re.M)


def test_the_wheel_and_the_sdist_carry_the_report_templates() -> None:
    """The report page is rendered from templates read as package data: each one must be
    matched by pyproject's package-data (the wheel) and by MANIFEST.in (the sdist)."""
    package = REPOSITORY / "orchestrator" / "report" / "html"
    templates = sorted(p for p in (package / "templates").iterdir() if p.is_file())
    assert {"page.html", "report.html", "table.html"} <= {p.name for p in templates}
    setuptools = tomllib.loads((REPOSITORY / "pyproject.toml").read_text())["tool"]["setuptools"]
    globs = setuptools["package-data"]["orchestrator.report.html"]
    for template in templates:
        relative = template.relative_to(package)
        assert any(relative.match(glob) for glob in globs), f"{relative} not in the wheel"
    manifest = (REPOSITORY / "MANIFEST.in").read_text()
    assert re.search(r"^recursive-include orchestrator/report/html/templates \*$", manifest, re.M)
