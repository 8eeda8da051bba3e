"""The outline every lab built on this machine follows, written once for the emulated lab
(`emulated`, namespaces) and the lab of machines (`machines`, booted containers).

    class EmulatedLab(LabBuilder):
        def _check(self): ...        # what building needs here (root, tools), before anything
        def _build(self): ...        # the steps, each idempotent: only what is missing is made
        def down(self): ...          # remove all of it; fine if none of it exists
        def describe(self): ...      # what the lab is made of (lab.json, tests)

The rollback rule: when `up` fails, Ctrl-C included, it takes down a lab it was creating, and
never one that existed before it started (a lab half up stays for `lab down` or another `up`).
What both builders share besides: the lab's state directory, its SSH key pair, its wiring
(`wiring.LabNetwork`) and the wait for every host's sshd.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Callable
from pathlib import Path

from orchestrator.config.model import Lab
from orchestrator.errors import TestbedError
from orchestrator.lab.sshd import new_key, ssh_identity
from orchestrator.lab.wiring import LabNetwork, wait_for_ssh
from orchestrator.paths import lab_state_dir

Warn = Callable[[str], None]


class LabBuilder(ABC):
    """Builds and removes one lab on this machine; see the module docstring."""

    def __init__(self, lab: Lab, warn: Warn = lambda message: None) -> None:
        self.lab = lab
        self.state = lab_state_dir(lab.name)
        self.identity = ssh_identity(lab)
        self.network = LabNetwork(lab)
        self.warn = warn

    def exists(self) -> bool:
        """Whether any part of the lab is up (then `up` completes it, and never removes it)."""
        return self.network.exists()

    def up(self) -> None:
        """Create whatever part of the lab is missing; on failure, undo a lab created now."""
        self._check()
        existed = self.exists()
        try:
            self._build()
        except BaseException:
            if not existed:
                self.down()
            raise
        (self.state / "lab.json").write_text(json.dumps(self.describe(), indent=2) + "\n")

    @abstractmethod
    def down(self) -> None:
        """Remove every part of the lab this builder makes; fine if none exists."""

    @abstractmethod
    def describe(self) -> dict[str, object]:
        """What the lab is made of, for `lab.json` and for tests."""

    @abstractmethod
    def _check(self) -> None:
        """Raise TestbedError when this machine cannot build the lab (before anything)."""

    @abstractmethod
    def _build(self) -> None:
        """Make what is missing, step by step; each step leaves what exists alone."""

    # -- steps both builders take ----------------------------------------------------------------

    def _lab_key(self) -> Path:
        """The lab's SSH key pair (made once), private to its owner; the private key's path."""
        key = self.identity.private_key
        key.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        if not key.exists():
            new_key(key, f"testbed-{self.lab.name}")
        key.chmod(0o600)
        return key

    def _wait_for_ssh(self, seconds: float, poll: float, logs: str) -> None:
        """Until every host's sshd answers, at most `seconds`; TestbedError naming those that
        did not, and where their `logs` are."""
        waiting = wait_for_ssh(self.lab.hosts, seconds, poll=poll)
        if waiting:
            names = ", ".join(host.name for host in waiting)
            raise TestbedError(
                f"sshd did not come up on {names} within {seconds:.0f} s (see {logs})"
            )
