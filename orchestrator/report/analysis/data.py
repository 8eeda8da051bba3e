"""The data behind the report's figures, computed from a sweep's stored points.

    data = SweepData.load(store, sweep_id)
    for curve in curves(data):                   # one per mechanism, workload, idle, accept
        curve.points, curve.peak, curve.saturation

A curve is one mechanism under one workload, idle-connection count and accept-limit: its reply
rate against the request rate. At each rate, the runs (repetitions) that measured the server's own
result (`MEASURED`: ok, or saturated: the server at its cores' limit) give the mean and its 95 %
CI; `client-limited` and `failed` runs are kept apart, to be drawn as such and never averaged in
as the server's result.

Saturation is where replies stop tracking requests: the first rate at which a run served less
than 95 % of the load offered (`served_fraction`), interpolated linearly on that fraction from
the last rate that still tracked; it is found per repetition (each is a whole curve) and then
averaged. The peak is the highest mean reply rate over the rates, with that mean's interval.

Everything here is a pure function of `SweepData` (`sweep`, the one reader of the store).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from orchestrator.config.model import MECHANISMS
from orchestrator.config.plan import series_name
from orchestrator.config.servers import USERVER
from orchestrator.report.analysis.ordering import accept_order, group_order, mechanism_order
from orchestrator.report.analysis.pointmetrics import point_metrics
from orchestrator.report.analysis.stats import (
    BETTER,
    CENSORED,
    NOT_MEASURED,
    WORSE,
    Change,
    Estimate,
    change,
    estimate,
)
from orchestrator.report.analysis.sweep import SweepData
from orchestrator.results.points import StoredPoint
from orchestrator.results.records import MEASURED

TRACKING = 0.95  # replies within 5 % of the offered rate
# A server busy at least this share of its cores over the load is at its limit (`run.limits`
# judges points with it and says why 0.8; the report states it).
BUSY = 0.8
TRACKING_PERCENT, BUSY_PERCENT = 100 * TRACKING, 100 * BUSY  # as the report states them
DRAWN = ("ok", "saturated", "client-limited", "failed")  # interrupted: listed, not drawn

WORKLOAD_TITLES = {"one-byte": "one-byte workload", "specweb99": "SPECweb99-like workload"}
MECHANISM_LABELS = {
    "select": "select",
    "poll": "poll",
    "epoll-lt": "epoll-LT",
    "epoll-et": "epoll-ET",
    "epoll2": "epoll2",
    "epoll-ctlv": "epoll-ctlv",
    "io_uring": "io_uring",
}


@dataclass(frozen=True)
class Run:
    """One stored point: one repetition of one curve at one rate."""

    key: str
    repetition: int
    status: str
    reason: str
    target_rate: float
    request_rate: float | None
    reply_rate: float | None
    served: float  # the fraction of the offered load served (see `served_fraction`)
    metrics: Mapping[str, float | None] = field(default_factory=dict)  # see `pointmetrics`

    @property
    def tracks(self) -> bool:
        """Whether the replies kept up with the load offered (within 5 %)."""
        return self.served >= TRACKING


@dataclass(frozen=True)
class RatePoint:
    """A curve at one target rate: the ok runs' mean and CI, and every run."""

    rate: float
    runs: tuple[Run, ...]

    @property
    def ok(self) -> tuple[Run, ...]:
        """The runs that measured the server's own result (ok or saturated), with a reply rate."""
        return tuple(
            run for run in self.runs if run.status in MEASURED and run.reply_rate is not None
        )

    @property
    def reply(self) -> Estimate | None:
        ok = self.ok
        return estimate([run.reply_rate or 0.0 for run in ok]) if ok else None

    @property
    def request(self) -> Estimate | None:
        values = [run.request_rate for run in self.ok if run.request_rate is not None]
        return estimate(values) if values else None

    def values(self, metric: str) -> list[float]:
        """One `pointmetrics` metric of each ok run that has it (one per repetition)."""
        return [v for run in self.ok if (v := run.metrics.get(metric)) is not None]

    def metric(self, metric: str) -> Estimate | None:
        """The mean and 95 % CI of a `pointmetrics` metric over the ok runs."""
        values = self.values(metric)
        return estimate(values) if values else None

    def with_status(self, status: str) -> tuple[Run, ...]:
        return tuple(run for run in self.runs if run.status == status)


