#!/usr/bin/env python3
"""tbload against httperf, one client core each: client CPU per request, and the highest rate.

Run by `make -C tbload bench`, as root, with httperf installed (a few minutes). In one run:

1. The network-namespace pair of server/bench/bench.py (its `Lab`): server side and client
   side joined by a veth pair, receive processing steered with RPS to the side's own CPU, so
   that the client's kernel work is not done on the server's CPU, nor the other way round.
   userver (epoll-ET, the one-byte file) runs pinned to CPU 0, the client under test pinned to
   CPU 1. Both namespaces are deleted at the end, also on error or Ctrl-C.
2. Cost: at each --rates rate, httperf and tbload in turn (--reps repetitions, order
   alternating), each with the command line the load agent builds (agents.load.plan) for
   --duration s. Client CPU per request = the engine's own CPU time (user + system, from its
   summary's CPU line: getrusage) over the replies; beside it, CPU 1's busy time (all of it,
   softirq included, from /proc/stat) over the replies; and the server's CPU per reply, which
   must not depend on the engine (a cross-check).
3. Ceiling: each engine at rising rates (--probe-rates, requests/s), --probe-duration s each,
   until one is not sustained: fewer than 95 % of the offered requests answered, a reply rate
   below 95 % of the offered rate, or (tbload) its own verdict that it did not keep its
   schedule. Where the server's CPU was busy (>= 90 %) at that point, or tbload kept its
   schedule (it offered the load on time, so the replies fell short at the server), the
   server, not the client, set the limit, and the table says so. Twice: one request per
   connection (the paper's workload, where the kernel's work per TCP connection sets every
   client's ceiling), then --calls requests per keep-alive connection
   (--keepalive-probe-rates), where it does not.

The machine is shared and has two cores: the medians and the ratios matter, not one number.
Before each point the bench waits while /tmp/QUIET exists (the lead's measuring window).
Results also go to tbload/build/bench-<time>.json.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(REPO))

from agents.load import httperf  # noqa: E402

_spec = importlib.util.spec_from_file_location("userver_bench", REPO / "server/bench/bench.py")
assert _spec and _spec.loader
ub = importlib.util.module_from_spec(_spec)
sys.modules["userver_bench"] = ub  # its dataclasses look their module up
_spec.loader.exec_module(ub)

TBLOAD = REPO / "tbload" / "tbload"
USERVER = REPO / "server" / "userver"
ENGINES = ("httperf", "tbload")
# The cost phase also runs tbload as httperf closes (the client closes after the reply), so the
# server's CPU per reply can be compared with the same closing order as well.
CLIENT_CLOSE = "tbload-cc"
BUSY_SERVER = 0.90
QUIET = Path("/tmp/QUIET")


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def quiet_wait() -> None:
    while QUIET.exists():
        log("bench: /tmp/QUIET exists, waiting")
        time.sleep(30)


def cpu1_busy_s() -> float:
    """CPU 1's busy time so far (everything but idle and iowait), in seconds."""
    for line in Path("/proc/stat").read_text().splitlines():
        if line.startswith(f"cpu{ub.CLIENT_CPU} "):
            f = [int(x) for x in line.split()[1:]]
            return (sum(f[:8]) - f[3] - f[4]) / ub.TICK
    raise RuntimeError("no cpu line in /proc/stat")


