"""`orchestrate nightly` on a real emulated lab: three nights of a short plan.

Night 1 has no baseline yet and is pinned as the baseline. Night 2 runs while CPU hogs share the
server's CPU (the server really is slower): it must report a regression, POST the JSON summary
to a webhook served by this test, and exit 1; a second `nightly` started while it runs must exit
3 at once and leave it alone. Night 3, without hogs, compares with the pinned night 1 and must
find nothing worse. With `nightly.keep: 1`, the store then holds exactly night 3 and the
baseline; night 2's report and comparison page are gone.

On the session's shared lab (tests/functional/conftest.py); the hogs and the webhook server are
this test's own.
"""

from __future__ import annotations

import http.server
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from orchestrator.config.labfile import load_lab
from orchestrator.results.store import Store
from tests.support.labfiles import free_port
from tests.support.labtools import (
    SLOWABLE_PLAN,
    SLOWING_HOGS,
    ServerHogs,
    orchestrate,
    start_orchestrate,
)
from tests.support.sharedlab import SHARED_NAME, SharedLab

LAB_NAME = SHARED_NAME


class Webhook(http.server.ThreadingHTTPServer):
    """A local HTTP endpoint that keeps the JSON bodies POSTed to it."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        received = self.bodies

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                received.append(json.loads(self.rfile.read(length)))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        super().__init__(("127.0.0.1", free_port()), Handler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/hook"


@pytest.fixture(scope="module")
def webhook() -> Iterator[Webhook]:
    server = Webhook()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def nightly_sweeps(results: Path) -> list[str]:
    store = Store.open(results, create=False)
    try:
        return [sweep.id for sweep in store.sweeps(LAB_NAME) if sweep.kind == "nightly"]
    finally:
        store.close()


def night_logs(results: Path) -> list[Path]:
    return sorted((results / "nightly").glob(f"*-{LAB_NAME}.log"))


def test_three_nights_regression_alert_lock_and_retention(
    on_shared_lab: SharedLab, tmp_path: Path, webhook: Webhook
) -> None:
    nightly_section = {"keep": 1, "webhook": webhook.url, "threshold": "10%"}
    # Single runs: the hogs slow the server by far more than the threshold, and a night without
    # them tracks the same rates, so no CI is needed to tell them apart (nor the time for one).
    plan = {**SLOWABLE_PLAN, "repetitions": 1, "duration": "2s"}
    path = on_shared_lab.lab_file(tmp_path, "nightly", plan, {"nightly": nightly_section})
    lab, state = load_lab(path), on_shared_lab.state
    results = lab.results_directory

    # Night 1: nothing to compare with yet; pinned as the baseline.
    first = orchestrate("nightly", str(path), state=state)
    print(first.stdout[-3000:])
    assert first.returncode == 0, first.stdout[-2000:] + first.stderr
    assert f"nightly {LAB_NAME}: first night" in first.stdout
    [night1] = nightly_sweeps(results)
    pinned = orchestrate("baseline", "set", str(results), night1, state=state)
    assert pinned.returncode == 0, pinned.stderr
    assert not webhook.bodies  # nothing moved, nobody is told

    # Night 2, the server slowed by hogs; a second nightly meanwhile must exit 3 at once.
    log = tmp_path / "night2.out"
    with ServerHogs(lab, SLOWING_HOGS) as hogs:
        night = start_orchestrate("nightly", str(path), state=state, log=log)
        while not hogs.started:  # the sweep exists: the lock is held, points are running
            assert night.poll() is None, log.read_text()[-2000:]
            time.sleep(0.2)
        logs_before = night_logs(results)
        started = time.monotonic()
        busy = orchestrate("nightly", str(path), state=state, timeout=60)
        assert busy.returncode == 3, busy.stdout + busy.stderr
        assert time.monotonic() - started < 30
        assert f"lab '{LAB_NAME}' is busy" in busy.stderr
        assert night.poll() is None, "the running night was disturbed"
        assert night_logs(results) == logs_before
        code = night.wait(timeout=900)
    output = log.read_text()
    print(output[-4000:])
    assert code == 1, output[-3000:]
    assert f"nightly {LAB_NAME}: regressed" in output
    night2 = nightly_sweeps(results)[-1]
    assert night2 != night1
    [alert] = webhook.bodies
    assert alert["status"] == "regressed"
    assert alert["sweep"] == night2 and alert["baseline"] == night1
    assert alert["worse"] and all("peak" in line for line in alert["worse"])
    night_log = Path(alert["log"]).read_text()
    assert "against" in night_log and "regressed" in night_log
    assert (results / "reports" / f"compare-{night1}--{night2}.html").exists()

    # Night 3, no hogs: compared with the pinned night 1, nothing is worse.
    third = orchestrate("nightly", str(path), state=state)
    print(third.stdout[-3000:])
    assert third.returncode == 0, third.stdout[-3000:] + third.stderr
    night3 = nightly_sweeps(results)[-1]
    summary = [line for line in third.stdout.splitlines() if line.startswith("nightly ")]
    assert summary and f"sweep {night3} against {night1}" in summary[-1]
    assert ": regressed" not in summary[-1] and ": failed" not in summary[-1]
    assert len(webhook.bodies) == 1  # no new alert

    # Retention: keep 1 night plus the pinned baseline.
    assert nightly_sweeps(results) == [night1, night3]
    reports = results / "reports"
    assert (reports / night1).is_dir() and (reports / night3).is_dir()
    assert not (reports / night2).exists()
    assert not list(reports.glob(f"compare-*{night2}*.html"))
    assert len(night_logs(results)) == 1
