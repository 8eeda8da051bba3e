"""What one load run is asked, as a frozen ``LoadArgs``, and the bounds of every number in it,
defined once. Pure: standard library only, so the orchestrator may import it.

    args = LoadArgs(server="198.18.1.1", port=80, workload="one-byte", rate=625,
                    duration=20, timeout=2, uri="/one-byte")   # ArgsError: one line
    later = dataclasses.replace(args, start_at=instant)         # never changed in place

The one-shot agent's command line (``agents.load.cli``) and the load service's run requests
(``agents.load.request``) are parsed once, at their edge, into a ``LoadArgs``; both refuse a
number outside its ``Bound`` with the same line (``rate 0: expected a number > 0 to 1e+06``),
and ``LoadArgs`` itself refuses what neither edge could have let through.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

__all__ = [
    "BOUNDS",
    "CPU",
    "DURATION",
    "ENGINES",
    "HTTPERF",
    "MAX_CPU",
    "MAX_INSTANT_DISTANCE_S",
    "MAX_PROCESSES",
    "MAX_RATE",
    "MAX_SECONDS",
    "MAX_TIMEOUT",
    "ONE_BYTE",
    "PROCESSES",
    "RATE",
    "SPECWEB99",
    "STARVED_BELOW",
    "STARVED_BELOW_PCT",
    "TBLOAD",
    "TIMEOUT",
    "WARMUP",
    "WORKLOADS",
    "ArgsError",
    "Bound",
    "LoadArgs",
    "shown",
]

HTTPERF, TBLOAD = "httperf", "tbload"
ENGINES = (HTTPERF, TBLOAD)  # the load generators an agent can run (fixed when it starts)
ONE_BYTE, SPECWEB99 = "one-byte", "specweb99"
WORKLOADS = (ONE_BYTE, SPECWEB99)
STARVED_BELOW_PCT = 90.0  # client-cpu-starved below this % of a CPU, by default

MAX_RATE = 1_000_000.0  # per client; httperf does about 10,000/s per process
MAX_SECONDS = 86_400.0  # a run or a warm-up of a day at most (the lab file's own bound)
MAX_TIMEOUT = 3_600.0
MAX_PROCESSES = 64  # load-generator processes of one run (each httperf spins a core)
MAX_CPU = 4095
MAX_INSTANT_DISTANCE_S = 86_400.0  # a start instant within a day of the host's clock


class ArgsError(ValueError):
    """A value refused; the message is one line naming the field and the value, and `field`
    names the field (a command line names its flag after it)."""

    def __init__(self, message: str, field: str = "") -> None:
        super().__init__(message)
        self.field = field


def shown(value: object) -> str:
    """A value as JSON, cut short: the one line stays one short line."""
    text = json.dumps(value)
    return text if len(text) <= 40 else text[:37] + "..."


@dataclass(frozen=True)
class Bound:
    """The range of one number of a run: above `low` (from `low` when `zero`) to `high`."""

    name: str  # as a run request names the field
    low: float
    high: float
    zero: bool = False  # `low` itself allowed
    integer: bool = False

    def expected(self) -> str:
        kind = "an integer" if self.integer else "a number"
        lowest = f"from {self.low:g}" if self.zero else f"> {self.low:g}"
        return f"expected {kind} {lowest} to {self.high:g}"

    def check(self, value: object, text: str | None = None) -> float:
        """`value` when inside the bound (a JSON number: never a bool, NaN or infinite), else
        ArgsError naming the field and `text` (the value as given; JSON by default)."""
        refused = ArgsError(f"{self.name} {text or shown(value)}: {self.expected()}", self.name)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise refused
        if self.integer and not isinstance(value, int):
            raise refused
        above = self.low <= value if self.zero else self.low < value
        if not (math.isfinite(value) and above and value <= self.high):
            raise refused
        return value


RATE = Bound("rate", 0, MAX_RATE)
DURATION = Bound("duration", 0, MAX_SECONDS)
TIMEOUT = Bound("timeout", 0, MAX_TIMEOUT)
WARMUP = Bound("warmup", 0, MAX_SECONDS, zero=True)
STARVED_BELOW = Bound("starved_below", 0, 100, zero=True)
PROCESSES = Bound("processes", 1, MAX_PROCESSES, zero=True, integer=True)
CPU = Bound("cpus", 0, MAX_CPU, zero=True, integer=True)
BOUNDS = (RATE, DURATION, TIMEOUT, WARMUP, STARVED_BELOW, PROCESSES, CPU)


@dataclass(frozen=True)
class LoadArgs:
    """One load run, as the agent runs it: what the orchestrator asked (workload, rate,
    duration, timeout, warm-up, processes, CPUs, starvation threshold) and what was fixed when
    the agent started (server, port, engine, sessions file, start file, host). Frozen: a run
    that needs another value (the warm-up's duration, the instant it was told) makes a copy
    with ``dataclasses.replace``. ``session_list`` holds the sessions file's sessions, read
    once where the file is named; ``processes`` None is auto."""

    server: str
    port: int
    workload: str
    rate: float
    duration: float
    timeout: float
    uri: str | None = None  # one-byte
    sessions: str | None = None  # specweb99: the httperf --wsesslog file
    session_list: tuple[tuple[str, ...], ...] = ()
    warmup: float = 0.0
    processes: int | None = None
    cpus: tuple[int, ...] | None = None
    starved_below: float = STARVED_BELOW_PCT
    engine: str = HTTPERF
    host: str | None = None
    start_at: float | None = None
    measure_at: float | None = None
    start_file: str | None = None

    def __post_init__(self) -> None:
        for bound in (RATE, DURATION, TIMEOUT, WARMUP, STARVED_BELOW):
            bound.check(getattr(self, bound.name))
        if self.processes is not None:
            PROCESSES.check(self.processes)
        if self.cpus is not None:
            if not 1 <= len(self.cpus) <= MAX_PROCESSES:
                raise ArgsError(
                    f"cpus {shown(list(self.cpus))}: expected 1 to {MAX_PROCESSES}", "cpus"
                )
            for cpu in self.cpus:
                CPU.check(cpu)
        if self.engine not in ENGINES:
            raise ArgsError(
                f"engine {shown(self.engine)}: expected one of {', '.join(ENGINES)}", "engine"
            )
        if self.workload == ONE_BYTE:
            self._one_byte()
        elif self.workload == SPECWEB99:
            self._specweb99()
        else:
            raise ArgsError(
                f"workload {shown(self.workload)}: expected one of {', '.join(WORKLOADS)}",
                "workload",
            )

    def _one_byte(self) -> None:
        if self.sessions or self.session_list:
            raise ArgsError(f"sessions {self.sessions!r}: only for workload specweb99", "sessions")
        uri = self.uri or ""
        if not uri.startswith("/") or any(c.isspace() for c in uri):
            raise ArgsError(f"uri {self.uri!r}: must start with / and have no spaces", "uri")

    def _specweb99(self) -> None:
        if self.uri:
            raise ArgsError(f"uri {self.uri!r}: only for workload one-byte", "uri")
        if self.sessions is None and not self.session_list:
            raise ArgsError("sessions: required with workload specweb99", "sessions")
        if not self.session_list:
            raise ArgsError(f"sessions {self.sessions!r}: holds no session", "sessions")

    @property
    def rate_unit(self) -> str:
        return "sessions/s" if self.workload == SPECWEB99 else "requests/s"
