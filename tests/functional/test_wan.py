"""WAN conditions for real on an emulated lab: a sweep over `lan`, a bandwidth cap (tbf) and a
20 ms round trip (netem), each client's round trip measured and stored per point, and nothing
of it left on the links after `orchestrate down` and `orchestrate lab down`.

This machine's kernel may lack netem (CONFIG_NET_SCH_NETEM): then the 20 ms points must fail
with that reason, clearly, while the others run; with netem they must measure 20 ms ± 10 %.
On the session's shared lab, as the last module to use it (tests/functional/conftest.py): its
last test removes the lab.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
from pathlib import Path
from typing import Any

import pytest

from orchestrator.config.labfile import load_lab
from orchestrator.lab.netem import LocalShaper
from tests.support.labtools import links, namespaces, orchestrate
from tests.support.sharedlab import SharedLab

PLAN = {
    "mechanisms": ["epoll-et"],
    "workloads": ["one-byte"],
    "idle_connections": [0],
    "accept_limits": ["inf"],
    "rates": [400],
    "duration": "2s",
    "warmup": "0s",
    "repetitions": 1,
    "cooldown": {"max": "1s"},
    "timeout": "2s",
    # a busy CI host can deschedule a client for tens of milliseconds: such a near miss is
    # measured again, as in a user's sweep (a clear shortfall is not)
    "retries": 2,
    "specweb99": {"directories": 1, "seed": 3},
    "network": ["lan", "capped", "rtt-20ms"],
}
NETWORK = {"profiles": {"capped": {"rate": "50mbit"}, "rtt-20ms": {"delay": "10ms"}}}


def netem_available() -> bool:
    """Whether this kernel has netem: tried on lo of a namespace of our own, then removed."""
    probe = f"tb-wanprobe-{os.getpid()}"
    subprocess.run(["ip", "netns", "add", probe], check=True)
    try:
        command = ["ip", "netns", "exec", probe, "tc", "qdisc", "add", "dev", "lo", "root"]
        return subprocess.run([*command, "netem"], capture_output=True).returncode == 0
    finally:
        subprocess.run(["ip", "netns", "del", probe], check=True)


@pytest.fixture(scope="module")
def swept(
    on_shared_lab: SharedLab, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, Path, Any]:
    """The sweep run on the shared lab: (lab file, state dir, `up`'s result)."""
    directory = tmp_path_factory.mktemp("wan")
    path = on_shared_lab.lab_file(directory, "wan", PLAN, {"network": NETWORK})
    result = orchestrate("up", str(path), state=on_shared_lab.state, timeout=900)
    print(result.stdout[-4000:], result.stderr[-2000:])
    return path, on_shared_lab.state, result


def stored(path: Path) -> dict[str, dict[str, Any]]:
    """{profile: its point row, with `rtts` {client: (expected, measured)}}."""
    lab = load_lab(path)
    with sqlite3.connect(lab.results_directory / "testbed.sqlite") as db:
        db.row_factory = sqlite3.Row
        points = {row["key"]: dict(row) for row in db.execute("SELECT * FROM points")}
        found: dict[str, dict[str, Any]] = {}
        for row in db.execute("SELECT * FROM networks"):
            point = found.setdefault(row["profile"], {**points[row["key"]], "rtts": {}})
            point["rtts"][row["host"]] = (row["expected_ms"], row["rtt_ms"])
    return found


def test_lan_and_a_bandwidth_cap_run_with_their_round_trips_stored(
    swept: tuple[Path, Path, Any],
) -> None:
    path, _, _ = swept
    points = stored(path)
    assert set(points) == {"lan", "capped", "rtt-20ms"}
    for profile in ("lan", "capped"):
        point = points[profile]
        assert point["status"] == "ok", point["reason"]
        assert len(point["rtts"]) == 8
        assert all(expected == 0 and 0 < ms < 1.0 for expected, ms in point["rtts"].values())


@pytest.mark.skipif(not netem_available(), reason="this kernel has no netem qdisc")
def test_a_20ms_profile_measures_20ms_on_every_client(swept: tuple[Path, Path, Any]) -> None:
    path, _, result = swept
    point = stored(path)["rtt-20ms"]
    assert result.returncode == 0 and point["status"] == "ok", point["reason"]
    assert len(point["rtts"]) == 8
    for client, (expected, ms) in point["rtts"].items():
        assert expected == 20.0 and abs(ms - 20.0) <= 2.0, (client, ms)


@pytest.mark.skipif(netem_available(), reason="this kernel has netem")
def test_without_netem_a_delay_profile_fails_its_points_clearly(
    swept: tuple[Path, Path, Any],
) -> None:
    path, _, result = swept
    point = stored(path)["rtt-20ms"]
    assert result.returncode == 1  # a failed point; the sweep went on to the end
    assert point["status"] == "failed"
    assert "rtt-20ms" in point["reason"] and "no netem qdisc" in point["reason"]


def test_down_and_lab_down_leave_no_qdisc(swept: tuple[Path, Path, Any]) -> None:
    path, state, _ = swept
    lab = load_lab(path)
    shaper = LocalShaper(lab)
    assert shaper.shaped() == []  # the sweep put the links back as it found them
    capped = lab.network.profiles["capped"]
    shaper.apply(dict.fromkeys(lab.clients, capped))  # as a sweep killed mid-profile leaves them
    assert len(shaper.shaped()) == 2 * len(lab.clients)
    down = orchestrate("down", str(path), state=state)
    assert down.returncode == 0, down.stdout + down.stderr
    assert shaper.shaped() == []
    shaper.apply(dict.fromkeys(lab.clients, capped))
    gone = orchestrate("lab", "down", str(path), state=state)
    assert gone.returncode == 0, gone.stdout + gone.stderr
    assert not [name for name in namespaces() if name.startswith(f"tb-{lab.name}-")]
    roots = {
        end for client in lab.clients for end, namespace in shaper.ends(client) if not namespace
    }
    assert not roots & set(links())
