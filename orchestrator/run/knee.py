"""The knee search: where each curve of a `rates: {to: auto}` sweep stops climbing, and what the
load agents' verdicts say about how fast the clients can offer load.

    curves = Curves(enabled=True)
    curves.restore(store.points(sweep.id))        # resume: the endings follow from stored points
    if not curves.skip(point): ... curves.add(record.point, record.status, served)

A curve is one mechanism under one workload, idle count and accept-limit, in one repetition (each
repetition climbs on its own, as each is a whole curve for the report). Its points arrive in
ascending rate (the plan's order). `curve_end` decides, from the final outcome of each point:

    client-limited   the load agents could not offer the rate (their own verdict): the curve
                     cannot say more about the server, so it ends at that point
    saturated        two points in a row where the server served less than `TRACKING` of the
                     offered rate (the report's own criterion): the knee is behind it
    upper bound      neither, and the ladder's top rate was measured (`finish`)

With `repeat_top: K`, a repetition after the first climbs no ladder of its own: it measures again
the K highest rates the first repetition measured ok on that curve (the rates the findings are
judged at, now with CIs), and ends there ("top repeated") unless it ended earlier as above.

A failed point says nothing either way and neither ends nor resets a curve. The ending is a pure
function of the stored points, so a resumed sweep finds every decision again; the endings are
also written to the sweep's settings (`settings()`) for the report and `up`'s summary.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from orchestrator.config.plan import Point, accept_label
from orchestrator.report.data import TRACKING, served_fraction
from orchestrator.report.reach import describe_capacity
from orchestrator.results.records import PointRecord

SATURATED, CLIENT_LIMITED, BOUND = "saturated", "client-limited", "upper bound"
REPEATED = "top repeated"  # a later repetition that measured again the first one's top rates
SATURATED_POINTS = 2  # points in a row below TRACKING that end a curve

# workload, idle, accept-limit, mechanism, repetition, network profile ("": no network axis)
CurveKey = tuple[str, int, str, str, int, str]


@dataclass(frozen=True)
class Outcome:
    """The final outcome of one point of a curve: its rate, status and the share served."""

    rate: float
    status: str  # ok, client-limited or failed
    served: float  # replies against the offered load (report.data.served_fraction)


@dataclass(frozen=True)
class Ending:
    """Why a curve stopped climbing, and at which rate (the last point it ran)."""

    reason: str  # SATURATED, CLIENT_LIMITED or BOUND
    rate: float


def curve_end(outcomes: Sequence[Outcome], tracking: float = TRACKING) -> Ending | None:
    """Where a curve whose points ended as `outcomes` (ascending rate) stops, or None: climb on."""
    below = 0
    for outcome in outcomes:
        if outcome.status == "client-limited":
            return Ending(CLIENT_LIMITED, outcome.rate)
        if outcome.status != "ok":
            continue
        below = below + 1 if outcome.served < tracking else 0
        if below >= SATURATED_POINTS:
            return Ending(SATURATED, outcome.rate)
    return None


def curve_key(point: Point) -> CurveKey:
    return (
        point.workload,
        point.idle_connections,
        accept_label(point.accept_limit),
        point.mechanism,
        point.repetition,
        point.network,
    )


def curve_label(key: CurveKey) -> str:
    """'one-byte/idle=0/accept=inf/select/rep=1', like a point's key without its rate; on a
    plan's network axis each profile's curve climbs on its own: '.../select · wan-50ms/rep=1',
    as the report labels that curve."""
    workload, idle, accept, mechanism, repetition, network = key
    curve = f"{mechanism} · {network}" if network else mechanism
    return f"{workload}/idle={idle}/accept={accept}/{curve}/rep={repetition}"


class Curves:
    """The knee search's state over a sweep (see the module docstring). Disabled, it records
    outcomes (for the clients' capacity) but never skips a point."""

    def __init__(self, enabled: bool, repeat_top: int | None = None) -> None:
        self.enabled = enabled
        self.repeat_top = repeat_top if enabled else None
        self.outcomes: dict[CurveKey, list[Outcome]] = {}
        self.endings: dict[CurveKey, Ending] = {}
        self.offered: list[tuple[str, float, float | None]] = []  # status, target, issued

    def skip(self, point: Point) -> bool:
        """Whether `point` lies beyond the end of its curve (or, repeating the first
        repetition's top, below that top)."""
        key = curve_key(point)
        if not self.enabled or key in self.endings:
            return self.enabled
        return bool(self.repeat_top) and point.repetition > 1 and point.rate not in self.top(key)

    def top(self, key: CurveKey) -> list[float]:
        """The `repeat_top` highest rates the first repetition of `key`'s curve measured ok
        (a client-limited rate measured again would be the clients' result again)."""
        first = (*key[:4], 1, key[5])  # the same curve's first repetition
        ran = self.outcomes.get(first, [])
        rates = sorted({outcome.rate for outcome in ran if outcome.status == "ok"})
        return rates[-(self.repeat_top or 1) :]

    def add(
        self, point: Point, status: str, served: float, issued: float | None = None
    ) -> Ending | None:
        """Take a point's final outcome; returns its curve's ending if this point ended it."""
        key = curve_key(point)
        if status in ("ok", "client-limited"):
            self.offered.append((status, point.rate, issued))
        if key in self.endings:
            return None
        outcomes = self.outcomes.setdefault(key, [])
        outcomes.append(Outcome(point.rate, status, served))
        ending = curve_end(outcomes) if self.enabled else None
        if ending is not None:
            self.endings[key] = ending
        return ending

    def add_record(self, record: PointRecord) -> Ending | None:
        """`add` for a point the sweep just ran (its final attempt); interrupted: nothing."""
        if record.status == "interrupted":
            return None
        issued = record.summary.get("request_rate")
        return self.add(record.point, record.status, served(record), issued)

    def restore(self, stored: Iterable[Mapping[str, Any]]) -> None:
        """Replay the stored points of a sweep (store.points, in run order)."""
        for row in stored:
            if row["status"] not in ("ok", "client-limited", "failed"):
                continue
            point = Point(
                row["mechanism"],
                row["workload"],
                int(row["idle_connections"]),
                None if row["accept_limit"] == "inf" else int(row["accept_limit"]),
                float(row["target_rate"]),
                int(row["repetition"]),
            )
            share = served_fraction(dict(row))
            self.add(point, row["status"], share, _float(row.get("request_rate")))

    def finish(self, plan: Sequence[Point], done: set[str]) -> None:
        """Curves that ran their top rate without ending reached the ladder's upper bound (or,
        repeating the first repetition's top, that top)."""
        if not self.enabled:
            return
        tops: dict[CurveKey, float] = {}
        for point in plan:
            key = curve_key(point)
            tops[key] = max(tops.get(key, 0.0), point.rate)
        for point in plan:
            key = curve_key(point)
            if key in self.endings or point.key not in done:
                continue
            if self.repeat_top and point.repetition > 1:
                if point.rate == max(self.top(key), default=None):
                    self.endings[key] = Ending(REPEATED, point.rate)
            elif point.rate == tops[key]:
                self.endings[key] = Ending(BOUND, point.rate)

    def capacity(self) -> ClientCapacity:
        return client_capacity(self.offered)

    def settings(self) -> dict[str, Any]:
        """What the sweep records in its settings: each ended curve and the clients' capacity."""
        return {
            "curve_endings": {
                curve_label(key): {"ended_by": ending.reason, "rate": ending.rate}
                for key, ending in sorted(self.endings.items())
            },
            "client_capacity": self.capacity().as_dict(),
        }

    def describe(self) -> list[str]:
        """One line per ended curve, for `up`'s summary."""
        return [
            f"{curve_label(key)}: {ending.reason} at {ending.rate:,.0f} requests/s"
            for key, ending in sorted(self.endings.items())
        ]


@dataclass(frozen=True)
class ClientCapacity:
    """How fast the clients offered load, by the load agents' own verdict over the sweep.

    `kept_up`: the highest rate at which every agent kept its schedule; `fell_behind`: the
    lowest at which one did not (client-limited); `issued`: the most the clients issued at
    such a point (their measured capacity). The capacity lies in [kept_up, fell_behind)."""

    kept_up: float | None
    fell_behind: float | None
    issued: float | None

    def as_dict(self) -> dict[str, float | None]:
        return {"kept_up": self.kept_up, "fell_behind": self.fell_behind, "issued": self.issued}

    def describe(self) -> str:
        return describe_capacity(self.as_dict())


def client_capacity(offered: Iterable[tuple[str, float, float | None]]) -> ClientCapacity:
    """The clients' capacity from (status, target rate, rate issued) of every measured point."""
    offered = list(offered)
    kept = [rate for status, rate, _ in offered if status == "ok"]
    behind = [(rate, issued) for status, rate, issued in offered if status == "client-limited"]
    issued = [value for _, value in behind if value is not None]
    return ClientCapacity(
        max(kept) if kept else None,
        min(rate for rate, _ in behind) if behind else None,
        max(issued) if issued else None,
    )


def upper_bound(points: Sequence[Point], repeat_top: int | None) -> list[Point]:
    """The points a knee search runs at most: every rate of the first repetition, and of the
    later ones every rate (or only the ladder's `repeat_top` highest)."""
    if not repeat_top:
        return list(points)
    ladder = sorted({point.rate for point in points})[-repeat_top:]
    return [p for p in points if p.repetition == 1 or p.rate in ladder]


def served(record: PointRecord) -> float:
    """The share of the offered load a point's server served, as the report computes it."""
    row = {
        **record.summary,
        "workload": record.point.workload,
        "target_rate": record.point.rate,
        "agents": record.agents,
    }
    return served_fraction(row)


def _float(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) else None
