"""Servers under test other than the built-in userver: their command, readiness and CPU.

    command = server_command(lab, spec, point)      # the template rendered, values shlex-quoted
    wait_ready(probe, alive, clock, sleep, timeout) # until TCP connect + GET answers, or failure
    cpu = parse_group_cpu(text)                     # utime+stime of the server's process group
    use = cpu_use(before, after, window, load, given, spec, limit)  # how busy, under a cap

A server without the testbed's metrics endpoint cannot count its replies, connections or system
calls; the sweep still measures replies, errors and response times at the clients, and the
server's CPU from /proc: the CPU ticks of every process in its process group, read just before
and just after the measurement (`group_cpu_command`, one SSH round trip each).
"""

from __future__ import annotations

import http.client
import shlex
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from orchestrator.config.model import Host, Lab
from orchestrator.config.plan import Point, accept_label
from orchestrator.config.servers import ServerSpec, render
from orchestrator.errors import TestbedError
from orchestrator.lab.remote import Remote
from orchestrator.ports import SERVER_PORT
from orchestrator.results.records import PointRecord, ServerCpu
from orchestrator.run import commands
from orchestrator.run.commands import DOCROOT, RUN_DIR, server_words
from orchestrator.run.servermetrics import ServerCounters

CounterReader = Callable[[Host], ServerCounters]

LISTEN_ADDRESS = "0.0.0.0"  # every address of the server host, as userver listens
# What a server without the testbed's counters cannot tell the report (Table 1 and the checks).
LACKS = ("syscalls", "server_replies", "open_connections")


def spec_of(lab: Lab, point: Point) -> ServerSpec:
    """The server a point runs (validated at load: its name is one of the servers)."""
    return next(spec for spec in lab.experiment.servers if spec.name == point.server)


def template_values(lab: Lab, point: Point) -> dict[str, str]:
    server = lab.server
    return {
        "address": LISTEN_ADDRESS,
        "port": str(SERVER_PORT),
        "docroot": f"{server.directory.rstrip('/')}/{DOCROOT}",
        "cpus": ",".join(map(str, server.cpus)),
        "mechanism": point.mechanism,
        "accept_limit": accept_label(point.accept_limit),
    }


def server_command(lab: Lab, spec: ServerSpec, point: Point) -> str:
    """`spec`'s command for `point`, capped and pinned like userver (`commands.server_words`)."""
    assert spec.command is not None, "a builtin server is started by commands.server_command"
    rendered = render(spec.command, template_values(lab, point))
    words = server_words(lab)
    return f"{shlex.join(words)} {rendered}" if words else rendered


def probe_http(host: str, port: int, path: str, timeout: float = 1.0) -> int:
    """Connect and GET `path`: the HTTP status; TestbedError when it does not answer."""
    connection = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        connection.request("GET", path, headers={"Connection": "close"})
        response = connection.getresponse()
        response.read()
        return response.status
    except (OSError, http.client.HTTPException) as error:
        raise TestbedError(f"GET http://{host}:{port}{path}: {error}") from None
    finally:
        connection.close()


def wait_ready(
    probe: Callable[[], int],
    check_alive: Callable[[], None],
    clock: Callable[[], float],
    sleep: Callable[[float], None],
    timeout: float,
) -> None:
    """Until `probe` answers a 2xx/3xx status; `check_alive` (which raises when the server
    died) is called about once a second meanwhile. TestbedError after `timeout` seconds."""
    begun = checked = clock()
    last = "no answer yet"
    while True:
        try:
            status = probe()
            if 200 <= status < 400:
                return
            last = f"answers {status}"
        except TestbedError as error:
            last = str(error)
        now = clock()
        if now - checked > 1.0:
            check_alive()
            checked = now
        if now - begun > timeout:
            raise TestbedError(f"server not ready after {timeout:g} s: {last}")
        sleep(0.05)


