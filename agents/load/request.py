"""What a load service is told over HTTP, checked before anything starts: a run request (a JSON
object of named, typed, bounded fields) and a run's start instants. Pure: the orchestrator
builds its requests with the same class.

    request = parse_run(body)          # RequestError: one line naming the field and its value
    body = request.to_json()           # what the orchestrator sends (POST /run)
    start, measure = parse_instants("1764158400.25 1764158401.75", now=time.time())

A run request's fields (anything else is refused, with its name)::

    id             1-64 letters, digits, '.', '_' or '-'                         required
    workload       "one-byte" | "specweb99"                                     required
    rate           this client's share, requests/s (one-byte) or sessions/s
                   (specweb99): > 0, at most MAX_RATE                           required
    duration       seconds: > 0, at most MAX_SECONDS                            required
    timeout        httperf's per-connection timeout, seconds: > 0, at most
                   MAX_TIMEOUT                                                  required
    warmup         seconds of unmeasured load first: 0 to MAX_SECONDS           default 0
    processes      "auto" or 1 to MAX_PROCESSES httperf processes               default "auto"
    cpus           null, or 1 to MAX_PROCESSES CPU numbers (0 to MAX_CPU) to pin the
                   processes to, round robin (the service also checks they are its own)
    starved_below  a percentage, 0 to 100 (0: no CPU-starvation check)          default 90

Why a schema and not the one-shot agent's argv: argparse reads ``--ser 6.6.6.6 --po 22`` as
``--server 6.6.6.6 --port 22``, so a list of forbidden flags could always be walked around.
Here the target server and port, the load generator (``engine``), the sessions file and the
start file are no fields at all:
the orchestrator fixes them on the service's command line when it starts it, and no request
can name them. Numbers are JSON numbers (not strings, not true/false, never NaN or infinite).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

from agents.ids import CONTROL_ID, CONTROL_ID_RULE
from agents.load.args import (
    CPU,
    DURATION,
    MAX_CPU,
    MAX_INSTANT_DISTANCE_S,
    MAX_PROCESSES,
    MAX_RATE,
    MAX_SECONDS,
    MAX_TIMEOUT,
    PROCESSES,
    RATE,
    STARVED_BELOW,
    STARVED_BELOW_PCT,
    TIMEOUT,
    WARMUP,
    WORKLOADS,
    ArgsError,
    Bound,
    shown,
)

__all__ = [
    "MAX_CPU",
    "MAX_PROCESSES",
    "MAX_RATE",
    "MAX_SECONDS",
    "MAX_TIMEOUT",
    "LoadRequest",
    "RequestError",
    "parse_instants",
    "parse_run",
]

REQUIRED = ("id", "workload", "rate", "duration", "timeout")
FIXED = ("server", "port", "sessions", "start_file", "host", "engine")


class RequestError(ArgsError):
    """A request refused; the message is one line naming the field and its value."""


@dataclass(frozen=True)
class LoadRequest:
    """One run of a load service (see the module docstring for each field's bounds)."""

    id: str
    workload: str
    rate: float
    duration: float
    timeout: float
    warmup: float = 0.0
    processes: int | None = None  # None: auto
    cpus: tuple[int, ...] | None = None
    starved_below: float = STARVED_BELOW_PCT

    def to_json(self) -> str:
        return json.dumps(
            {
                "id": self.id,
                "workload": self.workload,
                "rate": self.rate,
                "duration": self.duration,
                "timeout": self.timeout,
                "warmup": self.warmup,
                "processes": "auto" if self.processes is None else self.processes,
                "cpus": None if self.cpus is None else list(self.cpus),
                "starved_below": self.starved_below,
            }
        )


def _refuse_constant(name: str) -> Any:
    raise RequestError(f"{name} is not a JSON number a run takes")


def _no_repeats(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for name, value in pairs:
        if name in found:
            raise RequestError(f"field {name[:40]!r} given twice")
        found[name] = value
    return found


def _number(request: dict[str, Any], bound: Bound) -> float:
    try:
        return float(bound.check(request[bound.name]))
    except ArgsError as error:
        raise RequestError(str(error)) from None


def parse_run(body: str) -> LoadRequest:
    """The run `body` asks for, or RequestError saying, in one line, what is wrong with it."""
    try:
        request = json.loads(body, parse_constant=_refuse_constant, object_pairs_hook=_no_repeats)
    except RecursionError:
        raise RequestError("not a run request: nested too deeply") from None
    except ValueError as exc:
        if isinstance(exc, RequestError):
            raise
        raise RequestError(f"not JSON: {exc}") from None
    if not isinstance(request, dict):
        raise RequestError(f"expected a JSON object with {', '.join(REQUIRED)}, ...")
    for name in request:
        if name in FIXED:
            raise RequestError(f"field {name!r}: fixed when the service starts, not by a run")
        if name not in _FIELDS:
            raise RequestError(f"field {name[:40]!r}: not a field of a run ({', '.join(_FIELDS)})")
    missing = [name for name in REQUIRED if name not in request]
    if missing:
        raise RequestError(f"field {missing[0]!r}: required")
    run_id = request["id"]
    if not isinstance(run_id, str) or not CONTROL_ID.fullmatch(run_id):
        raise RequestError(f"id {shown(run_id)}: {CONTROL_ID_RULE}")
    workload = request["workload"]
    if workload not in WORKLOADS:
        raise RequestError(f"workload {shown(workload)}: expected one of {', '.join(WORKLOADS)}")
    request.setdefault("warmup", 0)
    request.setdefault("starved_below", STARVED_BELOW_PCT)
    return LoadRequest(
        id=run_id,
        workload=workload,
        rate=_number(request, RATE),
        duration=_number(request, DURATION),
        timeout=_number(request, TIMEOUT),
        warmup=_number(request, WARMUP),
        processes=_processes(request.get("processes", "auto")),
        cpus=_cpus(request.get("cpus")),
        starved_below=_number(request, STARVED_BELOW),
    )


_FIELDS = (*REQUIRED, "warmup", "processes", "cpus", "starved_below")


def _processes(value: Any) -> int | None:
    if value == "auto":
        return None
    try:
        return int(PROCESSES.check(value))
    except ArgsError:
        integers = PROCESSES.expected().removeprefix("expected ")
        raise RequestError(f'processes {shown(value)}: expected "auto" or {integers}') from None


def _cpus(value: Any) -> tuple[int, ...] | None:
    if value is None:
        return None
    ok = isinstance(value, list) and 1 <= len(value) <= MAX_PROCESSES
    ok = ok and all(_within(CPU, cpu) for cpu in value)
    if not ok:
        raise RequestError(
            f"cpus {shown(value)}: expected null or a list of 1 to {MAX_PROCESSES} CPU numbers"
            f" from 0 to {MAX_CPU}"
        )
    return tuple(value)


def _within(bound: Bound, value: Any) -> bool:
    try:
        bound.check(value)
    except ArgsError:
        return False
    return True


def parse_instants(text: str, now: float) -> tuple[float, float | None]:
    """``START [MEASURE]`` (Unix times, as ``PUT /start`` or a start file says them): each a
    finite number within MAX_INSTANT_DISTANCE_S of `now`, MEASURE not before START.
    RequestError with one line otherwise (a past START starts at once; the lateness is
    reported)."""
    words = text.split()
    shown = " ".join(words)[:60]
    expected = f"{shown!r}: expected START [MEASURE], Unix times within a day of now"
    if not 1 <= len(words) <= 2:
        raise RequestError(expected)
    try:
        instants = [float(word) for word in words]
    except ValueError:
        raise RequestError(expected) from None
    if not all(math.isfinite(t) and abs(t - now) <= MAX_INSTANT_DISTANCE_S for t in instants):
        raise RequestError(expected)
    if len(instants) == 2 and instants[1] < instants[0]:
        raise RequestError(f"{shown!r}: MEASURE is before START")
    return instants[0], instants[1] if len(instants) == 2 else None
