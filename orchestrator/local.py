"""Running commands on the orchestrator host itself: the one place that starts local processes.

    local.run(["ip", "-j", "route"])                  # output, or TestbedError naming the command
    local.run(["promtool", ...], check=False)          # the caller reads the exit status
    process = local.start(["prometheus", ...], log)    # a daemon in its own session

The emulated lab's `ip` and `ssh-keygen`, the route check at load, promtool and Prometheus, git
and crontab all go through here: commands are argument lists (never a shell), and a missing
program or a hung one is one clear line.
"""

from __future__ import annotations

import shlex
import subprocess
from collections.abc import Sequence
from typing import IO

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


def start(command: Sequence[str], log: IO[bytes]) -> subprocess.Popen[bytes]:
    """Start `command` in a session of its own (it outlives us), output to `log`."""
    try:
        return subprocess.Popen(
            list(command), stdout=log, stderr=log, stdin=subprocess.DEVNULL, start_new_session=True
        )
    except FileNotFoundError:
        raise TestbedError(f"{command[0]}: command not found (run scripts/install-deps)") from None
