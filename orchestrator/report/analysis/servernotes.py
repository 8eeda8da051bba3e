"""What the report says about the servers a sweep measured: which ones lack which columns.

    notes = lacking(data)        # {"nginx": ["syscalls", "server_replies", ...]}

A server without the testbed's counters (nginx, a user's binary) has no per-syscall table, no
reply count of its own and no open-connection count; the report names those columns for it
rather than showing zeros. Its CPU comes from /proc (its process group's utime + stime).
"""

from __future__ import annotations

from orchestrator.report.analysis.sweep import SweepData

COLUMN_NAMES = {
    "syscalls": "system calls (Table 1)",
    "server_replies": "the server's own reply count",
    "open_connections": "open connections",
}


def lacking(data: SweepData) -> dict[str, list[str]]:
    """{server: the columns its points lack}, for servers that lack any (first point's say)."""
    found: dict[str, list[str]] = {}
    for point in data.points:
        lacks = point.server.lacks
        if lacks is not None and point.server_name not in found:
            found[point.server_name] = list(lacks)
    return found