@dataclass(frozen=True)
class Saturation:
    """Where a curve stops tracking: a mean over its repetitions, or a bound.

    `estimate` when every repetition saturated inside the measured rates; otherwise `above` (not
    reached in some repetition: saturation lies above the highest rate measured) or `below`
    (already saturated at the lowest rate in some repetition)."""

    estimate: Estimate | None
    above: float | None = None
    below: float | None = None

    @property
    def bounds(self) -> tuple[float, float] | None:
        """The interval the saturation rate lies in, or None when nothing was measured."""
        if self.estimate is not None:
            return self.estimate.mean, self.estimate.mean
        if self.below is not None:
            return 0.0, self.below
        if self.above is not None:
            return self.above, math.inf
        return None

    def text(self) -> str:
        if self.estimate is not None:
            return self.estimate.text()
        if self.below is not None:
            return f"below {self.below:,.0f} (the lowest rate)"
        if self.above is not None:
            return f"not reached (above {self.above:,.0f})"
        return "not measured"


@dataclass(frozen=True)
class Curve:
    """One mechanism's reply rate against request rate under one configuration."""

    mechanism: str
    workload: str
    idle_connections: int
    accept_limit: str
    points: tuple[RatePoint, ...]  # by ascending rate
    network: str = ""  # the network profile (WAN conditions) it ran under; "": none emulated
    server: str = ""  # shown in the label when the sweep measured more than one server

    @property
    def label(self) -> str:
        """'epoll-ET'; 'userver epoll-ET' beside other servers; 'nginx' (a server without
        mechanisms is named by its series alone); '... · wan-50ms' under a network profile."""
        text = MECHANISM_LABELS.get(self.mechanism, self.mechanism)
        if self.server and self.server != self.mechanism:
            text = f"{self.server} {text}"
        return f"{text} · {self.network}" if self.network else text

    @property
    def runs(self) -> tuple[Run, ...]:
        return tuple(run for point in self.points for run in point.runs)

    @property
    def status_counts(self) -> dict[str, int]:
        """{status: the curve's runs in it}."""
        counts: dict[str, int] = {}
        for run in self.runs:
            counts[run.status] = counts.get(run.status, 0) + 1
        return counts

    @property
    def repetitions(self) -> list[int]:
        return sorted({run.repetition for run in self.runs})

    @property
    def achieved(self) -> tuple[tuple[float, int], ...]:
        """(rate, ok runs) at every rate: the n each of its points and its peak rest on, as
        run (a planned repetition can end client-limited or failed; the knee search repeats
        only the top rates)."""
        return tuple((point.rate, len(point.ok)) for point in self.points)

    def ok_runs(self, repetition: int) -> list[Run]:
        """The ok runs of one repetition, by ascending rate."""
        return [run for point in self.points for run in point.ok if run.repetition == repetition]

    @property
    def peak_point(self) -> RatePoint | None:
        """The rate with the highest mean ok reply rate (the lowest such rate on a tie), of the
        rates run most often. A knee search's later repetitions run again only some rates
        (`repeat_top`): a rate run once beside them would win by its noise alone (past the knee
        one run's reply rate varies by a quarter), with no CI to judge it by. Runs, not ok
        runs: a repeated rate whose repetition was client-limited is still a repeated rate."""
        measured = [point for point in self.points if point.reply is not None]
        most = max((len(point.runs) for point in measured), default=0)
        return max((p for p in measured if len(p.runs) == most), key=_mean_reply, default=None)

    def peak_runs(self) -> list[float]:
        """The ok reply rates at the peak rate: one per repetition that was ok there.

        Taken from the mean curve rather than as each repetition's own maximum, so that a
        repetition whose top rate was client-limited does not pull the peak down to a lower
        rate: it just contributes no run at the peak."""
        point = self.peak_point
        return [run.reply_rate or 0.0 for run in point.ok] if point else []

    @property
    def peak(self) -> Estimate | None:
        peaks = self.peak_runs()
        return estimate(peaks) if peaks else None

    @property
    def saturated(self) -> bool:
        """Whether the server ran out of capacity inside the measured rates."""
        return self.saturation.estimate is not None or self.saturation.below is not None

    def saturation_runs(self) -> list[float]:
        """Each repetition's saturation rate, of the repetitions that saturated inside the
        rates (see `saturation`)."""
        return [value for value in self._per_repetition() if isinstance(value, float)]

    @property
    def saturation(self) -> Saturation:
        """Where the curve stops tracking, over its repetitions.

        A repetition that served the lowest rate short says "below"; one that tracked up to the
        curve's highest rate says "above"; either outweighs the repetitions that did saturate
        (the curve does not saturate consistently inside the rates). A repetition that tracked
        as far as it went but lacks an ok run at a higher rate (client-limited or failed there)
        is inconclusive and left out."""
        values = self.saturation_runs()
        outcomes = self._per_repetition()
        belows = [o[1] for o in outcomes if isinstance(o, tuple) and o[0] == "below"]
        aboves = [o[1] for o in outcomes if isinstance(o, tuple) and o[0] == "above"]
        if belows:
            return Saturation(None, below=min(belows))
        if aboves:
            return Saturation(None, above=max(aboves))
        if values:
            return Saturation(estimate(values))
        inconclusive = [o[1] for o in outcomes if isinstance(o, tuple)]
        return Saturation(None, above=max(inconclusive)) if inconclusive else Saturation(None)

    def _per_repetition(self) -> list[float | tuple[str, float]]:
        """Each repetition's saturation: a rate, or ("below" | "above" | "inconclusive", rate)."""
        highest = max((point.rate for point in self.points), default=0.0)
        lowest = min((point.rate for point in self.points), default=0.0)
        outcomes: list[float | tuple[str, float]] = []
        for repetition in self.repetitions:
            ok = self.ok_runs(repetition)
            if not ok:
                continue
            found = saturation_of(ok)
            # A repetition that measured only the top of the curve (knee search, repeat_top)
            # and did not track there says nothing of where below its first rate it stopped.
            partial = min(r.target_rate for r in self.runs if r.repetition == repetition) > lowest
            if found is None:
                last = ok[-1].target_rate
                outcomes.append(("above" if last == highest else "inconclusive", last))
            elif not ok[0].tracks and partial:
                continue
            elif not ok[0].tracks:
                outcomes.append(("below", ok[0].target_rate))
            else:
                outcomes.append(found)
        return outcomes


