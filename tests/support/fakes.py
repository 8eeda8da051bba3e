"""Fakes of the orchestrator's seams, shared by the unit tests and checked by mypy (strict).

    remote = FakeRemote()                        # every host answers exit 0; remote.commands
    class Probe(FakeRemote):                     # or answer as a host would:
        def answer(self, host, command, stdin): ...
    store = FakeStore()                          # a SweepWriter keeping what a sweep writes
    view = Lines()                               # a View keeping the lines it is told
    clock = Clock()                              # time passes only when something sleeps
    links = FakeLinks()                          # a LinkShaper keeping the profiles applied

Each fake subclasses the Protocol it stands for (`Remote`, `SweepWriter`, `View`,
`LinkShaper`), so mypy
checks every method against the Protocol: a signature that drifts from it fails lint, not a
test at run time. A test's own fake subclasses these, or the Protocol, for the same check.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any, Self

from orchestrator.config.model import Host, Lab, NetworkProfile
from orchestrator.lab.linkem import LinkStats
from orchestrator.lab.links import LinkShaper
from orchestrator.lab.preflight import PreflightReport
from orchestrator.lab.provision import PlaybookResult
from orchestrator.lab.remote import CommandResult, Remote
from orchestrator.results.records import PointRecord, Sweep, SweepSummary
from orchestrator.results.writer import SweepWriter
from orchestrator.run.observe import Observers, SweepObserver
from orchestrator.run.view import PlaybookEvents, View


class Clock:
    """Time that passes only when something sleeps or asks the time (`tick` per call)."""

    def __init__(self, tick: float = 0.01, now: float = 1_800_000_000.0) -> None:
        self.now = now
        self.tick = tick

    def __call__(self) -> float:
        self.now += self.tick
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += max(0.0, seconds)


class FakeRemote(Remote):
    """A `Remote` whose hosts answer every command through `answer` (exit 0, no output, unless
    a subclass says otherwise), one after another; keeps every command in `commands`."""

    def __init__(self) -> None:
        self.commands: list[str] = []
        self.closed = 0

    def answer(self, host: Host, command: str, stdin: str | None) -> CommandResult:
        """What `host` makes of `command`; override to play a host."""
        return CommandResult(host.name, command, 0, "", "", None, 0.0)

    def run(
        self, host: Host, command: str, timeout: float | None = 60.0, *, stdin: str | None = None
    ) -> CommandResult:
        self.commands.append(command)
        return self.answer(host, command, stdin)

    def run_all(
        self,
        hosts: Iterable[Host],
        command: str | Callable[[Host], str],
        timeout: float | None = 60.0,
    ) -> dict[str, CommandResult]:
        results = {}
        for host in hosts:
            text = command(host) if callable(command) else command
            results[host.name] = self.run(host, text, timeout)
        return results

    def write_private(
        self, host: Host, path: str, text: str, timeout: float = 30.0
    ) -> CommandResult:
        return self.run(host, f"write-private {path}", timeout, stdin=text)

    def close(self) -> None:
        self.closed += 1

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class FakeStore(SweepWriter):
    """A `SweepWriter` keeping what a sweep writes: its points' attempts in order, its settings,
    statuses and verdicts."""

    def __init__(self) -> None:
        self.sweeps: list[Sweep] = []
        self.records: list[PointRecord] = []
        self.settings: dict[str, Any] = {}
        self.statuses: list[str] = []
        self.verdicts: dict[str, tuple[str, str]] = {}
        self.summary: SweepSummary | None = None

    def create_sweep(
        self,
        *,
        lab: str,
        digest: str,
        seed: int,
        points_planned: int,
        lab_file: str,
        inventory: str,
        revision: str,
        hosts: Mapping[str, Any],
        settings: Mapping[str, Any],
        workloads: Mapping[str, Any],
        kind: str = "manual",
        now: float | None = None,
    ) -> Sweep:
        started = 0.0 if now is None else now
        sweep_id = f"{lab}-{len(self.sweeps) + 1}"
        sweep = Sweep(sweep_id, lab, digest, seed, "running", started, None, points_planned, kind)
        self.sweeps.append(sweep)
        self.settings.update(settings)
        return sweep

    def set_sweep_status(self, sweep_id: str, status: str) -> None:
        self.statuses.append(status)

    def record_point(self, sweep_id: str, record: PointRecord) -> None:
        self.records.append(record)

    def update_settings(self, sweep_id: str, values: Mapping[str, Any]) -> None:
        self.settings.update(values)

    def set_verdict(self, sweep_id: str, key: str, status: str, reason: str) -> None:
        self.verdicts[key] = (status, reason)

    def finish_sweep(
        self, sweep_id: str, status: str, summary: SweepSummary, now: float | None = None
    ) -> None:
        self.statuses.append(status)
        self.summary = summary


class Lines(View):
    """A `View` that keeps the lines it is told (info, warnings and errors alike) and shows
    nothing else; its sweep progress is an observer that ignores every call."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.reports: list[PreflightReport] = []

    def info(self, text: str) -> None:
        self.lines.append(text)

    def warn(self, text: str) -> None:
        self.lines.append(text)

    def error(self, text: str) -> None:
        self.lines.append(text)

    def preflight(self, report: PreflightReport) -> None:
        self.reports.append(report)

    def playbook(self, hosts: int) -> AbstractContextManager[PlaybookEvents]:
        @contextmanager
        def ignoring() -> Iterator[PlaybookEvents]:
            yield lambda event: None

        return ignoring()

    def provisioned(self, lab: Lab, result: PlaybookResult) -> None:
        pass

    def sweep_progress(self, retries: int) -> SweepObserver:
        return Observers()  # fans out to no observer at all

    def sweep_log(self, path: Path) -> None:
        pass

    def sweep_done(self, sweep: Sweep, summary: SweepSummary, results: Path) -> None:
        pass


class FakeLinks(LinkShaper):
    """A `LinkShaper` that keeps each change of the clients' links in `applied` ({host name:
    profile name}, and {} for a clear) and counts no emulator statistics."""

    def __init__(self) -> None:
        self.applied: list[dict[str, str]] = []

    def apply(self, profiles: Mapping[Host, NetworkProfile]) -> None:
        self.applied.append({host.name: profile.name for host, profile in profiles.items()})

    def clear(self) -> None:
        self.applied.append({})

    def counters(self) -> dict[str, LinkStats]:
        return {}

    @property
    def pings_user_to_user(self) -> bool:
        return False
