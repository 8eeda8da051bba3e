"""Processes the orchestrator runs on lab hosts (server, agents), tracked by pid files.

    procs = RemoteProcesses(remote, tag="emulated")
    procs.start(host, "server", "server/userver --mechanism poll ...")   # returns at once
    stopped = procs.stop(host, ["server"], timeout=10)                    # TERM, wait, collect
    stopped["server"].exit_code, stopped["server"].output                 # how it ended

Every process runs from the host's directory under a small shell that records, in `run/`:
NAME.pid (the process), NAME.pgid (its process group, for a forced stop of its children),
NAME.out / NAME.err (its output) and NAME.exit (its exit status, once it ended). Each process
carries TESTBED_TAG in its environment; a pid is only ever signalled after its environment was
checked for that tag, so a recycled pid is never hit, and nothing is ever killed by name. After
a crash of the orchestrator, `stop_all` finds and stops what it left on every host.

Each method is one SSH command per host (they cost a login shell each): `stop` signals, waits,
escalates and collects in one. `HostProcesses` is the seam as the sweep types it (a Protocol);
`RemoteProcesses` the real one, over a `Remote`; the sweep's tests hand in a fake.
"""

from __future__ import annotations

import re
import shlex
import signal
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from orchestrator.config.model import Host
from orchestrator.lab.remote import CommandResult, Remote
from orchestrator.run.commands import RUN_DIR

THEN = "@then"  # the output of a script run after a stop, in the same command
MARK = "@@testbed"  # separates the sections of a collecting command's output


@dataclass(frozen=True)
class Finished:
    """How a tracked process ended, as seen from its host."""

    name: str
    exit_code: int | None  # None: still running at the deadline (then stopped), or never ran
    output: str  # its stdout
    errors: str  # the tail of its stderr
    ssh_error: str | None = None  # the host could not be asked

    @property
    def reason(self) -> str:
        if self.ssh_error:
            return self.ssh_error
        tail = " ".join(self.errors.split())[-300:]
        return describe_exit(self.exit_code) + (f": {tail}" if tail else "")


def _check_name(name: str) -> None:
    """Process names become file names in shell lines unquoted (next to globs): plain only."""
    if not re.fullmatch(r"[a-z][a-z0-9_-]{0,31}", name):
        raise ValueError(f"process name {name!r}: expected lower-case letters, digits, - and _")


def describe_exit(code: int | None) -> str:
    """'exit status 1', 'killed by SIGKILL' (the shell reports a signal as 128 + its number)."""
    if code is None:
        return "no exit status"
    if code > 128:
        try:
            return f"killed by {signal.Signals(code - 128).name}"
        except ValueError:
            pass
    return f"exit status {code}"


class HostProcesses(Protocol):
    """Tracked processes on lab hosts, as the sweep uses them: `RemoteProcesses` on real hosts,
    a fake in tests. Host-side problems come back in the results, never as exceptions."""

    def start(self, host: Host, name: str, command: str) -> CommandResult:
        """Start `command` as tracked process `name` and return at once (stdout: its pid)."""

    def start_many(self, name: str, commands: dict[Host, str]) -> dict[str, CommandResult]:
        """Start process `name` on several hosts at once, each with its own command."""

    def stop(
        self,
        host: Host,
        names: Sequence[str],
        timeout: float,
        then: str | None = None,
        then_timeout: float = 60.0,
        how: Mapping[str, tuple[str, bool]] | None = None,
    ) -> dict[str, Finished]:
        """Stop `names` (SIGTERM, or `how` per name; SIGKILL to their groups after `timeout`),
        collect how each ended, then run the script `then` (its result under THEN)."""

    def alive(self, host: Host, name: str) -> Finished:
        """Whether `name` still runs (exit_code None) or how it ended, without touching it."""

    def stop_all(self, hosts: Iterable[Host], grace: float = 3.0) -> dict[str, CommandResult]:
        """Stop every tracked process on `hosts` (a dead run's leftovers); stdout names them."""


