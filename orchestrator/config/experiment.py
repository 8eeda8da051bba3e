"""The lab file's `experiment` section: the plan's axes (mechanisms, workloads, idle
connections, accept-limits, rates or a knee search, servers, network profiles) and how each
point is run (duration, warm-up, repetitions, cooldown, timeouts, retries).

    experiment = parse_experiment(checker, document["experiment"], servers)  # None if bad

Every problem goes to the `Checker` as one line naming the field and the value; nothing is
returned then. The plan's size is checked by arithmetic before anything is expanded.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from orchestrator.config.checker import Checker, FieldPath, show
from orchestrator.config.model import (
    IDLE_MAX,
    MECHANISMS,
    SYSCALL_TIMINGS,
    WORKLOADS,
    AcceptScope,
    Experiment,
    ProfilePass,
    SpecWeb99,
)
from orchestrator.config.network import PROFILE_PATTERN
from orchestrator.config.servers import ServerSpec, select_servers

MAX_RATE_POINTS = 1000
AUTO = "auto"  # rates: {to: auto}: the knee search
AUTO_KEYS = ("max", "repeat_top")  # the knee search's own keys
AUTO_RATES = 20  # rates a knee search climbs at most when its `max` is not given
MAX_POINTS = 1_000_000  # points of a plan; the paper's full protocol has 1,680
MAX_REPETITIONS = 1000
MAX_IDLE_CONNECTIONS = 1_000_000
MAX_SEED = 2**63 - 1  # stored as an SQLite INTEGER

EXPERIMENT_KEYS = (
    "mechanisms",
    "workloads",
    "idle_connections",
    "accept_limits",
    "rates",
    "duration",
    "warmup",
    "repetitions",
    "cooldown",
    "timeout",
    "retries",
    "seed",
    "specweb99",
    "syscall_timing",
    "network",
    "servers",
    "profile",
)
PROFILE_KEYS = ("workloads", "idle_connections", "rate", "duration")
EXPERIMENT_REQUIRED = ("mechanisms", "workloads", "rates", "duration", "cooldown", "timeout")


def parse_experiment(
    checker: Checker, value: Any, specs: tuple[ServerSpec, ...] | None
) -> Experiment | None:
    """The `experiment` section as an `Experiment`, or None with every problem in `checker`."""
    at: FieldPath = ("experiment",)
    section = checker.mapping(at, value, EXPERIMENT_KEYS, required=EXPERIMENT_REQUIRED)
    if section is None:
        return None
    axes = _axes(checker, section, specs)
    running = _running(checker, section)
    optional = {"seed", "repeat_top"}  # None here is a value, not a problem
    if any(v is None for k, v in {**axes, **running}.items() if k not in optional):
        return None
    if "seed" in section and running["seed"] is None:
        return None
    sizes = [axes[k] for k in ("servers", "mechanisms", "workloads", "idle_connections")]
    sizes += [axes["accept_limits"], axes["rates"], axes["network"] or ("",)]
    if not _plan_size_ok(checker, *sizes, repetitions=running["repetitions"]):
        return None
    entries = axes.pop("accept_limits")
    limits = tuple(_limit_of(entry) for entry in entries)
    scopes = _accept_scopes(checker, entries, axes)
    if scopes is None:
        return None
    profile = None
    if section.get("profile") not in (None, False):
        profile = _profile(checker, section["profile"], axes, running)
        if profile is None:
            return None
    idle = axes.pop("idle_connections")
    return Experiment(
        **axes,
        **running,
        idle_connections=tuple(sorted(v for v in idle if v != IDLE_MAX)),
        idle_max=IDLE_MAX in idle,
        accept_limits=limits,
        accept_scopes=scopes,
        profile=profile,
    )


def _axes(
    checker: Checker, section: dict[str, Any], specs: tuple[ServerSpec, ...] | None
) -> dict[str, Any]:
    """The plan's axes, by `Experiment` field name (None: a problem was reported)."""
    at: FieldPath = ("experiment",)
    mechanisms = checker.each(
        (*at, "mechanisms"),
        section.get("mechanisms"),
        lambda p, v: checker.choice(p, v, MECHANISMS),
    )
    workloads = checker.each(
        (*at, "workloads"), section.get("workloads"), lambda p, v: checker.choice(p, v, WORKLOADS)
    )
    for key, values in (("mechanisms", mechanisms), ("workloads", workloads)):
        if values:
            checker.unique((*at, key), values)
    idle = checker.each(
        (*at, "idle_connections"), section.get("idle_connections", [0]), _idle_count(checker)
    )
    if idle:
        checker.unique((*at, "idle_connections"), idle)
    accept_limits: tuple[int | str | dict[str, Any], ...] | None = checker.each(
        (*at, "accept_limits"),
        section.get("accept_limits", ["inf"]),
        lambda p, v: _accept_entry(checker, p, v),
    )
    if accept_limits:
        written = [entry["limit"] if isinstance(entry, dict) else entry for entry in accept_limits]
        checker.unique((*at, "accept_limits"), written)
    rated = _rates(checker, (*at, "rates"), section.get("rates"))
    rates, knee = rated if rated is not None else (None, False)
    spec = section.get("rates")
    return {
        "mechanisms": mechanisms,
        "workloads": workloads,
        "idle_connections": idle,
        "accept_limits": accept_limits,
        "rates": rates,
        "knee": knee,
        "repeat_top": spec.get("repeat_top") if knee and isinstance(spec, dict) else None,
        "network": _network_axis(checker, section) if "network" in section else (),
        "servers": select_servers(checker, section.get("servers"), specs),
    }


