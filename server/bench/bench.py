#!/usr/bin/env python3
"""userver against nginx: peak one-byte reply rate and memory per idle connection.

Run by `make -C server bench`, as root, with httperf and nginx-light installed. In one run:

1. Builds a network-namespace pair joined by a veth pair: the server side (198.19.250.1 and
   .3) and the client side (198.19.250.2). Receive processing is steered with RPS to the CPU of
   the side that receives (server side: CPU 0, client side: CPU 1), as two NICs would have it;
   on plain loopback the kernel work of the server's connections is done on the sending
   client's CPU, and the clients saturate before the server. The client side reuses TIME_WAIT
   ports and has the full port range (its own sysctls; the machine's are untouched). Both
   namespaces are deleted at the end, also on error or Ctrl-C.
2. Starts nginx (one worker, sendfile and tcp_nopush on, access log off, its own temporary
   config and port) and one userver per mechanism in the server namespace, all pinned to CPU 0
   and idle until their turn.
3. For each open-loop request rate, in increasing order, drives each server in turn (the order
   rotates from rate to rate, so time is not confounded with the server) with httperf pinned to
   CPU 1 asking for /one (with --clients N, N processes each at its share of the rate,
   --client I/N, each on its own server address); every httperf run is bounded by a timeout;
   --hog is never used. A point with errors while the server's CPU was less than 85% busy is
   client-bound (others' work on the shared CPUs starved httperf): it is tried again
   (--retries), and the best try is kept.
4. Prints each server's reply rate per request rate, its peak and the peak's ratio to nginx's,
   the highest rate served without errors, and the server's CPU time per reply there.
Before the load (so that no earlier connection has left memory resident), it holds 10,000
idle connections to each server in turn and prints the growth of its resident memory per
connection (nginx: its worker's).

The machine is shared and has two cores: run it a few times and report the spread.
Results also go to server/build/bench-<time>.json.
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
SUBNET = ipaddress.ip_network("198.19.250.0/24")
SERVER_ADDRS = ["198.19.250.1", "198.19.250.3"]  # one per httperf process, for port space
CLIENT_ADDR = "198.19.250.2"
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
    rates: dict[int, float] = field(default_factory=dict)
    errors: dict[int, int] = field(default_factory=dict)
    cpu_us_per_reply: dict[int, float] = field(default_factory=dict)
    rss_per_idle: float | None = None

    def server_pid(self) -> int:
        """The process that serves: userver itself (ip netns exec and taskset exec it), or
        nginx's one worker."""
        if self.name != "nginx":
            return self.proc.pid
        kids = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children").read_text().split()
        return int(kids[0])

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.server_pid()}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / TICK  # utime + stime

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


def start(lab: Lab, name: str, cmd: list[str], port: int) -> Target:
    proc = subprocess.Popen(lab.in_srv(*cmd), stderr=subprocess.DEVNULL)
    t = Target(name, port, proc)
    deadline = time.monotonic() + 5
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
        t.proc.send_signal(signal.SIGQUIT if t.name == "nginx" else signal.SIGTERM)
        try:
            t.proc.wait(15)
        except subprocess.TimeoutExpired:
            os.kill(t.proc.pid, signal.SIGKILL)
            t.proc.wait()


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