def group_cpu_command(host: Host, name: str, port: int = SERVER_PORT) -> str:
    """Print the established connections on `port`, the clock tick rate, the page size, the
    process group of tracked process `name`, then every process's /proc stat line (the parser
    keeps that group's): one round trip."""
    pgid = f"{RUN_DIR}/{name}.pgid"
    return (
        f"cd {shlex.quote(host.directory)} && "
        f"ss -Htn state established '( sport = :{int(port)} )' | wc -l && "
        f"getconf CLK_TCK && getconf PAGESIZE && cat {pgid} && "
        "cat /proc/[0-9]*/stat 2>/dev/null; true"
    )


@dataclass(frozen=True)
class GroupCpu:
    seconds: float  # utime + stime of the group's live processes
    processes: int
    established: int  # TCP connections established on the server port
    resident_bytes: int = 0  # the group's resident memory (nginx: its master and worker)


def parse_group_cpu(text: str) -> GroupCpu:
    """`group_cpu_command`'s output → the group's CPU seconds and resident memory;
    ValueError when malformed.

    A stat line is `pid (comm) state ppid pgrp ... utime stime ... rss ...` (fields 14 and 15
    in clock ticks, 24 in pages); comm may hold spaces and parentheses, so fields are counted
    after the last ')'."""
    lines = text.splitlines()
    if len(lines) < 4 or not all(line.strip().isdigit() for line in lines[:4]):
        raise ValueError(
            "expected connections, the clock tick rate, the page size and a process group first"
        )
    established, ticks, page, group = (int(line) for line in lines[:4])
    total, count, resident = 0, 0, 0
    for line in lines[4:]:
        if ")" not in line:
            continue
        fields = line.rsplit(")", 1)[1].split()
        if len(fields) < 22 or not fields[2].isdigit() or int(fields[2]) != group:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
        resident += int(fields[21]) * page  # rss
        count += 1
    return GroupCpu(total / ticks, count, established, resident)


def proc_counters(cpu: GroupCpu, name: str) -> ServerCounters:
    """What the sweep reads of a server without metrics, in the shape of its counters."""
    return ServerCounters(
        totals={"process_cpu_seconds_total": cpu.seconds},
        gauges={
            "testbed_server_connections_open": float(cpu.established),
            "process_resident_memory_bytes": float(cpu.resident_bytes),
        },
        info={"server": name, "processes": str(cpu.processes)},
    )


CPU_COUNTER = "process_cpu_seconds_total"
NPROC = "nproc"  # the CPUs a host's commands may run on: an unpinned server's cores


def usable_cores(spec: ServerSpec, given: int) -> int:
    """The cores a server can keep busy of the `given` ones: userver runs one thread, so one;
    another server (workers) is taken to use every core it was given."""
    return min(given, 1) if spec.builtin is not None else given


def cpu_use(
    before: ServerCounters,
    after: ServerCounters,
    window: float,
    load: float,
    given: int | None,
    spec: ServerSpec,
    limit: float | None = None,
) -> ServerCpu | None:
    """How busy the server was between two counter reads `window` seconds apart, around a load
    of `load` seconds, on `given` cores capped at `limit` cores (None: not capped); None when
    its CPU or its cores are unknown."""
    if CPU_COUNTER not in before.totals or CPU_COUNTER not in after.totals:
        return None
    if not given or window <= 0 or load <= 0:
        return None
    seconds = after.totals[CPU_COUNTER] - before.totals[CPU_COUNTER]
    cores = usable_cores(spec, given)
    return ServerCpu(max(0.0, seconds), window, load, given, cores, limit)


