"""Hand-made results stores for the report's tests (written through the store's own API), and
the checks of a written report that the unit and functional tests share."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypedDict

import pytest
from PIL import Image

from orchestrator.config.plan import Point
from orchestrator.results.points import StoredPoint
from orchestrator.results.records import PointRecord, PointSummary, SweepSummary
from orchestrator.results.store import Store

HOSTS = {
    "server": {
        "role": "server",
        "kernel": "6.18.0",
        "os": "Debian GNU/Linux 12",
        "cpu_model": "Unit CPU @ 2.4GHz",
        "cpus_online": "2",
        "cpus_allowed": "1",
        "memory_kib": "4194304",
        "nics": {"exp-a": ["198.19.1.1/24"], "exp-b": ["198.19.2.1/24"]},
        "sysctls": {"net.core.somaxconn": "4096"},
    },
    "client1": {"role": "client", "kernel": "6.18.0", "nics": {"exp0": ["198.19.1.11/24"]}},
}


@dataclass
class P:
    """One point to store: its parameters, outcome and what the server reported."""

    mechanism: str
    rate: float
    reply: float | None
    rep: int = 1
    status: str = "ok"
    workload: str = "one-byte"
    idle: int = 0
    accept: int | None = None
    request: float | None = None  # default: the rate
    cpu: float = 2.0
    syscalls: dict[str, tuple[int, float]] = field(default_factory=dict)
    totals: dict[str, float] = field(default_factory=dict)
    sessions: tuple[int, int] | None = None  # started, completed (specweb99)
    window: float | None = None  # the measure phase, seconds (the counters' window)
    server: dict[str, Any] | None = None  # the server's counters as stored (default: cpu, totals)
    agents: dict[str, Any] | None = None  # the agents' results as stored
    errors: int = 0
    timeouts: int = 0
    reply_time: float | None = None  # ms
    network: str = ""  # the network profile (WAN conditions); "" = none emulated
    profiling: bool = False  # a point of Table 1's profiling pass (stored apart)


class Where(TypedDict, total=False):
    """The parts of a `P` a test holds fixed while it varies the rest (`**where`)."""

    status: str
    workload: str
    idle: int
    accept: int | None
    request: float | None
    syscalls: dict[str, tuple[int, float]]
    totals: dict[str, float]
    sessions: tuple[int, int] | None
    window: float | None
    server: dict[str, Any] | None
    agents: dict[str, Any] | None
    errors: int
    timeouts: int
    reply_time: float | None
    network: str
    profiling: bool


class WhereAtCost(Where, total=False):
    """`Where`, with the server's CPU seconds held fixed too."""

    cpu: float


def sweep_with(
    store: Store,
    points: Iterable[P],
    *,
    lab: str = "unit",
    emulate: bool = True,
    repetitions: int | None = None,
    hosts: Mapping[str, Any] | None = None,
    revision: str = "deadbeef",
    now: float = 1_800_000_000.0,
    load_engine: str | None = None,
    server_cpu_limit: float | None = None,
) -> str:
    """A complete sweep holding `points`; returns its id. `load_engine`: the load generator
    its settings record (None: none, as a sweep from before the choice); `server_cpu_limit`:
    the cap on the server's CPU they record (None: none)."""
    points = list(points)
    settings: dict[str, Any] = {
        "emulate": emulate,
        "experiment": {"repetitions": repetitions or max(p.rep for p in points)},
    }
    if load_engine is not None:
        settings["load"] = {"engine": load_engine}
    if server_cpu_limit is not None:
        settings["server_cpu"] = {"limit": server_cpu_limit}
    sweep = store.create_sweep(
        lab=lab,
        digest="digest",
        seed=1,
        points_planned=len(points),
        lab_file="version: 1\nname: unit\n",
        inventory="all: {}\n",
        revision=revision,
        hosts=hosts if hosts is not None else HOSTS,
        settings=settings,
        workloads={"seed": 1},
        now=now,
    )
    for seq, spec in enumerate(points):
        store.record_point(sweep.id, record(spec, seq))
    store.finish_sweep(sweep.id, "complete", SweepSummary(), now=now + 100)
    return sweep.id


