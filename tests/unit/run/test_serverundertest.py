"""Servers under test other than userver: their command as sent, and their CPU from /proc."""

from __future__ import annotations

import dataclasses
import shlex
from collections.abc import Iterator
from pathlib import Path

import pytest

from orchestrator.config.model import Lab, ServerCpuLimit
from orchestrator.config.plan import Point
from orchestrator.config.servers import ServerSpec
from orchestrator.errors import TestbedError
from orchestrator.results.records import ServerCpu
from orchestrator.run import serverundertest
from orchestrator.run.hostproc import RemoteProcesses
from tests.support.fakes import FakeRemote
from tests.support.labfiles import default_lab

FIXTURES = Path(__file__).parent / "fixtures"
TEMPLATE = "my-server --listen {address}:{port} --root {docroot} --cpus {cpus} -m {mechanism}"


def lab_with(spec: ServerSpec, *, emulate: bool = True, directory: str = "/srv/x") -> Lab:
    lab = default_lab(routes=list)
    server = dataclasses.replace(lab.server, directory=directory)
    experiment = dataclasses.replace(lab.experiment, servers=(spec,))
    return dataclasses.replace(lab, server=server, experiment=experiment, emulate=emulate)


def test_the_template_gets_the_servers_values() -> None:
    spec = ServerSpec("mine", builtin=None, command=TEMPLATE)
    point = Point("epoll-et", "one-byte", 0, None, 100.0, 1, server="mine")
    command = serverundertest.server_command(lab_with(spec), spec, point)
    assert command == ("my-server --listen 0.0.0.0:8080 --root /srv/x/docroot --cpus 0 -m epoll-et")


def test_a_real_host_pins_the_server_like_userver() -> None:
    spec = ServerSpec("mine", builtin=None, command="my-server {port}")
    point = Point("", "one-byte", 0, None, 100.0, 1, server="mine")
    assert serverundertest.server_command(lab_with(spec, emulate=False), spec, point) == (
        "taskset -c 0 my-server 8080"
    )


def test_a_capped_server_of_any_kind_starts_in_the_labs_cgroup() -> None:
    spec = ServerSpec("mine", builtin=None, command="my-server {port}")
    point = Point("", "one-byte", 0, None, 100.0, 1, server="mine")
    lab = dataclasses.replace(lab_with(spec, emulate=False), server_cpu=ServerCpuLimit(0.25))
    words = shlex.split(serverundertest.server_command(lab, spec, point))
    assert words[3:] == [
        "cpucap", f"testbed-{lab.name}-server", "2500", "10000",
        "taskset", "-c", "0", "my-server", "8080",
    ]  # fmt: skip


def test_a_capped_servers_cpu_is_judged_against_its_cap() -> None:
    from orchestrator.run.servermetrics import difference

    before = serverundertest.proc_counters(serverundertest.GroupCpu(1.0, 1, 0, 0), "nginx")
    after = serverundertest.proc_counters(serverundertest.GroupCpu(2.6, 1, 0, 0), "nginx")
    assert difference(before, after)["cpu_seconds"] == pytest.approx(1.6)
    spec = ServerSpec("nginx", builtin=None, command="nginx")
    whole = serverundertest.cpu_use(before, after, 4.3, 4.0, 1, spec)
    capped = serverundertest.cpu_use(before, after, 4.3, 4.0, 1, spec, limit=0.4)
    assert whole is not None and capped is not None
    assert whole.busy == pytest.approx(0.4) and capped.busy == pytest.approx(1.0)
    # stored and read back; a point stored before caps reads as not capped
    stored = capped.as_dict()
    assert stored["limit"] == 0.4 and ServerCpu.from_server({"cpu_use": stored}) == capped
    assert (
        "limit" not in whole.as_dict()
        and ServerCpu.from_server({"cpu_use": whole.as_dict()}) == whole
    )
    # a cap above the cores it could use caps nothing it could reach
    assert dataclasses.replace(capped, limit=3.0).capacity == 1


