"""Servers under test: the `servers:` section of the lab file, validated into `ServerSpec`s,
and their command templates.

    servers:
      - {name: userver, builtin: userver}                  # the default when there is no section
      - name: nginx
        command: "python3 -m agents.nginx --address {address} --port {port} --docroot {docroot}"
        packages: [nginx-light]                            # installed by provisioning (apt)
        install: "true"                                    # a build step run by provisioning
        ready: {path: /}                                   # TCP connect + GET of this path
        stop: {signal: TERM, group: true}                  # SIGTERM to its process group

A template's placeholders are replaced by shlex-quoted values (`render`), so a value from the
lab file or the inventory never reaches a shell unquoted. A server whose template has no
`{mechanism}` has no mechanism axis: one curve per workload, idle count and accept-limit.

Every problem in the section (and in `experiment.servers`) is one line naming file, line, field
and value (through `Checker`); an unknown placeholder in a command template is one of them, so a
bad template creates nothing.
"""

from __future__ import annotations

import difflib
import shlex
import string
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from orchestrator.config.checker import Checker, FieldPath

USERVER = "userver"
BUILTINS = (USERVER,)
PLACEHOLDERS = ("address", "port", "docroot", "cpus", "mechanism", "accept_limit")
STOP_SIGNALS = ("TERM", "INT", "QUIT", "HUP")


@dataclass(frozen=True)
class ServerSpec:
    """One server under test: the built-in userver, or a command template of the user's."""

    name: str
    builtin: str | None = USERVER  # None: `command` starts it
    command: str | None = None
    install: str | None = None  # a shell step run by provisioning on the server host
    packages: tuple[str, ...] = ()  # Debian packages provisioning installs
    ready_path: str = "/"
    stop_signal: str = "TERM"
    stop_group: bool = True  # signal the process group (its workers), not only its leader

    @property
    def has_mechanism(self) -> bool:
        return self.builtin is not None or "mechanism" in placeholders(self.command or "")

    @property
    def has_accept_limit(self) -> bool:
        return self.builtin is not None or "accept_limit" in placeholders(self.command or "")

    @property
    def has_metrics(self) -> bool:
        """Whether it exports the testbed's counters (per-syscall, replies, connections)."""
        return self.builtin == USERVER


DEFAULT_SERVERS = (ServerSpec(USERVER),)


def placeholders(template: str) -> tuple[str, ...]:
    """The placeholder names of `template`; ValueError for a malformed one ('{', '{0}',
    '{port!r}', '{port:x}')."""
    names = []
    for _, name, spec, conversion in string.Formatter().parse(template):
        if name is None:
            continue
        if not name.isidentifier() or spec or conversion:
            shown = name + (f"!{conversion}" if conversion else "") + (f":{spec}" if spec else "")
            raise ValueError(f"malformed placeholder {{{shown}}}")
        names.append(name)
    return tuple(names)


def unknown_placeholders(template: str) -> list[str]:
    """Placeholders of `template` that are not in PLACEHOLDERS (ValueError if malformed)."""
    return [name for name in placeholders(template) if name not in PLACEHOLDERS]


def render(template: str, values: Mapping[str, object]) -> str:
    """`template` with every placeholder replaced by its value, shlex-quoted; `{{`/`}}` are
    literal braces. KeyError for a placeholder without a value (validated at load)."""
    quoted = {name: shlex.quote(str(values[name])) for name in placeholders(template)}
    return template.format_map(quoted)


# -- the lab file's section, validated ---------------------------------------------------------

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
