"""`orchestrate version`: what this orchestrator is and runs with (registered last, so the help
lists it last)."""

from __future__ import annotations

from orchestrator.cli.app import app
from orchestrator.cli.conventions import JsonOption, codes, command, print_json
from orchestrator.ui import console
from orchestrator.version import local_versions


@command(app, "version", codes())
def version_command(as_json: JsonOption = False) -> None:
    """The orchestrator's version, git revision, Python and Python dependencies' versions.

    --json: {"orchestrator", "revision", "python", "dependencies": {name: version}}, what every
    sweep records in its settings["versions"] (with each host's httperf, kernel, compiler)."""
    versions = local_versions()
    if as_json:
        print_json(versions)
        return
    console.print(f"orchestrate {versions['orchestrator']} (revision {versions['revision']})")
    console.print(f"python {versions['python']}")
    for name, installed in versions["dependencies"].items():
        console.print(f"{name} {installed}")