def find_curve(
    curves: Sequence[Curve], mechanism: str, workload: str, idle: int, accept: str = "inf"
) -> Curve | None:
    """The curve of `mechanism` under one workload, idle count and accept-limit, if any."""
    return next(
        (
            c
            for c in curves
            if (c.mechanism, c.workload, c.idle_connections, c.accept_limit)
            == (mechanism, workload, idle, accept)
        ),
        None,
    )


def peak_change(base: Curve, new: Curve, threshold: float) -> Change | None:
    """`new`'s peak against `base`'s (`stats.change`), None when either has no ok run.

    A curve that did not saturate peaks at the highest rate it was measured ok at: a lower
    bound on what the server can do, cut short by the rates or by client-limited runs. A lower
    peak is therefore only a result when its curve saturated; otherwise a would-be better or
    worse is NOT_MEASURED (method CENSORED)."""
    a, b = base.peak_runs(), new.peak_runs()
    if not a or not b:
        return None
    result = change(a, b, threshold)
    lower = new if result.difference < 0 else base
    if result.verdict in (BETTER, WORSE) and not lower.saturated:
        return replace(result, verdict=NOT_MEASURED, method=CENSORED)
    return result


def saturation_of(runs: Sequence[Run]) -> float | None:
    """The rate at which `runs` (one repetition, ascending rate) stop tracking, or None.

    Between the last tracking run and the first that does not, linear in the fraction served;
    the lowest rate itself when even that did not track."""
    previous: Run | None = None
    for run in runs:
        if not run.tracks:
            if previous is None:
                return run.target_rate
            share = (previous.served - TRACKING) / (previous.served - run.served)
            return previous.target_rate + share * (run.target_rate - previous.target_rate)
        previous = run
    return None


