#!/usr/bin/env python3
"""userver against nginx: server CPU time per one-byte reply, system calls per reply, peaks.

Run by `make -C server bench`, as root, with httperf, nginx-light and strace installed. In one run:

1. Builds a network-namespace pair joined by a veth pair: the server side (198.19.200.1 and
   .3) and the client side (198.19.200.2). Receive processing is steered with RPS to the CPU of
   the side that receives (server side: CPU 0, client side: CPU 1), as two NICs would have it;
   on plain loopback the kernel work of the server's connections is done on the sending
   client's CPU, and the clients saturate before the server. The client side reuses TIME_WAIT
   ports and has the full port range (its own sysctls; the machine's are untouched). Both
   namespaces are deleted at the end, also on error or Ctrl-C.
2. Starts nginx (Debian's nginx-light: one worker, sendfile and tcp_nopush on, access log off,
   its own temporary config, prefix and port; never the machine's nginx) and one userver per
   mechanism (and any --userver LABEL=PATH[:MECHANISM[:FLAGS]] extra, e.g. an older build), all
   pinned to CPU 0 and idle until their turn. httperf runs pinned to CPU 1. The workload is the
   paper's: GET of a one-byte file, HTTP/1.0, one request per connection (httperf announces
   keep-alive even in HTTP/1.0; a "Connection: close" header after it wins, in both servers).
3. Client ceiling: short probes at rising rates against nginx find the highest rate httperf
   sustains (every reply, no error, its rate kept) while the server still has CPU to spare;
   where the server was the limit instead, the bench says so.
4. Cost: at offered rates below that ceiling (--cost-fractions of it), each server in turn
   (rotating order, --reps repetitions) serves --duration s; its CPU time (utime + stime of the
   serving process, from /proc) over the replies is the CPU per reply. A point with any httperf
   error is marked and left out of the medians. System calls per reply come from userver's own
   counters; for nginx from `strace -c -f` on two separate short runs (never the measured
   ones), whose difference cancels start-up and shutdown.
5. Peaks (--peak-fractions of the ceiling): the reply rate each server reaches; a point where
   the clients fell behind while the server had CPU to spare is marked "client-limited".
6. With --idle N (default 0: off), before any load: the growth of each server's resident memory
   per idle connection, N of them held.

The machine is shared and has two cores: the medians over repetitions and the ratios matter,
not one number. Results also go to server/build/bench-<time>.json.
"""

from __future__ import annotations

import argparse
import contextlib
import ipaddress
import json
import os
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
USERVER = HERE.parent / "userver"
MECHANISMS = ["select", "poll", "epoll-lt", "epoll-et", "epoll2", "epoll-ctlv", "io_uring"]
SERVER_CPU, CLIENT_CPU = "0", "1"
SUBNET = ipaddress.ip_network("198.19.200.0/24")
SERVER_ADDRS = ["198.19.200.1", "198.19.200.3"]  # one per httperf process, for port space
CLIENT_ADDR = "198.19.200.2"
TICK = os.sysconf("SC_CLK_TCK")
CLIENT_BOUND_CPU = 0.85  # errors while the server was less busy than this: the client's fault

NGINX_CONF = """\
daemon off;
master_process on;
worker_processes 1;
worker_rlimit_nofile {nofile};
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
events {{ worker_connections {nofile}; use epoll; }}
http {{
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_timeout 65;
    keepalive_requests 1000000;
    default_type application/octet-stream;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    server {{
        listen {port} backlog=4096;
        root {docroot};
        location / {{ }}
    }}
}}
"""


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def sh(*cmd: str) -> None:
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)


# ---------------------------------------------------------------------------- the namespaces


