"""Agent services: one long-running agent process per client for a whole sweep, told its work
over HTTP on its metrics port. The load service (`run.loadagents`) and the idle-connection
service (`run.idleagents`) are both kept this way.

    services = AgentServices(lab, procs, keys, "idle", "idle service",
                             commands.idle_service_command,
                             lambda hosts, patience: wait_ready(hosts, IDLE_METRICS_PORT, patience))
    services.ensure()     # started where not known to run (the first point, or after a death),
                          # the client's key placed first (`run.controlkeys`)
    ...                   # the point tells each its work over HTTP (`ask`, with the key)
    services.stop()       # at the sweep's end

Why services: a one-shot agent per point cost every client an SSH session and a Python
interpreter start per point, on the one core the emulated lab's eight clients share. A service
starts once, over SSH, as a tracked process (`hostproc`), and is started again on a later point
if it stopped answering: a host that misbehaves costs that point, not the sweep.
"""

from __future__ import annotations

import logging
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Collection
from concurrent.futures import ThreadPoolExecutor

from orchestrator.config.model import Host, Lab
from orchestrator.run.commands import RUN_DIR
from orchestrator.run.controlkeys import ControlKeys
from orchestrator.run.hostproc import HostProcesses, describe_exit

READY_PATIENCE = 30.0  # at most this long for a starting service to answer
GONE_AFTER = 5.0  # a service that has not answered for this long is taken for dead
STOP_PATIENCE = 10.0  # for a service to end when stopped

log = logging.getLogger(__name__)  # -v and the run's log: every request, its answer and time


class ServiceFailure(Exception):
    """A point's work could not be given to the clients' services; the message names the
    clients and why."""


def ask(
    host: Host,
    port: int,
    method: str,
    path: str,
    body: str | None,
    timeout: float,
    routine: Collection[str] = (),
    authorization: str | None = None,
) -> tuple[int, str]:
    """One request to `host`'s service: its status and text (an HTTP error status is an answer
    too); OSError when nothing answered. The log gets each request but those whose answer is
    `routine` ("204", "no answer"): a poll repeated by design would fill it. `authorization`
    (the control key's header, `run.controlkeys`) is sent, never logged."""
    request = urllib.request.Request(
        f"http://{host.management}:{port}{path}",
        data=None if body is None else body.encode(),
        method=method,
        headers={} if authorization is None else {"Authorization": authorization},
    )
    began = time.monotonic()
    answer = "no answer"
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status, text = int(response.status), response.read().decode(errors="replace")
        answer = str(status)
        return status, text
    except urllib.error.HTTPError as error:  # the service answered: its status and line
        answer = str(error.code)
        return error.code, error.read().decode(errors="replace").strip()
    finally:
        if answer not in routine:
            took = time.monotonic() - began
            log.debug("%s: %s :%d%s -> %s in %.2f s", host.name, method, port, path, answer, took)


def ask_until(
    host: Host,
    port: int,
    method: str,
    path: str,
    body: str | None,
    patience: float,
    authorization: str | None = None,
) -> int | None:
    """The status of the first answer within `patience` s (asking again every 50 ms while
    nothing listens), or None."""
    deadline = time.monotonic() + patience
    while True:
        try:  # a silent try is routine here: only giving up is news
            timeout = min(patience, 2.0)
            quiet = ("no answer",)
            return ask(host, port, method, path, body, timeout, quiet, authorization)[0]
        except OSError as error:
            if time.monotonic() >= deadline:
                where = f"{host.name}: {method} :{port}{path}"
                log.debug("%s -> no answer within %g s (%s)", where, patience, error)
                return None
            time.sleep(0.05)


def wait_ready(hosts: list[Host], port: int, patience: float) -> list[str]:
    """Waits until each host's service answers on `port`; the names of those that never did."""

    def answers(host: Host) -> bool:
        return ask_until(host, port, "GET", "/metrics", None, patience) is not None

    with ThreadPoolExecutor(max_workers=max(1, len(hosts))) as pool:
        found = list(pool.map(answers, hosts))
    return [host.name for host, ok in zip(hosts, found, strict=True) if not ok]


class AgentServices:
    """One kind of service on the clients over a sweep: started when first needed (or again
    after one stopped answering), stopped at the sweep's end. `name` is its tracked process's
    on each host, `what` how messages call it; `ready(hosts, patience)` names the hosts whose
    service never answered; `keys` are the clients' control keys, placed before a start."""

    def __init__(
        self,
        lab: Lab,
        procs: HostProcesses,
        keys: ControlKeys,
        name: str,
        what: str,
        command: Callable[[Lab, Host], str],
        ready: Callable[[list[Host], float], list[str]],
    ) -> None:
        self.lab, self.procs, self.keys = lab, procs, keys
        self.name, self.what = name, what
        self.command, self.ready = command, ready
        self.up: set[str] = set()
        self.started: set[str] = set()  # every client it was ever started on

    def ensure(self) -> None:
        """Start the service on every client where it is not known to run; ServiceFailure
        naming each client where it did not come up (and what it printed)."""
        hosts = [host for host in self.lab.clients if host.name not in self.up]
        if not hosts:
            return
        for host in hosts:  # one that hung still holds its port: end it first
            if host.name in self.started:
                self.procs.stop(host, [self.name], STOP_PATIENCE)
        unplaced = self.keys.place(hosts)
        problems = [f"{n}: placing the control key failed: {why}" for n, why in unplaced.items()]
        hosts = [host for host in hosts if host.name not in unplaced]
        self.started.update(host.name for host in hosts)
        started = self.procs.start_many(
            self.name, {host: self.command(self.lab, host) for host in hosts}
        )
        problems += [
            f"{n}: starting the {self.what} failed: {r.reason()}"
            for n, r in started.items()
            if not r.ok
        ]
        trying = [host for host in hosts if started[host.name].ok]
        never = set(self.ready(trying, READY_PATIENCE))
        for host in trying:
            if host.name in never:
                ended = self.procs.alive(host, self.name)
                problems.append(
                    f"{host.name}: the {self.what} did not answer within {READY_PATIENCE:g} s"
                    f" ({ended.reason if ended.exit_code is not None else 'still starting'})"
                )
            else:
                self.up.add(host.name)
        if problems:
            raise ServiceFailure("; ".join(problems))

    def gone(self, host: Host, error: str, silent_for: float) -> str | None:
        """Why `host`'s service is taken for gone -- it died (its exit status, at once), or
        has not answered for GONE_AFTER s -- or None while it may still answer."""
        ended = self.procs.alive(host, self.name)
        if ended.exit_code is not None:  # its stderr is the whole sweep's log: named, not quoted
            log = f"its log: {RUN_DIR}/{self.name}.err on {host.name}"
            why = f"{self.what} died ({describe_exit(ended.exit_code)}; {log})"
        elif silent_for >= GONE_AFTER:
            why = f"{self.what} stopped answering ({error})"
        else:
            return None
        self.up.discard(host.name)
        return why

    def stop(self) -> None:
        """Stop every client's service (SIGTERM: work under way ends first)."""
        hosts = [host for host in self.lab.clients if host.name in self.started]
        with ThreadPoolExecutor(max_workers=max(1, len(hosts))) as pool:
            list(pool.map(lambda host: self.procs.stop(host, [self.name], STOP_PATIENCE), hosts))
        self.up.clear()
        self.started.clear()
