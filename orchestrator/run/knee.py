"""The knee search: where each curve of a `rates: {to: auto}` sweep stops climbing, and what the
points' verdicts (`run.limits`) say about how fast the clients can offer load.

    curves = Curves(enabled=True)
    curves.restore(store.points(sweep.id), plan)  # resume: the endings follow from stored points
    if not curves.skip(point): ... curves.add(record.point, record.status, served)

A curve is one mechanism under one workload, idle count and accept-limit, in one repetition (each
repetition climbs on its own, as each is a whole curve for the report). Its points arrive in
ascending rate (the plan's order). `curve_end` decides, from the final outcome of each point:

    saturated        a saturated point whose backlog reached the clients (an agent fell behind:
                     fd-unavail), or two points in a row that served less than `TRACKING` of the
                     offered rate (ok or saturated: the report's own criterion)
    client-limited   the load agents could not offer the rate while the server had headroom:
                     the curve cannot say more about the server, so it ends at that point
    upper bound      neither, and the ladder's top rate was measured (`finish`)

A saturated point counts as a point below `TRACKING`. One is enough when its clients fell behind:
the server's backlog overflowed them, and a higher rate would only add to it (at ~20 s a point
of the 15-minute default sweep). One where every client kept up served just under `TRACKING`
at its cores' limit: select and poll with many idle connections run near that limit over a
wide range of rates and keep serving by batching, so one such point may be a dip; a second in
a row confirms it. Each ending carries its evidence (the deciding point's verdict, or the
served fractions).

With `repeat_top: K`, a repetition after the first climbs no ladder of its own: it measures again
the K rates at which the first repetition served the most, of those it measured as the server's
own result (ok or saturated: the curve's peak, where peaks are compared), and the *common rate*:
the highest rate at which every curve of the same workload and network profile was ok in the
first repetition, where curves are compared by the server's CPU per reply. Both sides of every
comparison then rest on the same number of runs. It ends there ("top repeated") unless it ended
earlier as above.

The clients' capacity (`client_capacity`) counts only the clients' own limits: a saturated point
is the server's, not the clients falling behind, and the clients kept up wherever no agent fell
behind, whatever the server served.

A failed point says nothing either way and neither ends nor resets a curve. The ending is a pure
function of the stored points, so a resumed sweep finds every decision again; the endings are
also written to the sweep's settings (`settings()`) for the report and `up`'s summary.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from orchestrator.config.plan import Point, accept_label
from orchestrator.report.analysis.data import TRACKING
from orchestrator.report.analysis.reach import ClientCapacity
from orchestrator.results.points import StoredPoint
from orchestrator.results.records import FINAL_STATUSES, MEASURED, PointRecord
from orchestrator.run.limits import PointFacts

SATURATED, CLIENT_LIMITED, BOUND = "saturated", "client-limited", "upper bound"
REPEATED = "top repeated"  # a later repetition that measured again the first one's top rates
SATURATED_POINTS = 2  # points in a row below TRACKING that end a curve

# workload, idle, accept-limit, mechanism, repetition, network profile ("": no network axis)
CurveKey = tuple[str, int, str, str, int, str]


@dataclass(frozen=True)
class Outcome:
    """The final outcome of one point of a curve: its rate, status, the share served and the
    evidence of its verdict (`run.limits`; "" for an ok point)."""

    rate: float
    status: str  # ok, saturated, client-limited or failed
    served: float  # replies against the offered load (report.data.served_fraction)
    evidence: str = ""
    kept_up: bool = True  # every agent kept its schedule


@dataclass(frozen=True)
class Ending:
    """Why a curve stopped climbing, at which rate (the last point it ran), and the evidence."""

    reason: str  # SATURATED, CLIENT_LIMITED, BOUND or REPEATED
    rate: float
    evidence: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {"ended_by": self.reason, "rate": self.rate, "evidence": self.evidence}


def curve_end(outcomes: Sequence[Outcome], tracking: float = TRACKING) -> Ending | None:
    """Where a curve whose points ended as `outcomes` (ascending rate) stops, or None: climb on."""
    below: list[Outcome] = []
    for outcome in outcomes:
        if outcome.status == "client-limited":
            return Ending(CLIENT_LIMITED, outcome.rate, outcome.evidence)
        if outcome.status == "saturated" and not outcome.kept_up:
            return Ending(SATURATED, outcome.rate, outcome.evidence)
        if outcome.status not in MEASURED:
            continue
        below = [*below, outcome] if outcome.served < tracking else []
        if len(below) >= SATURATED_POINTS:
            served = " and ".join(f"{100 * o.served:.0f} % at {o.rate:,.0f}" for o in below)
            evidence = (
                f"{len(below)} points in a row below {100 * tracking:.0f} % of the offered rate"
                f" (served {served})"
            )
            if outcome.status == "saturated":
                evidence += f"; at {outcome.rate:,.0f}: {outcome.evidence}"
            else:
                evidence += ", the server's CPU not at its cores' limit or unknown"
            return Ending(SATURATED, outcome.rate, evidence)
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
        self.offered: list[Offer] = []  # every measured point, for the clients' capacity
        self.facts: list[PointFacts] = []  # the sweep's evidence (`run.limits`), run order

    def skip(self, point: Point) -> bool:
        """Whether `point` lies beyond the end of its curve (or, repeating the first
        repetition's top, below that top)."""
        key = curve_key(point)
        if not self.enabled or key in self.endings:
            return self.enabled
        return bool(self.repeat_top) and point.repetition > 1 and point.rate not in self.top(key)

    def top(self, key: CurveKey) -> list[float]:
        """The `repeat_top` rates at which the first repetition of `key`'s curve served the
        most, of those it measured as the server's own result (ok or saturated; a client-limited
        rate measured again would be the clients' result again), ascending. Below the knee
        those are its highest rates; past it, where the peak is (select's can lie before its
        saturated point)."""
        first = (*key[:4], 1, key[5])  # the same curve's first repetition
        measured = {
            o.rate: o.served * o.rate for o in self.outcomes.get(first, []) if o.status in MEASURED
        }
        best = sorted(measured, key=lambda rate: (measured[rate], rate))[-(self.repeat_top or 1) :]
        common = self.common_rate(key)
        return sorted({*best, *([common] if common is not None and best else [])})

    def common_rate(self, key: CurveKey) -> float | None:
        """The highest rate at which every curve of `key`'s workload and network profile was ok
        in its first repetition (curves with no ok point there left out): where the report
        compares curves by CPU per reply, so a later repetition measures it again too."""
        oks = [
            {o.rate for o in outcomes if o.status == "ok"}
            for other, outcomes in self.outcomes.items()
            if other[4] == 1 and (other[0], other[5]) == (key[0], key[5])
        ]
        common = set.intersection(*[rates for rates in oks if rates] or [set()])
        return max(common) if common else None

    def add(
        self,
        point: Point,
        status: str,
        served: float,
        issued: float | None = None,
        *,
        kept_up: bool | None = None,
        evidence: str = "",
    ) -> Ending | None:
        """Take a point's final outcome; returns its curve's ending if this point ended it.
        `kept_up`: whether every agent kept its schedule (default: the status is ok)."""
        key = curve_key(point)
        kept = status == "ok" if kept_up is None else kept_up
        if status != "failed":
            self.offered.append(Offer(point, status, issued, kept, evidence))
        if key in self.endings:
            return None
        outcomes = self.outcomes.setdefault(key, [])
        outcomes.append(Outcome(point.rate, status, served, evidence, kept))
        ending = curve_end(outcomes) if self.enabled else None
        if ending is not None:
            self.endings[key] = ending
        return ending

    def add_record(self, record: PointRecord) -> Ending | None:
        """`add` for a point the sweep just ran (its final attempt); interrupted: nothing."""
        if record.status == "interrupted":
            return None
        facts = PointFacts.of_record(record)
        issued = _float(record.summary.get("request_rate"))
        return self._add_facts(facts, record.point, record.status, record.reason, issued)

    def restore(self, stored: Iterable[StoredPoint], plan: Sequence[Point] = ()) -> None:
        """Replay the stored points of a sweep (store.points, in run order); `plan` gives each
        its network profile and server (a point not in it is rebuilt from its columns)."""
        planned = {point.key: point for point in plan}
        for stored_point in stored:
            if stored_point.status not in FINAL_STATUSES:
                continue
            point = planned.get(stored_point.key) or Point(
                stored_point.mechanism,
                stored_point.workload,
                stored_point.idle_connections,
                None if stored_point.accept_limit == "inf" else int(stored_point.accept_limit),
                stored_point.target_rate,
                stored_point.repetition,
            )
            facts = PointFacts.of_stored(stored_point, point)
            status, reason = stored_point.status, stored_point.reason
            self._add_facts(facts, point, status, reason, stored_point.request_rate)

    def _add_facts(
        self, facts: PointFacts, point: Point, status: str, reason: str, issued: float | None
    ) -> Ending | None:
        if status != "failed":
            self.facts.append(facts)
        evidence = reason if status != "ok" else ""
        return self.add(
            point, status, facts.served, issued, kept_up=facts.kept_up, evidence=evidence
        )

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

    def capacity(self, workload: str | None = None) -> ClientCapacity:
        """The clients' capacity over the sweep's points (of one workload, if given)."""
        return client_capacity(o for o in self.offered if workload in (None, o.point.workload))

    def settings(self) -> dict[str, Any]:
        """What the sweep records in its settings: each ended curve and the clients' capacity
        (over the sweep, and per workload: their rates are offered differently)."""
        workloads = sorted({offer.point.workload for offer in self.offered})
        return {
            "curve_endings": {
                curve_label(key): ending.as_dict() for key, ending in sorted(self.endings.items())
            },
            "client_capacity": self.capacity().as_dict(),
            "client_capacity_by_workload": {w: self.capacity(w).as_dict() for w in workloads},
        }

    def describe(self) -> list[str]:
        """One line per ended curve, for `up`'s summary, with the evidence that ended it."""
        return [
            f"{curve_label(key)}: {ending.reason} at {ending.rate:,.0f} requests/s"
            + (f" ({ending.evidence})" if ending.evidence else "")
            for key, ending in sorted(self.endings.items())
        ]


@dataclass(frozen=True)
class Offer:
    """One measured point as the clients' capacity sees it: its status, the rate the clients
    issued, whether every agent kept its schedule, and its verdict's evidence."""

    point: Point
    status: str
    issued: float | None
    kept_up: bool
    evidence: str = ""


def client_capacity(offered: Iterable[Offer]) -> ClientCapacity:
    """The clients' capacity from every measured point: they kept up wherever every agent kept
    its schedule (an ok point, or a saturated one whose clients still did), and fell behind
    only at client-limited points; saturated points where agents fell behind are the server's
    backlog, not the clients' limit, and are named as such in the evidence."""
    offered = list(offered)
    kept = max((o for o in offered if o.kept_up), key=_rate, default=None)
    behind = [o for o in offered if o.status == "client-limited"]
    first = min(behind, key=_rate, default=None)
    issued = [o.issued for o in behind if o.issued is not None]
    server = [o for o in offered if o.status == "saturated" and not o.kept_up]
    evidence = []
    if kept is not None:
        evidence.append(f"kept up with {kept.point.rate:,.0f} at {kept.point.key}")
    if first is not None:
        evidence.append(
            f"fell behind at {first.point.rate:,.0f} at {first.point.key}"
            + (f" ({first.evidence})" if first.evidence else "")
        )
    if server:
        evidence.append(
            f"not counted as falling behind: {len(server)} saturated point"
            f"{'s' if len(server) != 1 else ''} where the server's backlog held the clients"
            f" back ({', '.join(o.point.key for o in server)})"
        )
    return ClientCapacity(
        kept.point.rate if kept else None,
        first.point.rate if first else None,
        max(issued) if issued else None,
        kept.point.key if kept else None,
        first.point.key if first else None,
        "; ".join(evidence),
    )


def _rate(offer: Offer) -> float:
    return offer.point.rate


def upper_bound(points: Sequence[Point], repeat_top: int | None) -> list[Point]:
    """The points a knee search runs at most: every rate of the first repetition, and of the
    later ones every rate (or, with `repeat_top`, as many as it repeats: its top rates and the
    common rate, counted as the ladder's highest)."""
    if not repeat_top:
        return list(points)
    ladder = sorted({point.rate for point in points})[-(repeat_top + 1) :]
    return [p for p in points if p.repetition == 1 or p.rate in ladder]


def _float(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) else None