class RemoteProcesses(HostProcesses):
    """Starts, runs, stops and collects tracked processes on lab hosts over a `Remote`; see the
    module docstring."""

    def __init__(self, remote: Remote, tag: str) -> None:
        self.remote = remote
        self.tag = f"testbed:{tag}"

    # -- shell pieces --------------------------------------------------------------------------

    def _launch(self, host: Host, name: str, command: str) -> list[str]:
        """Lines that start `command` as tracked process `name` and wait until its pid is known."""
        _check_name(name)
        run = f"{RUN_DIR}/{name}"
        inner = (
            f"{command} >{run}.out 2>{run}.err </dev/null & echo $! >{run}.pid.tmp; "
            f"mv {run}.pid.tmp {run}.pid; wait $!; "
            f"echo $? >{run}.exit.tmp; mv {run}.exit.tmp {run}.exit"
        )
        # Both files appear whole (rename): `>file` creates it empty before the echo writes, and
        # a waiter that saw an empty .exit read "no exit status" -- a finished run as overrun.
        # Statements on their own lines: `a && b & c` would background the whole list, and a
        # subshell holding the SSH channel open would make the command never return.
        return [
            f"cd {shlex.quote(host.directory)} && mkdir -p {RUN_DIR} || exit 1",
            f"rm -f {run}.pid {run}.pgid {run}.exit {run}.exit.tmp {run}.out {run}.err",
            f"export TESTBED_TAG={shlex.quote(self.tag)}",
            f"setsid sh -c {shlex.quote(inner)} >/dev/null 2>&1 </dev/null &",
            f"echo $! >{run}.pgid",  # setsid did not fork (no job control): $! leads the group
            f"for i in $(seq 300); do [ -s {run}.pid ] && break; sleep 0.01; done",
        ]

    @staticmethod
    def _wait(names: Sequence[str], timeout: float) -> list[str]:
        """Lines that wait until every process in `names` wrote its exit status, or timeout."""
        for name in names:
            _check_name(name)
        files = " ".join(f"{RUN_DIR}/{name}.exit" for name in names)
        return [
            f"end=$(( $(date +%s%N) / 1000000 + {int(timeout * 1000)} ))",
            f"while [ $(( $(date +%s%N) / 1000000 )) -lt $end ]; do ok=1; "
            f"for f in {files}; do [ -e $f ] || ok=0; done; [ $ok = 1 ] && break; "
            "sleep 0.05; done",
        ]

    def _signal(self, names: Sequence[str] | None, sig: str, *, group: bool) -> str:
        """A loop that signals tracked processes (or their groups) carrying our tag, printing
        the name of each one signalled."""
        suffix = "pgid" if group else "pid"
        pattern = (
            f"{RUN_DIR}/*.{suffix}"
            if names is None
            else " ".join(f"{RUN_DIR}/{name}.{suffix}" for name in names)
        )
        target = '-"$pid"' if group else '"$pid"'
        tag = shlex.quote(f"TESTBED_TAG={self.tag}")
        return (
            f'for f in {pattern}; do [ -s "$f" ] || continue; pid=$(cat "$f"); '
            f'tr "\\0" "\\n" </proc/"$pid"/environ 2>/dev/null | grep -qx {tag} || continue; '
            f'kill -{sig} -- {target} 2>/dev/null && echo "$(basename "$f" .{suffix})"; done'
        )

    def _signal_members(self, names: Sequence[str], sig: str) -> str:
        """A loop that signals every process of each tracked group but its leader, the shell
        that waits for the process to record its exit status (killing it would lose that)."""
        tag = shlex.quote(f"TESTBED_TAG={self.tag}")
        pattern = " ".join(f"{RUN_DIR}/{name}.pgid" for name in names)
        return (
            f'for f in {pattern}; do [ -s "$f" ] || continue; pg=$(cat "$f"); '
            f'tr "\\0" "\\n" </proc/"$pg"/environ 2>/dev/null | grep -qx {tag} || continue; '
            f'for p in $(pgrep -g "$pg"); do [ "$p" = "$pg" ] || kill -{sig} "$p" 2>/dev/null; '
            'done; echo "$(basename "$f" .pgid)"; done'
        )

    # -- operations ----------------------------------------------------------------------------

    def start(self, host: Host, name: str, command: str) -> CommandResult:
        """Start `command` and return at once; the result's stdout is its pid."""
        script = [*self._launch(host, name, command), f"cat {RUN_DIR}/{name}.pid"]
        return self.remote.run(host, "\n".join(script), timeout=30)

    def start_many(self, name: str, commands: dict[Host, str]) -> dict[str, CommandResult]:
        """Start process `name` on several hosts at once, each with its own command."""
        return self.remote.run_all(
            commands,
            lambda host: "\n".join(
                [*self._launch(host, name, commands[host]), f"cat {RUN_DIR}/{name}.pid"]
            ),
            timeout=30,
        )

    def stop(
        self,
        host: Host,
        names: Sequence[str],
        timeout: float,
        then: str | None = None,
        then_timeout: float = 60.0,
        how: Mapping[str, tuple[str, bool]] | None = None,
    ) -> dict[str, Finished]:
        """SIGTERM each process in `names` (not its group; `how` may say another signal, or
        every process of its group but the tracking shell, per name), wait up to `timeout` s
        for all to end, SIGKILL the groups of those that did not, and collect what each left.
        `then`, a shell script, runs afterwards in the same command (one round trip); its
        output and exit status come back under the name THEN."""
        script = [f"cd {shlex.quote(host.directory)} 2>/dev/null || exit 0"]
        ways: dict[tuple[str, bool], list[str]] = {}
        for name in names:
            ways.setdefault((how or {}).get(name, ("TERM", False)), []).append(name)
        if names:
            script += [
                *(
                    f"{self._signal_members(group_names, sig)} >/dev/null"
                    if group
                    else f"{self._signal(group_names, sig, group=False)} >/dev/null"
                    for (sig, group), group_names in ways.items()
                ),
                *self._wait(names, timeout),
                f"{self._signal(names, 'KILL', group=True)} >/dev/null",
                *report_lines(names),
            ]
        wanted = list(names)
        if then is not None:
            script += [f'( {then}\n) >{RUN_DIR}/then.out 2>&1; echo "{MARK} {THEN} $?"']
            script += [f"cat {RUN_DIR}/then.out", f'echo "{MARK}-err"']
            wanted.append(THEN)
        extra = 0.0 if then is None else then_timeout
        result = self.remote.run(host, "\n".join(script), timeout=timeout + 30 + extra)
        return parse_report(result, wanted)

    def alive(self, host: Host, name: str) -> Finished:
        """Whether `name` still runs (exit_code None) or how it ended, without touching it."""
        script = [f"cd {shlex.quote(host.directory)} 2>/dev/null || exit 0", *report_lines([name])]
        return parse_report(self.remote.run(host, "\n".join(script), timeout=30), [name])[name]

    def stop_all(self, hosts: Iterable[Host], grace: float = 3.0) -> dict[str, CommandResult]:
        """Stop every tracked process on `hosts`: SIGTERM to each process group, SIGKILL after
        `grace` seconds when something was there. Prints the names it stopped."""

        def script(host: Host) -> str:
            term = self._signal(None, "TERM", group=True)
            kill = self._signal(None, "KILL", group=True)
            return (
                f"cd {shlex.quote(host.directory)} 2>/dev/null || exit 0\n"
                f"stopped=$({term})\n"
                f'[ -z "$stopped" ] || {{ echo "$stopped"; sleep {grace:g}; {kill} >/dev/null; }}'
            )

        return self.remote.run_all(hosts, script, timeout=grace + 30)


