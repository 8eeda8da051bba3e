"""The one seam to lab hosts' shells: commands over SSH through Fabric, in parallel over hosts.

    remote = SshRemote.for_lab(lab)
    results = remote.run_all(lab.clients, "uname -r")     # {host name: CommandResult}
    remote.close()

`Remote` is the seam as the rest of the orchestrator types it (a Protocol); `SshRemote` is the
real one, and tests hand in fakes that mypy checks against the Protocol (tests/support/fakes.py).
A host that cannot be reached yields a CommandResult with `error` set instead of raising, so a
caller checking many hosts sees every failure at once. Host keys are always checked: against the
lab's own known_hosts for an emulated lab, the user's ~/.ssh/known_hosts otherwise. Nothing else
in the orchestrator imports fabric or paramiko.
"""

from __future__ import annotations

import io
import logging
import posixpath
import shlex
import socket
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, Self

import paramiko
from fabric import Config, Connection
from invoke.exceptions import CommandTimedOut

from orchestrator.config.model import Host, Lab
from orchestrator.lab.sshd import ssh_identity

log = logging.getLogger(__name__)  # -v and the run's log: every command, its status and time

CONNECT_TIMEOUT = 5.0


@dataclass(frozen=True)
class CommandResult:
    """What one command did on one host. `error` is set when it could not run or finish."""

    host: str
    command: str
    exit_code: int | None
    stdout: str
    stderr: str
    error: str | None
    seconds: float

    @property
    def ok(self) -> bool:
        return self.error is None and self.exit_code == 0

    def reason(self) -> str:
        """One line saying why the command failed ('' when it did not)."""
        if self.error is not None:
            return self.error
        if self.exit_code != 0:
            lines = (self.stderr or self.stdout).strip().splitlines()
            return lines[-1] if lines else f"exit status {self.exit_code}"
        return ""


class Remote(Protocol):
    """Shell commands on lab hosts, as the orchestrator uses them: `SshRemote` over SSH, a fake
    in tests. A host-side problem (unreachable, refused, timed out) comes back as a
    CommandResult with `error` set, never as an exception."""

    def run(
        self, host: Host, command: str, timeout: float | None = 60.0, *, stdin: str | None = None
    ) -> CommandResult:
        """Run `command` under the host's login shell, `stdin` (if any) on its standard input."""

    def run_all(
        self,
        hosts: Iterable[Host],
        command: str | Callable[[Host], str],
        timeout: float | None = 60.0,
    ) -> dict[str, CommandResult]:
        """Run a command (or one per host, from a function) on every host at once:
        {host name: result}."""

    def write_private(
        self, host: Host, path: str, text: str, timeout: float = 30.0
    ) -> CommandResult:
        """Write `text` to `path` (relative to the host's directory), mode 0600, whole; the
        text never appears in a command line or a log."""

    def close(self) -> None:
        """Close every connection (the remote may be used again: it reconnects)."""

    def __enter__(self) -> Self: ...

    def __exit__(self, *exc_info: object) -> None: ...


