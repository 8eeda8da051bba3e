"""Helpers for functional tests that build real emulated labs."""

from __future__ import annotations

import contextlib
import ipaddress
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from orchestrator.config.model import Lab
from orchestrator.config.routes import machine_routes

# A plan whose server a CPU hog can make measurably slower (the report and nightly tests).
# The emulated server makes about 25,000 one-byte replies per CPU-second here, and the eight
# clients (sharing the other CPU) keep up with 3,000 requests/s even on a busy machine: the base
# tracks both rates. Twenty hogs leave the server a twenty-first of its CPU when it is saturated
# (a server that sleeps gets a little more: the scheduler favours waking tasks), about 1,500
# replies/s, so the slowed sweep saturates between the two rates; twelve were not always enough.
# A 1 s client timeout keeps the connections an overloaded server leaves open under httperf's
# ~1,000 descriptors per client.
SLOWING_HOGS = 20
SLOWABLE_PLAN = {
    "mechanisms": ["select", "epoll-lt"],
    "workloads": ["one-byte"],
    "idle_connections": [0],
    "accept_limits": ["inf"],
    "rates": [1000, 3000],
    "duration": "3s",
    "warmup": "1s",
    "repetitions": 2,
    "cooldown": {"max": "1s"},
    "timeout": "1s",
    "retries": 1,
    "specweb99": {"directories": 1, "seed": 3},
}


def free_third_octet(second_octet: int = 19) -> int:
    """A base X such that 198.<second>.X..X+2.0/24 overlap no route of this machine."""
    taken = [network for network, _ in machine_routes()]
    candidates = list(range(0, 252, 4))
    random.shuffle(candidates)
    for base in candidates:
        block = ipaddress.IPv4Network(f"198.{second_octet}.{base}.0/22")
        if not any(block.overlaps(network) for network in taken):
            return base
    raise RuntimeError("no free 198.19.x.0/22 block for a test lab")


def free_block() -> tuple[int, int]:
    """(second octet, third-octet base) of a free /22 for a test lab: inside the network named
    by TESTBED_TEST_NETWORK when set (say 198.18.64.0/20: a run beside others keeps to the range
    it was given), else anywhere in 198.19.0.0/16."""
    given = os.environ.get("TESTBED_TEST_NETWORK")
    if not given:
        return 19, free_third_octet()
    network = ipaddress.IPv4Network(given)
    if not ipaddress.IPv4Network("198.18.0.0/15").supernet_of(network):
        raise RuntimeError(f"TESTBED_TEST_NETWORK={given}: not inside 198.18.0.0/15")
    taken = [route for route, _ in machine_routes()]
    for block in network.subnets(new_prefix=22):
        if not any(block.overlaps(route) for route in taken):
            octets = block.network_address.packed
            return octets[1], octets[2]
    raise RuntimeError(f"no free /22 inside TESTBED_TEST_NETWORK={given}")


