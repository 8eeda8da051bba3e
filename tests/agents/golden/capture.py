#!/usr/bin/env python3
"""Capture the golden httperf outputs in this directory from REAL httperf runs.

Run by hand from the repository root (takes about a minute; needs httperf and nginx):

    python3 tests/agents/golden/capture.py            # all cases
    python3 tests/agents/golden/capture.py NAME...    # some cases

Each case writes NAME.txt (httperf's stdout and stderr, as `2>&1` gives them). Then regenerate the
expected parses beside them and review the diff:

    TESTBED_UPDATE_GOLDEN=1 .venv/bin/pytest tests/agents/test_agents_httperf_golden.py

The servers are our own: a temporary nginx (keep-alive, or not), a port nobody listens on, and a
listener that never reads (every request times out). Nothing else on the machine is touched.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[2]))

from agents import workloads  # noqa: E402
from tests.support.agents import Nginx, closed_port, silent_listener  # noqa: E402


def httperf(*args: str) -> list[str]:
    return ["httperf", "-v", "--server", "127.0.0.1", *args]


def run(argv: Sequence[str], timeout: float = 60) -> str:
    print("  $", " ".join(argv), flush=True)
    out = subprocess.run(
        argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=timeout
    )
    return out.stdout


def run_many(argvs: Sequence[Sequence[str]], timeout: float = 60) -> list[str]:
    procs = []
    for argv in argvs:
        print("  $", " ".join(argv), "&", flush=True)
        procs.append(
            subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        )
    return [p.communicate(timeout=timeout)[0] for p in procs]


def one_byte(tmp: Path) -> dict[str, str]:
    docroot = tmp / "docroot"
    workloads.write_fileset(docroot, seed=1, directories=1)
    with Nginx(docroot) as ngx:
        p = str(ngx.port)
        common = ["--port", p, "--uri", "/one-byte", "--timeout", "2"]
        out = {
            "one-byte-1sample": run(httperf(*common, "--rate", "200", "--num-conns", "1200")),
            "one-byte-0samples": run(httperf(*common, "--rate", "100", "--num-conns", "200")),
            "one-byte-2samples": run(httperf(*common, "--rate", "300", "--num-conns", "3300")),
            "one-byte-404": run(
                httperf(
                    "--port",
                    p,
                    "--uri",
                    "/missing",
                    "--timeout",
                    "2",
                    "--rate",
                    "100",
                    "--num-conns",
                    "200",
                )
            ),
        }
        split = run_many(
            [
                httperf(*common, "--client", f"{i}/2", "--rate", "150", "--num-conns", "900")
                for i in range(2)
            ]
        )
        out["one-byte-split-0of2"], out["one-byte-split-1of2"] = split
        # Interrupted: httperf prints its statistics on SIGINT (what the load agent's watchdog
        # sends when a run overruns).
        proc = subprocess.Popen(
            httperf(*common, "--rate", "100", "--num-conns", "100000"),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        time.sleep(3)
        os.kill(proc.pid, signal.SIGINT)
        out["one-byte-sigint"] = proc.communicate(timeout=30)[0]
    return out


def sessions(tmp: Path) -> dict[str, str]:
    docroot = tmp / "docroot"
    workloads.write_fileset(docroot, seed=1, directories=2)
    sess = tmp / "sessions.txt"
    chosen = workloads.generate_sessions(seed=1, client=0, directories=2, sessions=200)
    sess.write_text(workloads.session_file_text(chosen))
    args = ["--wsesslog", f"180,0,{sess}", "--rate", "30", "--timeout", "2"]
    out = {}
    with Nginx(docroot) as ngx:
        out["session-specweb99"] = run(
            httperf("--port", str(ngx.port), "--max-connections", "1", *args)
        )
    # A server that closes after each reply: sessions end in connreset.
    with Nginx(docroot, keepalive_timeout=0) as ngx:
        out["session-connreset"] = run(
            httperf("--port", str(ngx.port), "--max-connections", "1", *args)
        )
    return out


def errors(tmp: Path) -> dict[str, str]:
    out = {
        "errors-connrefused": run(
            httperf(
                "--port",
                str(closed_port()),
                "--uri",
                "/",
                "--rate",
                "100",
                "--num-conns",
                "300",
                "--timeout",
                "2",
            )
        )
    }
    with silent_listener() as port:
        out["errors-client-timo"] = run(
            httperf(
                "--port",
                str(port),
                "--uri",
                "/",
                "--rate",
                "50",
                "--num-conns",
                "100",
                "--timeout",
                "1",
            )
        )
    with silent_listener() as port:
        out["errors-fd-unavail"] = run(
            httperf(
                "--port",
                str(port),
                "--uri",
                "/",
                "--rate",
                "1000",
                "--num-conns",
                "2500",
                "--timeout",
                "3",
            )
        )
    return out


CASES: dict[str, Callable[[Path], dict[str, str]]] = {
    "one-byte": one_byte,
    "sessions": sessions,
    "errors": errors,
}


def main(argv: Sequence[str]) -> int:
    wanted = set(argv)
    for group, capture in CASES.items():
        with tempfile.TemporaryDirectory(prefix="tbagents-golden-") as tmp:
            print(f"{group}:", flush=True)
            for name, text in capture(Path(tmp)).items():
                if wanted and name not in wanted and group not in wanted:
                    continue
                (HERE / f"{name}.txt").write_text(text)
                print(f"  wrote {name}.txt ({len(text)} chars)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
