"""A machine's tree left hostile by its guest (issue 25, finding 3): links to this machine's
files where `lab up` writes, a linked parent directory, a FIFO. `personalise` (what `lab up`
writes into each machine before booting it) and `guest_host_key` (what it reads back for
known_hosts) must refuse in one line naming the machine and the path, leave the files the
links point at byte-identical, and write nothing at all into the tree (all or nothing).

The "host" files stand in for /etc/passwd and friends in a temporary directory beside the
tree; nothing here boots a machine."""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from pathlib import Path

import pytest

from orchestrator.config.labfile import load_lab
from orchestrator.config.model import Host
from orchestrator.errors import TestbedError
from orchestrator.lab.guestfs import GuestTree
from orchestrator.lab.machines import HOST_KEY, guest_host_key, personalise
from tests.support.labfiles import REPOSITORY
from tests.support.trees import snapshot

AUTHORIZED = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIlabkey testbed-machines\n"
PROXY = "http://198.18.16.1:3142/"
PASSWD = b"root:x:0:0:root:/root:/bin/bash\n"


def server() -> Host:
    return load_lab(REPOSITORY / "labs" / "machines.yml", routes=list).server


def make_tree(tmp_path: Path) -> tuple[Path, Path]:
    """A guest's tree as the base image leaves it, and a stand-in for this machine's files."""
    host = tmp_path / "host"
    (host / "ssh").mkdir(parents=True)
    (host / "etc-dir").mkdir()
    (host / "passwd").write_bytes(PASSWD)
    (host / "hostname").write_bytes(b"the-real-host\n")
    (host / "ssh" / "authorized_keys").write_bytes(b"ssh-ed25519 AAAAhost admin@host\n")
    (host / "etc-dir" / "hosts").write_bytes(b"127.0.0.1 localhost\n")
    root = tmp_path / "guest"
    for directory in ("etc/ssh", "etc/apt/apt.conf.d", "root"):
        (root / directory).mkdir(parents=True)
    return root, host


