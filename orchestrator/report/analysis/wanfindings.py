"""Beyond the paper (its section 7): each mechanism under WAN conditions against its LAN curve.

    base = base_network(curves)            # '' (nothing emulated) or 'lan': the paper's links
    paper_curves(curves)                   # the curves the paper's findings are judged on
    wan_statements(data, curves)           # one line per WAN curve, findings-style
    round_trips(points)                    # [RoundTrips]: each client's measured against expected

A WAN round trip keeps each connection open longer, so at the same request rate the server
holds more connections at once: the load agents' `max_concurrent_connections` (httperf's
"<=N concurrent connections", summed over the agents) says how many. Each statement gives the
peak reply rate against the LAN curve's, as a change with its 95 % CI (`data.peak_change`). A
peak the clients cut short (client-limited above it, the server never saturated there) is
stated as "at least" that (`peak_text`): on this machine's emulated lab, epoll's WAN peaks read
as worse than select's, when it was the load generators that stopped them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from orchestrator.report.analysis.data import Curve, RatePoint, peak_change
from orchestrator.report.analysis.stats import Estimate, estimate
from orchestrator.report.analysis.sweep import SweepData
from orchestrator.results.points import StoredPoint

THRESHOLD = 0.10  # as the paper's findings: a change under 10 % is no change


def base_network(curves: Sequence[Curve]) -> str:
    """The network the paper's findings are judged on: none emulated, else `lan`, else the
    first profile (a sweep of WAN profiles only)."""
    names = {curve.network for curve in curves}
    for name in ("", "lan"):
        if name in names:
            return name
    return min(names, default="")


def paper_curves(curves: Sequence[Curve]) -> list[Curve]:
    base = base_network(curves)
    return [curve for curve in curves if curve.network == base]


def concurrency(points: Mapping[str, StoredPoint], at: RatePoint) -> Estimate | None:
    """Concurrent connections the agents held at once, over the ok runs at one rate."""
    values = []
    for run in at.ok:
        point = points.get(run.key)
        agents = point.agents.values() if point is not None else ()
        numbers = [n for a in agents if (n := a.max_concurrent_connections) is not None]
        if numbers:
            values.append(float(sum(numbers)))
    return estimate(values) if values else None


def wan_statements(data: SweepData, curves: Sequence[Curve]) -> list[str]:
    """One line per curve under a WAN profile that has a LAN curve to compare with."""
    base = base_network(curves)
    points = {point.key: point for point in data.points}
    by_identity = {_identity(curve): curve for curve in curves if curve.network == base}
    lines = []
    for curve in curves:
        lan = by_identity.get(_identity(curve)) if curve.network != base else None
        if lan is None:
            continue
        where = f"{curve.workload}, {curve.idle_connections} idle, accept={curve.accept_limit}"
        change = peak_change(lan, curve, THRESHOLD)
        peak, lan_peak = peak_text(curve), peak_text(lan)
        lines.append(
            f"{curve.label} ({where}): peak {peak} against {lan_peak} on {base or 'the LAN'}"
            f" ({change.text() if change else 'not measured'});"
            f" concurrent connections at the peak {_held(points, curve)}"
            f" against {_held(points, lan)}"
        )
    return lines


def clients_stopped_at(curve: Curve) -> float | None:
    """The lowest rate above the curve's peak at which its clients, not its server, were the
    limit (client-limited runs, and no run there that the server's CPU judged saturated): the
    peak is then a lower bound of what the server can do under that profile. None otherwise."""
    top = curve.peak_point
    if top is None:
        return None
    above = [point for point in curve.points if point.rate > top.rate]
    if any(point.with_status("saturated") for point in above):
        return None
    limited = [point.rate for point in above if point.with_status("client-limited")]
    return min(limited, default=None)


def peak_text(curve: Curve) -> str:
    """'2,950 ± 40 (n=3)', or 'at least …' with where the clients stopped it."""
    if curve.peak is None:
        return "no ok run"
    stopped = clients_stopped_at(curve)
    if stopped is None:
        return curve.peak.text()
    return (
        f"at least {curve.peak.text()} (client-limited from {stopped:,.0f} req/s, the server"
        " having headroom: a bound of this lab's load generators, not of the server)"
    )


def _held(points: Mapping[str, StoredPoint], curve: Curve) -> str:
    peak = curve.peak_point
    held = concurrency(points, peak) if peak is not None else None
    return f"{held.text()} at {peak.rate:,.0f} req/s" if held and peak else "not measured"


def _identity(curve: Curve) -> tuple[str, str, int, str]:
    return (curve.mechanism, curve.workload, curve.idle_connections, curve.accept_limit)


def measured_rtts(points: Iterable[StoredPoint]) -> dict[tuple[str, str], list[float]]:
    """{(profile, client): [each distinct round trip measured, ms]}; a measurement is stored
    with every point of its group, so repeats of one value are one measurement."""
    found: dict[tuple[str, str], list[float]] = {}
    for point in points:
        for client, (_, measured) in point.rtts.items():
            values = found.setdefault((point.network, client), [])
            if measured is not None and measured not in values:
                values.append(measured)
    return found


@dataclass(frozen=True)
class RoundTrips:
    """A client's round trips under one profile: the profile's, and the range measured."""

    profile: str
    client: str
    expected: float
    lowest: float | None
    highest: float | None
    measurements: int


def round_trips(points: Iterable[StoredPoint]) -> list[RoundTrips]:
    """Per (profile, client), what the profile should give beside what was measured."""
    listed = list(points)
    wanted = {
        (point.network, client): values[0]
        for point in listed
        for client, values in point.rtts.items()
    }
    return [
        RoundTrips(
            profile,
            client,
            wanted[(profile, client)],
            min(values) if values else None,
            max(values) if values else None,
            len(values),
        )
        for (profile, client), values in sorted(measured_rtts(listed).items())
    ]