@dataclass
class Point:
    engine: str
    rate: int  # requests/s
    conns: int
    calls: int  # requests per connection
    result: httperf.HttperfResult | None
    kept: bool  # tbload's verdict; httperf: its reply rate kept up
    server_busy: float
    server_us: float
    cpu1_us: float
    others: float = 0.0  # CPU 1's busy share that was not the client's (softirq, others' work)
    error: str = ""

    @property
    def replies(self) -> int:
        return self.result.replies if self.result else 0

    @property
    def client_us(self) -> float:
        r = self.result
        return (r.cpu.user_s + r.cpu.system_s) / r.replies * 1e6 if r and r.replies else 0.0

    @property
    def user_us(self) -> float:
        """The engine's own code's share (user time) per request: the kernel's is the rest."""
        r = self.result
        return r.cpu.user_s / r.replies * 1e6 if r and r.replies else 0.0

    def as_dict(self) -> dict[str, object]:
        keys = ("rate", "conns", "calls", "replies", "kept", "server_busy", "client_us")
        keys += ("user_us", "cpu1_us", "others", "error")
        return {k: getattr(self, k) for k in keys}

    def sustained(self) -> bool:
        r = self.result
        if r is None or r.test_duration_s <= 0:
            return False
        return (
            r.replies >= 0.95 * self.conns * self.calls
            and r.replies / r.test_duration_s >= 0.95 * self.rate
            and self.kept
        )


def argv(engine: str, port: int, rate: float, conns: int, calls: int = 1) -> list[str]:
    """The load agent's command line (agents/load/plan.py::httperf_argv), one process; `rate`
    in connections/s."""
    binary = "httperf" if engine == "httperf" else str(TBLOAD)
    return [
        binary, "-v", "--server", ub.SERVER_ADDRS[0], "--port", str(port), "--client", "0/1",
        "--timeout", "2", "--rate", f"{rate:g}", "--uri", "/one-byte", "--num-conns", str(conns),
        "--num-calls", str(calls), *(["--client-close"] if engine == CLIENT_CLOSE else []),
    ]  # fmt: skip


