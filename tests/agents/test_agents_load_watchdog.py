"""The load agent's watchdog, with stand-ins for httperf (the end-to-end tests, with real httperf
against nginx, are in live/test_agents_load.py)."""

from __future__ import annotations

import signal
import sys
import time
from pathlib import Path

from agents.load.plan import ProcessPlan
from agents.load.runner import Metrics, Runner

GOLDEN = Path(__file__).parent / "golden"


def test_watchdog_interrupts_then_kills_an_overrunning_httperf() -> None:
    """A process that outlives its budget gets SIGINT (httperf prints its statistics then), and
    SIGKILL if it ignores that. Stand-ins for httperf: one printing a real summary on SIGINT, one
    ignoring SIGINT."""
    summary = (GOLDEN / "one-byte-sigint.txt").read_text()
    polite = (
        "import signal, sys, time\n"
        f"signal.signal(signal.SIGINT, lambda *a: (sys.stdout.write({summary!r}), sys.exit(0)))\n"
        "print('reply-rate = 5.0', flush=True)\n"
        "time.sleep(60)\n"
    )
    stubborn = "import signal, time\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\ntime.sleep(60)\n"
    metrics = Metrics()
    runner = Runner(metrics, kill_grace_s=1.0)
    started = time.monotonic()
    runner.start(
        [
            (ProcessPlan(0, 10, 10, None), [sys.executable, "-c", polite]),
            (ProcessPlan(1, 10, 10, None), [sys.executable, "-c", stubborn]),
        ],
        budget_s=1.0,
    )
    runner.wait()
    assert time.monotonic() - started < 8
    polite_proc, stubborn_proc = runner.procs
    assert polite_proc.overran and not polite_proc.killed
    assert polite_proc.popen.returncode == 0
    assert polite_proc.reply_samples == [5.0]
    assert "Total: connections" in polite_proc.out.decode()
    assert stubborn_proc.overran and stubborn_proc.killed
    assert stubborn_proc.popen.returncode == -signal.SIGKILL
    assert metrics.registry.get_sample_value("testbed_load_watchdog_stops_total") == 2
