"""`orchestrate export`: one row per point, as CSV or JSON, for spreadsheets and notebooks."""

from __future__ import annotations

import csv
import io
import json
import time
from collections.abc import Iterable, Sequence
from typing import Any

from orchestrator.results.points import StoredPoint
from orchestrator.results.records import PHASES
from orchestrator.results.store import Store

COLUMNS = (
    "sweep",
    "point",
    "seq",
    "mechanism",
    "workload",
    "idle_connections",
    "accept_limit",
    "target_rate",
    "repetition",
    "status",
    "reason",
    "attempts",
    "request_rate",
    "reply_rate",
    "reply_rate_min",
    "reply_rate_max",
    "reply_rate_stddev",
    "replies",
    "server_replies",
    "errors_total",
    "client_timeouts",
    "reply_time_ms",
    "connection_time_ms",
    "started_at",
    "ended_at",
    "warmup_seconds",
    "measure_seconds",
    "cooldown_seconds",
    *(f"phase_{phase}_seconds" for phase in PHASES),  # where the point's wall time went
    "network",  # the clients' network profile (WAN conditions); empty when none was emulated
    "rtts_ms",  # each client's measured round trip: "client1=20.31 client2=20.12 ..."
    "server_name",  # the server under test (last: columns added keep the earlier ones' places)
    # how busy the server was (`records.ServerCpu`; empty for points stored before it was)
    "server_cpu_seconds",
    "server_cpu_window_seconds",
    "server_cpu_cores",
    "server_cpu_utilisation",  # over the counters' window, per core it could use
    "server_cpu_busy",  # over the load's own duration, per core it could use
    "server_cpu_limit",  # the cap on its CPU in cores (`server_cpu.limit`); empty: none
)


def rows(store: Store, sweep_id: str | None = None) -> list[dict[str, Any]]:
    """Every point of one sweep (or of all sweeps, oldest first), in run order."""
    sweeps = [sweep_id] if sweep_id else [sweep.id for sweep in store.sweeps()]
    table = []
    for sweep in sweeps:
        networks = store.networks(sweep)
        for point in store.points(sweep):
            values = row(point)
            network = networks.get(point.key)
            if network is not None:
                values["network"] = network.profile
                values["rtts_ms"] = " ".join(
                    f"{host}={measured:.2f}"
                    for host, (_, measured) in network.rtts.items()
                    if measured is not None
                )
            table.append(values)
    return table


def row(point: StoredPoint) -> dict[str, Any]:
    """One stored point (as `Store.points` returns it) as an export row."""
    values = {column: point.column(column) for column in COLUMNS}
    values["point"] = point.key
    for stamp in ("started_at", "ended_at"):
        values[stamp] = _iso(point.column(stamp))
    for phase in PHASES:
        seconds = point.phases.get(phase)
        values[f"phase_{phase}_seconds"] = None if seconds is None else round(seconds, 3)
    cpu = point.server.cpu_use
    if cpu is not None:
        values["server_cpu_seconds"] = round(cpu.seconds, 4)
        values["server_cpu_window_seconds"] = round(cpu.window_seconds, 4)
        values["server_cpu_cores"] = cpu.cores
        values["server_cpu_utilisation"] = round(cpu.utilisation, 4)
        values["server_cpu_busy"] = round(cpu.busy, 4)
        values["server_cpu_limit"] = cpu.limit
    return values


def render(table: list[dict[str, Any]], fmt: str) -> str:
    if fmt == "json":
        return json.dumps(table, indent=2) + "\n"
    return csv_text(COLUMNS, [[row.get(column) for column in COLUMNS] for row in table])


# What makes a spreadsheet read a cell as a formula (OWASP, "CSV Injection"): a reason, a
# server's name or a finding's text that starts `=HYPERLINK(...)` or `@SUM(...)` would run
# when the file is opened. Tab and carriage return are on OWASP's list too.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_text(columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """`rows` under a header of `columns` as CSV, every cell through `spreadsheet_cell`: what
    every CSV file of the tool (exports and the report's data files) is written with."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([spreadsheet_cell(column) for column in columns])
    writer.writerows([spreadsheet_cell(value) for value in row] for row in rows)
    return buffer.getvalue()


def spreadsheet_cell(value: Any) -> Any:
    """Text starting with one of FORMULA_STARTS gets a leading apostrophe, which spreadsheets
    take as "this is text" and do not show; numbers stay numbers (a negative rate is -3.5,
    not text), None an empty cell. A carriage return inside text becomes a newline: the
    writer quotes a field only for the characters of its line ending ("\n"), so a bare "\r"
    would otherwise end the row early in whatever reads the file."""
    if not isinstance(value, str):
        return value
    if value.startswith(FORMULA_STARTS):
        value = "'" + value
    return value.replace("\r\n", "\n").replace("\r", "\n")


def _iso(stamp: float | None) -> str | None:
    if stamp is None:
        return None
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(stamp)) + f".{int(stamp % 1 * 1000):03d}Z"