class Lab:
    """The namespace pair; `close()` deletes both (and with them the veth pair)."""

    def __init__(self) -> None:
        tag = os.getpid() % 100000
        self.srv, self.cli = f"tbbench{tag}-srv", f"tbbench{tag}-cli"
        self.veth_s, self.veth_c = f"tbbench{tag}s", f"tbbench{tag}c"
        self.made: list[str] = []

    def open(self) -> None:
        routes = subprocess.run(["ip", "-4", "route"], capture_output=True, text=True, check=True)
        for word in routes.stdout.split():
            with contextlib.suppress(ValueError):
                net = ipaddress.ip_network(word, strict=False)
                if "/" in word and net.overlaps(SUBNET):
                    raise SystemExit(f"bench: {SUBNET} overlaps the machine's route {word}")
        for ns in (self.srv, self.cli):
            sh("ip", "netns", "add", ns)
            self.made.append(ns)
        sh("ip", "link", "add", self.veth_s, "type", "veth", "peer", "name", self.veth_c)
        sh("ip", "link", "set", self.veth_s, "netns", self.srv)
        sh("ip", "link", "set", self.veth_c, "netns", self.cli)
        for addr in SERVER_ADDRS:
            sh("ip", "-n", self.srv, "addr", "add", f"{addr}/24", "dev", self.veth_s)
        sh("ip", "-n", self.cli, "addr", "add", f"{CLIENT_ADDR}/24", "dev", self.veth_c)
        for ns, dev, cpu in (
            (self.srv, self.veth_s, 1 << int(SERVER_CPU)),
            (self.cli, self.veth_c, 1 << int(CLIENT_CPU)),
        ):
            sh("ip", "-n", ns, "link", "set", "lo", "up")
            sh("ip", "-n", ns, "link", "set", dev, "up")
            sh(
                "ip",
                "netns",
                "exec",
                ns,
                "sh",
                "-c",
                f"echo {cpu:x} > /sys/class/net/{dev}/queues/rx-0/rps_cpus",
            )
        sh(
            "ip",
            "netns",
            "exec",
            self.cli,
            "sysctl",
            "-qw",
            "net.ipv4.tcp_tw_reuse=1",
            "net.ipv4.ip_local_port_range=1024 65535",
        )

    def close(self) -> None:
        # A veth pair left in the root namespace by a failed move goes too.
        subprocess.run(["ip", "link", "del", self.veth_s], check=False, stderr=subprocess.DEVNULL)
        for ns in self.made:
            subprocess.run(["ip", "netns", "del", ns], check=False)
        self.made.clear()

    def in_srv(self, *cmd: str) -> list[str]:
        return ["ip", "netns", "exec", self.srv, "taskset", "-c", SERVER_CPU, *cmd]

    def in_cli(self, *cmd: str) -> list[str]:
        return ["ip", "netns", "exec", self.cli, "taskset", "-c", CLIENT_CPU, *cmd]


# ---------------------------------------------------------------------------- the servers


@dataclass
class Target:
    name: str
    port: int
    proc: subprocess.Popen[bytes]
    metrics_port: int = 0  # userver: its counters; 0 for nginx
    cost: dict[int, list[float]] = field(default_factory=dict)  # rate -> CPU us per reply, by rep
    calls: dict[int, list[dict[str, float]]] = field(default_factory=dict)  # rate -> per reply
    cost_errors: dict[int, int] = field(default_factory=dict)
    peaks: dict[int, tuple[float, int, float]] = field(default_factory=dict)  # replies, errs, busy
    rss_per_idle: float | None = None

    def server_pid(self) -> int:
        """The process that serves: userver itself (ip netns exec and taskset exec it), or
        nginx's one worker."""
        if not self.name.startswith("nginx"):
            return self.proc.pid
        kids = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children").read_text().split()
        return int(kids[0])

    def cpu_seconds(self) -> float:
        """CPU time of the serving process, all its threads: the scheduler's run time in ns
        (/proc/PID/task/*/schedstat), the precise form of utime + stime (which /proc/PID/stat
        gives in 10 ms ticks: too coarse for a few seconds at a few thousand replies/s)."""
        pid, total = self.server_pid(), 0
        for task in os.listdir(f"/proc/{pid}/task"):
            with contextlib.suppress(OSError):
                total += int(Path(f"/proc/{pid}/task/{task}/schedstat").read_text().split()[0])
        return total / 1e9

    def fds(self) -> int:
        return len(os.listdir(f"/proc/{self.server_pid()}/fd"))


def listening(pid: int, port: int) -> bool:
    """Whether a socket of pid's network namespace listens on port (from /proc/PID/net/tcp)."""
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/net/tcp").read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            if state == "0A" and int(local.split(":")[1], 16) == port:
                return True
    return False


