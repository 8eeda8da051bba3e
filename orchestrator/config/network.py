"""The lab file's `network:` section: WAN conditions (delay, jitter, loss, bandwidth) as named
profiles, given to clients by subnet or by name, or swept as the plan's `network` axis.

    network:
      emulator: auto                  # or netem, or userspace (linkem: labs built here only)
      profiles:
        wan-50ms: {delay: 25ms, jitter: 2ms, loss: 0.1%, rate: 100mbit}   # delay: one way
      subnets: {a: wan-50ms}          # without an axis: subnet a's clients get it
      clients: {client5: wan-50ms}    # a client's own entry wins over its subnet's
    experiment:
      network: [lan, wan-50ms]        # or: every point once per profile, on every client

`lan` is built in: the links as they are. A profile nothing uses, a use of a profile nothing
defines, and `subnets`/`clients` beside the axis (which would silently lose) are errors.
"""

from __future__ import annotations

from typing import Any

from orchestrator.config.checker import Checker, FieldPath
from orchestrator.config.model import (
    EMULATORS,
    LAN,
    USERSPACE,
    Lab,
    NetworkProfile,
    NetworkSettings,
)
from orchestrator.config.units import parse_duration, parse_percent, parse_rate

PROFILE_PATTERN = r"[a-z0-9][a-z0-9._-]{0,30}"
PROFILE_KEYS = ("delay", "jitter", "loss", "rate")
MAX_DELAY = 10.0  # seconds one way; netem takes more, no experiment here wants it
ANY = ("",)  # mapping(): keys the user names (profiles, subnets, clients)
MIN_RATE = 8_000  # bits/s: below one 1,500-byte packet a second and a half, nothing is measured


def parse_network(checker: Checker, value: Any) -> NetworkSettings | None:
    """The section's syntax; names of subnets and clients are checked by `check_network_use`."""
    at: FieldPath = ("network",)
    before = len(checker.problems)
    section = checker.mapping(at, value, ("emulator", "profiles", "subnets", "clients"))
    if section is None:
        return None
    profiles: dict[str, NetworkProfile] = {LAN: NetworkProfile(LAN)}
    written = checker.mapping((*at, "profiles"), section.get("profiles", {}), (), open_prefixes=ANY)
    for name, spec in (written or {}).items():
        if not isinstance(name, str):
            continue  # reported by mapping()
        path: FieldPath = (*at, "profiles", name)
        if name == LAN:
            checker.fail_plain(path, f"'{LAN}' is built in (no emulation); choose another name")
        elif checker.string(path, name, PROFILE_PATTERN, "a profile name") is not None:
            profile = _profile(checker, path, name, spec)
            if profile is not None:
                profiles[name] = profile
    assigned = {
        key: _assignments(checker, (*at, key), section.get(key, {}))
        for key in ("subnets", "clients")
    }
    emulator = section.get("emulator", "auto")
    if emulator not in EMULATORS:
        checker.fail((*at, "emulator"), emulator, f"expected one of {', '.join(EMULATORS)}")
    if len(checker.problems) > before:
        return None
    return NetworkSettings(
        profiles=profiles,
        subnets=assigned["subnets"],
        clients=assigned["clients"],
        emulator=emulator,
    )


def _profile(checker: Checker, path: FieldPath, name: str, spec: Any) -> NetworkProfile | None:
    section = checker.mapping(path, spec, PROFILE_KEYS)
    if section is None:
        return None
    if not section:
        checker.fail(path, spec, f"expected at least one of {', '.join(PROFILE_KEYS)}")
        return None
    delay = _seconds(checker, (*path, "delay"), section.get("delay", "0ms"))
    jitter = _seconds(checker, (*path, "jitter"), section.get("jitter", "0ms"))
    loss = _loss(checker, (*path, "loss"), section.get("loss", "0%"))
    rate = _rate(checker, (*path, "rate"), section["rate"]) if "rate" in section else None
    if delay is None or jitter is None or loss is None or ("rate" in section and rate is None):
        return None
    return NetworkProfile(name, delay=delay, jitter=jitter, loss=loss, rate=rate)


def _seconds(checker: Checker, path: FieldPath, value: Any) -> float | None:
    """A delay or jitter: a duration with its unit, 0 to MAX_DELAY."""
    text = value.strip() if isinstance(value, str) else ""
    try:
        if text.startswith("-"):
            raise ValueError("expected a delay >= 0 (netem cannot send packets back in time)")
        if not text:
            raise ValueError("expected a duration with its unit, like '25ms'")
        seconds = parse_duration(text)
    except ValueError as error:
        checker.fail(path, value, str(error))
        return None
    if seconds > MAX_DELAY:
        checker.fail(path, value, f"expected at most {MAX_DELAY:g}s")
        return None
    return seconds


def _loss(checker: Checker, path: FieldPath, value: Any) -> float | None:
    try:
        fraction = parse_percent(value)
    except ValueError as error:
        checker.fail(path, value, str(error))
        return None
    if fraction > 1:
        checker.fail(path, value, "expected a loss from 0% to 100%")
        return None
    return fraction


def _rate(checker: Checker, path: FieldPath, value: Any) -> int | None:
    try:
        bits = parse_rate(value)
    except ValueError as error:
        checker.fail(path, value, str(error))
        return None
    if bits < MIN_RATE:
        checker.fail(path, value, f"expected at least {MIN_RATE // 1000}kbit")
        return None
    return bits


def _assignments(checker: Checker, path: FieldPath, value: Any) -> dict[str, str]:
    section = checker.mapping(path, value, (), open_prefixes=ANY)
    found: dict[str, str] = {}
    for key, name in (section or {}).items():
        if isinstance(key, str) and checker.string(
            (*path, key), name, PROFILE_PATTERN, "a profile name"
        ):
            found[key] = name
    return found


def check_network_use(checker: Checker, lab: Lab) -> None:
    """Names against the lab: subnets and clients that exist, profiles that are defined, and
    every profile defined used somewhere (a typo in a use would otherwise leave it idle)."""
    settings, axis = lab.network, lab.experiment.network
    at: FieldPath = ("network",)
    if axis and (settings.subnets or settings.clients):
        which = "subnets" if settings.subnets else "clients"
        checker.fail_plain(
            (*at, which),
            "cannot be combined with experiment.network (the axis gives every client each"
            " profile in turn); remove one",
        )
    if settings.emulator == USERSPACE and not lab.built_here:
        checker.fail(
            (*at, "emulator"),
            USERSPACE,
            "linkem runs on labs built on this machine only (emulate: true or machines);"
            " real hosts get netem",
        )
    known = {"subnets": set(lab.subnets), "clients": {client.name for client in lab.clients}}
    for key, mapping in (("subnets", settings.subnets), ("clients", settings.clients)):
        for place, name in mapping.items():
            if place not in known[key]:
                choices = ", ".join(sorted(known[key]))
                checker.fail_plain((*at, key, place), f"no such {key[:-1]}; expected {choices}")
            _known_profile(checker, (*at, key, place), name, settings)
    for index, name in enumerate(axis):
        _known_profile(checker, ("experiment", "network", index), name, settings)
    used = {*settings.subnets.values(), *settings.clients.values(), *axis}
    for name in settings.profiles:
        if name != LAN and name not in used:
            checker.fail_plain(
                (*at, "profiles", name),
                "defined but never used (by network.subnets, network.clients or"
                " experiment.network)",
            )


def _known_profile(checker: Checker, path: FieldPath, name: str, settings: NetworkSettings) -> None:
    if name not in settings.profiles:
        checker.fail(path, name, f"no such profile; expected one of {', '.join(settings.profiles)}")
