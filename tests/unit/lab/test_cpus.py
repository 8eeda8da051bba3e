"""An emulated host's CPUs: the ones this machine has, and the taskset that pins to them."""

import dataclasses

from orchestrator.config.model import Host
from orchestrator.lab.cpus import taskset_prefix, usable_cpus
from tests.support.labfiles import default_lab

CLIENT = default_lab().host("client1")


def host(cpus: tuple[int, ...]) -> Host:
    return dataclasses.replace(CLIENT, cpus=cpus)


def test_only_the_cpus_this_machine_has_are_used() -> None:
    assert usable_cpus(host((1, 5)), {0, 1}) == [1]
    assert usable_cpus(host((5,)), {0, 1}) == []
    assert usable_cpus(host(()), {0, 1}) == []


def test_no_cpus_means_no_pinning() -> None:
    assert taskset_prefix([]) == []
    assert taskset_prefix([0, 2]) == ["taskset", "-c", "0,2"]
