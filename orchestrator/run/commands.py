"""Every command line the sweep sends to a host, built by pure functions.

    server_command(lab, point)                      # the server under test, as started
    load_service_command(lab, host)                 # a client's load service, once per sweep
    load_run_request(lab, host, run_id, LoadRun(...))   # its share of one point's load (HTTP)
    idle_service_command(lab, host)                 # a client's idle service, once per sweep

Each returns one shell command line (`load_run_request`: the run's checked request, sent as
JSON; what it cannot say -- the target, the sessions and start files, the key -- is fixed on
the service's command line). Every
value that comes from the lab file or the inventory (directories, interpreters, addresses, names)
is quoted with `shlex`, so a value that got past validation still cannot run anything; the unit
tests check them as strings.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass

from agents.load.args import STARVED_BELOW_PCT
from agents.load.request import LoadRequest
from orchestrator.config.model import Host, Lab, SpecWeb99
from orchestrator.config.plan import Point, accept_label
from orchestrator.lab.cpucap import cap_words
from orchestrator.ports import (
    IDLE_METRICS_PORT,
    LOAD_METRICS_PORT,
    SERVER_METRICS_PORT,
    SERVER_PORT,
)

USERVER = "server/userver"  # relative to the server host's directory
DOCROOT = "docroot"
SESSIONS_FILE = "sessions.wsesslog"
SESSIONS_PER_CLIENT = 1000  # httperf plays at most 1,000 per process: the whole file is used
RUN_DIR = "run"  # where the host processes keep their files (see run.hostproc)
KEY_FILE = f"{RUN_DIR}/control.key"  # the services' key, 0600 (run.controlkeys)
LOAD_START_FILE = f"{RUN_DIR}/load.start"  # a load run's instants, when PUT /start failed


def _line(*words: object, flags: dict[str, object] | None = None) -> str:
    """`words` then each `--flag value` of `flags`, every one quoted."""
    argv = [str(word) for word in words]
    for flag, value in (flags or {}).items():
        argv += [flag, str(value)]
    return shlex.join(argv)


def pin_words(lab: Lab, host: Host) -> list[str]:
    """taskset on a real lab; emulated hosts are pinned through their sshd."""
    if host.cpus and not lab.emulate:
        return ["taskset", "-c", ",".join(map(str, host.cpus))]
    return []


def server_words(lab: Lab) -> list[str]:
    """What goes before the server's own command line: its CPU cap (`lab.cpucap`), then its
    pinning."""
    return [*cap_words(lab), *pin_words(lab, lab.server)]


def in_directory(host: Host, command: str) -> str:
    """`command` run from the host's own directory."""
    return f"cd {shlex.quote(host.directory)} && {command}"


def fileset_command(host: Host, spec: SpecWeb99) -> str:
    """Write the workloads' file set under the server's docroot, from the seed."""
    return in_directory(
        host,
        _line(
            host.python,
            *("-m", "agents.workloads", "fileset"),
            flags={"--docroot": DOCROOT, "--seed": spec.seed, "--directories": spec.directories},
        ),
    )


def sessions_command(host: Host, spec: SpecWeb99, index: int, clients: int) -> str:
    """Write client `index`'s SPECweb99-like session trace, from the seed."""
    return in_directory(
        host,
        _line(
            host.python,
            *("-m", "agents.workloads", "sessions"),
            flags={
                "--seed": spec.seed,
                "--client": index,
                "--clients": clients,
                "--directories": spec.directories,
                "--sessions": SESSIONS_PER_CLIENT,
                "--output": SESSIONS_FILE,
            },
        ),
    )


def server_command(lab: Lab, point: Point) -> str:
    """The server under test for `point`, its metrics on the management address; a point of
    Table 1's profiling pass times each call's CPU (`--syscall-timing cpu`)."""
    server = lab.server
    return _line(
        *server_words(lab),
        USERVER,
        flags={
            "--mechanism": point.mechanism,
            "--accept-limit": accept_label(point.accept_limit),
            "--port": SERVER_PORT,
            "--docroot": DOCROOT,
            "--metrics-address": server.management,
            "--metrics-port": SERVER_METRICS_PORT,
            "--syscall-timing": "cpu" if point.profiling else lab.experiment.syscall_timing,
        },
    )


def idle_service_command(lab: Lab, host: Host) -> str:
    """The idle service on `host` (`agents.idle.service`), started once per sweep: each point
    tells it its share of the idle connections, held open to its own server address, at most
    the largest share any point of the plan gives a client (its descriptor limit's bound)."""
    return _line(
        host.python,
        *("-m", "agents.idle.service"),
        flags={
            "--host": host.name,
            "--server": lab.server_address_for(host),
            "--port": SERVER_PORT,
            "--metrics-address": host.management,
            "--metrics-port": IDLE_METRICS_PORT,
            "--control-key-file": KEY_FILE,
            "--max-connections": most_idle_share(lab),
        },
    )


