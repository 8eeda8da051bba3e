"""The keys of the clients' agent services: one per client and sweep, made here, placed on the
host over SSH, borne by every control request (`agents.control`).

    keys = ControlKeys(remote)
    problems = keys.place(hosts)              # {host name: why not}; once per host and sweep
    ask(..., authorization=keys.authorization(host))
    keys.remove()                             # at the sweep's end: the files go, the keys too

Why: the services listen on the management network, and without a key anyone there could aim
every client's load at any host, or stop a run. The key is made with `secrets` (256 bits), kept
in memory only, written to `KEY_FILE` (0600) through the standard input of an SSH command
(`Remote.write_private`), so it is in no command line, log, store or report; the services are
given the file's path. One key per client: a key read on one host opens no other.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor

from orchestrator.config.model import Host
from orchestrator.lab.remote import CommandResult, Remote
from orchestrator.run.commands import KEY_FILE, in_directory

PLACE_TIMEOUT = 30.0


class ControlKeys:
    """See the module docstring. Its repr names no key."""

    def __init__(
        self, remote: Remote, make: Callable[[], str] = lambda: secrets.token_urlsafe(32)
    ) -> None:
        self._remote = remote
        self._make = make
        self._keys: dict[str, str] = {}
        self._placed: dict[str, Host] = {}
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"ControlKeys({len(self._keys)} hosts)"

    def _key(self, host: Host) -> str:
        with self._lock:
            return self._keys.setdefault(host.name, self._make())

    def authorization(self, host: Host) -> str:
        """The Authorization header's value for `host`'s services."""
        return f"Bearer {self._key(host)}"

    def place(self, hosts: Iterable[Host]) -> dict[str, str]:
        """Write each host's key to its KEY_FILE, where not done yet this sweep; {host name:
        why it could not be} for those that failed (tried again on the next call)."""
        todo = [host for host in hosts if host.name not in self._placed]
        if not todo:
            return {}
        keys = {host.name: self._key(host) for host in todo}

        def write(host: Host) -> CommandResult:
            return self._remote.write_private(host, KEY_FILE, keys[host.name] + "\n", PLACE_TIMEOUT)

        with ThreadPoolExecutor(max_workers=len(todo)) as pool:
            results = dict(zip([host.name for host in todo], pool.map(write, todo), strict=True))
        problems = {}
        for host in todo:
            if results[host.name].ok:
                self._placed[host.name] = host
            else:
                problems[host.name] = results[host.name].reason()
        return problems

    def remove(self) -> None:
        """Remove every key file placed and forget the keys (the sweep's services are
        stopped): the next sweep makes new ones."""
        hosts = list(self._placed.values())
        if hosts:
            self._remote.run_all(hosts, lambda host: in_directory(host, f"rm -f {KEY_FILE}"), 30)
        self._placed.clear()
        with self._lock:
            self._keys.clear()
