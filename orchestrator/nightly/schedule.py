"""`orchestrate schedule`: run a lab's nightly sweep every day at a given time.

    scheduler = Scheduler()
    scheduler.install(lab, time(2, 30))     # `schedule add LAB --daily 02:30`, one line each
    scheduler.entries()                      # every lab's schedule
    scheduler.remove(lab)

Where systemd runs the machine: a service and a timer in /etc/systemd/system, enabled. Otherwise
an /etc/cron.d entry for Debian's cron; the systemd unit files are then still written into the
lab's state directory, for a later move to systemd. Installing twice replaces, never adds: one
file per lab, named after it. The entry runs `orchestrate nightly LAB` from this checkout with
its log appended to <results>/nightly/cron.log.
"""

from __future__ import annotations

import datetime
import os
import re
import shlex
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from orchestrator import local
from orchestrator.config.model import Lab
from orchestrator.errors import EXIT_USAGE, TestbedError
from orchestrator.paths import REPOSITORY, lab_state_dir, log_file

CRON_DIR = Path("/etc/cron.d")
SYSTEMD_DIR = Path("/etc/systemd/system")
PREFIX = "testbed-nightly-"


def parse_daily(text: str) -> datetime.time:
    """'02:30' -> 02:30; TestbedError (exit 2) for anything else."""
    try:
        hours, minutes = text.split(":")
        return datetime.time(int(hours), int(minutes))
    except ValueError:
        raise TestbedError(f"--daily: {text!r}: expected a time HH:MM", EXIT_USAGE) from None


def orchestrate_command() -> list[str]:
    """How to run this checkout's `orchestrate` from a scheduler (absolute paths only)."""
    script = Path(sys.executable).parent / "orchestrate"
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "orchestrator.cli"]


# What a path written into a cron or systemd line may hold. Both formats have their own
# syntax on top of the shell's: cron ends an entry at a newline and turns `%` into one; systemd
# expands `%` specifiers and `$` variables and has its own quoting. Plain characters need none.
SAFE_CHARACTER = re.compile(r"[A-Za-z0-9._/+,:@=-]")
SAFE_PATH = re.compile(rf"/{SAFE_CHARACTER.pattern}*")
SAFE_TEXT = re.compile(rf"{SAFE_CHARACTER.pattern}+")


def check_schedulable(lab: Lab) -> None:
    """Refuse (exit 2, one line) a lab whose paths cannot be written safely into a cron entry
    or a systemd unit: a newline, `%`, `$`, quotes, spaces, backslashes..."""
    places = [
        ("the lab file", str(lab.path.resolve()), SAFE_PATH),
        ("the results directory", str(lab.results_directory.resolve()), SAFE_PATH),
        ("this checkout", str(REPOSITORY), SAFE_PATH),
        ("the Python that runs orchestrate", orchestrate_command()[0], SAFE_PATH),
    ]
    state = os.environ.get("TESTBED_STATE_DIR")
    if state:
        # The value as set, then as resolved (what the entry carries): `resolve()` folds
        # "x\n* * * * * root cmd/.." into a plain path, so the resolved one alone passes a
        # value whose newline would have started a cron line of its own.
        places.append(("TESTBED_STATE_DIR", state, SAFE_TEXT))
        places.append(("TESTBED_STATE_DIR", str(Path(state).resolve()), SAFE_PATH))
    for what, path, pattern in places:
        if not pattern.fullmatch(path):
            bad = sorted({char for char in path if not SAFE_CHARACTER.fullmatch(char)})
            shown = ", ".join(repr(char) for char in bad)
            raise TestbedError(
                f"schedule: {what} {path!r} holds {shown}: cron and systemd lines cannot carry"
                " it safely; move it to a path of letters, digits and . _ / + , : @ = -",
                EXIT_USAGE,
            )


def nightly_command(lab: Lab) -> str:
    """The shell command a scheduler runs each night (its log private: umask 027)."""
    check_schedulable(lab)
    state = os.environ.get("TESTBED_STATE_DIR")
    # Resolved: the entry runs from the checkout, not from where `schedule add` was typed.
    environment = f"TESTBED_STATE_DIR={shlex.quote(str(Path(state).resolve()))} " if state else ""
    log = lab.results_directory.resolve() / "nightly" / "cron.log"
    command = shlex.join([*orchestrate_command(), "nightly", str(lab.path.resolve())])
    checkout = shlex.quote(str(REPOSITORY))
    return f"umask 027; cd {checkout} && {environment}{command} >>{shlex.quote(str(log))} 2>&1"


