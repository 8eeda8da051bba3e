"""Servers under test on the emulated lab: userver and nginx serve the same points and both
curves are in the report; a broken server command fails its point with the server's own
stderr, and the sweep goes on. Then provisioning the lab once more changes nothing.

On the session's shared lab (tests/functional/conftest.py), as its first user: its `servers:`
section adds nginx to what provisioning installs.
"""

from __future__ import annotations

import csv
import json
import os
import re
import sqlite3
import subprocess
from pathlib import Path
from typing import Any

import pytest

from orchestrator import naming
from orchestrator.config.labfile import load_lab
from tests.support.labtools import orchestrate
from tests.support.sharedlab import SharedLab

BROKEN = "no-such-server-binary"

SERVERS = [
    {"name": "userver", "builtin": "userver"},
    {
        "name": "nginx",
        "command": "python3 -m agents.nginx --address {address} --port {port}"
        " --docroot {docroot} --cpus {cpus}",
        "packages": ["nginx-light"],
        "ready": {"path": "/one-byte"},
    },
    {"name": "broken", "command": f"{BROKEN} --port {{port}} --root {{docroot}}"},
]
EXPERIMENT = {
    "servers": ["userver", "nginx", "broken"],
    "mechanisms": ["epoll-et"],
    "workloads": ["one-byte"],
    "idle_connections": [0],
    "accept_limits": ["inf"],
    "rates": [400, 800],  # broken fails at 400; the points at 800 still run after it
    "duration": "3s",
    "warmup": "1s",
    "repetitions": 1,
    "cooldown": {"max": "1s"},
    "timeout": "2s",
    "retries": 0,
    "specweb99": {"directories": 1, "seed": 3},
}


@pytest.fixture(scope="module")
def swept(
    on_shared_lab: SharedLab,
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[Path, Any]:
    directory = tmp_path_factory.mktemp("servers")
    path = on_shared_lab.lab_file(directory, "servers", EXPERIMENT, {"servers": SERVERS})
    result = orchestrate("up", str(path), state=on_shared_lab.state, timeout=900)
    print(result.stdout[-4000:], result.stderr[-2000:])
    return path, result


def stored(path: Path) -> list[dict[str, Any]]:
    lab = load_lab(path)
    with sqlite3.connect(lab.results_directory / "testbed.sqlite") as db:
        db.row_factory = sqlite3.Row
        return [dict(row) for row in db.execute("SELECT * FROM points ORDER BY seq")]


def test_userver_and_nginx_serve_the_same_points(swept: tuple[Path, Any]) -> None:
    path, _ = swept
    points = stored(path)
    by_server: dict[str, dict[float, dict[str, Any]]] = {}
    for point in points:
        by_server.setdefault(point["server_name"], {})[point["target_rate"]] = point
    assert set(by_server) == {"userver", "nginx", "broken"}
    assert set(by_server["userver"]) == set(by_server["nginx"]) == {400.0, 800.0}
    for server in ("userver", "nginx"):
        # a load generator pegged on this shared 2-core machine is marked, not the server's
        statuses = {point["status"] for point in by_server[server].values()}
        assert statuses <= {"ok", "client-limited"} and "ok" in statuses, (server, statuses)
        for rate, point in by_server[server].items():
            if point["status"] == "ok":  # at these low rates both serve what is offered
                assert point["reply_rate"] >= 0.9 * rate, (server, rate, point["reply_rate"])
    for point in by_server["nginx"].values():
        server = json.loads(point["server"])
        assert server["cpu_source"] == "proc" and server["cpu_seconds"] > 0
        assert "syscalls" in server["lacks"] and point["server_replies"] is None
        assert point["mechanism"] == ""
    for point in by_server["userver"].values():
        assert point["server_replies"] > 0 and point["mechanism"] == "epoll-et"


def test_a_broken_server_fails_its_points_with_its_stderr_and_the_sweep_goes_on(
    swept: tuple[Path, Any],
) -> None:
    path, _ = swept
    points = stored(path)
    broken = [p for p in points if p["server_name"] == "broken"]
    assert [p["status"] for p in broken] == ["failed", "failed"]
    for point in broken:
        assert BROKEN in point["reason"] and "not found" in point["reason"], point["reason"]
    first_failure = min(p["seq"] for p in broken)
    after = [p for p in points if p["seq"] > first_failure and p["server_name"] != "broken"]
    # the sweep went on: every later point was measured (a client pegged on this shared
    # 2-core machine makes one client-limited, which is a measurement, not a failure)
    assert after and all(p["status"] in ("ok", "client-limited") for p in after), after
    assert any(p["status"] == "ok" for p in after)


def test_the_report_draws_both_servers_on_one_figure(swept: tuple[Path, Any]) -> None:
    path, _ = swept
    reports = load_lab(path).results_directory / "reports"
    [directory] = [index.parent for index in reports.glob("*/index.html")]
    with (directory / "curves.csv").open() as handle:
        curves = {row["mechanism"] for row in csv.DictReader(handle)}
    assert {"epoll-et", "nginx"} <= curves
    page = (directory / "index.html").read_text()
    assert "userver epoll-ET" in page  # labels name the server when the sweep has several
    assert "exports no counters of its own" in page and "system calls (Table 1)" in page
    [figure] = list(directory.glob("figure-*-one-byte-idle0-all.csv"))  # every curve of a group
    text = figure.read_text()
    assert "nginx" in text and "epoll-et" in text


def test_provisioning_the_provisioned_lab_again_changes_nothing(
    swept: tuple[Path, Any], on_shared_lab: SharedLab, tmp_path: Path
) -> None:
    """The sweep's `up` provisioned the lab (nginx included); `orchestrate provision` always
    runs, and on a lab as provisioning left it, Ansible must change nothing. The lab file has
    no `servers:` section, as every later module's: nginx stays installed, and they skip."""
    path = on_shared_lab.lab_file(
        tmp_path, "provision", {k: v for k, v in EXPERIMENT.items() if k != "servers"}
    )
    result = orchestrate("provision", str(path), state=on_shared_lab.state, timeout=900)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr
    assert re.search(r"provision \([\d.]+ s, 0 changed\)", result.stdout), result.stdout[-3000:]
    lab = load_lab(path)
    assert os.access(Path(lab.server.directory) / "server" / "userver", os.X_OK)
    for client in lab.clients:
        agents = Path(client.directory) / "agents"
        assert (agents / "load" / "__main__.py").is_file()  # python3 -m agents.load
        assert (agents / "idle" / "__main__.py").is_file()
        assert not (agents / "load.py").exists()  # the flat tree of before is gone
    # the namespaced kernel parameters were set inside each host, not on this machine
    namespace = naming.namespace(lab.name, lab.clients[0].name)
    port_range = subprocess.run(
        ["ip", "netns", "exec", namespace, "cat", "/proc/sys/net/ipv4/ip_local_port_range"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert port_range.split() == ["1024", "65535"]
