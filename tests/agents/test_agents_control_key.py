"""A service's key file (`agents.control.read_key`): a regular file only its owner can read,
holding a long enough key; anything else is one line naming the file, never its content. And
the agents' command lines take every flag by its whole name only (argparse would take `--ser`
for `--server`)."""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from agents.control import MIN_KEY_CHARS, read_key
from agents.idle import service as idle_service
from agents.load import cli as load
from agents.load import service as load_service
from tests.support.agents import write_key

KEY = "Zq0-" * 11  # 44 characters, as secrets.token_urlsafe(32) makes


def refused(path: Path) -> str:
    with pytest.raises(ValueError) as caught:
        read_key(path)
    line = str(caught.value)
    assert "\n" not in line and KEY not in line and str(path) in line, line
    return line


def test_a_0600_file_gives_its_key_without_the_newline(tmp_path: Path) -> None:
    assert read_key(write_key(tmp_path / "key", KEY)) == KEY.encode()


def test_a_key_others_could_read_is_refused(tmp_path: Path) -> None:
    path = write_key(tmp_path / "key", KEY)
    path.chmod(0o640)
    assert "mode 0640, expected 0600" in refused(path)


def test_a_symlink_a_directory_a_missing_file_or_a_short_key_is_refused(tmp_path: Path) -> None:
    target = write_key(tmp_path / "real", KEY)
    (tmp_path / "link").symlink_to(target)
    assert refused(tmp_path / "link")  # O_NOFOLLOW: the file itself, never what it points to
    directory = tmp_path / "dir"
    directory.mkdir(mode=0o700)
    assert "not a regular file" in refused(directory)
    assert "No such file" in refused(tmp_path / "missing")
    short = write_key(tmp_path / "short", "x" * (MIN_KEY_CHARS - 1))
    assert f"at least {MIN_KEY_CHARS} printable characters" in refused(short)
    spaced = write_key(tmp_path / "spaced", "x" * 20 + " " + "y" * 20)
    assert "printable characters" in refused(spaced)
    empty = tmp_path / "empty"
    os.close(os.open(empty, os.O_CREAT | os.O_WRONLY, 0o600))
    assert refused(empty)


@pytest.mark.parametrize(
    ("parser", "argv", "flag"),
    [
        (load._parser, "--server 127.0.0.1 --port 80 --workload one-byte --rate 1 --duration 1"
         " --timeout 1 --ser 6.6.6.6 --po 22", "--ser 6.6.6.6 --po 22"),
        (load_service._parser, "--server 127.0.0.1 --port 80 --control-key-file k"
         " --start-file s --sess /etc/shadow", "--sess"),
        (idle_service._parser, "--server 127.0.0.1 --port 80 --control-key-file k"
         " --max-conn 5", "--max-conn"),
        (idle_service._parser, "--server 127.0.0.1 --port 80 --control-key-file k"
         " --control-key k2", "--control-key k2"),
    ],
)  # fmt: skip
def test_an_abbreviated_flag_is_refused_with_one_line(
    parser: Callable[[], argparse.ArgumentParser],
    argv: str,
    flag: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as caught:
        parser().parse_args(argv.split())
    assert caught.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"unrecognized arguments: {flag}" in err, err
