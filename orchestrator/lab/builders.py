"""Which builder makes a lab on this machine: namespaces (`emulate: true`) or booted machines
(`emulate: machines`). Physical labs are not built here.

    builder = lab_builder(lab, warn=warn)      # EmulatedLab or MachinesLab
    builder.up(); builder.exists(); builder.down()

Both follow one outline (`outline.LabBuilder`): the rollback rule of `up` is written there once.
"""

from __future__ import annotations

from collections.abc import Callable

from orchestrator.config.model import Lab
from orchestrator.errors import TestbedError
from orchestrator.lab.emulated import EmulatedLab
from orchestrator.lab.machines import MachinesLab
from orchestrator.lab.outline import LabBuilder


def lab_builder(
    lab: Lab,
    warn: Callable[[str], None] = lambda message: None,
    note: Callable[[str], None] | None = None,
) -> LabBuilder:
    """`warn` hears what went wrong but not fatally, `note` what takes long (an image build)."""
    if lab.emulate:
        return EmulatedLab(lab, warn=warn)
    if lab.machines:
        return MachinesLab(lab, warn=warn, note=note)
    raise TestbedError(f"{lab.path}: emulate is false: this lab is not built here")
