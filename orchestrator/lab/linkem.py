"""WAN conditions without netem: `linkem` (the C program in linkem/) in each client's network
namespace, fed by iptables NFQUEUE rules on the client's experiment NIC.

    shaper = UserspaceShaper(lab)
    shaper.apply({client: profile, ...})    # linkem + rules per emulated client; `lan`: none
    shaper.clear()                          # every rule and linkem of the lab gone
    shaper.counters()                       # {client: LinkStats}: what each linkem did so far

Why this design (README, "Network conditions"): this kernel has no netem and no `nft queue`
(CONFIG_NFT_QUEUE), but it has the xtables NFQUEUE target, so `iptables-legacy` rules hand each
packet the client sends on its NIC (OUTPUT, queue 0) and receives there (INPUT, queue 1) to
linkem, which holds its verdict until the profile says the packet is due. Nothing changes in
the lab's topology (no extra hop, no device), the same works in a booted machine's namespace,
and linkem needs libc only. Both directions are shaped at the client, as netem does on its NIC
and ifb. The rules have no `bypass`: a linkem that died drops the link's packets rather than
letting them through unshaped, so its points fail instead of measuring a LAN.

linkem runs with a real-time priority (SCHED_FIFO, PRIORITY): a wire does not wait for the
load generators, and on a 2-core machine where every httperf spins a core, an ordinary process
is woken milliseconds late. For the same reason it runs pinned to its client's CPUs: left to
float, it took the server's core whenever the clients' was busy, and no ordinary process can
take a core back from it (measured on wan.yml at 5,000 requests/s with 100 ms round trips:
userver ran 0.28 s and waited 1.8 s of every 2 s for its own core, and its points looked
client-limited with the server "at 18 % of its core"). Its PID goes to a file in the lab's
state directory; `clear` stops exactly the PID recorded there, and only when it still runs
linkem in that client's namespace.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from orchestrator import local, naming
from orchestrator.config.model import Host, Lab, NetworkProfile
from orchestrator.errors import TestbedError
from orchestrator.lab.cpus import machine_cpus, taskset_prefix, usable_cpus
from orchestrator.lab.wiring import namespace_pids, read_pid
from orchestrator.paths import lab_state_dir, resource

IPTABLES = "iptables-legacy"  # xtables: the NFQUEUE target (nft's own `queue` may be missing)
CHAINS = {"OUTPUT": ("TESTBED-LINKEM-OUT", "-o", 0), "INPUT": ("TESTBED-LINKEM-IN", "-i", 1)}
PRIORITY = 10  # SCHED_FIFO: above every ordinary process, far below the kernel's own threads
LIMIT = 100_000  # packets held per direction, netem's limit here (NETEM_LIMIT)
LATE_FLOOR_US = 1_000  # a packet released later than this after its due time is late,
LATE_SHARE = 0.10  # or than this share of the one-way delay, when that is more
SLACK_US = 200  # linkem's wake-up slack: packets due within it leave together
START_WAIT = 5.0  # seconds for linkem to bind its queues
STOP_WAIT = 3.0  # seconds for linkem to release its packets and exit, before SIGKILL


# -- pure builders ------------------------------------------------------------------------------


def direction_argument(queue: int, profile: NetworkProfile) -> str:
    """linkem's QUEUE:DELAY_US:JITTER_US:LOSS:RATE_BPS for one direction of `profile`."""
    delay, jitter = round(profile.delay * 1e6), round(profile.jitter * 1e6)
    return f"{queue}:{delay}:{jitter}:{profile.loss:.9f}:{profile.rate or 0}"


def late_us(profile: NetworkProfile) -> int:
    """How late a release may be before it counts as late, and how late packets may be on
    average before linkem has fallen behind: LATE_FLOOR_US, or LATE_SHARE of the delay (the
    RTT check's own tolerance) when that is more."""
    return max(LATE_FLOOR_US, round(LATE_SHARE * profile.delay * 1e6))


def linkem_command(
    binary: Path, namespace: str, profile: NetworkProfile, stats: Path, cpus: Sequence[int] = ()
) -> list[str]:
    """linkem in `namespace` for `profile`, both directions (queue 0 out, queue 1 in), pinned
    to `cpus` (its client's: see the module docstring)."""
    return [
        *("ip", "netns", "exec", namespace, *taskset_prefix(cpus), str(binary)),
        *("--stats", str(stats), "--limit", str(LIMIT), "--late-us", str(late_us(profile))),
        *("--priority", str(PRIORITY), "--slack-us", str(SLACK_US)),
        *(direction_argument(queue, profile) for _, _, queue in CHAINS.values()),
    ]


def iptables(namespace: str, *words: str) -> list[str]:
    return ["ip", "netns", "exec", namespace, IPTABLES, "-w", *words]