def cron_file(lab: Lab, at: datetime.time) -> str:
    command = nightly_command(lab).replace("%", "\\%")  # cron turns a bare % into a newline
    return "\n".join(
        [
            f"# testbed: nightly run of lab {lab.name} ({lab.path.resolve()})",
            "# installed by `orchestrate schedule add`; removed by `orchestrate schedule remove`",
            "SHELL=/bin/sh",
            "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            f"{at.minute} {at.hour} * * * root {command}",
            "",
        ]
    )


def systemd_units(lab: Lab, at: datetime.time) -> dict[str, str]:
    name = f"{PREFIX}{lab.name}"
    service = "\n".join(
        [
            "[Unit]",
            f"Description=testbed nightly run of lab {lab.name}",
            "Wants=network-online.target",
            "After=network-online.target",
            "",
            "[Service]",
            "Type=oneshot",
            f"ExecStart=/bin/sh -c {shlex.quote(nightly_command(lab))}",
            "",
        ]
    )
    timer = "\n".join(
        [
            "[Unit]",
            f"Description=testbed nightly run of lab {lab.name}, every day at {at:%H:%M}",
            "",
            "[Timer]",
            f"OnCalendar=*-*-* {at:%H:%M}:00",
            "Persistent=true",
            f"Unit={name}.service",
            "",
            "[Install]",
            "WantedBy=timers.target",
            "",
        ]
    )
    return {f"{name}.service": service, f"{name}.timer": timer}


@dataclass
class Scheduler:
    """Installs, lists and removes nightly schedules; see the module docstring."""

    cron_dir: Path = CRON_DIR
    systemd_dir: Path = SYSTEMD_DIR
    systemd: bool | None = None  # None: look at the machine
    run: Callable[[list[str]], object] = local.run

    def __post_init__(self) -> None:
        if self.systemd is None:
            self.systemd = Path("/run/systemd/system").is_dir()

    def install(self, lab: Lab, at: datetime.time) -> list[str]:
        check_schedulable(lab)  # before anything is written
        log_file(lab.results_directory / "nightly" / "cron.log")  # private before cron appends
        units = systemd_units(lab, at)
        done = []
        if self.systemd:
            for name, text in units.items():
                (self.systemd_dir / name).write_text(text)
                done.append(f"wrote {self.systemd_dir / name}")
            self.run(["systemctl", "daemon-reload"])
            self.run(["systemctl", "enable", "--now", f"{PREFIX}{lab.name}.timer"])
            done.append(f"enabled {PREFIX}{lab.name}.timer: every day at {at:%H:%M}")
            return done
        path = self.cron_dir / f"{PREFIX}{lab.name}"
        path.write_text(cron_file(lab, at))
        path.chmod(0o644)
        done.append(f"wrote {path}: every day at {at:%H:%M} (cron)")
        unit_dir = lab_state_dir(lab.name) / "systemd"
        unit_dir.mkdir(parents=True, exist_ok=True)
        for name, text in units.items():
            (unit_dir / name).write_text(text)
        done.append(f"systemd does not run this machine; its units are in {unit_dir} for later")
        return done

    def remove(self, lab: Lab) -> list[str]:
        done = []
        if self.systemd:
            timer = f"{PREFIX}{lab.name}.timer"
            if (self.systemd_dir / timer).exists():
                self.run(["systemctl", "disable", "--now", timer])
            for name in systemd_units(lab, datetime.time(0, 0)):
                if (self.systemd_dir / name).exists():
                    (self.systemd_dir / name).unlink()
                    done.append(f"removed {self.systemd_dir / name}")
            self.run(["systemctl", "daemon-reload"])
        path = self.cron_dir / f"{PREFIX}{lab.name}"
        if path.exists():
            path.unlink()
            done.append(f"removed {path}")
        return done or [f"lab {lab.name} had no schedule"]

    def entries(self) -> list[str]:
        """One line per scheduled lab: where, when, what."""
        lines = []
        for path in sorted(self.cron_dir.glob(f"{PREFIX}*")):
            for line in path.read_text().splitlines():
                fields = line.split(None, 6)
                if len(fields) == 7 and not line.startswith("#") and "=" not in fields[0]:
                    minute, hour = int(fields[0]), int(fields[1])
                    lines.append(f"{path}: every day at {hour:02d}:{minute:02d}: {fields[6]}")
        if self.systemd:
            for path in sorted(self.systemd_dir.glob(f"{PREFIX}*.timer")):
                calendar = next(
                    (
                        line.split("=", 1)[1]
                        for line in path.read_text().splitlines()
                        if line.startswith("OnCalendar=")
                    ),
                    "?",
                )
                lines.append(f"{path}: {calendar}")
        return lines
