"""A lab whose state directory would be the tool's own shared one (issue 25, finding 4): a lab
named `images` got the machines labs' image cache as its state directory, and its `lab down`
removed the base image and the apt cache from under every other lab. Such a name is refused
when the lab file is loaded, in one line naming the file, the field and the value, before
`lab down` (or anything else) touches a file; the cache stays byte-identical."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.cli import main
from orchestrator.config.labfile import load_lab
from orchestrator.errors import ConfigError
from tests.support.labfiles import write_lab
from tests.support.trees import snapshot


def image_cache(directory: Path) -> Path:
    """A stand-in for a built cache: a base image, its stamp and the apt proxy's packages."""
    (directory / "debian-bookworm-1a2b3c4d" / "etc").mkdir(parents=True)
    (directory / "debian-bookworm-1a2b3c4d" / "etc" / "os-release").write_text("Debian 12\n")
    (directory / "debian-bookworm-1a2b3c4d.json").write_text('{"suite": "bookworm"}\n')
    (directory / "apt-cache" / "deb.debian.org" / "pool").mkdir(parents=True)
    (directory / "apt-cache" / "deb.debian.org" / "pool" / "gcc_12_amd64.deb").write_bytes(b"!")
    return directory


def test_lab_down_of_a_lab_named_images_is_refused_and_the_cache_stays(
    tmp_path: Path, state_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cache = image_cache(state_dir / "images")  # where the cache is by default
    before = snapshot(cache)
    path = write_lab(tmp_path, name="images")
    code = main(["lab", "down", str(path)])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert len(err.splitlines()) == 1
    assert f"{path}:" in err and "name: 'images':" in err and "image cache" in err
    assert snapshot(cache) == before and before


@pytest.mark.parametrize(
    ("name", "cache_under"),
    [
        ("shared", "shared/images"),  # the lab's directory would hold the cache
        ("inner", "."),  # the lab's directory would sit inside the cache
        ("cache", "cache"),  # the cache named after a lab
    ],
)
def test_a_lab_directory_that_holds_or_sits_in_the_cache_is_refused(
    tmp_path: Path,
    state_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    name: str,
    cache_under: str,
) -> None:
    cache = image_cache(state_dir / cache_under)
    monkeypatch.setenv("TESTBED_IMAGE_DIR", str(cache))
    before = snapshot(state_dir)
    path = write_lab(tmp_path, name=name)
    with pytest.raises(ConfigError) as caught:
        load_lab(path, routes=list)
    [problem] = caught.value.problems
    assert problem.startswith(f"{path}:") and f"name: '{name}':" in problem
    assert snapshot(state_dir) == before


def test_images_is_a_fine_name_when_the_cache_is_elsewhere(
    tmp_path: Path, state_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TESTBED_IMAGE_DIR", str(tmp_path / "elsewhere"))
    assert load_lab(write_lab(tmp_path, name="images"), routes=list).name == "images"
