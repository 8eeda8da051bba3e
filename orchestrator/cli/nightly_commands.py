"""Subcommands for unattended runs: baseline set/show, nightly, schedule add/list/remove."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from orchestrator import ui
from orchestrator.cli.app import app
from orchestrator.cli.conventions import (
    CONTEXT,
    EXIT_CODES,
    JsonOption,
    LabArgument,
    ResultsArgument,
    codes,
    command,
    group,
    open_store,
    print_json,
    print_lines,
)
from orchestrator.config.labfile import load_lab
from orchestrator.errors import EXIT_USAGE, TestbedError
from orchestrator.nightly.baseline import baseline_for
from orchestrator.nightly.nightly import run_nightly
from orchestrator.nightly.schedule import Scheduler, parse_daily
from orchestrator.results.records import check_sweep_id
from orchestrator.run.lock import EXIT_LOCKED
from orchestrator.ui import Terminal, console

baseline_app = group("The sweep nightly runs compare with.")
app.add_typer(baseline_app, name="baseline")


@command(baseline_app, "set", codes())
def baseline_set_command(results: ResultsArgument, sweep: str) -> None:
    """Pin SWEEP as the baseline of its lab's nightly runs."""
    check_sweep_id(sweep, "SWEEP")
    store = open_store(results)
    found = store.sweep(sweep)
    if found is None:
        raise TestbedError(f"{store.path}: no sweep {sweep!r}", EXIT_USAGE)
    store.set_baseline(found.lab, found.id)
    console.print(f"baseline of lab {found.lab}: {found.id} (pinned)")


@command(baseline_app, "show", codes())
def baseline_show_command(results: ResultsArgument, as_json: JsonOption = False) -> None:
    """The baseline of every lab in the store: pinned, or the last good nightly sweep.

    --json: {"store", "baselines": [{"lab", "baseline", "how"}]}; "baseline" and "how"
    ("pinned" or "last good nightly") are null for a lab with none yet."""
    store = open_store(results, readonly=True)
    rows = []
    for lab in sorted({sweep.lab for sweep in store.sweeps()}):
        pinned = store.baseline(lab)
        chosen = baseline_for(store, lab)
        how = "pinned" if chosen is not None and chosen.id == pinned else "last good nightly"
        rows.append({"lab": lab, "baseline": chosen.id if chosen else None,
                     "how": how if chosen else None})  # fmt: skip
    if as_json:
        print_json({"store": str(store.path), "baselines": rows})
        return
    if not rows:
        console.print(f"{store.path}: no sweeps yet")
    for row in rows:
        shown = f"{row['baseline']} ({row['how']})" if row["baseline"] else "none yet"
        console.print(f"{row['lab']}: {shown}")


def _nightlycodes() -> dict[int, str]:
    """A night's 2 also covers a run that failed: a cron job alerts on 1 (worse) and 2 (no
    result) differently, and bad input gives no result either."""
    meanings = codes(failed="a curve regressed", busy=EXIT_CODES[EXIT_LOCKED])
    meanings[EXIT_USAGE] = "no result: bad input, or the run failed (alerted)"
    return dict(sorted(meanings.items()))


@command(app, "nightly", _nightlycodes())
def nightly_command(lab_file: LabArgument) -> int:
    """One unattended run: a new sweep, its report, and a comparison with the baseline.

    Writes the night's log under RESULTS/nightly/, alerts the lab's webhook and command on a
    regression or failure, and keeps the last `nightly.keep` nights."""
    ui.capture()  # the sweep's log beside its store, as for `up`
    return run_nightly(load_lab(lab_file), Terminal()).exit_code


class _ScheduleGroup(TyperGroup):
    """`schedule add|list|remove`, and the older `schedule LAB --daily HH:MM | --list |
    --remove`, read as the subcommand it means (scripts and crontabs written for it still work).
    """

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and not args[0].startswith("-"):
            lab, rest = args[0], args[1:]
            if rest[:1] == ["--list"]:
                args = ["list", *rest[1:]]
            elif rest[:1] == ["--remove"]:
                args = ["remove", lab, *rest[1:]]
            else:
                args = ["add", lab, *rest]
        return super().parse_args(ctx, args)


schedule_app = typer.Typer(
    cls=_ScheduleGroup,
    no_args_is_help=True,
    help="Run `orchestrate nightly LAB` every day (systemd timer, else cron).",
    context_settings=CONTEXT,
)
app.add_typer(schedule_app, name="schedule")


@command(schedule_app, "add", codes(failed="the timer or cron entry could not be installed"))
def schedule_add_command(
    lab_file: LabArgument,
    daily: Annotated[str, typer.Option("--daily", help="Run every day at HH:MM.")],
) -> None:
    """Run `orchestrate nightly LAB` every day at --daily HH:MM (replaces LAB's schedule)."""
    at = parse_daily(daily)
    print_lines(Scheduler().install(load_lab(lab_file), at))


@command(schedule_app, "list", codes())
def schedule_list_command() -> None:
    """Every lab's nightly schedule on this machine."""
    print_lines(Scheduler().entries() or ["no nightly runs are scheduled"])


@command(schedule_app, "remove", codes(failed="the timer or cron entry could not be removed"))
def schedule_remove_command(lab_file: LabArgument) -> None:
    """Remove LAB's nightly schedule."""
    print_lines(Scheduler().remove(load_lab(lab_file)))