def start(lab: Lab, name: str, cmd: list[str], port: int, metrics_port: int = 0) -> Target:
    proc = subprocess.Popen(lab.in_srv(*cmd), stderr=subprocess.DEVNULL)
    t = Target(name, port, proc, metrics_port)
    deadline = time.monotonic() + 30  # generous: the shared machine may be heavily loaded
    while not listening(proc.pid, port):
        if proc.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"bench: {name} did not start")
        time.sleep(0.05)
    with contextlib.suppress(IndexError):  # nginx forks its worker right after listening
        while time.monotonic() < deadline and not t.server_pid():
            time.sleep(0.05)
    return t


def stop(t: Target) -> None:
    if t.proc.poll() is None:
        t.proc.send_signal(signal.SIGQUIT if t.name.startswith("nginx") else signal.SIGTERM)
        try:
            t.proc.wait(15)
        except subprocess.TimeoutExpired:
            os.kill(t.proc.pid, signal.SIGKILL)
            t.proc.wait()


def syscall_counts(text: str) -> dict[str, float]:
    """{syscall: calls} from userver's exposition (epoll operations as 'epoll_ctl ops')."""
    out: dict[str, float] = {}
    for m in re.finditer(
        r'^testbed_server_syscalls_total\{syscall="(\w+)"[^}]*\} (\S+)$', text, re.M
    ):
        out[m.group(1)] = float(m.group(2))
    ops = re.findall(r"^testbed_server_epoll_ctl_operations_total\{[^}]*\} (\S+)$", text, re.M)
    out["(epoll ops)"] = sum(float(v) for v in ops)
    return out


def userver_counts(lab: Lab, t: Target) -> dict[str, float]:
    r = subprocess.run(
        ["ip", "netns", "exec", lab.srv, "curl", "-sf", f"http://127.0.0.1:{t.metrics_port}/metrics"],
        capture_output=True, text=True, timeout=10, check=True,
    )  # fmt: skip
    return syscall_counts(r.stdout)


def parse_strace_c(text: str) -> dict[str, int]:
    """{syscall: calls} from `strace -c` output."""
    out: dict[str, int] = {}
    for line in text.splitlines():
        f = line.split()
        if len(f) >= 5 and f[-1] not in ("total", "syscall") and f[3].isdigit():
            out[f[-1]] = int(f[3])
    return out


# ---------------------------------------------------------------------------- the clients


def parse_httperf(text: str) -> tuple[int, float, int, str]:
    """(replies, test duration in s, errors, the error lines) from httperf's summary."""
    total = re.search(
        r"^Total: connections \d+ requests \d+ replies (\d+) test-duration ([\d.]+)", text, re.M
    )
    errors = re.search(r"^Errors: total (\d+)", text, re.M)
    if not total or not errors:
        raise ValueError(f"no httperf summary in: {text[-300:]!r}")
    kinds = re.findall(r"(\S+) ([1-9]\d*)", " ".join(re.findall(r"^Errors: (.*)$", text, re.M)))
    detail = " ".join(f"{k}={v}" for k, v in kinds if k != "total")
    return int(total.group(1)), float(total.group(2)), int(errors.group(1)), detail


def drive(lab: Lab, port: int, rate: int, duration: float) -> tuple[int, float, int, str]:
    """Offers `rate` conn/s of GET /one (HTTP/1.0, closed after one reply) for `duration` s
    from one httperf on CPU 1. Returns (replies, test duration, errors, error kinds)."""
    conns = max(1, int(rate * duration))
    cmd = lab.in_cli(
        "httperf", "--server", SERVER_ADDRS[0], "--port", str(port), "--uri", "/one",
        "--http-version", "1.0", "--add-header", "Connection: close\\n",
        "--rate", str(rate), "--num-conns", str(conns), "--timeout", "1",
    )  # fmt: skip
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        out, _ = p.communicate(timeout=duration + 20)
    except subprocess.TimeoutExpired:
        os.kill(p.pid, signal.SIGKILL)
        p.wait()
        return 0, duration, conns, "httperf-timeout"
    return parse_httperf(out)


def hold(host: str, port: int, n: int) -> None:
    """--hold: open n idle connections, say so, keep them until stdin closes."""
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    socks = [socket.create_connection((host, port), timeout=10) for _ in range(n)]
    print("ready", flush=True)
    sys.stdin.read()
    for s in socks:
        s.close()


