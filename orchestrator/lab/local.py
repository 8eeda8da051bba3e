"""Running commands on the orchestrator host itself (the emulated lab's `ip`, `ssh-keygen`)."""

from __future__ import annotations

import shlex
import subprocess
from collections.abc import Sequence

from orchestrator.errors import TestbedError


def run(
    command: Sequence[str], *, check: bool = True, timeout: float = 30, input: str | None = None
) -> subprocess.CompletedProcess[str]:
    """Run `command`; on failure raise TestbedError naming the command and its stderr."""
    try:
        result = subprocess.run(
            list(command), capture_output=True, text=True, timeout=timeout, input=input
        )
    except FileNotFoundError:
        raise TestbedError(f"{command[0]}: command not found (run scripts/install-deps)") from None
    except subprocess.TimeoutExpired:
        raise TestbedError(f"{shlex.join(command)}: no answer after {timeout:g} s") from None
    if check and result.returncode != 0:
        detail = (result.stderr or result.stdout).strip().splitlines()
        reason = detail[-1] if detail else f"exit status {result.returncode}"
        raise TestbedError(f"{shlex.join(command)}: {reason}")
    return result