CurveKey = tuple[str, str, int, str, str]


def runs_of(data: SweepData) -> dict[CurveKey, list[tuple[float, Run]]]:
    """Drawn runs by curve (mechanism, workload, idle, accept-limit, network profile), with
    their target rate."""
    grouped: dict[CurveKey, list[tuple[float, Run]]] = {}
    for point in data.points:
        if point.status not in DRAWN:
            continue
        key = (
            series_name(point.server_name, point.mechanism),
            point.workload,
            point.idle_connections,
            point.accept_limit,
            point.network,
        )
        run = Run(
            key=point.key,
            repetition=point.repetition,
            status=point.status,
            reason=point.reason,
            target_rate=point.target_rate,
            request_rate=point.request_rate,
            reply_rate=point.reply_rate,
            served=served_fraction(point),
            metrics=point_metrics(point),
        )
        grouped.setdefault(key, []).append((run.target_rate, run))
    return grouped


def served_fraction(point: StoredPoint | Mapping[str, Any]) -> float:
    """How much of the load offered at a point the server served (1.0: all of it).

    One request per connection (one-byte): replies against the target rate. httperf's own
    "request rate" is no measure of what was offered here: a connection the server never
    accepted in time sends no request, so overload lowers it along with the replies.
    Sessions (specweb99): a session's next request waits for the previous reply, so the
    requests sent are the offered load as long as sessions complete; a short run's sessions
    are a sample of the trace, so the target (the trace's mean) is no exact measure either.
    Served is the lower of replies against requests sent and sessions completed against
    sessions started. A Mapping is a row as `run.limits` still builds it (a summary with the
    point's workload, target rate and agents), read as a StoredPoint."""
    if not isinstance(point, StoredPoint):
        point = StoredPoint.from_row({**UNNAMED_ROW, **point})
    reply = point.reply_rate or 0.0
    if point.workload != "specweb99":
        target = point.target_rate
        return reply / target if target > 0 else 0.0
    request = point.request_rate or 0.0
    fractions = [reply / request if request > 0 else 0.0]
    started = point.agent_total("sessions_started")
    if started > 0:
        fractions.append(point.agent_total("sessions_completed") / started)
    return min(fractions)


# The columns a partial row (`served_fraction`'s Mapping) lacks and does not need.
UNNAMED_ROW: dict[str, Any] = dict(
    sweep="", key="", seq=0, mechanism="", workload="", idle_connections=0, accept_limit="inf",
    target_rate=0.0, repetition=0, status="", reason="", attempts=0, started_at=0.0, ended_at=0.0,
)  # fmt: skip


def server_of(point: StoredPoint) -> str:
    """The server a stored point measured (userver in stores from before servers)."""
    return point.server_name


def servers_of(data: SweepData) -> list[str]:
    """The servers a sweep measured, in the order of their first point."""
    return list(dict.fromkeys(point.server_name for point in data.points))


def curves(data: SweepData) -> list[Curve]:
    """Every curve of the sweep, in a stable order (workload, idle, accept-limit, mechanism;
    userver's mechanisms before other servers)."""
    result = []
    several = len(servers_of(data)) > 1
    for (series, workload, idle, accept, network), runs in runs_of(data).items():
        rates = sorted({rate for rate, _ in runs})
        points = tuple(
            RatePoint(rate, tuple(sorted((r for x, r in runs if x == rate), key=_by_rep)))
            for rate in rates
        )
        server = (USERVER if series in MECHANISMS else series.split(":")[0]) if several else ""
        result.append(Curve(series, workload, idle, accept, points, network, server))
    return sorted(result, key=_curve_order)


def _curve_order(curve: Curve) -> tuple[Any, ...]:
    return (
        *group_order((curve.workload, curve.idle_connections)),
        accept_order(curve.accept_limit),
        mechanism_order(curve.mechanism),
        curve.network,
    )


def _mean_reply(point: RatePoint) -> float:
    return point.reply.mean if point.reply is not None else -math.inf


def _by_rep(run: Run) -> int:
    return run.repetition
