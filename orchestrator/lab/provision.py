"""The one seam to Ansible: playbooks run through ansible-runner.

    result = Ansible(lab).run("site.yml")
    result.changed         # {host: number of changed tasks}
    result.failures        # ["client3: Copy the agents package: ...", ...]

Each run gets a private data directory under the lab's state directory (kept, with its job
events, for the last few runs). The inventory is the lab's own, unchanged; what the orchestrator
knows beyond it (each host's directory, the emulated lab's SSH key and known_hosts) is added as
host_vars beside it. Nothing else in the orchestrator imports ansible_runner.

A lab built here (emulated or machines) remembers its last successful run of a playbook
(`remember`) with a fingerprint of everything that run depended on: the playbooks, the sources
staged to the hosts, the inventory and host_vars as handed to Ansible, and the lab as built
(`lab.json`, which names every host's sshd or machine: a host rebuilt or restarted since changes
it). `up` skips provisioning while that fingerprint holds (`unchanged_since`): Ansible would
change nothing, and a check that changes nothing costs 25-40 s per run here. A real lab's hosts
change in ways the orchestrator cannot see, so it is always provisioned.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ansible_runner
import yaml

from orchestrator.config.model import Lab
from orchestrator.lab.sshd import ssh_identity
from orchestrator.lab.staging import stage_sources
from orchestrator.paths import lab_state_dir, resource

PLAYBOOKS = resource("playbooks")
KEEP_RUNS = 5
RECORD = "provisioned.json"  # in the lab's state directory: the last successful runs

EventHandler = Callable[[dict[str, Any]], None]


@dataclass
class PlaybookResult:
    """The outcome of one playbook run, from ansible-runner's stats and job events."""

    playbook: str
    status: str  # successful, failed, timeout, canceled
    rc: int
    seconds: float
    changed: dict[str, int] = field(default_factory=dict)
    ok: dict[str, int] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    unreachable: list[str] = field(default_factory=list)
    private_data_dir: Path | None = None

    @property
    def succeeded(self) -> bool:
        return self.status == "successful" and not self.failures and not self.unreachable

    @property
    def total_changed(self) -> int:
        return sum(self.changed.values())


