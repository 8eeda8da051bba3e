#!/usr/bin/env python3
"""userver against nginx: peak one-byte reply rate and memory per idle connection.

Run by `make -C server bench` (as root, on a machine with httperf and nginx-light). In one run:

1. Starts nginx (one worker, sendfile and tcp_nopush on, access log off, its own temporary
   config and port) and one userver per mechanism, all pinned to CPU 0 and all idle until
   their turn.
2. For each open-loop request rate, in increasing order, drives each server in turn (the order
   rotates from rate to rate, so time is not confounded with the server) with httperf processes
   pinned to CPU 1, each asking for /one at its share of the rate (--client I/N), each aimed at
   its own loopback address (127.0.0.1, 127.0.0.2, ...) so that no address runs out of ports;
   every httperf run is bounded by a timeout, and --hog is never used.
3. Prints each server's reply rate per request rate, its peak, the peak's ratio to nginx's,
   and the highest rate it served without errors.
4. Opens 10,000 idle connections to each server in turn and prints the growth of its resident
   memory per connection (nginx: its worker's).

The machine is shared and has two cores: run it a few times and report the spread.
Results also go to server/build/bench-<time>.json.
"""

from __future__ import annotations

import argparse
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
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
USERVER = HERE.parent / "userver"
MECHANISMS = ["select", "poll", "epoll-lt", "epoll-et", "epoll2", "epoll-ctlv", "io_uring"]
SERVER_CPU, CLIENT_CPU = "0", "1"

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


@dataclass
class Target:
    name: str
    port: int
    proc: subprocess.Popen[bytes]
    metrics_port: int = 0
    rates: dict[int, float] = field(default_factory=dict)
    errors: dict[int, int] = field(default_factory=dict)
    rss_per_idle: float | None = None

    def server_pid(self) -> int:
        """The process that serves: userver itself, nginx's one worker."""
        if self.name != "nginx":
            return self.proc.pid
        children = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children").read_text().split()
        return int(children[0])


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("0.0.0.0", 0))
        return int(s.getsockname()[1])