def run(
    lab: ub.Lab, target: ub.Target, engine: str, rate: int, duration: float, calls: int = 1
) -> Point:
    """`rate` requests/s for `duration` s, `calls` requests per connection."""
    quiet_wait()
    conns = max(1, int(rate * duration / calls))
    srv0, cpu0 = target.cpu_seconds(), cpu1_busy_s()
    p = subprocess.Popen(
        lab.in_cli(*argv(engine, target.port, rate / calls, conns, calls)),
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        out, _ = p.communicate(timeout=duration * 3 + 30)
    except subprocess.TimeoutExpired:
        os.kill(p.pid, signal.SIGKILL)
        p.wait()
        log(f"  {engine:<9} {rate:>6}/s  timed out (killed)")
        return Point(engine, rate, conns, calls, None, False, 0.0, 0.0, 0.0, error="timed out")
    srv, cpu1 = target.cpu_seconds() - srv0, cpu1_busy_s() - cpu0
    try:
        r = httperf.parse(out)
    except httperf.HttperfParseError as e:
        log(f"  {engine:<9} {rate:>6}/s  no summary: {e}; output ends {out[-300:]!r}")
        return Point(engine, rate, conns, calls, None, False, 0.0, 0.0, 0.0, error=str(e))
    kept = engine == "httperf" or bool(re.search(r"^tbload: schedule .* kept yes$", out, re.M))
    busy = srv / max(r.test_duration_s, 1e-9)
    per = 1e6 / r.replies if r.replies else 0.0
    errs = " ".join(f"{k}={v}" for k, v in r.errors.as_dict().items() if v and k != "total")
    own = r.cpu.user_s + r.cpu.system_s
    others = max(0.0, cpu1 - own) / max(r.test_duration_s, 1e-9)
    pt = Point(engine, rate, conns, calls, r, kept, busy, srv * per, cpu1 * per, others, errs)
    log(
        f"  {engine:<9} {rate:>6}/s x{calls:<2} replies {r.replies / r.test_duration_s:>8.0f}/s  "
        f"client {pt.client_us:6.1f} us/req (user {pt.user_us:4.1f}, cpu1 {pt.cpu1_us:6.1f}, "
        f"not ours {others:4.0%})  "
        f"server {busy:4.0%} {pt.server_us:5.1f} us/reply  {'kept' if kept else 'NOT kept'}  "
        f"{errs}"
    )
    return pt


def measured(points: list[Point], field: str) -> float:
    """The median of a field over the runs that printed a summary with replies."""
    return median([getattr(p, field) for p in points if p.replies])


def median(xs: list[float]) -> float:
    s = sorted(xs)
    return (s[(len(s) - 1) // 2] + s[len(s) // 2]) / 2 if s else float("nan")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument(
        "--rates",
        default="2500,5000,15000",
        help="rates of the cost comparison (2,500: a client's share of 20,000 on the lab)",
    )
    ap.add_argument("--duration", type=float, default=5.0, help="seconds per cost point")
    ap.add_argument("--reps", type=int, default=2, help="repetitions of each cost point")
    ap.add_argument("--probe-rates", default="5000,10000,15000,20000,25000,30000,40000,50000")
    ap.add_argument("--calls", type=int, default=10, help="requests per keep-alive connection")
    ap.add_argument(
        "--keepalive-probe-rates",
        default="10000,20000,30000,40000,50000,60000,70000,80000,100000,120000",
    )
    ap.add_argument("--probe-duration", type=float, default=3.0)
    ap.add_argument("--cooldown", type=float, default=1.0, help="seconds between points")
    args = ap.parse_args()

    for tool in ("httperf", "taskset", "ip"):
        if not shutil.which(tool):
            log(f"bench: {tool} is not installed")
            return 1
    for binary in (TBLOAD, USERVER):
        if not binary.exists():
            log(f"bench: {binary} is not built (make -C {binary.parent.name})")
            return 1
    if os.geteuid() != 0 or (os.cpu_count() or 1) < 2:
        log("bench: needs root (network namespaces) and two CPUs (server on 0, client on 1)")
        return 1

    lab = ub.Lab()
    tmp = Path(tempfile.mkdtemp(prefix="tbload-bench-"))
    target = None
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(130))
    rates = [int(r) for r in args.rates.split(",")]
    cost: dict[tuple[str, int], list[Point]] = {}
    ceiling: dict[tuple[str, int], tuple[int, str, list[Point]]] = {}
    try:
        lab.open()
        tmp.chmod(0o755)
        docroot = tmp / "www"
        docroot.mkdir(mode=0o755)
        (docroot / "one-byte").write_bytes(b"x")
        port = 18950
        cmd = [str(USERVER), "--mechanism", "epoll-et", "--port", str(port),
               "--metrics-port", "0", "--docroot", str(docroot)]  # fmt: skip
        target = ub.start(lab, "userver-epoll-et", cmd, port)
        log(
            f"bench: userver epoll-et on CPU {ub.SERVER_CPU}, clients on CPU {ub.CLIENT_CPU}; "
            f"load average {ub.loadavg()}"
        )
        log("bench: cost")
        for rep in range(args.reps):
            for rate in rates:
                engines = (*ENGINES, CLIENT_CLOSE)
                order = engines if rep % 2 == 0 else engines[::-1]
                for engine in order:
                    time.sleep(args.cooldown)
                    cost.setdefault((engine, rate), []).append(
                        run(lab, target, engine, rate, args.duration)
                    )
        log("bench: ceilings")
        ladders = ((1, args.probe_rates), (args.calls, args.keepalive_probe_rates))
        for calls, ladder in ladders:
            for engine in ENGINES:
                rates_up = [int(r) for r in ladder.split(",")]
                ceiling[(engine, calls)] = climb(lab, target, engine, rates_up, calls, args)
    finally:
        if target:
            ub.stop(target)
        lab.close()
        shutil.rmtree(tmp, ignore_errors=True)
    report(rates, cost, ceiling, args)
    return 0


def climb(
    lab: ub.Lab,
    target: ub.Target,
    engine: str,
    rates: list[int],
    calls: int,
    args: argparse.Namespace,
) -> tuple[int, str, list[Point]]:
    """The highest of `rates` the engine sustains, why it stopped, and the probes."""
    best, why, points = 0, "every probe rate was sustained", []
    for rate in rates:
        time.sleep(args.cooldown)
        pt = run(lab, target, engine, rate, args.probe_duration, calls)
        points.append(pt)
        if not pt.sustained():
            # tbload on schedule offered the load: a short reply rate is then the server's
            on_time = engine != "httperf" and pt.kept
            who = "the server" if pt.server_busy >= BUSY_SERVER or on_time else "the client"
            why = (
                f"at {rate}/s {who} fell behind: {pt.replies} of {pt.conns * calls} replies, "
                f"server CPU {pt.server_busy:.0%}, CPU 1 not ours {pt.others:.0%}"
                + ("" if pt.kept else ", schedule not kept")
                + (f", {pt.error}" if pt.error else "")
            )
            break
        best = rate
    return best, why, points


def report(
    rates: list[int],
    cost: dict[tuple[str, int], list[Point]],
    ceiling: dict[tuple[str, int], tuple[int, str, list[Point]]],
    args: argparse.Namespace,
) -> None:
    print(
        f"\none-byte file, one request per connection; userver epoll-ET on CPU {ub.SERVER_CPU}, "
        f"the client on CPU {ub.CLIENT_CPU}, veth pair with RPS; load average {ub.loadavg()}"
    )
    print(
        f"\nclient CPU per request [us], median of {args.reps} x {args.duration:g} s: the "
        "engine's own CPU time (getrusage) / replies; [CPU 1 busy / replies]"
    )
    print(
        f"{'rate':>7}  {'httperf':>17}  {'tbload':>17}  {'ratio':>6}  {'ratio CPU1':>10}  "
        f"{'user: httperf / tbload':>22}  "
        f"{'server us/reply: httperf / tbload / tbload --client-close':>58}"
    )
    rows = []
    for rate in rates:
        h, t = cost[("httperf", rate)], cost[("tbload", rate)]
        hc, tc = measured(h, "client_us"), measured(t, "client_us")
        h1, t1 = measured(h, "cpu1_us"), measured(t, "cpu1_us")
        hu, tu = measured(h, "user_us"), measured(t, "user_us")
        cc = cost[(CLIENT_CLOSE, rate)]
        hs, ts, cs = measured(h, "server_us"), measured(t, "server_us"), measured(cc, "server_us")
        ok = all(p.sustained() for p in h + t + cc)
        print(
            f"{rate:>7}  {hc:>8.1f} [{h1:>6.1f}]  {tc:>8.1f} [{t1:>6.1f}]  {hc / tc:>5.1f}x  "
            f"{h1 / t1:>9.1f}x  {hu:>13.1f} / {tu:>6.1f}  {hs:>36.1f} / {ts:.1f} / {cs:.1f}"
            + ("" if ok else "  (a run fell short)")
        )
        rows.append({"rate": rate, "httperf_us": hc, "tbload_us": tc, "httperf_cpu1_us": h1,
                     "tbload_cpu1_us": t1, "httperf_user_us": hu, "tbload_user_us": tu,
                     "server_us_httperf": hs, "server_us_tbload": ts,
                     "server_us_tbload_client_close": cs,
                     "all_sustained": ok})  # fmt: skip
    print("\nhighest rate one client core sustains (replies >= 95 % of offered, on schedule)")
    for (engine, calls), (best, why, _) in ceiling.items():
        per = "one request per connection" if calls == 1 else f"{calls} per keep-alive connection"
        print(f"  {engine:<8} {per:<32} {best:>7}/s   stopped: {why}")
    out = REPO / "tbload" / "build" / time.strftime("bench-%Y%m%d-%H%M%S.json")
    out.parent.mkdir(exist_ok=True)
    out.write_text(
        json.dumps(
            {
                "args": vars(args),
                "cost": rows,
                "ceiling": [
                    {
                        "engine": e,
                        "calls": calls,
                        "rate": b,
                        "why": w,
                        "probes": [p.as_dict() for p in pts],
                    }
                    for (e, calls), (b, w, pts) in ceiling.items()
                ],
            },
            indent=1,
        )
    )
    print(f"results: {out}")


if __name__ == "__main__":
    sys.exit(main())