def link(path: Path, target: Path | str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.symlink_to(target)


def removed_for_link(path: Path, target: Path) -> None:
    """The empty directory `path` replaced by a link to `target`."""
    path.rmdir()
    path.symlink_to(target)


def moved_for_link(path: Path, target: Path) -> None:
    """The directory `path` moved aside to old-NAME and a link to `target` in its place."""
    path.rename(path.with_name(f"old-{path.name}"))
    path.symlink_to(target)


def key_with_linked_pub(key: Path, target: Path) -> None:
    """A private key whose .pub beside it is a link to `target`."""
    key.write_bytes(b"private\n")
    link(key.with_name(f"{key.name}.pub"), target)


# (what the guest left, the guest path the refusal names)
HOSTILE: dict[str, tuple[Callable[[Path, Path], object], str]] = {
    "authorized_keys-to-passwd": (
        lambda root, host: link(root / "root/.ssh/authorized_keys", host / "passwd"),
        "/root/.ssh/authorized_keys",
    ),
    "authorized_keys-relative-link": (
        lambda root, host: link(root / "root/.ssh/authorized_keys", "../../../host/passwd"),
        "/root/.ssh/authorized_keys",
    ),
    "ssh-dir-to-host-dir": (
        lambda root, host: link(root / "root/.ssh", host / "ssh"),
        "/root/.ssh",
    ),
    "hostname-to-host-file": (
        lambda root, host: link(root / "etc/hostname", host / "hostname"),
        "/etc/hostname",
    ),
    "hosts-to-host-file": (
        lambda root, host: link(root / "etc/hosts", host / "etc-dir" / "hosts"),
        "/etc/hosts",
    ),
    "apt-proxy-file-to-host-file": (
        lambda root, host: link(root / "etc/apt/apt.conf.d/01testbed-proxy", host / "passwd"),
        "/etc/apt/apt.conf.d/01testbed-proxy",
    ),
    "apt-conf-dir-to-host-dir": (
        lambda root, host: removed_for_link(root / "etc/apt/apt.conf.d", host / "etc-dir"),
        "/etc/apt/apt.conf.d",
    ),
    "etc-to-host-dir": (
        lambda root, host: moved_for_link(root / "etc", host / "etc-dir"),
        "/etc",
    ),
    "host-key-dangling-link": (
        lambda root, host: link(root / HOST_KEY, host / "planted-key"),
        f"/{HOST_KEY}",
    ),
    "host-key-pub-to-host-file": (
        lambda root, host: key_with_linked_pub(root / HOST_KEY, host / "passwd"),
        f"/{HOST_KEY}.pub",
    ),
    "hostname-a-fifo": (
        lambda root, host: os.mkfifo(root / "etc/hostname"),
        "/etc/hostname",
    ),
    "hosts-a-directory": (
        lambda root, host: (root / "etc/hosts").mkdir(),
        "/etc/hosts",
    ),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_personalise_refuses_a_hostile_tree_and_changes_nothing(tmp_path: Path, case: str) -> None:
    root, host = make_tree(tmp_path)
    plant, named = HOSTILE[case]
    plant(root, host)
    before = snapshot(tmp_path)
    with pytest.raises(TestbedError) as caught:
        personalise(GuestTree(root, "server"), server(), AUTHORIZED, PROXY)
    message = caught.value.message
    assert "\n" not in message
    assert message.startswith("machine server: refusing to ") and named in message
    # The host's files byte-identical, and nothing half-done in the guest's tree either.
    assert snapshot(tmp_path) == before
    assert (host / "passwd").read_bytes() == PASSWD
    assert not (host / "planted-key").exists()


def test_personalise_writes_a_clean_tree_with_private_modes(tmp_path: Path) -> None:
    root, _ = make_tree(tmp_path)
    (root / "root/.ssh").mkdir(mode=0o755)
    (root / "root/.ssh/authorized_keys").write_text("someone else's key\n")
    (root / "root/.ssh/authorized_keys").chmod(0o666)
    host = server()
    personalise(GuestTree(root, host.name), host, AUTHORIZED, PROXY)
    assert (root / "etc/hostname").read_text() == f"{host.name}\n"
    assert f"127.0.1.1 {host.name}\n" in (root / "etc/hosts").read_text()
    assert (root / "root/.ssh/authorized_keys").read_text() == AUTHORIZED
    assert stat.S_IMODE((root / "root/.ssh/authorized_keys").stat().st_mode) == 0o600
    assert PROXY in (root / "etc/apt/apt.conf.d/01testbed-proxy").read_text()
    assert stat.S_IMODE((root / HOST_KEY).stat().st_mode) == 0o600
    key = guest_host_key(GuestTree(root, host.name))
    assert key.startswith("ssh-ed25519 ")
    assert (root / f"{HOST_KEY}.pub").read_text().startswith(key)
    # A second `lab up` keeps the machine's host key (known_hosts stays valid).
    personalise(GuestTree(root, host.name), host, AUTHORIZED, PROXY)
    assert guest_host_key(GuestTree(root, host.name)) == key


def test_a_missing_ssh_directory_is_made_private(tmp_path: Path) -> None:
    root, _ = make_tree(tmp_path)
    personalise(GuestTree(root, "server"), server(), AUTHORIZED, PROXY)
    assert stat.S_IMODE((root / "root/.ssh").stat().st_mode) == 0o700


HOSTILE_KEYS: dict[str, Callable[[Path, Path], object]] = {
    "link-to-host-file": lambda pub, host: pub.symlink_to(host / "secret"),
    "parent-link": lambda pub, host: removed_for_link(pub.parent, host),
    "fifo": lambda pub, host: os.mkfifo(pub),
    "too-large": lambda pub, host: pub.write_bytes(b"ssh-ed25519 " + b"A" * 70000),
    "not-a-key": lambda pub, host: pub.write_bytes(b"hello\n"),
    "absent": lambda pub, host: None,
}


@pytest.mark.parametrize("case", sorted(HOSTILE_KEYS))
def test_reading_the_host_key_back_never_follows_the_guest(tmp_path: Path, case: str) -> None:
    upper = tmp_path / "upper"
    (upper / "etc/ssh").mkdir(parents=True)
    host = tmp_path / "host"
    host.mkdir()
    (host / "secret").write_bytes(b"ssh-ed25519 AAAAsecretofthehost\n")
    (host / "ssh_host_ed25519_key.pub").write_bytes(b"ssh-ed25519 AAAAanotherhostfile\n")
    HOSTILE_KEYS[case](upper / f"{HOST_KEY}.pub", host)
    before = snapshot(tmp_path)
    with pytest.raises(TestbedError) as caught:
        guest_host_key(GuestTree(upper, "client3"))
    message = caught.value.message
    assert "\n" not in message and message.startswith("machine client3: ")
    assert "secret" not in message and snapshot(tmp_path) == before
