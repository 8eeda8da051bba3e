"""The services' keys (`run.controlkeys`) and how one reaches a host (`SshRemote.write_private`):
the real command, run by a local `sh` with the key on its standard input, as SSH would run it.

What a review would look for: a key of its own per client, mode 0600 from its creation, in no
command line and no repr, a failed placing tried again, the files removed with the sweep, and
symlinks left in the way never followed."""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

from orchestrator.config.model import Host
from orchestrator.lab.remote import CommandResult, SshRemote
from orchestrator.run.commands import KEY_FILE
from orchestrator.run.controlkeys import ControlKeys


class LocalShell(SshRemote):
    """The real SshRemote's commands (write_private's, run_all's) run by `sh` on this machine."""

    def __init__(self) -> None:
        super().__init__()
        self.commands: list[str] = []
        self.failing: set[str] = set()

    def run(
        self, host: Host, command: str, timeout: float | None = 60.0, *, stdin: str | None = None
    ) -> CommandResult:
        self.commands.append(command)
        if host.name in self.failing:
            return CommandResult(host.name, command, None, "", "", "ssh: connection refused", 0)
        done = subprocess.run(
            ["sh", "-c", command], input=stdin, capture_output=True, text=True, timeout=30
        )
        return CommandResult(host.name, command, done.returncode, done.stdout, done.stderr, None, 0)


def client(tmp_path: Path, name: str) -> Host:
    directory = tmp_path / name
    directory.mkdir()
    return Host(name, "client", "127.0.0.1", 22, "root", None, (), str(directory), "python3", ())


def test_each_client_gets_a_key_of_its_own_readable_by_its_owner_only(tmp_path: Path) -> None:
    shell = LocalShell()
    keys = ControlKeys(shell)
    hosts = [client(tmp_path, "client1"), client(tmp_path, "client2")]
    assert keys.place(hosts) == {}
    texts = []
    for host in hosts:
        path = Path(host.directory) / KEY_FILE
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        text = path.read_text()
        assert keys.authorization(host) == f"Bearer {text.strip()}"
        assert len(text.strip()) >= 43  # 256 bits
        texts.append(text)
    assert texts[0] != texts[1]
    for secret in texts:
        assert not any(secret.strip() in command for command in shell.commands)
        assert secret.strip() not in repr(keys)
    assert keys.place(hosts) == {} and len(shell.commands) == 2  # once per host and sweep
    keys.remove()
    assert not any((Path(h.directory) / KEY_FILE).exists() for h in hosts)
    fresh = keys.authorization(hosts[0])
    assert fresh != f"Bearer {texts[0].strip()}"  # the next sweep's key is another


def test_a_host_that_could_not_be_reached_is_named_and_tried_again(tmp_path: Path) -> None:
    shell = LocalShell()
    keys = ControlKeys(shell)
    host = client(tmp_path, "client3")
    shell.failing.add("client3")
    assert keys.place([host]) == {"client3": "ssh: connection refused"}
    shell.failing.clear()
    assert keys.place([host]) == {}
    assert (
        keys.authorization(host)
        == f"Bearer {(Path(host.directory) / KEY_FILE).read_text().strip()}"
    )


def test_a_key_is_written_through_the_symlinks_left_in_its_way_never(tmp_path: Path) -> None:
    host = client(tmp_path, "client4")
    victim = tmp_path / "victim"
    victim.write_text("precious\n")
    victim.chmod(0o644)
    run = Path(host.directory) / "run"
    run.mkdir()
    (run / "control.key").symlink_to(victim)
    (run / "control.key.tmp").symlink_to(victim)
    result = LocalShell().write_private(host, KEY_FILE, "s" * 43 + "\n")
    assert result.ok, result.reason()
    assert victim.read_text() == "precious\n" and stat.S_IMODE(victim.stat().st_mode) == 0o644
    key = run / "control.key"
    assert not key.is_symlink() and key.read_text() == "s" * 43 + "\n"
    assert stat.S_IMODE(os.lstat(key).st_mode) == 0o600
