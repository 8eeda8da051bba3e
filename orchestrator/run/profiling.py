"""Table 1's profiling pass (`experiment.profile`): the rate each profiled group runs at.

    choices = choose_rates(lab.experiment, store.points(sweep.id))   # {group: RateChoice}
    points = profile_plan(lab.experiment, choices, seed)             # Points, `profiling` set
    store.update_settings(sweep.id, {PROFILE_RATES: rates_settings(choices)})

The paper profiled its server with gprof apart from the throughput runs, at 22,000 requests/s
near saturation (its Table 1). Timing each call's CPU costs our server about 30 % more CPU per
reply, so the pass runs after the throughput points, one point per mechanism of each profiled
group, and its points are stored apart from them (never part of a curve).

A configured `rate` is taken as it is. `auto` takes, per group, the highest rate at which every
mechanism of the group was ok in every run of this sweep's throughput points on the lab's own
links: the most load they all served as themselves, which on a knee search is where the first
of them neared its knee. Failing that, the highest rate at which each was ok in at least one
run: near a knee a repetition can saturate where the others did not (on two cores, poll with
19,000 idle connections at 10,000 requests/s), and a profile there is still a profile of that
load, as the paper's own was taken near saturation. A group with neither is not profiled, and
the report says why.

Pure: `up` hands it the stored points once the throughput points are all done, so a resumed
sweep chooses the same rates, and so the same point keys, again.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from orchestrator.config.model import LAN, Experiment
from orchestrator.config.plan import (
    Point,
    ProfileGroup,
    accept_label,
    expand_profile,
    profile_groups,
)
from orchestrator.config.servers import USERVER
from orchestrator.report.analysis.syscalls import PROFILE_RATES, common_ok_rate, group_label
from orchestrator.results.points import StoredPoint

AUTO_FOUND = "the highest rate at which every mechanism was ok in this sweep's throughput points"
AUTO_SOME = (
    "the highest rate at which every mechanism was ok in at least one run of this sweep's"
    " throughput points (at no rate was every mechanism ok in every run)"
)
AUTO_NONE = "no rate at which every mechanism was ok in this sweep's throughput points"
CONFIGURED = "the rate of experiment.profile.rate"
__all__ = ["PROFILE_RATES", "RateChoice", "choose_rates", "profile_plan", "rates_settings"]


@dataclass(frozen=True)
class RateChoice:
    """The rate a group is profiled at (None: not profiled) and why."""

    rate: float | None
    why: str


def choose_rates(
    experiment: Experiment, stored: Iterable[StoredPoint]
) -> dict[ProfileGroup, RateChoice]:
    """Each profiled group's rate (see the module docstring); `stored`: the sweep's throughput
    points as the store returns them."""
    profile = experiment.profile
    if profile is None:
        return {}
    points = [p for p in stored if p.server_name == USERVER and _on_own_links(p)]
    choices = {}
    for group in profile_groups(experiment):
        if profile.rate is not None:
            choices[group] = RateChoice(profile.rate, CONFIGURED)
            continue
        workload, idle, limit = group
        members = [
            p
            for p in points
            if p.workload == workload
            and p.idle_connections == idle
            and p.accept_limit == accept_label(limit)
            and p.mechanism in experiment.mechanisms
        ]
        if (rate := common_ok_rate(members)) is not None:
            choices[group] = RateChoice(rate, AUTO_FOUND)
        elif (rate := common_ok_rate(members, every_run=False)) is not None:
            choices[group] = RateChoice(rate, AUTO_SOME)
        else:
            choices[group] = RateChoice(None, AUTO_NONE)
    return choices


def profile_plan(
    experiment: Experiment, choices: Mapping[ProfileGroup, RateChoice], seed: int
) -> list[Point]:
    """The pass's points: every group that has a rate, each mechanism once."""
    rates = {group: c.rate for group, c in choices.items() if c.rate is not None}
    return expand_profile(experiment, rates, seed)


def rates_settings(choices: Mapping[ProfileGroup, RateChoice]) -> dict[str, dict[str, Any]]:
    """What the sweep records in its settings (`PROFILE_RATES`), for the report."""
    return {
        group_label(workload, idle, accept_label(limit)): {"rate": c.rate, "why": c.why}
        for (workload, idle, limit), c in choices.items()
    }


def _on_own_links(point: StoredPoint) -> bool:
    """Not a point of a WAN profile on the plan's `network` axis (its key ends in `/net=`):
    the pass runs on the lab's own links."""
    key = point.key
    return "/net=" not in key or key.endswith(f"/net={LAN}")