def rule_commands(namespace: str, nic: str) -> list[list[str]]:
    """Our chains (each one NFQUEUE rule) and the jumps to them for the NIC's traffic."""
    commands = []
    for hook, (chain, match, queue) in CHAINS.items():
        commands += [
            iptables(namespace, "-N", chain),
            iptables(namespace, "-A", chain, "-j", "NFQUEUE", "--queue-num", str(queue)),
            iptables(namespace, "-A", hook, match, nic, "-j", chain),
        ]
    return commands


def unrule_commands(namespace: str, nic: str) -> list[list[str]]:
    """Undo `rule_commands` (each may fail when that part is already gone)."""
    commands = []
    for hook, (chain, match, _) in CHAINS.items():
        commands += [
            iptables(namespace, "-D", hook, match, nic, "-j", chain),
            iptables(namespace, "-F", chain),
            iptables(namespace, "-X", chain),
        ]
    return commands


def has_rules(iptables_save: str) -> bool:
    """Whether `iptables -S` output shows a chain of ours."""
    return any(chain in iptables_save for chain, _, _ in CHAINS.values())


@dataclass(frozen=True)
class LinkStats:
    """One linkem's counters, both directions summed: `packets` offered, `lost` by the
    profile, `full` (refused: LIMIT held), `late` (released past late_us), `errors` (the
    kernel could not hand it packets: its socket was full), `late_sum_us` (the lateness of
    every packet released: over `sent`, the delay linkem added to the profile's), `backlogs`
    (times over 1,024 packets waited to be read: linkem times a packet from when it reads it,
    so a saturated linkem's lateness shows only there)."""

    packets: int = 0
    lost: int = 0
    full: int = 0
    sent: int = 0
    late: int = 0
    errors: int = 0
    max_late_us: int = 0
    late_sum_us: int = 0
    pid: int | None = None
    backlogs: int = 0

    def since(self, before: LinkStats) -> LinkStats:
        """What happened after `before` (the same linkem's earlier counters; a restarted
        linkem counts from zero)."""
        if before.pid != self.pid:
            return self
        return LinkStats(
            self.packets - before.packets,
            self.lost - before.lost,
            self.full - before.full,
            self.sent - before.sent,
            self.late - before.late,
            self.errors - before.errors,
            self.max_late_us,
            self.late_sum_us - before.late_sum_us,
            self.pid,
            self.backlogs - before.backlogs,
        )

    def behind(self, late_limit_us: int) -> str | None:
        """Why this linkem fell behind (one phrase), or None when it kept up: a packet refused
        or lost to it, or packets released on average more than `late_limit_us` after due
        (`late_us`: the profile's delay would be off by more than the RTT check allows). A
        few late packets are a busy machine's scheduling, not a point's limit."""
        reasons = []
        if self.full:
            reasons.append(f"{self.full:,} packets refused (queue full)")
        if self.errors:
            reasons.append(f"{self.errors:,} receive errors (packets the kernel dropped)")
        if self.backlogs:
            reasons.append(f"{self.backlogs:,} times over 1,024 packets waiting to be read")
        mean = self.late_sum_us / max(self.sent, 1)
        if mean > late_limit_us:
            reasons.append(
                f"packets {mean / 1000:.1f} ms late on average ({self.late:,} of {self.sent:,}"
                f" past {late_limit_us:,} µs, the worst {self.max_late_us:,} µs)"
            )
        return "link emulator behind: " + ", ".join(reasons) if reasons else None


def parse_stats(text: str) -> LinkStats:
    """linkem's --stats file (see linkem/main.c); ValueError when it is not one."""
    totals = dict.fromkeys(("packets", "lost", "full", "sent", "late"), 0)
    pid, errors, worst, late_sum, queues, backlogs = None, 0, 0, 0, 0, 0
    for line in text.splitlines():
        words = line.split()
        if words[:1] == ["pid"] and len(words) == 2:
            pid = int(words[1])
        elif words[:1] == ["receive_errors"] and len(words) == 2:
            errors = int(words[1])
        elif words[:1] == ["backlogs"] and len(words) == 2:
            backlogs = int(words[1])
        elif words[:1] == ["queue"] and len(words) % 2 == 0:
            fields = dict(zip(words[2::2], map(int, words[3::2]), strict=True))
            for key in totals:
                totals[key] += fields[key]
            worst = max(worst, fields["max_late_us"])
            late_sum += fields["sum_late_us"]
            queues += 1
    if pid is None or not queues:
        raise ValueError("not a linkem statistics file")
    return LinkStats(
        **totals,
        errors=errors,
        max_late_us=worst,
        late_sum_us=late_sum,
        pid=pid,
        backlogs=backlogs,
    )


