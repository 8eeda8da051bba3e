"""The lab file's `servers:` section and `experiment.servers`, validated into `ServerSpec`s.

Every problem is one line naming file, line, field and value (through `Checker`); an unknown
placeholder in a command template is one of them, so a bad template creates nothing.
"""

from __future__ import annotations

import difflib
from typing import Any

from orchestrator.config.checker import Checker, FieldPath
from orchestrator.config.servers import (
    BUILTINS,
    DEFAULT_SERVERS,
    PLACEHOLDERS,
    STOP_SIGNALS,
    ServerSpec,
    unknown_placeholders,
)

NAME_PATTERN = r"[a-z][a-z0-9-]{0,30}"
SERVER_KEYS = ("name", "builtin", "command", "install", "packages", "ready", "stop")
PACKAGE_PATTERN = r"[a-z0-9][a-z0-9+.-]{0,99}"


def parse_servers(checker: Checker, value: Any) -> tuple[ServerSpec, ...] | None:
    """The `servers:` section (None when absent: the built-in userver alone)."""
    if value is None:
        return DEFAULT_SERVERS
    at: FieldPath = ("servers",)
    specs = checker.each(at, value, lambda path, item: _server(checker, path, item))
    if specs is None:
        return None
    checker.unique(at, [spec.name for spec in specs])
    return specs


def select_servers(
    checker: Checker, value: Any, specs: tuple[ServerSpec, ...] | None
) -> tuple[ServerSpec, ...] | None:
    """`experiment.servers` (names, in plan order) against the section; absent: all of it."""
    if value is None or specs is None:
        return specs
    at: FieldPath = ("experiment", "servers")
    known = {spec.name: spec for spec in specs}
    names = checker.each(at, value, lambda path, item: checker.choice(path, item, tuple(known)))
    if names is None:
        return None
    checker.unique(at, names)
    return tuple(known[name] for name in names)


def _server(checker: Checker, at: FieldPath, value: Any) -> ServerSpec | None:
    section = checker.mapping(at, value, SERVER_KEYS, required=("name",))
    if section is None or "name" not in section:
        return None
    before = len(checker.problems)
    name = checker.string(
        (*at, "name"), section["name"], NAME_PATTERN, "a server name: a-z, 0-9 and '-'"
    )
    builtin, command = section.get("builtin"), section.get("command")
    if (builtin is None) == (command is None):
        checker.fail_plain(at, "expected exactly one of builtin or command")
    elif builtin is not None:
        builtin = checker.choice((*at, "builtin"), builtin, BUILTINS)
    else:
        command = _template(checker, (*at, "command"), command)
    install = section.get("install")
    if install is not None:
        install = checker.string((*at, "install"), install, r"\S[\s\S]*", "a shell command")
    packages = checker.each(
        (*at, "packages"),
        section.get("packages", []),
        lambda p, v: checker.string(p, v, PACKAGE_PATTERN, "a Debian package name"),
        non_empty=False,
    )
    ready = checker.mapping((*at, "ready"), section.get("ready", {}), ("path",))
    path = "/"
    if ready is not None and "path" in ready:
        path = (
            checker.string(
                (*at, "ready", "path"), ready["path"], r"/[!-~]*", "a URL path starting with '/'"
            )
            or "/"
        )
    stop = checker.mapping((*at, "stop"), section.get("stop", {}), ("signal", "group"))
    signal: str | None = "TERM"
    group: bool | None = True
    if stop is not None:
        signal = checker.choice((*at, "stop", "signal"), stop.get("signal", "TERM"), STOP_SIGNALS)
        group = checker.boolean((*at, "stop", "group"), stop.get("group", True))
    if len(checker.problems) > before or name is None or packages is None:
        return None
    return ServerSpec(
        name=name,
        builtin=builtin,
        command=command,
        install=install,
        packages=packages,
        ready_path=path,
        stop_signal=signal or "TERM",
        stop_group=bool(group),
    )


def _template(checker: Checker, path: FieldPath, value: Any) -> str | None:
    template = checker.string(path, value, r"\S.*", "a command template on one line")
    if template is None:
        return None
    try:
        unknown = unknown_placeholders(template)
    except ValueError as error:
        checker.fail(path, value, f"{error}; use {{{{ and }}}} for literal braces")
        return None
    if unknown:
        known = ", ".join(f"{{{name}}}" for name in PLACEHOLDERS)
        hint = difflib.get_close_matches(unknown[0], PLACEHOLDERS, n=1)
        guess = f" (did you mean {{{hint[0]}}}?)" if hint else ""
        checker.fail(
            path, f"{{{unknown[0]}}}", f"unknown placeholder{guess}; expected one of {known}"
        )
        return None
    return template