def wait_listening(port: int, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on port {port}")


def start_nginx(tmp: Path, docroot: Path, nofile: int) -> Target:
    port = free_port()
    conf = tmp / "nginx.conf"
    conf.write_text(NGINX_CONF.format(tmp=tmp, port=port, docroot=docroot, nofile=nofile))
    proc = subprocess.Popen(
        ["taskset", "-c", SERVER_CPU, "nginx", "-p", str(tmp), "-c", str(conf)],
        stderr=subprocess.DEVNULL,
    )
    wait_listening(port)
    return Target("nginx", port, proc)


def start_userver(mechanism: str, docroot: Path) -> Target:
    port, mport = free_port(), free_port()
    proc = subprocess.Popen(
        ["taskset", "-c", SERVER_CPU, str(USERVER), "--mechanism", mechanism, "--port", str(port),
         "--metrics-port", str(mport), "--docroot", str(docroot)],
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    wait_listening(port)
    return Target(mechanism, port, proc, metrics_port=mport)


def stop(t: Target) -> None:
    if t.proc.poll() is None:
        t.proc.send_signal(signal.SIGTERM if t.name != "nginx" else signal.SIGQUIT)
        try:
            t.proc.wait(15)
        except subprocess.TimeoutExpired:
            os.kill(t.proc.pid, signal.SIGKILL)
            t.proc.wait()


def parse_httperf(text: str) -> tuple[int, float, int]:
    """(replies, test duration in s, errors) from httperf's summary; the error kinds go to
    stderr."""
    total = re.search(r"^Total: connections \d+ requests \d+ replies (\d+) test-duration ([\d.]+)",
                      text, re.M)  # fmt: skip
    errors = re.search(r"^Errors: total (\d+)", text, re.M)
    if errors and errors.group(1) != "0":
        log("    " + " | ".join(re.findall(r"^Errors: (.*)$", text, re.M)))
    if not total or not errors:
        raise ValueError(f"no httperf summary in: {text[-300:]!r}")
    return int(total.group(1)), float(total.group(2)), int(errors.group(1))


def drive(t: Target, rate: int, clients: int, duration: float) -> tuple[float, int]:
    """Offer `rate` conn/s of GET /one for `duration` s; returns (reply rate, errors)."""
    share = rate / clients
    conns = int(share * duration)
    procs = [
        subprocess.Popen(
            ["taskset", "-c", CLIENT_CPU, "httperf", "--server", f"127.0.0.{i + 1}",
             "--port", str(t.port), "--uri", "/one", "--rate", f"{share:.1f}",
             "--num-conns", str(conns), "--timeout", "1", "--client", f"{i}/{clients}"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        )  # fmt: skip
        for i in range(clients)
    ]
    replies, errors, longest = 0, 0, duration
    for p in procs:
        try:
            out, _ = p.communicate(timeout=duration + 20)
        except subprocess.TimeoutExpired:
            os.kill(p.pid, signal.SIGKILL)
            p.wait()
            errors += conns
            continue
        r, d, e = parse_httperf(out)
        replies, errors, longest = replies + r, errors + e, max(longest, d)
    return replies / longest, errors


def open_idle(port: int, n: int) -> list[socket.socket]:
    socks = []
    for _ in range(n):
        socks.append(socket.create_connection(("127.0.0.1", port), timeout=10))
    return socks


def rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def open_count(t: Target) -> int:
    if t.metrics_port:
        url = f"http://127.0.0.1:{t.metrics_port}/metrics"
        with urllib.request.urlopen(url, timeout=5) as r:
            m = re.search(r"^testbed_server_connections_open (\S+)", r.read().decode(), re.M)
            return int(float(m.group(1))) if m else -1
    return len(os.listdir(f"/proc/{t.server_pid()}/fd"))


def measure_idle(t: Target, n: int) -> float:
    pid = t.server_pid()
    before = rss(pid)
    base = open_count(t)
    socks = open_idle(t.port, n)
    try:
        deadline = time.monotonic() + 30
        while open_count(t) < base + n and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(0.5)
        return (rss(pid) - before) / n
    finally:
        for s in socks:
            s.close()
        time.sleep(1.0)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--rates", default="12000,16000,20000,24000,28000,32000,36000",
                    help="offered connection rates, one request each (default %(default)s)")
    ap.add_argument("--duration", type=float, default=5.0, help="seconds per point")
    ap.add_argument("--clients", type=int, default=2, help="httperf processes per point")
    ap.add_argument("--cooldown", type=float, default=2.0, help="seconds between points")
    ap.add_argument("--mechanisms", default=",".join(MECHANISMS))
    ap.add_argument("--idle", type=int, default=10000, help="idle connections for the RSS figure")
    args = ap.parse_args()  # fmt: skip
    rates = [int(r) for r in args.rates.split(",")]
    mechanisms = args.mechanisms.split(",")

    for tool in ("httperf", "nginx", "taskset"):
        if not shutil.which(tool):
            log(f"bench: {tool} is not installed (scripts/install-deps installs it)")
            return 1
    if not USERVER.exists():
        log(f"bench: {USERVER} is not built (make -C server)")
        return 1
    if os.cpu_count() is None or os.cpu_count() < 2:  # type: ignore[operator]
        log("bench: needs two CPUs: servers on CPU 0, httperf on CPU 1")
        return 1
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    if hard < args.idle + 1000:
        log(f"bench: the descriptor limit {hard} is too low for {args.idle} idle connections")
        return 1

    tmp = Path(tempfile.mkdtemp(prefix="userver-bench-"))
    tmp.chmod(0o755)  # nginx's worker runs as nobody
    docroot = tmp / "www"
    docroot.mkdir()
    (docroot / "one").write_bytes(b"x")
    (docroot / "one").chmod(0o644)
    docroot.chmod(0o755)
    targets: list[Target] = []
    try:
        targets.append(start_nginx(tmp, docroot, min(hard, 20000)))
        targets += [start_userver(m, docroot) for m in mechanisms]
        log(f"bench: {len(targets)} servers on CPU {SERVER_CPU}, {args.clients} httperf on CPU "
            f"{CLIENT_CPU}, {args.duration:.0f} s per point, rates {rates}")  # fmt: skip
        for i, rate in enumerate(rates):
            order = targets[i % len(targets) :] + targets[: i % len(targets)]
            for t in order:
                time.sleep(args.cooldown)
                reply_rate, errors = drive(t, rate, args.clients, args.duration)
                t.rates[rate], t.errors[rate] = reply_rate, errors
                log(f"  {t.name:<11} offered {rate:>6}/s  replies {reply_rate:>8.0f}/s  "
                    f"errors {errors}")  # fmt: skip
        if args.idle:
            for t in targets:
                t.rss_per_idle = measure_idle(t, args.idle)
                log(f"  {t.name:<11} {args.idle} idle connections: "
                    f"{t.rss_per_idle:.0f} B resident per connection")  # fmt: skip
    finally:
        for t in targets:
            stop(t)
        shutil.rmtree(tmp, ignore_errors=True)

    report(targets, rates, args)
    return 0


def report(targets: list[Target], rates: list[int], args: argparse.Namespace) -> None:
    nginx_peak = max(targets[0].rates.values())
    print(f"\none-byte workload: reply rate [replies/s] by offered rate [conn/s]; "
          f"servers on CPU {SERVER_CPU}, {args.clients} httperf on CPU {CLIENT_CPU}, "
          f"{args.duration:.0f} s per point")  # fmt: skip
    print(f"{'server':<11}" + "".join(f"{r:>8}" for r in rates)
          + f"{'peak':>8} {'x nginx':>8} {'clean to':>9} {'B/idle':>7}")  # fmt: skip
    rows = []
    for t in targets:
        peak = max(t.rates.values())
        clean = max([r for r in rates if t.errors.get(r, 1) == 0], default=0)
        idle = f"{t.rss_per_idle:.0f}" if t.rss_per_idle is not None else "-"
        print(f"{t.name:<11}" + "".join(f"{t.rates[r]:>8.0f}" for r in rates)
              + f"{peak:>8.0f} {peak / nginx_peak:>8.2f} {clean:>9} {idle:>7}")  # fmt: skip
        rows.append({"server": t.name, "reply_rate": t.rates, "errors": t.errors, "peak": peak,
                     "ratio_to_nginx": peak / nginx_peak, "clean_to": clean,
                     "rss_bytes_per_idle_connection": t.rss_per_idle})  # fmt: skip
    best = max(targets[1:], key=lambda t: max(t.rates.values()))
    print(f"best mechanism: {best.name}, {max(best.rates.values()) / nginx_peak:.2f} x nginx "
          "(target >= 1.0, goal 1.2); memory target <= 1024 B per idle connection")  # fmt: skip
    out = HERE.parent / "build" / time.strftime("bench-%Y%m%d-%H%M%S.json")
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({"args": vars(args), "results": rows}, indent=1))
    print(f"results: {out}")


if __name__ == "__main__":
    sys.exit(main())
