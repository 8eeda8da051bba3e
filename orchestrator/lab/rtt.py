"""Each client's round trip to the server, measured with ping before a network profile's first
point, and judged against what the profile should give.

    rtts = measure_rtts(lab, remote, profiles)      # RttCheck: {client: ms}, problems
    parse_ping(text)                                # Ping(...).rtt_ms: the median reply

A profile adds twice its one-way delay to the round trip. The measured round trip (the median
of the replies, so one reply held up by the scheduler of a busy machine does not decide; the
mean when ping printed only its summary) may differ from that by 10 % of it, or by
RTT_FLOOR_MS when that is more: a LAN profile expects 0 ms, and a link's own round trip
(0.05 ms over the emulated lab's veths, 0.1-0.5 ms across a switched gigabit LAN) plus the
scheduling of a busy 2-core machine (a few hundred microseconds when httperf has just spun a
core) must not fail it; one millisecond is still far below the smallest WAN delay worth
emulating, so a missing netem is always caught.
"""

from __future__ import annotations

import re
import shlex
import statistics
from collections.abc import Mapping
from dataclasses import dataclass, field

from orchestrator.config.model import Host, Lab, NetworkProfile
from orchestrator.lab.remote import Remote

PINGS = 5
PING_INTERVAL = 0.2  # seconds: the smallest interval ping allows every user
RTT_TOLERANCE = 0.10  # of the expected round trip
RTT_FLOOR_MS = 1.0  # see the module docstring
REPLY_WAIT = 2.0  # seconds ping waits for a reply (a 1 s WAN round trip would still fit)

_REPLY = re.compile(r"^\d+ bytes from .* time=([\d.]+) ms$", re.M)
_COUNTS = re.compile(r"(\d+) packets transmitted, (\d+) received")
_RTT = re.compile(r"(?:rtt|round-trip) min/avg/max/(?:mdev|stddev) = [\d.]+/([\d.]+)/")


@dataclass(frozen=True)
class Ping:
    transmitted: int
    received: int
    avg_ms: float | None  # None: no reply came back
    median_ms: float | None = None  # of the replies listed; None when only the summary was

    @property
    def rtt_ms(self) -> float | None:
        """The round trip judged: the median of the replies, else the summary's mean."""
        return self.median_ms if self.median_ms is not None else self.avg_ms


def ping_command(address: str, count: int = PINGS, user_to_user: bool = False) -> str:
    """The ping a client runs to the server, quoted for its shell (every reply listed).

    `user_to_user` (links shaped by linkem): ping times a reply by the kernel's receive
    timestamp, taken before the client's INPUT hook where linkem spends the inbound delay, so
    `-U` times it as the applications see it, from user to user; and at a real-time priority
    (`chrt -f 1`, as linkem runs), so that a busy machine's scheduling of ping itself is not
    counted as the link's delay."""
    wait = REPLY_WAIT
    words = ["ping", "-n", "-c", str(count), "-i", f"{PING_INTERVAL:g}", "-W", f"{wait:g}"]
    if user_to_user:
        words = ["chrt", "-f", "1", *words[:2], "-U", *words[2:]]
    return shlex.join([*words, address])


def parse_ping(text: str) -> Ping:
    """ping's summary (iputils or busybox); ValueError when there is none."""
    counts = _COUNTS.search(text)
    if counts is None:
        raise ValueError("no ping statistics in the output")
    rtt = _RTT.search(text)
    replies = sorted(float(value) for value in _REPLY.findall(text))
    median = statistics.median(replies) if replies else None
    average = float(rtt.group(1)) if rtt else None
    return Ping(int(counts.group(1)), int(counts.group(2)), average, median)


def expected_rtt_ms(profile: NetworkProfile) -> float:
    return profile.expected_rtt * 1000


def judge_rtt(profile: NetworkProfile, measured_ms: float) -> str | None:
    """None when `measured_ms` fits `profile`, else why not (one line)."""
    expected = expected_rtt_ms(profile)
    allowed = max(RTT_TOLERANCE * expected, RTT_FLOOR_MS)
    if abs(measured_ms - expected) <= allowed:
        return None
    return (
        f"measured RTT {measured_ms:.2f} ms, profile {profile.name} expects {expected:.1f} ms"
        f" ± {allowed:.1f} ms"
    )


@dataclass
class RttCheck:
    """Measured mean RTT per client (ms) and a line per client that failed."""

    measured: dict[str, float] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


def measure_rtts(
    lab: Lab, remote: Remote, profiles: Mapping[Host, NetworkProfile], user_to_user: bool = False
) -> RttCheck:
    """Every client pings the server address of its own subnet, all at once (`user_to_user`:
    see `ping_command`)."""
    check = RttCheck()
    clients = list(profiles)
    results = remote.run_all(
        clients,
        lambda host: ping_command(str(lab.server_address_for(host)), user_to_user=user_to_user),
        timeout=30,
    )
    for client in clients:
        result = results[client.name]
        try:
            ping = parse_ping(result.stdout)
        except ValueError:
            check.problems.append(f"{client.name}: ping failed: {result.reason()}")
            continue
        rtt = ping.rtt_ms
        if rtt is None:
            check.problems.append(f"{client.name}: no reply to {ping.transmitted} pings")
            continue
        check.measured[client.name] = rtt
        problem = judge_rtt(profiles[client], rtt)
        if problem:
            check.problems.append(f"{client.name}: {problem}")
    return check
