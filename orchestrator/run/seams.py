"""The outside systems `up` works with, built in one place.

    seams = Seams()                                   # the real ones (SSH, SQLite, Ansible, ...)
    run_up(lab, view, seams=Seams(remote=my_fake))    # a test replaces one seam, not the world

Each is a factory, since each lives for a different span: the lab is built before preflight,
SSH connections are opened per step, the store for the sweep, Prometheus once and reused.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from orchestrator.config.model import Lab
from orchestrator.lab.emulated import EmulatedLab
from orchestrator.lab.provision import Ansible
from orchestrator.lab.remote import Remote
from orchestrator.monitoring.prometheus import Prometheus
from orchestrator.results.store import Store


@dataclass(frozen=True)
class Seams:
    """See the module docstring."""

    remote: Callable[[Lab], Remote] = Remote.for_lab
    store: Callable[[Path], Store] = Store.open
    ansible: Callable[[Lab], Ansible] = Ansible
    prometheus: Callable[[Lab], Prometheus] = Prometheus.for_lab
    emulated_lab: Callable[..., EmulatedLab] = EmulatedLab