def binary() -> Path:
    """linkem, built from its sources when missing or older than them."""
    source = resource("linkem")
    built = source / "linkem"
    newest = max(path.stat().st_mtime for path in [*source.glob("*.[ch]"), source / "Makefile"])
    if not built.exists() or built.stat().st_mtime < newest:
        local.run(["make", "-s", "-C", str(source), "linkem"], timeout=120)
    return built


# -- applying them ------------------------------------------------------------------------------


class UserspaceShaper:
    """linkem on each emulated client of a lab built on this machine. See the module docstring."""

    def __init__(self, lab: Lab) -> None:
        self.lab = lab
        self.state = lab_state_dir(lab.name) / "linkem"

    def namespace(self, client: Host) -> str:
        return naming.namespace(self.lab.name, client.name)

    def files(self, client: Host) -> tuple[Path, Path, Path]:
        """(pid file, stats file, log) of the client's linkem."""
        base = self.state / client.name
        return base.with_suffix(".pid"), base.with_suffix(".stats"), base.with_suffix(".log")

    def apply(self, profiles: Mapping[Host, NetworkProfile]) -> None:
        emulated = {client: p for client, p in profiles.items() if p.emulated}
        program = binary() if emulated else None
        for client in profiles:
            self._stop(client)
        for client, profile in emulated.items():
            assert program is not None
            self._start(client, profile, program)

    def clear(self) -> None:
        for client in self.lab.clients:
            self._stop(client)

    def running(self) -> list[str]:
        """The clients that have a linkem or a rule of ours now (for `down` and tests)."""
        return [
            client.name
            for client in self.lab.clients
            if self._pid(client) is not None or self._has_rules(client)
        ]

    def counters(self) -> dict[str, LinkStats]:
        """Every running linkem's counters, as it last wrote them (once a second)."""
        found = {}
        for client in self.lab.clients:
            pid = self._pid(client)
            if pid is None:
                continue
            try:
                stats = parse_stats(self.files(client)[1].read_text())
            except (OSError, ValueError):
                stats = LinkStats(pid=pid)
            found[client.name] = stats
        return found

    # -- pieces --------------------------------------------------------------------------------

    def _start(self, client: Host, profile: NetworkProfile, program: Path) -> None:
        namespace = self.namespace(client)
        pid_file, stats, log_path = self.files(client)
        self.state.mkdir(parents=True, exist_ok=True)
        stats.unlink(missing_ok=True)
        with open(log_path, "ab") as log:
            cpus = usable_cpus(client, machine_cpus())
            command = linkem_command(program, namespace, profile, stats, cpus)
            process = local.start(command, log)
        pid_file.write_text(f"{process.pid}\n")
        deadline = time.monotonic() + START_WAIT
        while not stats.exists() and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        if not stats.exists():
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            process.wait()
            pid_file.unlink(missing_ok=True)
            lines = log_path.read_text(errors="replace").strip().splitlines()
            why = lines[-1] if lines else f"it did not start within {START_WAIT:g} s"
            raise TestbedError(f"{client.name}: linkem: {why}")
        for command in rule_commands(namespace, client.nics[0].name):
            local.run(command)

    def _stop(self, client: Host) -> None:
        """Rules first (no packet queued to a linkem on its way out), then linkem, which
        releases what it holds."""
        namespace = self.namespace(client)
        if self._has_rules(client):
            for command in unrule_commands(namespace, client.nics[0].name):
                local.run(command, check=False)
        pid = self._pid(client)
        if pid is not None:
            _terminate(pid, namespace)
        self.files(client)[0].unlink(missing_ok=True)

    def _has_rules(self, client: Host) -> bool:
        namespace = self.namespace(client)
        if not os.path.exists(f"/run/netns/{namespace}"):
            return False
        shown = local.run(iptables(namespace, "-S"), check=False)
        return shown.returncode == 0 and has_rules(shown.stdout)

    def _pid(self, client: Host) -> int | None:
        """The recorded linkem PID, when it still runs linkem in the client's namespace."""
        pid = read_pid(self.files(client)[0])
        if pid is None or not _is_linkem(pid):
            return None
        return pid if pid in namespace_pids(self.namespace(client)) else None


def _is_linkem(pid: int) -> bool:
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return bool(command) and os.path.basename(command[0]) == b"linkem"


def _terminate(pid: int, namespace: str, wait: float = STOP_WAIT) -> None:
    """SIGTERM (linkem releases its packets and exits), SIGKILL when it is still there."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if not _is_linkem(pid) or pid not in namespace_pids(namespace):
                _reap(pid)
                return
            time.sleep(0.01)


def _reap(pid: int) -> None:
    """Collect the exit status of a linkem started by this process (no zombie left)."""
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)