def measure_idle(lab: Lab, t: Target, n: int) -> float:
    """Growth of the server's resident memory per idle connection, n of them held."""
    pid = t.server_pid()
    before, base = rss(pid), t.fds()
    holder = subprocess.Popen(
        lab.in_cli(
            sys.executable,
            str(Path(__file__).resolve()),
            "--hold",
            f"{SERVER_ADDRS[0]}:{t.port}:{n}",
        ),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdin is not None
        if holder.stdout.readline().strip() != "ready":
            raise SystemExit("bench: could not open the idle connections")
        deadline = time.monotonic() + 30
        while t.fds() < base + n and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(0.5)
        return (rss(pid) - before) / n
    finally:
        if holder.stdin:
            holder.stdin.close()
        holder.wait(30)
        time.sleep(1.0)


def loadavg() -> str:
    """The machine's 1-minute load average: others' work on the same two CPUs shows here."""
    return Path("/proc/loadavg").read_text().split()[0]


def rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def median(xs: list[float]) -> float:
    s = sorted(xs)
    return (s[(len(s) - 1) // 2] + s[len(s) // 2]) / 2 if s else float("nan")


# ---------------------------------------------------------------------------- the phases


def point(lab: Lab, t: Target, rate: int, duration: float) -> tuple[float, int, float, str]:
    """One run: (reply rate, errors, server CPU busy fraction, error kinds)."""
    cpu0 = t.cpu_seconds()
    replies, took, errors, kinds = drive(lab, t.port, rate, duration)
    busy = (t.cpu_seconds() - cpu0) / max(took, duration)
    return replies / max(took, 1e-9), errors, busy, kinds


def find_ceiling(lab: Lab, nginx: Target, args: argparse.Namespace) -> tuple[int, str]:
    """The highest probe rate httperf sustains against nginx (every connection answered,
    within 10 % of the rate), and what stopped the probe."""
    best, why = 0, "every probe rate was sustained"
    for rate in [int(r) for r in args.probe_rates.split(",")]:
        for _ in range(1 + args.retries):  # others' bursts on the shared CPUs come and go
            time.sleep(args.cooldown)
            reply_rate, errors, busy, kinds = point(lab, nginx, rate, args.probe_duration)
            log(
                f"  probe {rate:>6}/s  replies {reply_rate:>7.0f}/s  nginx cpu {busy:>4.0%}  "
                f"errors {errors} {kinds}"
            )
            # Fell behind: an error, or the run took more than 10 % longer than planned
            # (httperf offers late when short of CPU; on a shared machine a few % is normal).
            behind = errors > 0 or reply_rate < 0.9 * rate
            if not behind:
                break
        if behind:
            who = "the server (nginx)" if busy >= CLIENT_BOUND_CPU else "the client (httperf)"
            why = f"at {rate}/s {who} fell behind (nginx cpu {busy:.0%}, {errors} errors)"
            break
        best = rate
    return best, why


def measure_cost(
    lab: Lab, targets: list[Target], rates: list[int], args: argparse.Namespace
) -> None:
    order = 0
    for rep in range(args.reps):
        for rate in rates:
            for t in targets[order % len(targets) :] + targets[: order % len(targets)]:
                for _ in range(1 + args.retries):
                    time.sleep(args.cooldown)
                    before = userver_counts(lab, t) if t.metrics_port else {}
                    cpu0 = t.cpu_seconds()
                    replies, took, errors, kinds = drive(lab, t.port, rate, args.duration)
                    cpu = t.cpu_seconds() - cpu0
                    us = cpu / replies * 1e6 if replies else float("nan")
                    log(
                        f"  rep {rep + 1} {t.name:<16} {rate:>6}/s  replies "
                        f"{replies / took:>7.0f}/s  cpu {cpu / took:>4.0%}  {us:6.1f} us/reply  "
                        f"errors {errors} {kinds}"
                    )
                    if not errors:
                        break
                if errors:  # every try erred (others' load starving httperf, or the server)
                    t.cost_errors[rate] = t.cost_errors.get(rate, 0) + errors
                    continue
                t.cost.setdefault(rate, []).append(us)
                if t.metrics_port and replies:
                    after = userver_counts(lab, t)
                    t.calls.setdefault(rate, []).append(
                        {k: (after[k] - before.get(k, 0.0)) / replies for k in after}
                    )
            order += 1


def nginx_strace(
    lab: Lab, tmp: Path, docroot: Path, port: int, args: argparse.Namespace
) -> dict[str, float]:
    """nginx's system calls per reply: `strace -c -f` on two short runs apart from the measured
    ones (n and 2n connections), each a fresh nginx with its own prefix and port; their
    difference over n cancels start-up and shutdown."""
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    tmp = tmp / "strace"
    tmp.mkdir(mode=0o755)
    conf = tmp / "nginx.conf"
    conf.write_text(NGINX_CONF.format(tmp=tmp, port=port, docroot=docroot, nofile=min(hard, 20000)))
    counts = []
    for n in (args.strace_conns, 2 * args.strace_conns):
        out = tmp / f"strace-{n}.txt"
        proc = subprocess.Popen(
            lab.in_srv(
                "strace", "-c", "-f", "-o", str(out), "nginx", "-p", str(tmp), "-c", str(conf)
            ),
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 10
        while not listening(proc.pid, port) and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(0.5)
        replies, _, errors, kinds = drive(lab, port, 500, n / 500)
        if errors or replies != n:
            log(f"bench: strace run of nginx: {replies}/{n} replies, {errors} errors {kinds}")
        # SIGQUIT to the master (strace's child): a graceful stop, so strace writes its summary.
        kids = Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()
        os.kill(int(kids[0]), signal.SIGQUIT)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
        counts.append(parse_strace_c(out.read_text()))
    names = set(counts[0]) | set(counts[1])
    per = {k: (counts[1].get(k, 0) - counts[0].get(k, 0)) / args.strace_conns for k in names}
    return {k: v for k, v in per.items() if abs(v) >= 0.005}


def measure_peaks(
    lab: Lab, targets: list[Target], rates: list[int], args: argparse.Namespace
) -> None:
    for i, rate in enumerate(rates):
        for t in targets[i % len(targets) :] + targets[: i % len(targets)]:
            time.sleep(args.cooldown)
            reply_rate, errors, busy, kinds = point(lab, t, rate, args.duration)
            log(
                f"  peak {t.name:<16} {rate:>6}/s  replies {reply_rate:>7.0f}/s  cpu {busy:>4.0%}  "
                f"errors {errors} {kinds}"
            )
            t.peaks[rate] = (reply_rate, errors, busy)


# ---------------------------------------------------------------------------- the run


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter, allow_abbrev=False
    )
    ap.add_argument("--mechanisms", default=",".join(MECHANISMS))
    ap.add_argument(
        "--userver",
        action="append",
        default=[],
        metavar="LABEL=PATH[:MECHANISM[:FLAGS]]",
        help="another userver binary to measure alongside (default mechanism epoll-et;\n"
        "FLAGS: extra options, comma-separated), e.g. before=/tmp/userver-old",
    )
    ap.add_argument("--flags", default="", help="extra options for every userver, comma-separated")
    ap.add_argument(
        "--probe-rates", default="500,1000,2000,4000,6000,9000,12000,15000,18000,21000,24000"
    )
    ap.add_argument("--probe-duration", type=float, default=2.0)
    ap.add_argument(
        "--cost-fractions", default="0.4,0.7", help="cost rates as fractions of the ceiling"
    )
    ap.add_argument("--cost-rates", default="", help="cost rates given outright (no probe)")
    ap.add_argument(
        "--retries", type=int, default=2, help="tries more for a cost point with errors"
    )
    ap.add_argument("--reps", type=int, default=3, help="repetitions of each cost point")
    ap.add_argument("--duration", type=float, default=4.0, help="seconds per cost or peak point")
    ap.add_argument("--peak-fractions", default="0.9,1.1,1.3", help="'' skips the peak table")
    ap.add_argument("--cooldown", type=float, default=1.0, help="seconds between points")
    ap.add_argument("--strace-conns", type=int, default=1000, help="0 skips nginx's strace")
    ap.add_argument("--idle", type=int, default=0, help="idle connections for the RSS figure")
    ap.add_argument("--hold", help=argparse.SUPPRESS)  # HOST:PORT:N, run in the client namespace
    args = ap.parse_args()
    if args.hold:
        host, port, n = args.hold.split(":")
        hold(host, int(port), int(n))
        return 0

    for tool in ("httperf", "nginx", "taskset", "ip", "curl") + (
        ("strace",) if args.strace_conns else ()
    ):
        if not shutil.which(tool):
            log(f"bench: {tool} is not installed (scripts/install-deps installs it)")
            return 1
    if not USERVER.exists():
        log(f"bench: {USERVER} is not built (make -C server)")
        return 1
    if os.geteuid() != 0 or (os.cpu_count() or 1) < 2:
        log("bench: needs root (network namespaces) and two CPUs (servers on 0, httperf on 1)")
        return 1
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

    servers: list[tuple[str, str, str, list[str]]] = []  # label, binary, mechanism, flags
    common = [f for f in args.flags.split(",") if f]
    for m in [m for m in args.mechanisms.split(",") if m]:
        servers.append((m, str(USERVER), m, common))
    for spec in args.userver:
        label, rest = spec.split("=", 1)
        path, mech, flags = [*rest.split(":", 2), "", ""][:3]
        servers.append((label, path, mech or "epoll-et", [f for f in flags.split(",") if f]))

    lab = Lab()
    tmp = Path(tempfile.mkdtemp(prefix="userver-bench-"))
    targets: list[Target] = []
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(130))
    result: dict[str, object] = {
        "args": vars(args),
        "started": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
    }
    try:
        lab.open()
        tmp.chmod(0o755)  # nginx's worker runs as nobody
        docroot = tmp / "www"
        docroot.mkdir(mode=0o755)
        (docroot / "one").write_bytes(b"x")
        (docroot / "one").chmod(0o644)
        port = 18900
        conf = tmp / "nginx.conf"
        conf.write_text(
            NGINX_CONF.format(tmp=tmp, port=port, docroot=docroot, nofile=min(hard, 20000))
        )
        targets.append(start(lab, "nginx", ["nginx", "-p", str(tmp), "-c", str(conf)], port))
        for i, (label, path, mech, flags) in enumerate(servers):
            p, mp = port + 1 + i, port + 100 + i
            cmd = [path, "--mechanism", mech, "--port", str(p), "--metrics-address", "127.0.0.1",
                   "--metrics-port", str(mp), "--docroot", str(docroot), *flags]  # fmt: skip
            targets.append(start(lab, label, cmd, p, mp))
        log(
            f"bench: {len(targets)} servers on CPU {SERVER_CPU}, httperf on CPU {CLIENT_CPU}, veth "
            f"pair {lab.srv} / {lab.cli}; load average {loadavg()}"
        )
        for t in targets if args.idle else []:
            t.rss_per_idle = measure_idle(lab, t, args.idle)
            log(
                f"  {t.name:<16} {args.idle} idle connections: "
                f"{t.rss_per_idle:.0f} B resident per connection"
            )
        if args.cost_rates:
            ceiling, why = 0, "not probed (--cost-rates given)"
            cost_rates = [int(r) for r in args.cost_rates.split(",")]
        else:
            log("bench: client ceiling (probes against nginx)")
            ceiling, why = find_ceiling(lab, targets[0], args)
            if ceiling == 0:
                raise SystemExit(f"bench: no probe rate was sustained ({why})")
            cost_rates = [
                int(ceiling * float(f)) // 100 * 100 for f in args.cost_fractions.split(",")
            ]
        log(f"bench: ceiling {ceiling}/s ({why}); cost at {cost_rates}")
        measure_cost(lab, targets, cost_rates, args)
        nginx_calls = nginx_strace(lab, tmp, docroot, port + 99, args) if args.strace_conns else {}
        peak_rates = (
            [int(ceiling * float(f)) // 100 * 100 for f in args.peak_fractions.split(",") if f]
            if ceiling
            else []
        )
        measure_peaks(lab, targets, peak_rates, args)
        result.update(
            ceiling=ceiling, ceiling_why=why, cost_rates=cost_rates, peak_rates=peak_rates
        )
    finally:
        for t in targets:
            stop(t)
        lab.close()
        shutil.rmtree(tmp, ignore_errors=True)
    report(targets, result, nginx_calls, args)
    return 0


def report(
    targets: list[Target], result: dict, nginx_calls: dict[str, float], args: argparse.Namespace
) -> None:
    cost_rates, peak_rates = result["cost_rates"], result["peak_rates"]
    print(
        f"\none-byte file, HTTP/1.0, one request per connection; servers on CPU {SERVER_CPU}, "
        f"one httperf on CPU {CLIENT_CPU}, veth pair with RPS; load average at the end {loadavg()}"
    )
    print(f"client ceiling: {result['ceiling']}/s ({result['ceiling_why']})")
    print(
        f"\nserver CPU time per reply [us], median of {args.reps} x {args.duration:.0f} s "
        f"(CPU time of the serving process over replies; '!' = a run had errors, left out)"
    )
    nginx = targets[0]
    print(f"{'server':<16}" + "".join(f"{f'@{r}/s':>10}{'x nginx':>8}" for r in cost_rates))
    rows = []
    for t in targets:
        line = f"{t.name:<16}"
        for r in cost_rates:
            c, n = median(t.cost.get(r, [])), median(nginx.cost.get(r, []))
            mark = "!" if t.cost_errors.get(r) else " "
            line += f"{c:>9.1f}{mark}{c / n:>8.2f}"
        print(line)
        rows.append(
            {
                "server": t.name,
                "cpu_us_per_reply": t.cost,
                "errors": t.cost_errors,
                "syscalls_per_reply": {
                    r: {k: median([d[k] for d in ds]) for k in ds[0]}
                    for r, ds in t.calls.items()
                    if ds
                },
                "peaks": t.peaks,
                "rss_bytes_per_idle_connection": t.rss_per_idle,
            }
        )
    print(
        "\nsystem calls per reply (userver: its own counters at the highest cost rate; "
        "nginx: strace -c -f, separate runs)"
    )
    for t in targets[1:]:
        ds = t.calls.get(cost_rates[-1]) or next(iter(t.calls.values()), [])
        if not ds:
            continue
        per = {k: median([d[k] for d in ds]) for k in ds[0]}
        ops = per.pop("(epoll ops)", 0.0)
        total = sum(per.values())
        calls = "  ".join(
            f"{k} {v:.2f}" for k, v in sorted(per.items(), key=lambda kv: -kv[1]) if v >= 0.005
        )
        print(f"  {t.name:<16} {total:5.2f}  {calls}" + (f"  [epoll ops {ops:.2f}]" if ops else ""))
    if nginx_calls:
        total = sum(nginx_calls.values())
        calls = "  ".join(
            f"{k} {v:.2f}" for k, v in sorted(nginx_calls.items(), key=lambda kv: -kv[1])
        )
        print(f"  {'nginx':<16} {total:5.2f}  {calls}")
    if peak_rates:
        print(
            "\npeak: reply rate [replies/s] by offered rate; '*' = client-limited (httperf fell "
            f"behind or erred while the server was under {CLIENT_BOUND_CPU:.0%} busy), "
            "'e' = errors with the server busy"
        )
        print(f"{'server':<16}" + "".join(f"{r:>10}" for r in peak_rates) + f"{'peak':>10}")
        for t in targets:
            line, best = f"{t.name:<16}", 0.0
            for r in peak_rates:
                rate, errs, busy = t.peaks.get(r, (0.0, 0, 0.0))
                short = errs > 0 or rate < 0.97 * r
                mark = ("*" if busy < CLIENT_BOUND_CPU else "e") if short else " "
                line += f"{rate:>9.0f}{mark}"
                best = max(best, rate)
            print(line + f"{best:>10.0f}")
    for t in targets[1:]:
        if t.rss_per_idle is not None:
            print(f"  {t.name:<16} {t.rss_per_idle:.0f} B resident per idle connection")
    out = HERE.parent / "build" / time.strftime("bench-%Y%m%d-%H%M%S.json")
    out.parent.mkdir(exist_ok=True)
    result["nginx_syscalls_per_reply"] = nginx_calls
    result["results"] = rows
    out.write_text(json.dumps(result, indent=1, default=str))
    print(f"results: {out}")


if __name__ == "__main__":
    sys.exit(main())