class Ansible:
    """Runs the project's playbooks against a lab; see the module docstring."""

    def __init__(self, lab: Lab, *, timeout: float = 1800) -> None:
        self.lab = lab
        self.timeout = timeout
        self.runs = lab_state_dir(lab.name) / "ansible"

    def run(
        self,
        playbook: str,
        *,
        extravars: dict[str, Any] | None = None,
        tags: str | None = None,
        on_event: EventHandler | None = None,
        cancel: Callable[[], bool] | None = None,
    ) -> PlaybookResult:
        """Run `playbook` (a file in playbooks/) against every host of the lab."""
        private = self._private_data_dir(playbook)
        sources = stage_sources(lab_state_dir(self.lab.name) / "stage")
        for name, text in self.inventory_files().items():
            (private / "inventory" / name).parent.mkdir(parents=True, exist_ok=True)
            (private / "inventory" / name).write_text(text)
        failures: list[str] = []

        def event_handler(event: dict[str, Any]) -> bool:
            if event.get("event") == "runner_on_failed" and not _ignored(event):
                failures.append(_describe_failure(event))
            if on_event is not None:
                on_event(event)
            return True  # keep the event in the artifacts

        started = time.monotonic()
        runner = ansible_runner.run(
            private_data_dir=str(private),
            project_dir=str(PLAYBOOKS),
            playbook=playbook,
            inventory=str(private / "inventory" / "hosts.yml"),
            extravars={"testbed_source_dir": str(sources), **(extravars or {})},
            tags=tags,
            envvars=self._environment(),
            event_handler=event_handler,
            cancel_callback=cancel or (lambda: False),
            quiet=True,
            timeout=int(self.timeout),
            rotate_artifacts=KEEP_RUNS,
        )
        stats = runner.stats or {}
        return PlaybookResult(
            playbook=playbook,
            status=str(runner.status),
            rc=int(runner.rc if runner.rc is not None else -1),
            seconds=time.monotonic() - started,
            changed=dict(stats.get("changed", {})),
            ok=dict(stats.get("ok", {})),
            failures=failures,
            unreachable=sorted(stats.get("dark", {})),
            private_data_dir=private,
        )

    # -- pieces --------------------------------------------------------------------------------

    def _private_data_dir(self, playbook: str) -> Path:
        """One directory per run; the oldest beyond KEEP_RUNS are removed."""
        self.runs.mkdir(parents=True, exist_ok=True)
        self.runs.chmod(0o700)  # the inventory (maybe with passwords) and Ansible's logs
        stamp = time.strftime("%Y%m%dT%H%M%S")
        private = self.runs / f"{stamp}-{os.getpid()}-{Path(playbook).stem}"
        private.mkdir()
        for old in sorted(self.runs.iterdir())[:-KEEP_RUNS]:
            shutil.rmtree(old, ignore_errors=True)
        return private

    def inventory_files(self) -> dict[str, str]:
        """The inventory as handed to Ansible, {relative path: text}: the lab's own unchanged,
        plus host_vars with what the orchestrator adds."""
        files = {"hosts.yml": yaml.safe_dump(dict(self.lab.inventory))}
        for host in self.lab.hosts:
            text = yaml.dump(self.host_vars(host.name), Dumper=_HostVarsDumper)
            files[f"host_vars/{host.name}.yml"] = text
        return files

    # -- remembering a run ---------------------------------------------------------------------

    def fingerprint(self, playbook: str) -> str | None:
        """What a run of `playbook` depends on, as a digest (see the module docstring); None
        for a lab not built here, or one whose `lab.json` is missing (not up)."""
        built = lab_state_dir(self.lab.name) / "lab.json"
        if not self.lab.built_here or not built.is_file():
            return None
        digest = hashlib.sha256(playbook.encode())
        sources = stage_sources(lab_state_dir(self.lab.name) / "stage")
        inputs = [
            *((f"playbooks/{p.relative_to(PLAYBOOKS)}", p.read_bytes()) for p in _files(PLAYBOOKS)),
            *((f"stage/{p.name}", p.read_bytes()) for p in _files(sources)),
            *(
                (f"inventory/{name}", text.encode())
                for name, text in self.inventory_files().items()
            ),
            ("lab.json", built.read_bytes()),
        ]
        for name, data in inputs:
            digest.update(f"\0{name}\0{len(data)}\0".encode())
            digest.update(data)
        return digest.hexdigest()

    def unchanged_since(self, playbook: str) -> float | None:
        """When `playbook` last succeeded on this lab as it is now (nothing it depends on has
        changed since), as a Unix time; None when it must run."""
        fingerprint = self.fingerprint(playbook)
        entry = self._records().get(playbook)
        if fingerprint is None or not isinstance(entry, dict):
            return None
        at = entry.get("at")
        if entry.get("fingerprint") != fingerprint or not isinstance(at, int | float):
            return None
        return float(at)

    def remember(self, playbook: str) -> None:
        """Record a successful run of `playbook` with its fingerprint (labs built here)."""
        fingerprint = self.fingerprint(playbook)
        if fingerprint is None:
            return
        records = self._records()
        records[playbook] = {"fingerprint": fingerprint, "at": time.time()}
        path = lab_state_dir(self.lab.name) / RECORD
        path.write_text(json.dumps(records, indent=2) + "\n")

    def _records(self) -> dict[str, Any]:
        path = lab_state_dir(self.lab.name) / RECORD
        try:
            records = json.loads(path.read_text())
        except (OSError, ValueError):
            return {}
        return records if isinstance(records, dict) else {}

    def host_vars(self, host_name: str) -> dict[str, Any]:
        """Variables the orchestrator adds to a host, beyond the lab's inventory."""
        host = self.lab.host(host_name)
        variables: dict[str, Any] = {
            "testbed_dir": host.directory,
            "testbed_emulated": self.lab.emulate,
        }
        if host.role == "server":  # the servers under test's packages and install steps
            servers = self.lab.experiment.servers
            variables["testbed_server_extra_packages"] = sorted(
                {package for spec in servers for package in spec.packages}
            )
            variables["testbed_server_installs"] = [
                {"name": spec.name, "command": Unsafe(spec.install)}
                for spec in servers
                if spec.install
            ]
        if self.lab.emulate:
            identity = ssh_identity(self.lab)
            variables.update(
                ansible_ssh_private_key_file=str(identity.private_key),
                ansible_ssh_common_args=(
                    f"-o UserKnownHostsFile={identity.known_hosts} -o StrictHostKeyChecking=yes"
                ),
                # Namespaces share the file system; keep each host's temporary files its own.
                ansible_remote_tmp=f"{host.directory}/.ansible/tmp",
            )
        elif (
            self.lab.machines
        ):  # the lab's key; host keys from ~/.ssh/known_hosts, as on real hosts
            variables.update(
                ansible_ssh_private_key_file=str(ssh_identity(self.lab).private_key),
                ansible_ssh_common_args="-o StrictHostKeyChecking=yes",
            )
        return variables

    def _environment(self) -> dict[str, str]:
        bin_dir = str(Path(sys.executable).parent)  # ansible-playbook sits beside our Python
        return {
            "PATH": f"{bin_dir}:{os.environ.get('PATH', '/usr/bin:/bin')}",
            "ANSIBLE_CONFIG": str(PLAYBOOKS / "ansible.cfg"),
            "ANSIBLE_LOCAL_TEMP": str(self.runs / ".tmp"),
            "ANSIBLE_NOCOLOR": "1",
        }


class Unsafe(str):
    """Text Ansible runs as written and never templates. A server's `install:` is a shell
    command from the lab file: `{{ lookup('pipe', ...) }}` in it would otherwise be rendered by
    Ansible's Jinja, which runs the pipe here, on the orchestrator. It goes into host_vars with
    YAML's `!unsafe` tag, which Ansible loads as text its templating leaves alone."""


class _HostVarsDumper(yaml.SafeDumper):
    """`yaml.safe_dump`, with `Unsafe` text written as `!unsafe`."""


_HostVarsDumper.add_representer(
    Unsafe, lambda dumper, text: dumper.represent_scalar("!unsafe", str(text))
)


def _files(root: Path) -> list[Path]:
    """The files under `root`, but hidden ones (caches such as ansible-lint's .ansible/)."""
    return sorted(
        path
        for path in root.rglob("*")
        if path.is_file() and not any(part.startswith(".") for part in path.relative_to(root).parts)
    )


def _ignored(event: dict[str, Any]) -> bool:
    return bool(event.get("event_data", {}).get("ignore_errors"))


def _describe_failure(event: dict[str, Any]) -> str:
    data = event.get("event_data", {})
    result = data.get("res", {})
    message = result.get("msg") or result.get("stderr") or result.get("stdout") or "failed"
    first = str(message).strip().splitlines()[0] if str(message).strip() else "failed"
    return f"{data.get('host', '?')}: {data.get('task', '?')}: {first}"
