"""`up`'s preflight step fills in what only the hosts can say: the value of
`idle_connections: max`, from each host's open-file hard limit, before the plan is expanded."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable

import pytest

from orchestrator.config.labfile import load_lab
from orchestrator.config.model import Host, Lab
from orchestrator.config.plan import expand
from orchestrator.errors import TestbedError
from orchestrator.lab.outline import LabBuilder
from orchestrator.lab.preflight import probe_script, route_targets
from orchestrator.lab.remote import CommandResult
from orchestrator.run.seams import Seams
from orchestrator.run.up import preflight
from tests.support.fakes import FakeRemote, Lines
from tests.support.labfiles import REPOSITORY


class Hosts(FakeRemote):
    """A lab whose every host answers preflight's probe as a healthy host would, with the
    open-file hard limit `hard` (None: the host does not report it)."""

    def __init__(self, lab: Lab, hard: dict[str, int | None]) -> None:
        super().__init__()
        self.lab, self.hard = lab, hard

    def probe(self, host: Host) -> str:
        nics = [
            {
                "ifname": nic.name,
                "addr_info": [{"local": str(nic.address), "prefixlen": nic.network.prefixlen}],
            }
            for nic in host.nics
        ]
        lines = [f"@time {time.time()}"]
        if self.hard.get(host.name) is not None:
            lines.append(f"@nofile 1024 {self.hard[host.name]}")
        lines += ["@ports 1024 65535", "@addresses", json.dumps(nics)]
        for target in route_targets(self.lab, host):
            lines += [f"@route {target}", json.dumps([{"dev": self.device(host, target)}])]
            lines.append(f"@ping {target} 0")
        return "\n".join(lines)

    def device(self, host: Host, target: str) -> str:
        """The NIC a host reaches `target` through: a client its only one, the server the one
        on the target client's subnet."""
        if host.role == "client":
            return host.nics[0].name
        client = next(c for c in self.lab.clients if str(c.nics[0].address) == target)
        nic = host.nic_on(client.subnet)
        assert nic is not None
        return nic.name

    def run_all(
        self,
        hosts: Iterable[Host],
        command: str | Callable[[Host], str],
        timeout: float | None = 60.0,
    ) -> dict[str, CommandResult]:
        """Preflight's probe, run on every host at once."""
        return {
            h.name: CommandResult(h.name, probe_script([]), 0, self.probe(h), "", None, 0.01)
            for h in hosts
        }

    def answer(self, host: Host, command: str, stdin: str | None) -> CommandResult:
        return CommandResult(host.name, command, 0, f"@time {time.time()}", "", None, 0.001)


class Built(LabBuilder):
    """A lab that is up already: preflight only asks."""

    def exists(self) -> bool:
        return True

    def down(self) -> None:
        raise AssertionError("preflight took the lab down")

    def describe(self) -> dict[str, object]:
        return {}

    def _check(self) -> None:
        pass

    def _build(self) -> None:
        raise AssertionError("preflight built the lab")


def checked(lab: Lab, hard: dict[str, int | None]) -> Lab:
    seams = Seams(remote=lambda lab: Hosts(lab, hard), lab_builder=Built)
    return preflight(lab, Lines(), seams)


def test_max_is_filled_in_from_the_hosts_limits_and_joins_the_plan() -> None:
    lab = load_lab(REPOSITORY / "lab.yml", routes=list)
    assert lab.experiment.idle_max and lab.experiment.idle_max_value is None
    ready = checked(lab, {host.name: 20000 for host in lab.hosts})
    assert ready.experiment.idle_max_value == 19000
    assert "20,000" in ready.experiment.idle_max_why
    assert 19000 in {point.idle_connections for point in expand(ready.experiment, seed=1)}


def test_a_host_that_does_not_say_its_limit_fails_preflight_before_anything_runs() -> None:
    lab = load_lab(REPOSITORY / "lab.yml", routes=list)
    limits: dict[str, int | None] = {host.name: 20000 for host in lab.hosts}
    limits["client3"] = None
    with pytest.raises(TestbedError, match="client3"):
        checked(lab, limits)
