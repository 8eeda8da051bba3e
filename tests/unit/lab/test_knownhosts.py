"""The known_hosts block of a lab of machines (issue 25, finding 5): a begin marker without
its end keeps every later line, and the rewrite keeps a symlinked file a symlink and the
file's own mode."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from orchestrator.lab import knownhosts

BEGIN, END = knownhosts.markers("machines")
MINE = ["198.18.16.10 ssh-ed25519 AAAAmine"]


def test_a_begin_marker_without_its_end_keeps_every_later_line() -> None:
    text = f"a.example ssh-ed25519 A\n{BEGIN}\nb.example ssh-ed25519 B\nc.example ssh-rsa C\n"
    kept = ["a.example ssh-ed25519 A", "b.example ssh-ed25519 B", "c.example ssh-rsa C"]
    assert knownhosts.without_block(text, "machines") == kept
    # Recorded again, the new block is whole and the user's lines all stay.
    again = "\n".join(knownhosts.with_block(text, "machines", MINE))
    assert knownhosts.without_block(again, "machines") == kept
    assert again.count(BEGIN) == 1 and again.count(END) == 1


def test_a_closed_block_is_still_removed_whole_and_later_blocks_too() -> None:
    text = f"{BEGIN}\nold\n{END}\nuser line\n{BEGIN}\nolder\n{END}\n{BEGIN}\ncut short\n"
    assert knownhosts.without_block(text, "machines") == ["user line", "cut short"]


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / ".ssh").mkdir(mode=0o700)
    return tmp_path


def test_a_symlinked_known_hosts_stays_a_link_and_keeps_its_mode(home: Path) -> None:
    dotfiles = home / "dotfiles"
    dotfiles.mkdir()
    target = dotfiles / "known_hosts"
    target.write_text("user.example ssh-ed25519 U\n")
    target.chmod(0o600)
    link = home / ".ssh" / "known_hosts"
    link.symlink_to(target)
    knownhosts.record_host_keys("machines", MINE)
    assert link.is_symlink() and link.resolve() == target
    assert MINE[0] in target.read_text() and "user.example" in target.read_text()
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    knownhosts.forget_host_keys("machines")
    assert link.is_symlink() and target.read_text() == "user.example ssh-ed25519 U\n"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600


def test_a_plain_file_keeps_its_mode_and_a_new_one_is_0644(home: Path) -> None:
    path = home / ".ssh" / "known_hosts"
    knownhosts.record_host_keys("machines", MINE)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    path.chmod(0o640)
    knownhosts.record_host_keys("machines", ["198.18.16.10 ssh-ed25519 AAAAnew"])
    assert stat.S_IMODE(path.stat().st_mode) == 0o640 and "AAAAnew" in path.read_text()


def test_known_hosts_block_is_replaced_and_removed_whole() -> None:
    mine = ["198.18.16.10 ssh-ed25519 AAAA1"]
    text = "other.example.org ssh-ed25519 BBBB\n"
    once = "\n".join(knownhosts.with_block(text, "machines", mine))
    twice = "\n".join(knownhosts.with_block(once, "machines", ["198.18.16.10 ssh-ed25519 CCCC"]))
    assert twice.count("198.18.16.10") == 1 and "CCCC" in twice and "AAAA1" not in twice
    assert knownhosts.without_block(twice, "machines") == ["other.example.org ssh-ed25519 BBBB"]
    other = "\n".join(knownhosts.with_block(twice, "other-lab", ["198.18.32.10 ssh-ed25519 DD"]))
    assert "DD" in "\n".join(knownhosts.without_block(other, "machines"))
    stale = "198.18.16.10,server ssh-ed25519 OLD\n" + twice
    assert knownhosts.other_entries_for(stale, "machines", ["198.18.16.10"]) == [
        "198.18.16.10,server ssh-ed25519 OLD"
    ]
