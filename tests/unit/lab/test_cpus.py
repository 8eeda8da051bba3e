"""An emulated host's CPUs: the ones this machine has, and the taskset that pins to them."""

from orchestrator.config.model import Host
from orchestrator.lab.cpus import taskset_prefix, usable_cpus


def host(cpus: tuple[int, ...]) -> Host:
    return Host(
        name="client1",
        role="client",
        management="198.18.0.11",
        ssh_port=22,
        ssh_user="root",
        ssh_key=None,
        cpus=cpus,
        directory="/opt/testbed",
        python="/usr/bin/python3",
        nics=(),
    )


def test_only_the_cpus_this_machine_has_are_used() -> None:
    assert usable_cpus(host((1, 5)), {0, 1}) == [1]
    assert usable_cpus(host((5,)), {0, 1}) == []
    assert usable_cpus(host(()), {0, 1}) == []


def test_no_cpus_means_no_pinning() -> None:
    assert taskset_prefix([]) == []
    assert taskset_prefix([0, 2]) == ["taskset", "-c", "0,2"]
