"""linkem from the orchestrator's side: its command line and iptables rules (pure, quoted),
its statistics file, when it fell behind, and a point marked client-limited for it."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pytest
import yaml

from agents.load.result import LoadResult
from orchestrator.config.labfile import load_lab
from orchestrator.config.model import Host, NetworkProfile
from orchestrator.config.plan import Point
from orchestrator.lab.linkem import (
    LinkStats,
    direction_argument,
    has_rules,
    late_us,
    linkem_command,
    parse_stats,
    rule_commands,
    unrule_commands,
)
from orchestrator.lab.links import LocalLinks, chosen_emulator
from orchestrator.lab.netem import rate_only, shell_text
from orchestrator.lab.rtt import RttCheck
from orchestrator.results.records import PointRecord
from orchestrator.run.conditions import NetworkConditions
from orchestrator.run.limits import EMULATOR_BEHIND
from tests.support.fakes import FakeLinks, FakeRemote
from tests.support.labfiles import REPOSITORY, write_lab

WAN = NetworkProfile("wan-50ms", delay=0.025, jitter=0.002, loss=0.0005, rate=100_000_000)
STATS = """pid 4242
receive_errors 0
backlogs 2
queue 0 packets 1000 lost 1 full 0 sent 999 late 3 max_late_us 1800 sum_late_us 90000 max_queued 40
queue 1 packets 900 lost 0 full 0 sent 900 late 1 max_late_us 2500 sum_late_us 60000 max_queued 30
"""


def test_a_direction_is_microseconds_a_fraction_and_bits() -> None:
    assert direction_argument(0, WAN) == "0:25000:2000:0.000500000:100000000"
    assert direction_argument(1, NetworkProfile("far", delay=0.05)) == "1:50000:0:0.000000000:0"


def test_late_means_a_tenth_of_the_delay_or_a_millisecond() -> None:
    assert late_us(WAN) == 2_500
    assert late_us(NetworkProfile("near", delay=0.002)) == 1_000
    assert late_us(NetworkProfile("capped", rate=10_000_000)) == 1_000


def test_linkem_runs_in_the_clients_namespace_quoted() -> None:
    command = linkem_command(Path("/opt/linkem"), "tb-wan-client1", WAN, Path("/s/c1.stats"))
    assert shell_text(command) == (
        "ip netns exec tb-wan-client1 /opt/linkem --stats /s/c1.stats --limit 100000"
        " --late-us 2500 --priority 10 --slack-us 200 0:25000:2000:0.000500000:100000000"
        " 1:25000:2000:0.000500000:100000000"
    )


def test_linkem_runs_pinned_to_its_clients_cpus_off_the_servers_core() -> None:
    command = linkem_command(Path("/opt/linkem"), "tb-wan-client1", WAN, Path("/s"), cpus=[1, 3])
    assert command[:7] == ["ip", "netns", "exec", "tb-wan-client1", "taskset", "-c", "1,3"]
    assert command[7] == "/opt/linkem"


def test_rules_send_the_nics_traffic_each_way_to_its_queue_and_come_off_again() -> None:
    added = [shell_text(c) for c in rule_commands("tb-wan-client1", "exp0")]
    prefix = "ip netns exec tb-wan-client1 iptables-legacy -w"
    assert added == [
        f"{prefix} -N TESTBED-LINKEM-OUT",
        f"{prefix} -A TESTBED-LINKEM-OUT -j NFQUEUE --queue-num 0",
        f"{prefix} -A OUTPUT -o exp0 -j TESTBED-LINKEM-OUT",
        f"{prefix} -N TESTBED-LINKEM-IN",
        f"{prefix} -A TESTBED-LINKEM-IN -j NFQUEUE --queue-num 1",
        f"{prefix} -A INPUT -i exp0 -j TESTBED-LINKEM-IN",
    ]
    removed = [shell_text(c) for c in unrule_commands("tb-wan-client1", "exp0")]
    assert removed[:3] == [
        f"{prefix} -D OUTPUT -o exp0 -j TESTBED-LINKEM-OUT",
        f"{prefix} -F TESTBED-LINKEM-OUT",
        f"{prefix} -X TESTBED-LINKEM-OUT",
    ]
    hostile = shell_text(rule_commands("ns$(id)", "exp0; reboot")[2])
    assert "'ns$(id)'" in hostile and "'exp0; reboot'" in hostile
    assert has_rules("-P INPUT ACCEPT\n-N TESTBED-LINKEM-IN\n")
    assert not has_rules("-P INPUT ACCEPT\n-P OUTPUT ACCEPT\n")


def test_the_statistics_file_sums_both_directions() -> None:
    stats = parse_stats(STATS)
    assert stats == LinkStats(1900, 1, 0, 1899, 4, 0, 2500, 150_000, 4242, backlogs=2)
    with pytest.raises(ValueError):
        parse_stats("pid 1\n")  # no direction: not linkem's
    with pytest.raises(ValueError):
        parse_stats("")


def test_behind_means_queue_full_receive_errors_or_late_on_average() -> None:
    # 10 of 1,000 packets 5 ms late: 50 µs on average, a busy machine's scheduling
    assert LinkStats(1000, sent=1000, late=10, late_sum_us=50_000).behind(1_000) is None
    late = LinkStats(1000, sent=1000, late=400, max_late_us=4200, late_sum_us=1_500_000)
    assert late.behind(1_000) == (
        "link emulator behind: packets 1.5 ms late on average (400 of 1,000 past 1,000 µs,"
        " the worst 4,200 µs)"
    )
    assert late.behind(2_500) is None  # a 25 ms delay tolerates more
    full = LinkStats(1000, full=5, sent=995).behind(1_000)
    assert full == "link emulator behind: 5 packets refused (queue full)"
    assert "2 receive errors" in str(LinkStats(errors=2).behind(1_000))
    assert "3 times over 1,024 packets waiting" in str(LinkStats(backlogs=3).behind(1_000))


def test_a_points_counts_are_the_difference_unless_linkem_restarted() -> None:
    before = LinkStats(100, 0, 0, 100, 50, 0, 900, 9_000, pid=7)
    after = LinkStats(1100, 2, 0, 1098, 52, 0, 1200, 10_000, pid=7)
    assert after.since(before) == LinkStats(1000, 2, 0, 998, 2, 0, 1200, 1_000, 7)
    assert after.since(LinkStats(pid=8)) is after


class BehindLinks(FakeLinks):
    """A shaper whose client1 linkem falls behind during the point."""

    def __init__(self) -> None:
        super().__init__()
        self.reads = 0

    def counters(self) -> dict[str, LinkStats]:
        self.reads += 1
        if self.reads == 1:
            return {"client1": LinkStats(10, sent=10, pid=5), "client2": LinkStats(pid=6)}
        return {
            "client1": LinkStats(5010, full=7, sent=5000, late=400, max_late_us=9000, pid=5),
            "client2": LinkStats(5000, sent=5000, late=3, late_sum_us=30_000, pid=6),
        }


def test_a_client_whose_emulator_fell_behind_is_marked_behind(tmp_path: Path) -> None:
    network = {"profiles": {"wan": {"delay": "25ms"}}}
    experiment = {**yaml.safe_load((REPOSITORY / "lab.yml").read_text())["experiment"]}
    changes = {"network": network, "experiment": {**experiment, "network": ["wan"]}}
    lab = load_lab(write_lab(tmp_path, lab_changes=changes), routes=list)

    def measure(profiles: Mapping[Host, NetworkProfile]) -> RttCheck:
        return RttCheck({client.name: 50.0 for client in profiles})

    conditions = NetworkConditions(lab, FakeRemote(), shaper=BehindLinks(), measure=measure)
    point = Point("select", "one-byte", 0, None, 100.0, 1, "wan")
    conditions.enter(point, PointRecord(point, 0, "failed", "", 1, 0.0, 0.0))
    loads = {"client1": LoadResult(client_limited=False), "client2": LoadResult()}
    conditions.mark_behind(loads)
    assert loads["client1"].client_limited is True
    assert loads["client1"].client_limited_reasons == (EMULATOR_BEHIND,)
    assert loads["client1"].link_emulator == "link emulator behind: 7 packets refused (queue full)"
    stored = loads["client1"].to_json()  # what the point stores: the orchestrator's mark with it
    assert stored["client_limited_reasons"] == [EMULATOR_BEHIND] and stored["link_emulator"]
    assert loads["client2"] == LoadResult()  # 3 of 5,000 late, 6 µs on average: within tolerance


def test_a_chosen_emulator_is_taken_as_is_and_auto_waits_until_needed(tmp_path: Path) -> None:
    assert chosen_emulator("netem") == "netem"
    assert chosen_emulator("userspace") == "userspace"
    lab = load_lab(write_lab(tmp_path), routes=list)
    links = LocalLinks(lab, "auto")  # no probe yet: building it starts nothing
    assert "emulator" not in links.__dict__


def test_a_rate_alone_stays_with_the_kernels_tbf() -> None:
    assert rate_only(NetworkProfile("capped", rate=50_000_000))
    assert not rate_only(WAN) and not rate_only(NetworkProfile("far", delay=0.01))
