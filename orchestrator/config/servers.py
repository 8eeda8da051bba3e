"""Servers under test: the `servers:` section of the lab file and their command templates.

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
"""

from __future__ import annotations

import shlex
import string
from collections.abc import Mapping
from dataclasses import dataclass

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