class ServerUnderTest:
    """The point's server as the sweep drives it: which command starts it, when it is ready,
    how its counters are read (its metrics, or /proc) and how it is stopped."""

    def __init__(self, lab: Lab, remote: Remote, read_metrics: CounterReader) -> None:
        self.lab, self.remote, self.read_metrics = lab, remote, read_metrics
        self.spec = lab.experiment.servers[0]
        self.given: int | None = len(lab.server.cpus) or None  # None: ask the host, once

    def cores_given(self) -> int | None:
        """The cores the server runs on: its pinned CPUs, or (unpinned) the host's CPU count,
        asked once per sweep; None when the host does not say."""
        if self.given is None:
            host = self.lab.server
            result = self.remote.run(host, NPROC, timeout=30)
            text = result.stdout.strip() if result.ok else ""
            self.given = int(text) if text.isdigit() and int(text) > 0 else 0
        return self.given or None

    def cpu_use(
        self, before: ServerCounters, after: ServerCounters, window: float, load: float
    ) -> ServerCpu | None:
        """How busy the current server was between two counter reads (`cpu_use`), on the
        cores it was given and under the lab's cap on its CPU."""
        limit = self.lab.server_cpu.limit
        return cpu_use(before, after, window, load, self.cores_given(), self.spec, limit)

    def select(self, point: Point) -> str:
        """Make `point`'s server the current one; its start command."""
        self.spec = spec_of(self.lab, point)
        if self.spec.builtin is not None:
            return commands.server_command(self.lab, point)
        return server_command(self.lab, self.spec, point)

    def wait_ready(
        self,
        point: Point,
        check_alive: Callable[[], None],
        clock: Callable[[], float],
        sleep: Callable[[float], None],
        timeout: float,
    ) -> None:
        """Until the server answers: userver's metrics (of the point's mechanism), another
        server's readiness probe. TestbedError when it does not in time; ValueError when a
        server of another mechanism answers (not the one just started)."""
        host = self.lab.server

        def probe() -> int:
            if not self.spec.has_metrics:
                return probe_http(host.management, SERVER_PORT, self.spec.ready_path)
            mechanism = self.read_metrics(host).info.get("mechanism")
            if mechanism != point.mechanism:
                raise ValueError(
                    f"a server with mechanism {mechanism} answers on {host.management}:"
                    " not the one just started"
                )
            return 200

        wait_ready(probe, check_alive, clock, sleep, timeout)

    def counters(self) -> ServerCounters:
        """The server's counters now; TestbedError when they cannot be read."""
        if self.spec.has_metrics:
            return self.read_metrics(self.lab.server)
        host = self.lab.server
        result = self.remote.run(host, group_cpu_command(host, "server"), timeout=30)
        try:
            if not result.ok:
                raise ValueError(result.reason())
            return proc_counters(parse_group_cpu(result.stdout), self.spec.name)
        except ValueError as error:
            raise TestbedError(f"{host.name}: reading the server's /proc failed: {error}") from None

    def stop_how(self) -> dict[str, tuple[str, bool]] | None:
        """How `HostProcesses.stop` signals the server (None: userver's SIGTERM to its pid)."""
        if self.spec.builtin is not None:
            return None
        return {"server": (self.spec.stop_signal, self.spec.stop_group)}

    def record(
        self, record: PointRecord, server: dict[str, Any], cpu: ServerCpu | None = None
    ) -> None:
        """Store what the server said about the measurement, and how busy it was (`cpu`, under
        "cpu_use"); what it cannot say is listed in `lacks` rather than stored as zeros."""
        use = {"cpu_use": cpu.as_dict()} if cpu is not None else {}
        record.server = {**server, "name": self.spec.name, **use}
        if not self.spec.has_metrics:  # only its CPU (from /proc) is the server's own figure
            record.server = {
                "name": self.spec.name,
                "cpu_seconds": server["cpu_seconds"],
                "cpu_source": "proc",
                **use,
                "resident_memory_bytes": server["resident_memory_bytes"],
                "info": server["info"],
                "lacks": list(LACKS),
            }
            return
        record.summary["server_replies"] = int(server["replies_total"])
        record.syscalls = {
            name: (int(v["calls"]), float(v["seconds"]))
            for name, v in server["syscalls"].items()
            if v["calls"] > 0
        }
