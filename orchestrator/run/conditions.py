"""The network conditions a point runs under: its profile on every client's link, and every
client's round trip to the server measured against it.

    conditions = NetworkConditions(lab, remote)
    conditions.enter(point, record)   # sets record.network and .rtts; NetworkFailure if off
    conditions.mark_behind(loads)     # after the load: clients whose link emulator fell behind

The links change only when the profiles change (a profile's points run as groups, see
`config.plan`), so a sweep pays the change and the pings once per group, not per point. A lab
whose `network:` section emulates nothing is left alone: no tc, no pings, nothing recorded
(its points and reports stay as they were). A failed change or a round trip off its profile
fails the point with one line per client; the next point tries again.

A user-space emulator (linkem) can fall behind where netem cannot: packets refused with its
queue full, the kernel unable to hand it packets, or packets released late by more than the
RTT check's tolerance of the delay on average (`LinkStats.behind`). Its
counters are read when a point starts and after its load; a client whose linkem fell behind in
between is marked as a load agent that fell behind (reason EMULATOR_BEHIND, the counts in the
agent's `link_emulator`), so `limits.judge` calls the point client-limited when the server had
headroom.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace

from agents.load.result import LoadResult
from orchestrator.config.model import Host, Lab, NetworkProfile
from orchestrator.config.plan import Point
from orchestrator.errors import TestbedError
from orchestrator.lab.linkem import LinkStats, late_us
from orchestrator.lab.links import LinkShaper, link_shaper
from orchestrator.lab.remote import Remote
from orchestrator.lab.rtt import RttCheck, expected_rtt_ms, measure_rtts
from orchestrator.results.records import PointRecord
from orchestrator.run.limits import EMULATOR_BEHIND

Profiles = Mapping[Host, NetworkProfile]
Measure = Callable[[Profiles], RttCheck]


class NetworkFailure(Exception):
    """The point's conditions could not be set up or are not what its profile says."""


class NetworkConditions:
    """See the module docstring. `shaper` and `measure` are the outside world (tests pass
    their own)."""

    def __init__(
        self,
        lab: Lab,
        remote: Remote,
        shaper: LinkShaper | None = None,
        measure: Measure | None = None,
    ) -> None:
        self.lab = lab
        self.active = bool(lab.experiment.network) or any(
            profile.emulated for profile in lab.network.profiles.values()
        )
        self.shaper = shaper or link_shaper(lab)
        self.measure: Measure = measure or (
            lambda profiles: measure_rtts(
                lab, remote, profiles, user_to_user=self.shaper.pings_user_to_user
            )
        )
        self.applied: str | None = None  # the axis value the links carry now
        self.check = RttCheck()
        self.before: dict[str, LinkStats] = {}  # the emulators' counters as the point began

    def profiles(self, point: Point) -> dict[Host, NetworkProfile]:
        return {
            client: self.lab.network.profile_for(client, point.network)
            for client in self.lab.clients
        }

    def enter(self, point: Point, record: PointRecord) -> None:
        """Bring the links to `point`'s profile if they carry another; record what they are."""
        if not self.active:
            return
        record.network = self.lab.network.label(self.lab.clients, point.network)
        profiles = self.profiles(point)
        if self.applied != point.network:
            self.applied = None  # until set and checked: a failure is retried by the next point
            try:
                self.shaper.apply(profiles)
            except TestbedError as error:
                raise NetworkFailure(f"network {record.network}: {error.message}") from None
            self.check = self.measure(profiles)
            if not self.check.problems:
                self.applied = point.network
        record.rtts = {
            name: (expected_rtt_ms(profiles[self.lab.host(name)]), measured)
            for name, measured in self.check.measured.items()
        }
        if self.check.problems:
            raise NetworkFailure(
                f"network {record.network}: round trips off the profile: "
                + "; ".join(self.check.problems)
            )
        self.before = self.shaper.counters()

    def behind(self) -> dict[str, str]:
        """{client: why} for every client whose link emulator fell behind since `enter`."""
        if not self.active:
            return {}
        found = {}
        for name, now in self.shaper.counters().items():
            profile = self.lab.network.profile_for(self.lab.host(name), self.applied or "")
            why = now.since(self.before.get(name, LinkStats())).behind(late_us(profile))
            if why:
                found[name] = why
        return found

    def mark_behind(self, loads: dict[str, LoadResult]) -> None:
        """Mark in the agents' results (as `limits.behind` reads them) each client whose
        emulator fell behind during the point: its result is replaced by one that says so."""
        for name, why in self.behind().items():
            result = loads.get(name) or LoadResult()
            loads[name] = replace(
                result,
                client_limited=True,
                client_limited_reasons=(*result.client_limited_reasons, EMULATOR_BEHIND),
                link_emulator=why,
            )

    def clear(self) -> None:
        """Every client back to its plain link (at the sweep's end: the lab is left as found)."""
        if self.active:
            self.shaper.clear()
            self.applied = None