def orchestrate(
    *args: str, state: Path, timeout: float = 600, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run the real CLI in a subprocess, as a user would (`env` adds to the environment)."""
    env = {**os.environ, "TESTBED_STATE_DIR": str(state), "COLUMNS": "200", **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "orchestrator.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )


def namespaces() -> list[str]:
    output = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    return [line.split()[0] for line in output.splitlines() if line.strip()]


def links() -> list[str]:
    output = subprocess.run(["ip", "-o", "link", "show"], capture_output=True, text=True).stdout
    return [line.split(": ")[1].split("@")[0] for line in output.splitlines()]


def pid_alive(pid: int) -> bool:
    """True while `pid` runs; a zombie (exited, not yet reaped by init) counts as dead."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


@contextlib.contextmanager
def own_lab(
    directory: Path,
    name: str,
    experiment: dict[str, Any] | None = None,
    build: bool = False,
    sections: dict[str, Any] | None = None,
    inventory_text: str | None = None,
) -> Iterator[tuple[Lab, Path, Path]]:
    """A lab of the tests' own: (lab, lab file, state dir) on a free block (`free_block`), with
    `experiment` and any other top-level `sections` of the lab file replaced.

    TESTBED_STATE_DIR points into `directory` while it is in use. Whatever happens, the lab
    (emulated, or machines with `sections={"emulate": "machines"}`) and every Prometheus
    started for a lab file in `directory` are stopped afterwards.
    """
    from orchestrator.config.labfile import load_lab
    from orchestrator.lab.builders import lab_builder
    from orchestrator.monitoring.prometheus import Prometheus
    from tests.support.labfiles import write_lab

    state = directory / "state"
    changes = {**(sections or {}), **({"experiment": experiment} if experiment else {})}
    second, third = free_block()
    path = write_lab(
        directory,
        name=name,
        second_octet=second,
        third_base=third,
        lab_changes=changes or None,
        inventory_text=inventory_text,
    )
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TESTBED_STATE_DIR", str(state))
        lab = load_lab(path)
        try:
            if build:
                built = orchestrate("lab", "up", str(path), state=state)
                assert built.returncode == 0, built.stderr
            yield lab, path, state
        finally:
            for lab_file in directory.glob("*.yml"):
                Prometheus.for_lab(load_lab(lab_file)).stop()
            lab_builder(lab).down()


BACKGROUND: list[subprocess.Popen[bytes]] = []  # started by start_orchestrate, not yet reaped


def start_orchestrate(*args: str, state: Path, log: Path) -> subprocess.Popen[bytes]:
    """The real CLI in the background; both output streams go to `log` (a file, never a pipe
    nobody reads, which would block the run once full). One still running when its test ends
    is stopped by `stop_background_orchestrators`."""
    env = {**os.environ, "TESTBED_STATE_DIR": str(state), "COLUMNS": "200"}
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "orchestrator.cli", *args],
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    BACKGROUND.append(process)
    return process


def stop_background_orchestrators() -> None:
    """Stop what a test started and left running (it failed before it could): Ctrl-C first, so
    the run stops its agents and server on the lab, then SIGKILL. A run left going would go on
    loading the lab and writing the store under the next test."""
    while BACKGROUND:
        process = BACKGROUND.pop()
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
        process.wait()


class ServerHogs(threading.Thread):
    """CPU hogs on the lab server's CPU from the moment a new sweep appears in the lab's store,
    so that sweep's points run beside them but its preflight and provisioning do not. Use as a
    context manager around the run; the hogs are killed by PID on exit.

    Each hog is a busy loop pinned to the server's CPU in a session of its own: the scheduler's
    autogroups then weigh each as much as the server, which keeps about 1/(count + 1) of it."""

    def __init__(self, lab: Lab, count: int) -> None:
        super().__init__(daemon=True)
        self.store = lab.results_directory / "testbed.sqlite"
        self.pin = ",".join(map(str, lab.server.cpus or (0,)))
        self.count = count
        self.before = self._sweeps()  # the sweeps already there; start when one more appears
        self.done = threading.Event()
        self.started: list[subprocess.Popen[bytes]] = []

    def __enter__(self) -> ServerHogs:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.done.set()
        self.join()
        for hog in self.started:
            if hog.poll() is None:
                hog.kill()
            hog.wait()
        assert not any(pid_alive(hog.pid) for hog in self.started)

    def run(self) -> None:
        while not self.done.wait(0.2):
            if self._sweeps() > self.before:
                self.started = [
                    subprocess.Popen(
                        ["taskset", "-c", self.pin, sys.executable, "-c", "while True: pass"],
                        start_new_session=True,
                    )
                    for _ in range(self.count)
                ]
                return

    def _sweeps(self) -> int:
        if not self.store.exists():
            return 0
        with contextlib.closing(sqlite3.connect(f"file:{self.store}?mode=ro", uri=True)) as db:
            return int(db.execute("SELECT COUNT(*) FROM sweeps").fetchone()[0])


def stored_sweep(path: Path) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The points (in run order) and settings of the one sweep in lab file `path`'s store."""
    from orchestrator.config.labfile import load_lab

    lab = load_lab(path)
    with contextlib.closing(sqlite3.connect(lab.results_directory / "testbed.sqlite")) as db:
        db.row_factory = sqlite3.Row
        points = [dict(row) for row in db.execute("SELECT * FROM points ORDER BY seq")]
        [settings] = [json.loads(row["settings"]) for row in db.execute("SELECT * FROM sweeps")]
    return points, settings