class SshRemote(Remote):
    """Runs shell commands on lab hosts over SSH (Fabric); see the module docstring."""

    def __init__(
        self,
        *,
        private_key: Path | None = None,
        known_hosts: Path | None = None,
        connect_timeout: float = CONNECT_TIMEOUT,
    ) -> None:
        self.private_key = private_key
        self.known_hosts = known_hosts
        self.connect_timeout = connect_timeout
        self._connections: dict[str, Connection] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    @classmethod
    def for_lab(cls, lab: Lab, connect_timeout: float = CONNECT_TIMEOUT) -> SshRemote:
        if lab.emulate:
            identity = ssh_identity(lab)
            return cls(
                private_key=identity.private_key,
                known_hosts=identity.known_hosts,
                connect_timeout=connect_timeout,
            )
        if lab.machines:  # the lab's key; host keys from ~/.ssh/known_hosts, as on real hosts
            return cls(private_key=ssh_identity(lab).private_key, connect_timeout=connect_timeout)
        return cls(connect_timeout=connect_timeout)

    # -- commands ------------------------------------------------------------------------------

    def run(
        self, host: Host, command: str, timeout: float | None = 60.0, *, stdin: str | None = None
    ) -> CommandResult:
        """Run `command` under the host's login shell, `stdin` (if any) on its standard input;
        never raises for host-side problems."""
        started = time.monotonic()

        def result(code: int | None, out: str, err: str, error: str | None) -> CommandResult:
            seconds = time.monotonic() - started
            shown = " ".join(command.split())[:200]
            log.debug("%s: %s -> %s in %.2f s", host.name, shown, error or f"exit {code}", seconds)
            return CommandResult(host.name, command, code, out, err, error, seconds)

        try:
            connection = self._connection(host)
            # One SSH channel per command: commands on one host may run side by side (a long
            # wait for the agents and the stop that Ctrl-C sends, say).
            outcome = connection.run(
                command,
                hide=True,
                warn=True,
                timeout=timeout,
                in_stream=False if stdin is None else io.StringIO(stdin),
            )
        except CommandTimedOut as timed_out:
            return result(None, "", "", f"command did not finish within {timed_out.timeout} s")
        except Exception as problem:  # any failure to reach the host becomes a result, not a crash
            self._forget(host)
            return result(None, "", "", describe_ssh_error(host, problem))
        return result(outcome.exited, outcome.stdout, outcome.stderr, None)

    def run_all(
        self,
        hosts: Iterable[Host],
        command: str | Callable[[Host], str],
        timeout: float | None = 60.0,
    ) -> dict[str, CommandResult]:
        """Run a command (or one per host, from a function) on every host at once."""
        targets = list(hosts)
        if not targets:
            return {}

        def one(host: Host) -> CommandResult:
            text = command(host) if callable(command) else command
            return self.run(host, text, timeout)

        with ThreadPoolExecutor(max_workers=len(targets)) as pool:
            results = list(pool.map(one, targets))
        return {result.host: result for result in results}

    def write_private(
        self, host: Host, path: str, text: str, timeout: float = 30.0
    ) -> CommandResult:
        """Write `text` to `path` (relative to the host's directory), readable by its owner only:
        mode 0600 from its creation (umask 077), whole (a rename). The text goes through the
        command's standard input, so it is in no command line (`ps`) and no log: this is how
        a secret reaches a host."""
        folder, quoted = shlex.quote(posixpath.dirname(path) or "."), shlex.quote(path)
        tmp = shlex.quote(f"{path}.tmp")
        command = (
            f"cd {shlex.quote(host.directory)} && mkdir -p {folder} && umask 077"
            f" && rm -f {tmp} && cat >{tmp} && mv -f {tmp} {quoted}"
        )
        return self.run(host, command, timeout, stdin=text)

    def close(self) -> None:
        with self._guard:
            connections = list(self._connections.values())
            self._connections.clear()
        for connection in connections:
            connection.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- connections ---------------------------------------------------------------------------

    def _lock(self, host: Host) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(host.name, threading.Lock())

    def _connection(self, host: Host) -> Connection:
        with self._lock(host):  # one connection per host, opened once
            with self._guard:
                existing = self._connections.get(host.name)
            if existing is not None and existing.is_connected:
                return existing
            return self._open(host)

    def _open(self, host: Host) -> Connection:
        key = host.ssh_key or self.private_key
        connect_kwargs: dict[str, object] = {"banner_timeout": self.connect_timeout}
        if key is not None:
            connect_kwargs.update(key_filename=str(key), look_for_keys=False, allow_agent=False)
        connection = Connection(
            host=host.management,
            user=host.ssh_user,
            port=host.ssh_port,
            connect_timeout=int(max(1, self.connect_timeout)),
            connect_kwargs=connect_kwargs,
            config=Config(overrides={"load_ssh_configs": False}),
        )
        # Fabric trusts any host key by default (AutoAddPolicy); a test bed must not.
        connection.client.set_missing_host_key_policy(paramiko.RejectPolicy())
        if self.known_hosts is not None:
            connection.client.load_host_keys(str(self.known_hosts))
        else:
            connection.client.load_system_host_keys()
        connection.open()
        with self._guard:
            self._connections[host.name] = connection
        return connection

    def _forget(self, host: Host) -> None:
        with self._guard:
            connection = self._connections.pop(host.name, None)
        if connection is not None:
            connection.close()


def describe_ssh_error(host: Host, problem: BaseException) -> str:
    """One line for a connection failure, saying what a user would check first."""
    where = f"{host.management}:{host.ssh_port}"
    if isinstance(problem, paramiko.BadHostKeyException):
        return f"ssh {where}: host key does not match known_hosts"
    if isinstance(problem, paramiko.SSHException) and "not found in known_hosts" in str(problem):
        return f"ssh {where}: host key not in known_hosts"
    if isinstance(problem, paramiko.AuthenticationException):
        return f"ssh {where}: authentication failed for {host.ssh_user}"
    if isinstance(problem, paramiko.ssh_exception.NoValidConnectionsError):
        return f"ssh {where}: connection refused"
    if isinstance(problem, socket.timeout | TimeoutError):
        return f"ssh {where}: no answer (timed out)"
    if isinstance(problem, FileNotFoundError):
        return f"ssh {where}: {problem.filename or 'key file'}: not found"
    if isinstance(problem, OSError) and problem.strerror:
        return f"ssh {where}: {problem.strerror.lower()}"
    text = str(problem).strip().splitlines()
    return f"ssh {where}: {text[0] if text else type(problem).__name__}"