def record(spec: P, seq: int) -> PointRecord:
    point = Point(
        spec.mechanism,
        spec.workload,
        spec.idle,
        spec.accept,
        spec.rate,
        spec.rep,
        spec.network,
        profiling=spec.profiling,
    )
    agents: dict[str, Any] = dict(spec.agents or {})
    if spec.sessions is not None:
        started, completed = spec.sessions
        agents = {
            "client1": {
                "load": {"totals": {"sessions_started": started, "sessions_completed": completed}}
            }
        }
    summary: PointSummary = {
        "request_rate": spec.rate if spec.request is None else spec.request,
        "errors_total": spec.errors,
        "client_timeouts": spec.timeouts,
        "reply_time_ms": spec.reply_time,
        "errors": {},
        "server_replies": int((spec.reply or 0) * 5),
    }
    if spec.reply is not None:  # no reply rate: the key is absent, as the store reads it
        summary["reply_rate"] = spec.reply
    return PointRecord(
        point=point,
        seq=seq,
        status=spec.status,
        reason="" if spec.status == "ok" else f"{spec.status} on purpose",
        attempt=1,
        started_at=1_800_000_000.0 + seq,
        ended_at=1_800_000_000.5 + seq,
        measure_seconds=5.0,
        phases={"measure": spec.window} if spec.window is not None else {},
        summary=summary,
        agents=agents,
        server=spec.server or {"cpu_seconds": spec.cpu, "totals": spec.totals},
        syscalls=spec.syscalls,
        network=spec.network,
        rtts={"client1": (0.0, 0.05)} if spec.network == "lan" else {},
    )


# A stored point's required columns at neutral values: `stored_point` overrides what a test needs.
ROW: dict[str, Any] = {
    "sweep": "unit",
    "key": "one-byte/idle=0/accept=inf/poll/rate=1000/rep=1",
    "seq": 0,
    "mechanism": "poll",
    "workload": "one-byte",
    "idle_connections": 0,
    "accept_limit": "inf",
    "target_rate": 1000.0,
    "repetition": 1,
    "status": "ok",
    "reason": "",
    "attempts": 1,
    "started_at": 1_800_000_000.0,
    "ended_at": 1_800_000_001.0,
}


def stored_point(**columns: Any) -> StoredPoint:
    """A point as the store returns it, from the columns a test names (JSON ones decoded)."""
    return StoredPoint.from_row({**ROW, **columns})


PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def assert_png_drawn(path: Path) -> None:
    """`path` is a valid PNG whose pixels are not all alike (something was drawn)."""
    data = path.read_bytes()
    assert data.startswith(PNG_SIGNATURE), f"{path.name}: not a PNG"
    with Image.open(path) as image:
        image.verify()  # checksums and structure
    with Image.open(path) as image:
        grey = image.convert("L")
        low, high = grey.getextrema()
        # one band: each extreme is a number, not a (low, high) pair per band
        assert not isinstance(low, tuple) and not isinstance(high, tuple), (low, high)
        assert grey.size[0] >= 400 and grey.size[1] >= 300, f"{path.name}: {grey.size}"
        assert high - low > 100, f"{path.name}: blank ({low}..{high})"
        histogram = grey.histogram()
        # Not one flat colour with a few specks: at least 1 % of the pixels are not background.
        assert sum(histogram) - max(histogram) > 0.01 * sum(histogram), f"{path.name}: near blank"


def csv_rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


# Two-sided 95 % Student t critical values by degrees of freedom (printed tables, not our code).
T_975 = {1: 12.7062047, 2: 4.30265273, 3: 3.18244631, 4: 2.77644511, 5: 2.57058184}


