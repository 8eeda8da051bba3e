"""Listeners bind where they are scraped, never every address by default."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from agents._cli import agent_parser
from orchestrator.config.labfile import load_lab
from orchestrator.monitoring.prometheus import exporter_address, scrape_config
from orchestrator.ports import ORCHESTRATOR_METRICS_PORT
from tests.support.labfiles import REPOSITORY, default_lab, write_lab


def _orchestrator_targets(config: dict[str, Any]) -> list[str]:
    return [
        target
        for job in config["scrape_configs"]
        for group in job.get("static_configs", [])
        for target in group["targets"]
        if target.endswith(f":{ORCHESTRATOR_METRICS_PORT}")
    ]


def test_emulated_lab_exporter_binds_the_management_address_it_is_scraped_on() -> None:
    lab = default_lab(routes=list)
    assert exporter_address(lab) == "198.18.0.1"
    assert _orchestrator_targets(scrape_config(lab)) == [f"198.18.0.1:{ORCHESTRATOR_METRICS_PORT}"]


def test_real_lab_exporter_binds_loopback_where_our_prometheus_scrapes(tmp_path: Path) -> None:
    text = (REPOSITORY / "inventory" / "example-physical.yml").read_text()
    lab = load_lab(
        write_lab(tmp_path, inventory_text=text, lab_changes={"emulate": False}), routes=list
    )
    assert exporter_address(lab) == "127.0.0.1"
    assert _orchestrator_targets(scrape_config(lab)) == [f"127.0.0.1:{ORCHESTRATOR_METRICS_PORT}"]
    no_management = dataclasses.replace(lab, orchestrator_address=None)
    assert exporter_address(no_management) == "127.0.0.1"


def test_agents_metrics_default_to_loopback_when_run_by_hand() -> None:
    args = agent_parser("x", "x", 9181).parse_args(["--server", "127.0.0.1", "--port", "80"])
    assert args.metrics_address == "127.0.0.1"
