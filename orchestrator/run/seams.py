"""The outside systems `up` works with, built in one place.

    seams = Seams()                                   # the real ones (SSH, SQLite, Ansible, ...)
    run_up(lab, view, seams=Seams(remote=my_fake))    # a test replaces one seam, not the world

Each is a factory, since each lives for a different span: the lab (namespaces or booted
machines) is built before preflight, SSH connections are opened per step, the hosts' tracked
processes and the store for the sweep, Prometheus once and reused. Each factory returns the
seam's Protocol (`Remote`, `HostProcesses`, `LabBuilder`), so a fake is checked by mypy
against it; the store is the real SQLite file (a test gives it a temporary directory), and
what the sweep writes into it goes through the `SweepWriter` Protocol.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from orchestrator.config.model import Lab
from orchestrator.lab.builders import lab_builder
from orchestrator.lab.outline import LabBuilder
from orchestrator.lab.provision import Ansible
from orchestrator.lab.remote import Remote, SshRemote
from orchestrator.monitoring.prometheus import Prometheus
from orchestrator.results.store import Store
from orchestrator.run.hostproc import HostProcesses, RemoteProcesses


@dataclass(frozen=True)
class Seams:
    """See the module docstring."""

    remote: Callable[[Lab], Remote] = SshRemote.for_lab
    processes: Callable[[Remote, str], HostProcesses] = RemoteProcesses  # (remote, tag)
    store: Callable[[Path], Store] = Store.open
    ansible: Callable[[Lab], Ansible] = Ansible
    prometheus: Callable[[Lab], Prometheus] = Prometheus.for_lab
    lab_builder: Callable[..., LabBuilder] = lab_builder  # namespaces or machines
