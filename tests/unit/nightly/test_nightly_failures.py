"""`nightly` when the run fails with something that is not the project's own error (SQLite's
disk full, an Ansible or SSH library's exception, a bug): exit 2, webhook and command fired,
the sweep marked failed, retention applied, and no secret in the night's log."""

from __future__ import annotations

import json
import sqlite3
import stat
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest

from orchestrator.config.labfile import load_lab
from orchestrator.config.model import Lab
from orchestrator.nightly import nightly, retention
from orchestrator.results.records import SweepSummary
from orchestrator.results.store import Store
from orchestrator.ui import Terminal
from tests.support.labfiles import write_lab
from tests.support.report_stores import new_sweep

SECRET = "T0K3N-s3cr3t"


@pytest.fixture
def webhook() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    received: list[dict[str, Any]] = []

    class Hook(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers["Content-Length"])
            received.append(json.loads(self.rfile.read(length)))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Hook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield (
            f"http://hook:{SECRET}@127.0.0.1:{server.server_port}/hooks/{SECRET}?k={SECRET}",
            received,
        )
    finally:
        server.shutdown()
        server.server_close()


def night_lab(tmp_path: Path, webhook_url: str) -> Lab:
    alerts = tmp_path / "alert.json"
    path = write_lab(
        tmp_path,
        name="night",
        second_octet=19,
        third_base=216,
        lab_changes={
            "emulate": False,
            "results": {"directory": str(tmp_path / "results")},
            "nightly": {"keep": 1, "webhook": webhook_url, "command": f"cat > {alerts}"},
        },
    )
    return load_lab(path, routes=list)


def old_nights(lab: Lab, count: int = 3) -> list[str]:
    """Complete nights with their reports, comparison pages and logs."""
    store = Store.open(lab.results_directory)
    reports = lab.results_directory / "reports"
    ids = []
    for night in range(count):
        sweep = new_sweep(store, lab="night", kind="nightly", now=1_000_000.0 + night * 86_400)
        store.finish_sweep(sweep, "complete", SweepSummary())
        (reports / sweep).mkdir(parents=True)
        (reports / sweep / "index.html").write_text("report")
        ids.append(sweep)
    (reports / f"compare-{ids[0]}--{ids[1]}.html").write_text("page")
    (reports / f"compare-{ids[1]}--{ids[2]}.html").write_text("page")
    store.close()
    logs = lab.results_directory / "nightly"
    logs.mkdir(parents=True)
    for day in range(3):
        (logs / f"2000010{day + 1}-023000-night.log").write_text("old")
    return ids


def test_an_exception_that_is_not_ours_is_a_failed_night(
    tmp_path: Path,
    state_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    webhook: tuple[str, list[dict[str, Any]]],
) -> None:
    url, received = webhook
    lab = night_lab(tmp_path, url)
    old = old_nights(lab)
    reports = lab.results_directory / "reports"
    (reports / "not-ours").mkdir()  # a directory retention did not make
    (reports / "not-ours" / "keep.txt").write_text("x")
    started: list[str] = []

    def failing_up(lab: Lab, view: Any, **kwargs: Any) -> Any:
        store = Store.open(lab.results_directory)
        started.append(new_sweep(store, lab="night", kind="nightly", now=time.time()))
        store.close()
        print(f"publishing to {url}")  # a library printing the URL it was given
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(nightly, "run_up", failing_up)
    result = nightly.run_nightly(lab, Terminal())
    out, err = capsys.readouterr()

    assert result.exit_code == 2 and result.status == "failed"
    assert result.reason == "OperationalError: database or disk is full"
    [alert] = received  # the webhook fired, with the summary
    assert alert["status"] == "failed" and "disk is full" in alert["summary"]
    assert json.loads((tmp_path / "alert.json").read_text())["status"] == "failed"

    store = Store.open(lab.results_directory, readonly=True)
    statuses = {sweep.id: sweep.status for sweep in store.sweeps("night")}
    assert statuses[started[0]] == "failed"  # not left running
    # Retention: keep 1 night (the failed one) and the baseline (the last good one).
    assert set(statuses) == {started[0], old[2]}
    assert not (reports / old[0]).exists() and not (reports / old[1]).exists()
    assert (reports / old[2] / "index.html").exists()
    assert sorted(p.name for p in reports.glob("compare-*")) == []
    assert (reports / "not-ours" / "keep.txt").exists()
    logs = sorted(p.name for p in (lab.results_directory / "nightly").glob("*.log"))
    assert len(logs) == 1 and logs[0] == Path(result.log).name

    log = Path(result.log)
    assert stat.S_IMODE(log.stat().st_mode) in (0o600, 0o640)
    for text in (log.read_text(), out, err):
        assert SECRET not in text
    assert "webhook http://127.0.0.1:" in log.read_text()
    assert result.summary_line() in out


def test_retention_leaves_what_it_cannot_prove_it_made(
    tmp_path: Path, state_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lab = night_lab(tmp_path, "https://hooks.example.org/x")
    old = old_nights(lab, count=4)
    reports = lab.results_directory / "reports"
    (reports / old[0] / "index.html").unlink()  # not a report of ours any more
    (reports / old[0] / "data.txt").write_text("someone's")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "index.html").write_text("elsewhere")
    (reports / old[1] / "index.html").unlink()
    (reports / old[1]).rmdir()
    (reports / old[1]).symlink_to(outside)  # a link: never followed
    (lab.results_directory / "nightly" / "notes-night.log").write_text("a user's file")
    with sqlite3.connect(lab.results_directory / "testbed.sqlite") as db:
        db.execute("UPDATE sweeps SET id = '../../outside' WHERE id = ?", (old[2],))
        (reports / old[2]).rename(outside / "report")
    db.close()
    store = Store.open(lab.results_directory)
    new_sweep(store, lab="night", kind="nightly", now=2_000_000.0)
    store.close()

    terminal = Terminal()
    current = lab.results_directory / "nightly" / "current-night.log"
    retention.retain(lab, current, terminal.line, terminal.warn)

    assert (reports / old[0] / "data.txt").exists()
    assert (outside / "index.html").exists()
    assert (outside / "report" / "index.html").exists()
    assert (lab.results_directory / "nightly" / "notes-night.log").exists()
    store = Store.open(lab.results_directory, readonly=True)
    assert "../../outside" in {sweep.id for sweep in store.sweeps("night")}
    assert "not named as ours" in capsys.readouterr().err


def test_describe_failure_is_one_redacted_line() -> None:
    error = RuntimeError(f"ssh to https://u:{SECRET}@h.example/x failed\nmore detail")
    line = nightly.describe_failure(error)
    assert line == "RuntimeError: ssh to https://h.example/… failed"
