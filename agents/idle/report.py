"""The idle agent's JSON object (its schema in ``README.md`` beside this file): what a hold
did, stopped now. The one-shot agent prints it; the idle service answers each hold's stop
with it."""

from __future__ import annotations

import resource
import time
from collections.abc import Mapping
from typing import Any

__all__ = ["SCHEMA", "report"]

SCHEMA = "testbed.idle/1"


def report(
    *,
    host: str | None,
    server: str,
    port: int,
    target: int,
    started_at: float,
    error: str | None = None,
    body: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The agent's JSON object (module docstring), stopped now. ``body``: the agent's
    ``summary()`` and ``open_at_stop``, or nothing when it could not run (``error`` says why).
    ``agents.idle.service`` answers each hold's stop with the same object."""
    stopped_at = time.time()
    out: dict[str, Any] = {
        "schema": SCHEMA,
        "error": error,
        "host": host or None,
        "server": server,
        "port": port,
        "target": target,
    }
    out.update(body or {})
    out.update(
        {
            "started_at": started_at,
            "stopped_at": stopped_at,
            "duration_s": round(stopped_at - started_at, 3),
            "rlimit_nofile": resource.getrlimit(resource.RLIMIT_NOFILE)[0],
            "max_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
        }
    )
    return out