def _running(checker: Checker, section: dict[str, Any]) -> dict[str, Any]:
    """How each point is run, by `Experiment` field name (None: a problem was reported, but
    for `seed`, whose absence is None too)."""
    at: FieldPath = ("experiment",)

    def required_duration(key: str) -> float | None:
        if key not in section:
            return None  # already reported as missing
        return checker.duration((*at, key), section[key], allow_zero=False)

    seed = section.get("seed")
    return {
        "duration": required_duration("duration"),
        "warmup": checker.duration((*at, "warmup"), section.get("warmup", "0s")),
        "repetitions": checker.integer(
            (*at, "repetitions"), section.get("repetitions", 1), minimum=1, maximum=MAX_REPETITIONS
        ),
        "cooldown_max": (
            _cooldown(checker, section.get("cooldown")) if "cooldown" in section else None
        ),
        "timeout": required_duration("timeout"),
        "retries": checker.integer(
            (*at, "retries"), section.get("retries", 1), minimum=0, maximum=10
        ),
        "seed": (
            checker.integer((*at, "seed"), seed, minimum=0, maximum=MAX_SEED)
            if seed is not None
            else None
        ),
        "specweb99": _specweb99(checker, section.get("specweb99", {})),
        "syscall_timing": checker.choice(
            (*at, "syscall_timing"), section.get("syscall_timing", "wall"), SYSCALL_TIMINGS
        ),
    }


def _profile(
    checker: Checker, value: Any, axes: dict[str, Any], running: dict[str, Any]
) -> ProfilePass | None:
    """`experiment.profile`: Table 1's profiling pass (`ProfilePass`), `{}` for its defaults
    (every workload and idle count of the plan, the rate chosen from the sweep, the plan's
    duration); `false` or absent: none. It profiles userver's mechanisms (only userver times
    its calls): a plan without userver has nothing for it to run."""
    at: FieldPath = ("experiment", "profile")
    section = checker.mapping(at, value, PROFILE_KEYS)
    if section is None:
        return None
    before = len(checker.problems)

    def among(key: str, plan: tuple[Any, ...]) -> tuple[Any, ...] | None:
        def check(path: FieldPath, item: Any) -> Any:
            if item not in plan:
                checker.fail(path, item, f"not in experiment.{key} ({', '.join(map(str, plan))})")
                return None
            return item

        if key not in section:
            return tuple(plan)  # the plan's own, checked as the plan's
        values = checker.each((*at, key), section[key], check)
        if values:
            checker.unique((*at, key), values)
        return values

    workloads = among("workloads", axes["workloads"])
    idle = among("idle_connections", axes["idle_connections"])  # `max` too, as in the plan
    rate: float | None = None
    spec = section.get("rate", AUTO)
    if spec != AUTO:
        if isinstance(spec, str):
            checker.fail((*at, "rate"), spec, f"expected '{AUTO}' or a rate in requests/s")
        else:
            rate = checker.positive_number((*at, "rate"), spec)
    duration = running["duration"]
    if "duration" in section:
        duration = checker.duration((*at, "duration"), section["duration"], allow_zero=False)
    if len(checker.problems) > before or workloads is None or idle is None or duration is None:
        return None
    counts = tuple(v for v in idle if v != IDLE_MAX)
    return ProfilePass(workloads, counts, rate, duration, idle_max=IDLE_MAX in idle)


