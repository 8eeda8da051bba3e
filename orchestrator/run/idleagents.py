"""The idle connections of a sweep: one idle service per client for the whole sweep
(`agents.idle.service`, kept by `run.services`), each point's share told to it over HTTP.

    idle = IdleServices(lab, procs, keys, HttpIdleControl(keys))   # keys: run.controlkeys
    idle.hold("12-1", {client1: 1250, ...})   # POST /run: each opens its share in the background
    ...                                        # the point runs
    report = idle.release(client1)             # POST /stop: closed, and its agent's JSON report
    idle.stop()                                # at the sweep's end

A hold opens connections to the server's address for that client, retrying until the server
listens, so it can be told at the same moment the server is started. The sweep then waits on
the server's own count (`PointRunner._open_idle`), as it did with one-shot agents.
"""

from __future__ import annotations

import contextlib
import json
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol

from orchestrator.config.model import Host, Lab
from orchestrator.ports import IDLE_METRICS_PORT
from orchestrator.run import commands
from orchestrator.run.controlkeys import ControlKeys
from orchestrator.run.hostproc import HostProcesses
from orchestrator.run.services import AgentServices, ServiceFailure, ask, wait_ready

IDLE = "idle"
ASK_TIMEOUT = 10.0  # for a hold's request (the service answers at once)
RELEASE_TIMEOUT = 30.0  # for closing a hold: thousands of connections, on a busy host


class IdleControl(Protocol):
    """The HTTP control of the clients' idle services; the sweep's unit tests replace it. Each
    request raises OSError when the service does not answer."""

    def hold(self, host: Host, run_id: str, connections: int) -> tuple[int, str]:
        """POST /run: (202, "") when the hold began, else the status and the service's line."""

    def release(self, host: Host, run_id: str) -> tuple[int, str]:
        """POST /stop: (200, the agent's JSON report) once every connection is closed."""

    def ready(self, hosts: list[Host], patience: float) -> list[str]:
        """Waits until each host's service answers; the names of those that never did."""


class HttpIdleControl:
    """`IdleControl` over HTTP to each client's management address, with its key."""

    def __init__(self, keys: ControlKeys) -> None:
        self.keys = keys

    def hold(self, host: Host, run_id: str, connections: int) -> tuple[int, str]:
        body = json.dumps({"id": run_id, "connections": connections})
        key = self.keys.authorization(host)
        return ask(host, IDLE_METRICS_PORT, "POST", "/run", body, ASK_TIMEOUT, (), key)

    def release(self, host: Host, run_id: str) -> tuple[int, str]:
        key = self.keys.authorization(host)
        path = f"/stop?id={run_id}"
        return ask(host, IDLE_METRICS_PORT, "POST", path, "", RELEASE_TIMEOUT, (), key)

    def ready(self, hosts: list[Host], patience: float) -> list[str]:
        return wait_ready(hosts, IDLE_METRICS_PORT, patience)


class IdleServices(AgentServices):
    """The clients' idle services over a sweep, and the hold under way on each."""

    def __init__(
        self, lab: Lab, procs: HostProcesses, keys: ControlKeys, control: IdleControl
    ) -> None:
        super().__init__(
            lab, procs, keys, IDLE, "idle service", commands.idle_service_command, control.ready
        )
        self.control = control
        self.holding: dict[str, str] = {}  # host name -> the run id of its hold under way

    def hold(self, run_id: str, shares: dict[Host, int]) -> None:
        """Every client in `shares` begins holding its connections; ServiceFailure naming each
        that refused or did not answer (the others' holds are then released)."""
        self.ensure()

        def one(host: Host) -> str | None:
            """None once the hold began, else why not."""
            try:
                status, text = self.control.hold(host, run_id, shares[host])
            except OSError as error:
                self.up.discard(host.name)  # started again on the next point
                return f"the idle service does not answer ({error})"
            if status != 202:
                return f"the idle service refused the hold: {text or status}"
            self.holding[host.name] = run_id
            return None

        hosts = list(shares)
        with ThreadPoolExecutor(max_workers=max(1, len(hosts))) as pool:
            found = zip(hosts, pool.map(one, hosts), strict=True)
            problems = {host.name: why for host, why in found if why}
        if problems:
            with ThreadPoolExecutor(max_workers=len(hosts)) as pool:
                list(pool.map(self.release, [h for h in hosts if h.name in self.holding]))
            raise ServiceFailure("; ".join(f"{name}: {why}" for name, why in problems.items()))

    def release(self, host: Host) -> dict[str, Any] | None:
        """Close `host`'s hold: its agent's report (with `error` saying why when there is
        none), or None when it held nothing."""
        run_id = self.holding.pop(host.name, None)
        if run_id is None:
            return None
        try:
            status, text = self.control.release(host, run_id)
        except OSError as error:
            self.up.discard(host.name)
            return {"error": f"the idle service does not answer ({error})"}
        report = None
        if status == 200:
            with contextlib.suppress(ValueError):
                report = json.loads(text)
        if not isinstance(report, dict):
            return {"error": f"the idle service answered {status}: {text[-300:]}"}
        return report