def drive(lab: Lab, t: Target, rate: int, clients: int, duration: float) -> tuple[float, int, str]:
    """Offers `rate` conn/s of GET /one for `duration` s. Returns (reply rate, errors, kinds)."""
    share = rate / clients
    conns = int(share * duration)
    procs = [
        subprocess.Popen(
            lab.in_cli(
                "httperf",
                "--server",
                SERVER_ADDRS[i % len(SERVER_ADDRS)],
                "--port",
                str(t.port),
                "--uri",
                "/one",
                "--rate",
                f"{share:.1f}",
                "--num-conns",
                str(conns),
                "--timeout",
                "1",
                "--client",
                f"{i}/{clients}",
            ),
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        for i in range(clients)
    ]
    replies, errors, longest, kinds = 0, 0, duration, []
    for p in procs:
        try:
            out, _ = p.communicate(timeout=duration + 20)
        except subprocess.TimeoutExpired:
            os.kill(p.pid, signal.SIGKILL)
            p.wait()
            errors += conns
            kinds.append("httperf-timeout")
            continue
        r, d, e, k = parse_httperf(out)
        replies, errors, longest = replies + r, errors + e, max(longest, d)
        kinds.append(k)
    return replies / longest, errors, " | ".join(k for k in kinds if k)


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


# ---------------------------------------------------------------------------- the run


def measure_point(lab: Lab, t: Target, rate: int, args: argparse.Namespace) -> None:
    """One point, retried while it looks client-bound: errors while the server had CPU to
    spare (others' work on the shared CPUs starves httperf). The best try is kept, since such
    interference only ever lowers the reply rate."""
    for attempt in range(1 + args.retries):
        time.sleep(args.cooldown)
        cpu0 = t.cpu_seconds()
        reply_rate, errors, kinds = drive(lab, t, rate, args.clients, args.duration)
        busy = (t.cpu_seconds() - cpu0) / args.duration
        log(
            f"  {t.name:<11} offered {rate:>6}/s  replies {reply_rate:>8.0f}/s  "
            f"server cpu {busy:>4.0%}  errors {errors} {kinds}"
        )
        if reply_rate >= t.rates.get(rate, -1.0):
            t.rates[rate], t.errors[rate] = reply_rate, errors
            if reply_rate > 0:
                t.cpu_us_per_reply[rate] = busy / reply_rate * 1e6
        if errors == 0 or busy >= CLIENT_BOUND_CPU:
            return
        if attempt < args.retries:
            log(f"  {t.name:<11} (client-bound: server cpu below {CLIENT_BOUND_CPU:.0%}; again)")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument(
        "--rates",
        default="10000,13000,16000,18000,20000,22000",
        help="offered connection rates, one request each (default %(default)s)",
    )
    ap.add_argument("--duration", type=float, default=4.0, help="seconds per point")
    ap.add_argument(
        "--clients",
        type=int,
        default=1,
        help="httperf processes per point, all on CPU 1 (default %(default)s: two\n"
        "spinning httperf on one CPU starve each other into fd-unavail)",
    )
    ap.add_argument("--cooldown", type=float, default=2.0, help="seconds between points")
    ap.add_argument(
        "--retries", type=int, default=2, help="tries more for a point that looks client-bound"
    )
    ap.add_argument("--mechanisms", default=",".join(MECHANISMS))
    ap.add_argument("--idle", type=int, default=10000, help="idle connections for the RSS figure")
    ap.add_argument("--hold", help=argparse.SUPPRESS)  # HOST:PORT:N, run in the client namespace
    args = ap.parse_args()
    if args.hold:
        host, port, n = args.hold.split(":")
        hold(host, int(port), int(n))
        return 0

    for tool in ("httperf", "nginx", "taskset", "ip"):
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
    rates = [int(r) for r in args.rates.split(",")]

    lab = Lab()
    tmp = Path(tempfile.mkdtemp(prefix="userver-bench-"))
    targets: list[Target] = []
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(130))
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
        for i, m in enumerate(args.mechanisms.split(",")):
            cmd = [
                str(USERVER),
                "--mechanism",
                m,
                "--port",
                str(port + 1 + i),
                "--metrics-port",
                "0",
                "--docroot",
                str(docroot),
            ]
            targets.append(start(lab, m, cmd, port + 1 + i))
        log(
            f"bench: {len(targets)} servers on CPU {SERVER_CPU}, {args.clients} httperf on CPU "
            f"{CLIENT_CPU}, veth pair {lab.srv} / {lab.cli}, {args.duration:.0f} s per point; "
            f"load average {loadavg()}"
        )
        # Memory first, on servers that have not served yet: a load run leaves per-descriptor
        # state resident, and the delta would then understate what a connection costs.
        for t in targets if args.idle else []:
            t.rss_per_idle = measure_idle(lab, t, args.idle)
            log(
                f"  {t.name:<11} {args.idle} idle connections: "
                f"{t.rss_per_idle:.0f} B resident per connection"
            )
        for i, rate in enumerate(rates):
            for t in targets[i % len(targets) :] + targets[: i % len(targets)]:
                measure_point(lab, t, rate, args)
    finally:
        for t in targets:
            stop(t)
        lab.close()
        shutil.rmtree(tmp, ignore_errors=True)
    report(targets, rates, args)
    return 0


def report(targets: list[Target], rates: list[int], args: argparse.Namespace) -> None:
    nginx_peak = max(targets[0].rates.values())
    print(
        f"\none-byte workload, reply rate [replies/s] by offered rate [conn/s]: servers on "
        f"CPU {SERVER_CPU}, {args.clients} httperf on CPU {CLIENT_CPU}, veth pair with RPS, "
        f"{args.duration:.0f} s per point; load average at the end {loadavg()}"
    )
    print(
        f"{'server':<11}"
        + "".join(f"{r:>7}" for r in rates)
        + f"{'peak':>7} {'x nginx':>7} {'clean to':>8} {'us/reply':>8} {'B/idle':>6}"
    )
    rows = []
    for t in targets:
        peak = max(t.rates.values())
        clean = max([r for r in rates if t.errors.get(r, 1) == 0], default=0)
        cost = t.cpu_us_per_reply.get(clean)
        idle = f"{t.rss_per_idle:.0f}" if t.rss_per_idle is not None else "-"
        print(
            f"{t.name:<11}"
            + "".join(f"{t.rates[r]:>7.0f}" for r in rates)
            + f"{peak:>7.0f} {peak / nginx_peak:>7.2f} {clean:>8} "
            f"{f'{cost:.1f}' if cost else '-':>8} {idle:>6}"
        )
        rows.append(
            {
                "server": t.name,
                "reply_rate": t.rates,
                "errors": t.errors,
                "peak": peak,
                "ratio_to_nginx": peak / nginx_peak,
                "clean_to": clean,
                "cpu_us_per_reply": t.cpu_us_per_reply,
                "rss_bytes_per_idle_connection": t.rss_per_idle,
            }
        )
    if len(targets) > 1:
        best = max(targets[1:], key=lambda t: max(t.rates.values()))
        print(
            f"best mechanism: {best.name}, {max(best.rates.values()) / nginx_peak:.2f} x nginx "
            "(target >= 1.0, goal 1.2); memory target <= 1024 B per idle connection"
        )
    out = HERE.parent / "build" / time.strftime("bench-%Y%m%d-%H%M%S.json")
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({"args": vars(args), "results": rows}, indent=1))
    print(f"results: {out}")


if __name__ == "__main__":
    sys.exit(main())