def most_idle_share(lab: Lab) -> int:
    """The most idle connections a point of `lab`'s plan (and its profiling pass) asks of one
    client (at least 1)."""
    experiment = lab.experiment
    counts = list(experiment.idle_counts)
    if experiment.profile is not None:
        counts += experiment.profile.idle_counts(experiment.idle_max_value)
    return max(1, split(max(counts, default=0), len(lab.clients))[0])


@dataclass(frozen=True)
class LoadRun:
    """One client's part of a load run: its share of the point's rate, from a common instant."""

    point: Point
    share: float  # requests/s for this client
    duration: float  # seconds
    warmup: float  # seconds of unmeasured load before the measurement, 0 for none
    timeout: float  # httperf's per-connection timeout, seconds
    session_length: float  # mean requests per session of this client's trace (specweb99)
    starvation_check: bool  # False where clients share CPUs by design


def load_service_command(lab: Lab, host: Host) -> str:
    """The load service on `host` (`agents.load.service`), started once per sweep: it offers
    load only to the server address given here, with the lab file's load generator (`load:
    {engine: ...}`), plays only the sessions file named here, reads its instants only from the
    start file named here, and is told each run over HTTP with the key in KEY_FILE."""
    flags = {
        "--host": host.name,
        "--server": lab.server_address_for(host),
        "--port": SERVER_PORT,
        "--metrics-address": host.management,
        "--metrics-port": LOAD_METRICS_PORT,
        "--control-key-file": KEY_FILE,
        "--start-file": LOAD_START_FILE,
        "--sessions": SESSIONS_FILE,
        "--engine": lab.load.engine,
    }
    return _line(host.python, *("-m", "agents.load.service"), flags=flags)


def load_run_request(lab: Lab, host: Host, run_id: str, run: LoadRun) -> LoadRequest:
    """`host`'s part of load run `run_id`, as its load service takes it
    (`agents.load.request`; the service checks it again, against its bounds)."""
    # specweb99's agent takes sessions/s: the share of requests over this client's own trace.
    sessions = run.point.workload == "specweb99"
    rate = run.share / run.session_length if sessions else run.share
    return LoadRequest(
        id=run_id,
        workload=run.point.workload,
        rate=float(f"{rate:.6g}"),
        duration=run.duration,
        timeout=run.timeout,
        warmup=run.warmup,
        # Emulated hosts are pinned via their sshd.
        cpus=tuple(host.cpus) if host.cpus and not lab.emulate else None,
        starved_below=STARVED_BELOW_PCT if run.starvation_check else 0.0,
    )


def start_command(host: Host, start_at: float, measure_at: float) -> str:
    """Name the instants to the waiting load run in LOAD_START_FILE, `START MEASURE` (Unix
    times), written whole (rename) so the service never reads half a line. The service removes
    the file when it accepts a run: one left by an earlier run is never read."""
    tmp = shlex.quote(f"{LOAD_START_FILE}.tmp")
    return in_directory(
        host,
        f"mkdir -p {RUN_DIR} && printf '%s %s\\n' {start_at:.3f} {measure_at:.3f} >{tmp}"
        f" && mv {tmp} {shlex.quote(LOAD_START_FILE)}",
    )


def cooldown_script(max_seconds: float) -> str:
    """Wait on the host until it holds no TIME_WAIT socket, at most `max_seconds`; print how
    many are left and how long it waited (ms). The state itself is counted, not sockstat's tw
    (orphaned FIN-WAIT-2 sockets count there). While waiting, only the first socket is read
    (`head` closes the pipe, and ss stops): a client holds tens of thousands of them after a
    point, and listening them all five times a second on eight clients sharing a core took the
    core; they are counted once, at the end."""
    max_ms = int(max_seconds * 1000)
    return (
        "now() { echo $(( $(date +%s%N) / 1000000 )); }; start=$(now)\n"
        'while [ -n "$(ss -Htan state time-wait | head -c 1)" ]; do\n'
        f"[ $(( $(now) - start )) -ge {max_ms} ] && break; sleep 0.2; done\n"
        "waited=$(( $(now) - start ))\n"
        'echo "$(ss -Htan state time-wait | wc -l) $waited"'
    )


def parse_cooldown(output: str) -> tuple[float, int]:
    """(seconds the host waited, TIME_WAIT sockets left) from `cooldown_script`'s output;
    (0.0, -1) when it did not say (the host could not tell)."""
    words = output.split()
    if len(words) != 2 or not all(word.isdigit() for word in words):
        return 0.0, -1
    return int(words[1]) / 1000, int(words[0])


def split(total: int, parts: int) -> list[int]:
    """`total` as evenly as possible over `parts` (the first ones get the remainder): each
    client's share of the idle connections."""
    base, extra = divmod(total, parts)
    return [base + (1 if index < extra else 0) for index in range(parts)]