def report_lines(names: Sequence[str]) -> list[str]:
    """Lines printing, per name, its exit status, stdout and stderr tail between marks."""
    lines = []
    for name in names:
        _check_name(name)
        run = f"{RUN_DIR}/{name}"
        lines += [
            f'echo "{MARK} {name} $(cat {run}.exit 2>/dev/null || echo -)"',
            f"cat {run}.out 2>/dev/null",
            _newline_if_missing(f"{run}.out"),
            f'echo "{MARK}-err"',
            f"tail -c 2000 {run}.err 2>/dev/null",
            _newline_if_missing(f"{run}.err"),
        ]
    return lines


def _newline_if_missing(path: str) -> str:
    """A line that ends a file's output with a newline if it had none, so the next mark starts a
    line of its own (an agent's JSON printed without one swallowed the mark after it)."""
    return f'[ -n "$(tail -c 1 {path} 2>/dev/null)" ] && echo || true'


def parse_report(result: CommandResult, names: Sequence[str]) -> dict[str, Finished]:
    """How each of `names` ended, from the output of a command ending in `report_lines`."""
    if result.error is not None:
        return {name: Finished(name, None, "", "", result.error) for name in names}
    found: dict[str, Finished] = {}
    name: str | None = None
    code: int | None = None
    out: list[str] = []
    err: list[str] = []
    target = "out"
    for line in [*result.stdout.splitlines(), f"{MARK} @end -"]:
        if line.startswith(f"{MARK}-err"):
            target = "err"
            continue
        if line.startswith(f"{MARK} "):
            if name is not None:
                found[name] = Finished(name, code, "\n".join(out), "\n".join(err))
            _, name, status = line.split(" ", 2)
            code = int(status) if status.strip().lstrip("-").isdigit() else None
            out, err, target = [], [], "out"
            continue
        (out if target == "out" else err).append(line)
    for missing in names:
        found.setdefault(missing, Finished(missing, None, "", "", result.reason() or None))
    return {name: found[name] for name in names}