def test_a_hostile_directory_stays_one_word() -> None:
    spec = ServerSpec("mine", builtin=None, command="my-server --root {docroot}")
    point = Point("", "one-byte", 0, None, 100.0, 1, server="mine")
    hostile = "/srv/a b;touch /tmp/pwned $(id)"
    command = serverundertest.server_command(lab_with(spec, directory=hostile), spec, point)
    assert shlex.split(command) == ["my-server", "--root", f"{hostile}/docroot"]


def test_the_process_groups_cpu_is_summed_from_proc() -> None:
    cpu = serverundertest.parse_group_cpu((FIXTURES / "nginx-group-stat.txt").read_text())
    # utime+stime of the three processes of group 4102 (one with ') ' in its name), not sshd's
    assert cpu.processes == 3
    assert cpu.seconds == pytest.approx((7 + 3 + 250 + 130 + 20 + 20) / 100)
    assert cpu.established == 3
    # and their resident pages (field 24), in bytes
    assert cpu.resident_bytes == (395 + 800 + 800) * 4096


@pytest.mark.parametrize("text", ["", "100\n", "x\n100\n4096\n4\n", "3\n100\n4096\n"])
def test_malformed_proc_output_is_refused(text: str) -> None:
    with pytest.raises(ValueError):
        serverundertest.parse_group_cpu(text)


def test_proc_counters_give_the_cpu_difference() -> None:
    from orchestrator.run.servermetrics import difference

    before = serverundertest.proc_counters(serverundertest.GroupCpu(1.5, 2, 0, 3_000_000), "nginx")
    after = serverundertest.proc_counters(serverundertest.GroupCpu(2.25, 2, 5, 5_000_000), "nginx")
    done = difference(before, after)
    assert done["cpu_seconds"] == pytest.approx(0.75)
    assert done["resident_memory_bytes"] == 5_000_000  # as it was at the end, not a difference
    assert after.open_connections == 5


def test_readiness_waits_for_a_good_status_and_checks_the_server_meanwhile() -> None:
    now = [0.0]
    answers: Iterator[TestbedError | int] = iter([TestbedError("refused"), 404, 200])
    checks: list[float] = []

    def probe() -> int:
        answer = next(answers)
        if isinstance(answer, Exception):
            raise answer
        return answer

    def sleep(seconds: float) -> None:
        now[0] += 1.2

    serverundertest.wait_ready(probe, lambda: checks.append(now[0]), lambda: now[0], sleep, 10.0)
    assert checks  # the server was asked whether it still runs while it was not ready


def test_readiness_gives_up_with_the_last_answer() -> None:
    now = [0.0]

    def sleep(seconds: float) -> None:
        now[0] += 1.0

    with pytest.raises(TestbedError, match="answers 503"):
        serverundertest.wait_ready(lambda: 503, lambda: None, lambda: now[0], sleep, 3.0)


def test_a_dead_server_ends_the_wait_at_once() -> None:
    now = [0.0]

    def dead() -> None:
        raise TestbedError("exit status 127: sh: 1: my-server: not found")

    def sleep(seconds: float) -> None:
        now[0] += 0.6

    with pytest.raises(TestbedError, match="not found"):
        serverundertest.wait_ready(lambda: 0, dead, lambda: now[0], sleep, 30.0)
    assert now[0] < 5


def test_a_group_stop_spares_the_shell_that_records_the_exit_status() -> None:
    lab = lab_with(ServerSpec("nginx", builtin=None, command="n {port}"))
    remote = FakeRemote()
    procs = RemoteProcesses(remote, tag="unit")
    procs.stop(lab.server, ["server"], 1.0, how={"server": ("QUIT", True)})
    script = remote.commands[-1]
    assert 'pgrep -g "$pg"' in script and '[ "$p" = "$pg" ] || kill -QUIT "$p"' in script
    assert "kill -TERM" not in script  # the group gets the server's own signal only
