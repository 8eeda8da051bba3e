"""The root `orchestrate` command, its global options, `version`, and `main()`."""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from typer.exceptions import TyperException

from orchestrator import ui
from orchestrator.cli.conventions import (
    CONTEXT,
    EXIT_CODES,
    exit_table,
)
from orchestrator.errors import EXIT_INTERRUPTED, EXIT_USAGE, TestbedError
from orchestrator.ui import error_line
from orchestrator.version import revision, version

app = typer.Typer(
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings=CONTEXT,
    help="Run server performance experiments on a multi-host lab (testbed).",
    epilog=exit_table(EXIT_CODES),
)


def _show_version(value: bool) -> None:
    if value:
        sys.stdout.write(f"orchestrate {version()} (revision {revision()})\n")
        raise typer.Exit(0)


@app.callback()
def _main_options(
    _version: Annotated[
        bool,
        typer.Option(
            "--version", is_eager=True, callback=_show_version, help="Version and git revision."
        ),
    ] = False,
    verbose: Annotated[
        bool, typer.Option("-v", "--verbose", help="Debug detail on stderr.")
    ] = False,
    quiet: Annotated[bool, typer.Option("-q", "--quiet", help="Only errors and warnings.")] = False,
) -> None:
    """Run server performance experiments on a multi-host lab (testbed)."""
    if verbose or quiet:
        ui.set_verbosity(1 if verbose else -1)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; return the exit status (see the module docstring)."""
    try:
        result = app(args=argv, standalone_mode=False, prog_name="orchestrate")
    except TestbedError as failure:
        for line in failure.message.splitlines():
            error_line(line)
        return failure.exit_code
    except typer.Exit as done:
        return int(done.exit_code)
    except (KeyboardInterrupt, typer.Abort):
        error_line("interrupted")
        return EXIT_INTERRUPTED
    except TyperException as usage:  # typer's own click: bad options, unknown commands
        usage.show()  # type: ignore[attr-defined]
        return int(getattr(usage, "exit_code", EXIT_USAGE))
    code = result if isinstance(result, int) else 0
    if code == EXIT_INTERRUPTED:  # typer turns Ctrl-C into a quiet exit status 130
        error_line("interrupted")
    return code
