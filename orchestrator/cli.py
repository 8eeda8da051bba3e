"""The `orchestrate` command: one small function per subcommand.

    orchestrate lab up lab.yml        create the emulated lab (idempotent)
    orchestrate lab down lab.yml      remove it, leaving nothing behind
    orchestrate preflight lab.yml     check every host; non-zero exit if any fails
    orchestrate provision lab.yml     run the playbooks (a second run changes nothing)
    orchestrate up lab.yml            all of the above, in order

`main()` maps expected failures (`TestbedError`) to one line per problem on stderr and an exit
status (2 for bad input, 1 for failures, 130 for Ctrl-C), never a traceback.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Annotated

import click
import typer

from orchestrator.emulated import EmulatedLab
from orchestrator.errors import EXIT_INTERRUPTED, EXIT_USAGE, TestbedError
from orchestrator.labfile import load_lab
from orchestrator.model import Lab
from orchestrator.preflight import print_report, run_preflight
from orchestrator.provision import Ansible
from orchestrator.remote import Remote
from orchestrator.ui import console, error_line, hosts_table, playbook_progress, warn

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Run server performance experiments on a multi-host lab (testbed).",
)
lab_app = typer.Typer(no_args_is_help=True, help="Create or remove an emulated lab.")
app.add_typer(lab_app, name="lab")

LabArgument = Annotated[Path, typer.Argument(help="The lab file, e.g. lab.yml.")]


# -- steps shared by subcommands --------------------------------------------------------------


def lab_up(lab: Lab) -> None:
    started = time.monotonic()
    EmulatedLab(lab, warn=warn).up()
    console.print(
        f"lab [bold]{lab.name}[/]: {len(lab.hosts)} hosts up ({time.monotonic() - started:.1f} s)"
    )


def preflight(lab: Lab) -> None:
    if lab.emulate and not EmulatedLab(lab).exists():
        raise TestbedError(f"lab '{lab.name}' is not up: run `orchestrate lab up {lab.path}`")
    with Remote.for_lab(lab) as remote:
        report = run_preflight(lab, remote)
    print_report(report, console)
    if report.failed:
        raise TestbedError(f"preflight failed on {report.summary()}")


def provision(lab: Lab) -> None:
    progress, on_event = playbook_progress(len(lab.hosts))
    with progress:
        result = Ansible(lab).run("site.yml", on_event=on_event)
    rows = [
        [
            host.name,
            str(result.ok.get(host.name, 0)),
            str(result.changed.get(host.name, 0)),
            "unreachable" if host.name in result.unreachable else "",
        ]
        for host in lab.hosts
    ]
    title = f"provision ({result.seconds:.1f} s, {result.total_changed} changed)"
    console.print(hosts_table(title, ["host", "ok", "changed", "problem"], rows))
    for failure in result.failures:
        error_line(failure)
    if not result.succeeded:
        hosts = ", ".join(result.unreachable) or "see above"
        raise TestbedError(f"provisioning failed ({result.status}; {hosts})")


# -- subcommands --------------------------------------------------------------------------------


@lab_app.command("up")
def lab_up_command(lab_file: LabArgument) -> None:
    """Create the emulated lab that LAB describes (only what is missing)."""
    lab_up(_emulated(load_lab(lab_file)))


@lab_app.command("down")
def lab_down_command(lab_file: LabArgument) -> None:
    """Remove the emulated lab: namespaces, bridges, veths, processes and files."""
    lab = _emulated(load_lab(lab_file))
    EmulatedLab(lab).down()
    console.print(f"lab [bold]{lab.name}[/]: down")


@app.command("preflight")
def preflight_command(lab_file: LabArgument) -> None:
    """Check every host at once: SSH, NICs, routes, clocks, limits."""
    preflight(load_lab(lab_file))


@app.command("provision")
def provision_command(lab_file: LabArgument) -> None:
    """Provision and deploy every host with the playbooks (Ansible)."""
    provision(load_lab(lab_file))


@app.command("up")
def up_command(lab_file: LabArgument) -> None:
    """Take the lab from nothing to ready: create (emulated), preflight, provision."""
    lab = load_lab(lab_file)
    if lab.emulate:
        lab_up(lab)
    preflight(lab)
    provision(lab)


def _emulated(lab: Lab) -> Lab:
    if not lab.emulate:
        raise TestbedError(
            f"{lab.path}: emulate is false: there is no lab to build here", exit_code=EXIT_USAGE
        )
    return lab


# -- entry point ----------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; return the exit status (see the module docstring)."""
    try:
        result = app(args=argv, standalone_mode=False)
    except TestbedError as failure:
        for line in failure.message.splitlines():
            error_line(line)
        return failure.exit_code
    except click.exceptions.Exit as done:
        return done.exit_code
    except click.exceptions.UsageError as usage:
        usage.show()
        return EXIT_USAGE
    except (KeyboardInterrupt, click.exceptions.Abort):
        error_line("interrupted")
        return EXIT_INTERRUPTED
    return result if isinstance(result, int) else 0


if __name__ == "__main__":
    sys.exit(main())
