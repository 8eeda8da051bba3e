"""What every subcommand shares: exit statuses, -v/-q, help epilogs, argument types, JSON output,
and opening the results store a command names."""

from __future__ import annotations

import enum
import functools
import inspect
import json
import sys
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from orchestrator import ui
from orchestrator.config.model import Lab
from orchestrator.errors import EXIT_FAILURE, EXIT_INTERRUPTED, EXIT_USAGE, TestbedError
from orchestrator.results.schema import STORE_FILE
from orchestrator.results.store import Store
from orchestrator.run.lock import EXIT_LOCKED
from orchestrator.ui import console

EXIT_CODES = {
    0: "done",
    EXIT_FAILURE: "failed: a run, a host, a playbook (compare, nightly: a regression)",
    EXIT_USAGE: "bad input: arguments, lab file or inventory, a missing results store",
    EXIT_LOCKED: "busy: another run holds the lab's lock",
    EXIT_INTERRUPTED: "interrupted (Ctrl-C)",
}
CONTEXT = {"help_option_names": ["-h", "--help"]}


def exit_table(codes: dict[int, str]) -> str:
    """The epilog every subcommand's help ends with: its exit statuses, one per line."""
    lines = [f"  {code:<4} {meaning}" for code, meaning in sorted(codes.items())]
    return "\b\nExit status:\n" + "\n".join(lines)


def codes(**meanings: str) -> dict[int, str]:
    """0, 2 and 130 (every command) plus this command's own meanings of 1 and 3."""
    codes = {0: EXIT_CODES[0], EXIT_USAGE: EXIT_CODES[EXIT_USAGE], 130: EXIT_CODES[130]}
    if "failed" in meanings:
        codes[EXIT_FAILURE] = meanings["failed"]
    if "busy" in meanings:
        codes[EXIT_LOCKED] = meanings["busy"]
    return codes


VerboseOption = Annotated[
    bool, typer.Option("-v", "--verbose", help="Show debug detail on stderr.")
]
QuietOption = Annotated[
    bool, typer.Option("-q", "--quiet", help="Print nothing but errors, warnings and --json.")
]
F = TypeVar("F", bound=Callable[..., Any])


def command(group: typer.Typer, name: str, codes: dict[int, str]) -> Callable[[F], F]:
    """Register a subcommand with the shared conventions: its exit table as the help's epilog,
    -h, and -v/--verbose and -q/--quiet added to its own options."""

    def register(function: F) -> F:
        @functools.wraps(function)
        def with_verbosity(*args: Any, verbose: bool, quiet: bool, **kwargs: Any) -> Any:
            if verbose or quiet:
                ui.set_verbosity(1 if verbose else -1)
            return function(*args, **kwargs)

        signature = inspect.signature(function, eval_str=True)
        extra = [
            inspect.Parameter(flag, inspect.Parameter.KEYWORD_ONLY, default=False, annotation=kind)
            for flag, kind in (("verbose", VerboseOption), ("quiet", QuietOption))
        ]
        with_verbosity.__signature__ = signature.replace(  # type: ignore[attr-defined]
            parameters=[*signature.parameters.values(), *extra]
        )
        with_verbosity.__annotations__ = {
            **typing.get_type_hints(function, include_extras=True),
            "verbose": VerboseOption,
            "quiet": QuietOption,
        }
        group.command(name, epilog=exit_table(codes), context_settings=CONTEXT)(with_verbosity)
        return function

    return register


def group(help_text: str) -> typer.Typer:
    return typer.Typer(no_args_is_help=True, help=help_text, context_settings=CONTEXT)


def print_json(document: Any) -> None:
    sys.stdout.write(json.dumps(document, indent=2, sort_keys=False) + "\n")


def print_lines(lines: list[str]) -> None:
    for line in lines:
        console.print(line, soft_wrap=True)


LabArgument = Annotated[Path, typer.Argument(help="The lab file, e.g. lab.yml.")]
ResultsArgument = Annotated[Path, typer.Argument(help="A results directory or its testbed.sqlite.")]
JsonOption = Annotated[bool, typer.Option("--json", help="One JSON document on stdout.")]


class Format(enum.StrEnum):
    csv = "csv"
    json = "json"


def open_store(results: Path, *, readonly: bool = False) -> Store:
    """The store RESULTS names; a missing one is bad input (exit 2), never created here."""
    path = results if results.suffix == ".sqlite" else results / STORE_FILE
    if not path.is_file():
        raise TestbedError(f"{results}: no results store here ({STORE_FILE} not found)", EXIT_USAGE)
    return Store.open(results, readonly=True) if readonly else Store.open(results, create=False)


def latest_sweep(store: Store) -> str:
    sweeps = store.sweeps()
    if not sweeps:
        raise TestbedError(f"{store.path}: no sweep stored yet", EXIT_USAGE)
    return sweeps[-1].id


def built_here_only(lab: Lab) -> Lab:
    if not lab.built_here:
        raise TestbedError(
            f"{lab.path}: emulate is false: there is no lab to build here", exit_code=EXIT_USAGE
        )
    return lab