def _network_axis(checker: Checker, section: dict[str, Any]) -> tuple[str, ...] | None:
    """`experiment.network`: profile names (checked against `network.profiles` once the lab
    is whole)."""
    path: FieldPath = ("experiment", "network")
    names = checker.each(
        path, section["network"], lambda p, v: checker.string(p, v, PROFILE_PATTERN, "a profile")
    )
    if names:
        checker.unique(path, names)
    return names


def _plan_size_ok(checker: Checker, *axes: tuple[Any, ...], repetitions: int = 1) -> bool:
    """The plan's size, by arithmetic: nothing is expanded before it is known to be sane."""
    count = repetitions
    for axis in axes:
        count *= len(axis)
    if count > MAX_POINTS:
        checker.fail_plain(
            ("experiment",),
            f"the plan has {count} points; at most {MAX_POINTS} accepted (fewer rates?)",
        )
    return count <= MAX_POINTS


def _idle_count(checker: Checker) -> Callable[[FieldPath, Any], int | str | None]:
    """An idle count: a number of connections, or `max` (the most the hosts' open-file limits
    allow, read by preflight)."""

    def check(path: FieldPath, value: Any) -> int | str | None:
        if value == IDLE_MAX:
            return IDLE_MAX
        if isinstance(value, str):
            checker.fail(path, value, f"expected a number of connections or '{IDLE_MAX}'")
            return None
        return checker.integer(path, value, minimum=0, maximum=MAX_IDLE_CONNECTIONS)

    return check


SCOPE_KEYS = ("limit", "mechanisms", "idle_connections")


def _accept_entry(
    checker: Checker, path: FieldPath, value: Any
) -> int | str | dict[str, Any] | None:
    """An accept-limit for every curve (`inf`, 10), or one for some curves only:
    `{limit: 10, mechanisms: [epoll-lt], idle_connections: [0]}` (checked against the plan's
    axes in `_accept_scopes`)."""
    if not isinstance(value, dict):
        return _accept_limit(checker, path, value)
    section = checker.mapping(path, value, SCOPE_KEYS, required=("limit",))
    if section is None or "limit" not in section:
        return None
    limit = _accept_limit(checker, (*path, "limit"), section["limit"])
    return None if limit is None else {**section, "limit": limit}


def _limit_of(entry: int | str | dict[str, Any]) -> int | None:
    limit = entry["limit"] if isinstance(entry, dict) else entry
    return None if limit == "inf" else int(limit)


def _accept_scopes(
    checker: Checker, entries: tuple[int | str | dict[str, Any], ...], axes: dict[str, Any]
) -> tuple[AcceptScope, ...] | None:
    """The accept-limits planned for some curves only: their mechanisms and idle counts must
    be among the plan's own (an accept-limit cannot add a mechanism the plan does not run)."""
    scopes = []
    problems = len(checker.problems)
    planned_idle = list(axes["idle_connections"] or ())
    planned_mechanisms = list(axes["mechanisms"] or ())

    def among(planned: list[Any], what: str) -> Callable[[FieldPath, Any], Any]:
        def check(path: FieldPath, value: Any) -> Any:
            if value not in planned:
                shown = ", ".join(str(v) for v in planned)
                checker.fail(path, value, f"expected one of the plan's {what} ({shown})")
                return None
            return value

        return check

    for index, entry in enumerate(entries):
        if not isinstance(entry, dict):
            continue
        at: FieldPath = ("experiment", "accept_limits", index)
        mechanisms = idle = None
        if "mechanisms" in entry:
            mechanisms = checker.each(
                (*at, "mechanisms"), entry["mechanisms"], among(planned_mechanisms, "mechanisms")
            )
        if "idle_connections" in entry:
            idle = checker.each(
                (*at, "idle_connections"),
                entry["idle_connections"],
                among(planned_idle, "idle counts"),
            )
        scopes.append(
            AcceptScope(
                _limit_of(entry),
                tuple(mechanisms) if mechanisms is not None else None,
                tuple(int(v) for v in idle if v != IDLE_MAX) if idle is not None else None,
                idle is not None and IDLE_MAX in idle,
            )
        )
    return tuple(scopes) if len(checker.problems) == problems else None


