"""Host facts parsed from a real host's FACTS_SCRIPT output (captured in a namespace)."""

from __future__ import annotations

from pathlib import Path

from orchestrator.lab.hostfacts import parse_facts

FACTS = (Path(__file__).parent / "fixtures" / "hostfacts-client1.txt").read_text()


def test_the_captured_facts_parse() -> None:
    facts = parse_facts(FACTS)
    assert facts["os"].startswith("Debian GNU/Linux 12")
    assert facts["httperf"] == "httperf-0.9.0"
    assert facts["open_files"] == "20000/20000"
    assert int(facts["cpus_online"]) >= int(facts["cpus_allowed"]) >= 1
    assert facts["nics"] == {"exp0": ["198.18.1.11/24"]}  # loopback left out
    assert facts["sysctls"]["net.ipv4.ip_local_port_range"] == "32768 60999"  # tab folded
    assert facts["sysctls"]["net.ipv4.tcp_max_tw_buckets"] == "131072"


def test_broken_lines_are_skipped() -> None:
    facts = parse_facts("kernel=6.1\nno equals sign here\nnics={not json\n")
    assert facts == {"kernel": "6.1", "nics": {}, "sysctls": {}, "sysctls_not_settable": {}}


def test_host_facts_say_which_kernel_parameters_are_not_settable() -> None:
    facts = parse_facts(
        "kernel=6.1\nsysctl.fs.nr_open=1048576\nsysctl.net.core.somaxconn=4096\n"
        "sysctl.net.core.netdev_max_backlog=\nsysctl_read_only.fs.nr_open=1\n"
        "sysctl_read_only.net.core.netdev_max_backlog=1\n"
    )
    assert facts["sysctls"]["fs.nr_open"] == "1048576"
    assert facts["sysctls_not_settable"] == {
        "fs.nr_open": "not settable here, value 1048576",
        "net.core.netdev_max_backlog": "not present here",
    }
