"""What a long command tells the person running it, as calls on a `View`.

    view.info("lab emulated: 9 hosts up (1.2 s)")
    view.preflight(report)                         # the table of checks per host
    with view.playbook(hosts=9) as on_event: ...   # progress while Ansible runs
    observer = view.sweep_progress(retries=1)      # told every point and phase

`up` and `nightly` speak only to this protocol; the CLI hands them the terminal's view
(`orchestrator.ui.Terminal`), so the domain modules print nothing themselves and a test or
another front end can give its own.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, Protocol

from orchestrator.config.model import Lab
from orchestrator.lab.preflight import PreflightReport
from orchestrator.lab.provision import PlaybookResult
from orchestrator.results.records import Sweep, SweepSummary
from orchestrator.run.sweep import SweepObserver

PlaybookEvents = Callable[[dict[str, Any]], None]


class View(Protocol):
    """See the module docstring."""

    def info(self, text: str) -> None:
        """A line of progress or result (may hold rich markup such as [bold])."""

    def warn(self, text: str) -> None:
        """Something the user should know that does not stop the command."""

    def error(self, text: str) -> None:
        """One problem, one line."""

    def preflight(self, report: PreflightReport) -> None:
        """Every host's checks."""

    def playbook(self, hosts: int) -> AbstractContextManager[PlaybookEvents]:
        """Progress while a playbook runs on `hosts` hosts; yields ansible-runner's handler."""

    def provisioned(self, lab: Lab, result: PlaybookResult) -> None:
        """What provisioning did on each host."""

    def sweep_progress(self, retries: int) -> SweepObserver:
        """The live view of a sweep's points."""

    def sweep_log(self, path: Path) -> None:
        """Also keep what is shown, with debug detail, in `path` (the sweep's log) from now on,
        and say so; a view that keeps no log ignores it."""

    def sweep_done(self, sweep: Sweep, summary: SweepSummary, results: Path) -> None:
        """Where the sweep's time went, and its failures."""
