"""Preflight refuses a plan whose idle connections exceed what a host's open-file limit allows,
in one line, before the sweep starts (not as a failed point halfway through)."""

from __future__ import annotations

import dataclasses

from orchestrator.config.labfile import load_lab
from orchestrator.config.model import Lab
from orchestrator.lab.preflight import judge_host
from orchestrator.lab.remote import CommandResult
from tests.support.labfiles import REPOSITORY


def lab_with_idle(*counts: int) -> Lab:
    lab = load_lab(REPOSITORY / "lab.yml", routes=list)
    return dataclasses.replace(
        lab, experiment=dataclasses.replace(lab.experiment, idle_connections=counts)
    )


def open_files_check(lab: Lab, role: str, hard: int) -> tuple[str, str]:
    host = lab.server if role == "server" else lab.clients[0]
    probe = f"@time 1800000000.0\n@nofile 1024 {hard}\n@ports 1024 65535\n@addresses\n[]\n"
    result = CommandResult(host.name, "probe", 0, probe, "", None, 0.01)
    check = judge_host(lab, host, result, 1800000000.0, 1800000000.0).checks["open files"]
    return check.status, check.detail


def test_idle_connections_past_the_servers_hard_limit_fail_in_one_line() -> None:
    status, detail = open_files_check(lab_with_idle(0, 25000), "server", 20000)
    assert status == "fail"
    assert "\n" not in detail
    assert "25,000 idle connections" in detail and "20000" in detail and "19,900" in detail


def test_the_largest_count_that_fits_passes_and_clients_need_only_their_share() -> None:
    assert open_files_check(lab_with_idle(0, 19000), "server", 20000)[0] == "ok"
    assert open_files_check(lab_with_idle(0, 25000), "client", 20000)[0] == "ok"  # 3,125 each
    status, detail = open_files_check(lab_with_idle(100000), "client", 4096)
    assert status == "fail" and "per client" in detail
    assert open_files_check(lab_with_idle(0), "server", 20000)[0] == "ok"