def _accept_limit(checker: Checker, path: FieldPath, value: Any) -> int | str | None:
    """An accept-limit: a positive integer, or 'inf' (accept until EAGAIN)."""
    if value == "inf":
        return "inf"
    if isinstance(value, str):
        checker.fail(path, value, "expected a positive integer or 'inf'")
        return None
    return checker.integer(path, value, minimum=1)


def _rates(checker: Checker, path: FieldPath, value: Any) -> tuple[tuple[float, ...], bool] | None:
    """(rates ascending, knee search): a list, `{from, to, step}`, or `{from, to: auto, step,
    max}`, the rates a curve climbs until it saturates or the clients limit it (`run.knee`)."""
    if isinstance(value, dict):
        return _rate_range(checker, path, value)
    rates = checker.each(path, value, checker.positive_number)
    if rates is None:
        if not isinstance(value, list):
            checker.problems[-1] += " or a mapping {from, to, step}"
        return None
    checker.unique(path, rates)
    return tuple(sorted(rates)), False


def _rate_range(
    checker: Checker, path: FieldPath, spec: dict[str, Any]
) -> tuple[tuple[float, ...], bool] | None:
    keys = ("from", "to", "step")
    if checker.mapping(path, spec, (*keys, *AUTO_KEYS), required=keys) is None:
        return None
    if any(key not in spec for key in keys):
        return None
    auto = spec["to"] == AUTO
    if not auto and isinstance(spec["to"], str):
        checker.fail((*path, "to"), spec["to"], f"expected a positive number or '{AUTO}'")
        return None
    for key in AUTO_KEYS:
        if key in spec and not auto:
            checker.fail_plain((*path, key), f"only with to: {AUTO} (the knee search)")
            return None
    if (
        "repeat_top" in spec
        and checker.integer((*path, "repeat_top"), spec["repeat_top"], 1) is None
    ):
        return None
    start = checker.positive_number((*path, "from"), spec["from"])
    step = checker.positive_number((*path, "step"), spec["step"])
    bound = "max" if auto else "to"
    if auto and "max" not in spec:
        stop = None if start is None or step is None else start + (AUTO_RATES - 1) * step
    else:
        stop = checker.positive_number((*path, bound), spec[bound])
    if start is None or stop is None or step is None:
        return None
    if stop < start:
        checker.fail((*path, bound), spec[bound], f"expected a rate >= from ({show(spec['from'])})")
        return None
    count = int((stop - start) / step + 1e-9) + 1
    if count > MAX_RATE_POINTS:
        checker.fail(
            (*path, "step"),
            spec["step"],
            f"expands to {count} rates; expected at most {MAX_RATE_POINTS}",
        )
        return None
    return tuple(start + index * step for index in range(count)), auto


def _cooldown(checker: Checker, value: Any) -> float | None:
    at: FieldPath = ("experiment", "cooldown")
    section = checker.mapping(at, value, ("max",), required=("max",))
    if section is None or "max" not in section:
        return None
    return checker.duration((*at, "max"), section["max"])


def _specweb99(checker: Checker, value: Any) -> SpecWeb99 | None:
    at: FieldPath = ("experiment", "specweb99")
    section = checker.mapping(at, value, ("directories", "seed"))
    if section is None:
        return None
    directories = checker.integer(
        (*at, "directories"), section.get("directories", 10), minimum=1, maximum=10_000
    )
    seed = checker.integer((*at, "seed"), section.get("seed", 1), minimum=0, maximum=MAX_SEED)
    if directories is None or seed is None:
        return None
    return SpecWeb99(directories=directories, seed=seed)
