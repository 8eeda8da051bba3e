"""The generated Prometheus configuration, checked by promtool."""

from __future__ import annotations

import subprocess
from pathlib import Path

import yaml

from orchestrator.monitoring.prometheus import scrape_config
from tests.support.labfiles import default_lab

LAB = default_lab(routes=list)


def test_generated_prometheus_config_passes_promtool(tmp_path: Path) -> None:
    config = scrape_config(LAB)
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert set(jobs) == {"server", "load", "idle", "node", "orchestrator"}
    assert config["global"]["scrape_interval"] == "1s"
    node_targets = [t["targets"][0] for t in jobs["node"]["static_configs"]]
    assert node_targets == [f"{host.management}:9100" for host in LAB.hosts]
    assert all(t["labels"]["host"] and t["labels"]["role"] for t in jobs["load"]["static_configs"])
    path = tmp_path / "prometheus.yml"
    path.write_text(yaml.safe_dump(config))
    checked = subprocess.run(
        ["promtool", "check", "config", str(path)], capture_output=True, text=True
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