def assert_figures_match_store(directory: Path, store: Store, sweep: str) -> None:
    """Every figure CSV row is what the stored points it names say, and so is points.csv."""
    points = store.points(sweep)
    rows = csv_rows(directory / "points.csv")  # as `orchestrate export` writes them
    assert [row["point"] for row in rows] == [point.key for point in points]
    for row, point in zip(rows, points, strict=True):
        assert row["status"] == point.status
        for column in ("target_rate", "request_rate", "reply_rate"):
            expected = point.column(column)
            assert (float(row[column]) if row[column] else None) == expected, (row, column)
    by_key = {point.key: point for point in points}
    figure_csvs = sorted(directory.glob("figure-*.csv"))
    assert figure_csvs and len(figure_csvs) == len(list(directory.glob("figure-*.png")))
    covered: set[str] = set()
    for path in figure_csvs:
        if "reply_rate_mean" not in path.read_text().partition("\n")[0]:
            continue  # a figure beyond the paper that draws other metrics
        for row in csv_rows(path):
            runs = [by_key[key] for key in row["keys"].split()]
            assert runs, row
            for run in runs:
                assert (run.mechanism, run.accept_limit, run.target_rate) == (
                    row["mechanism"],
                    row["accept_limit"],
                    float(row["target_rate"]),
                )
            # the server's own result: ok, or saturated (at its cores' limit)
            measured = [run for run in runs if run.status in ("ok", "saturated")]
            ok = [run.reply_rate for run in measured if run.reply_rate is not None]
            assert len(ok) == len(measured), row  # every measured run has its reply rate
            assert int(row["ok_runs"]) == len(ok)
            saturated = sum(1 for run in runs if run.status == "saturated")
            assert int(row["saturated_runs"]) == saturated
            if not ok:
                assert row["reply_rate_mean"] == ""
            else:
                mean = sum(ok) / len(ok)
                assert float(row["reply_rate_mean"]) == pytest.approx(mean, rel=1e-12)
                if len(ok) > 1:
                    sd = (sum((x - mean) ** 2 for x in ok) / (len(ok) - 1)) ** 0.5
                    half = T_975[len(ok) - 1] * sd / len(ok) ** 0.5
                    assert float(row["reply_rate_ci_low"]) == pytest.approx(mean - half, rel=1e-6)
                    assert float(row["reply_rate_ci_high"]) == pytest.approx(mean + half, rel=1e-6)
                else:
                    assert row["reply_rate_ci_low"] == row["reply_rate_ci_high"] == ""
            limited = [run for run in runs if run.status == "client-limited"]
            assert int(row["client_limited_runs"]) == len(limited)
            assert [float(x) for x in row["client_limited_reply_rates"].split()] == [
                run.reply_rate for run in limited
            ]
            assert int(row["failed_runs"]) == sum(1 for run in runs if run.status == "failed")
            covered.update(row["keys"].split())
    drawn = {point.key for point in points if point.status != "interrupted"}
    assert drawn == covered


def new_sweep(store: Store, **changes: Any) -> str:
    fields: dict[str, Any] = dict(
        lab="unit",
        digest="abc",
        seed=1,
        points_planned=2,
        lab_file="version: 1\n",
        inventory="all: {}\n",
        revision="deadbeef",
        hosts={"server": {"kernel": "6.1"}},
        settings={"duration": 5},
        workloads={"seed": 1},
        now=1_000_000.0,
    )
    fields.update(changes)
    return store.create_sweep(**fields).id


LT_CALLS = {
    "read": (9000, 0.5),
    "close": (9000, 0.4),
    "epoll_ctl": (18000, 0.6),
    "epoll_wait": (3000, 0.3),
    "accept4": (9000, 0.2),
}


def repeated(reps: int = 3) -> list[P]:
    """Two mechanisms, two idle counts, three rates, `reps` repetitions, every status."""
    points = []
    for rep in range(1, reps + 1):
        wobble = 1 + 0.01 * rep
        for idle in (0, 1000):
            for rate in (1000, 2000, 3000):
                points.append(
                    P(
                        "epoll-lt",
                        rate,
                        min(rate, 2500) * wobble,
                        rep=rep,
                        idle=idle,
                        syscalls=LT_CALLS,
                        reply_time=0.5 + rate / 2000,
                    )
                )
                capacity = 2400 if idle == 0 else 1200
                status = "client-limited" if (rate, rep) == (3000, 2) else "ok"
                points.append(
                    P(
                        "select",
                        rate,
                        min(rate, capacity) * wobble,
                        rep=rep,
                        idle=idle,
                        status=status,
                        syscalls={"read": (9000, 0.5)},
                        reply_time=0.5 + rate / (1000 if idle else 2000),
                        errors=max(0, rate - capacity) // 10,
                    )
                )
    points.append(P("select", 3000, None, rep=reps + 1, status="failed"))
    return points
