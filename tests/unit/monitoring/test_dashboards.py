"""Dashboards, the generated Prometheus configuration, the orchestrator's exporter, `watch`."""

from __future__ import annotations

import copy
import re
import subprocess
from pathlib import Path

import yaml
from prometheus_client import CollectorRegistry, generate_latest
from rich.console import Console

from orchestrator.config.plan import Point
from orchestrator.monitoring.dashboards import (
    bound,
    datasource,
    expressions,
    lab_uid,
    load_dashboards,
    panels,
    problems,
)
from orchestrator.monitoring.exporter import SweepExporter
from orchestrator.monitoring.prometheus import scrape_config
from orchestrator.monitoring.watch import render
from orchestrator.results.records import PointRecord, Sweep
from tests.support.labfiles import default_lab

LAB = default_lab(routes=list)


def test_the_dashboards_in_git_are_well_formed() -> None:
    boards = load_dashboards()
    assert {board["uid"] for board in boards} == {"testbed-live", "testbed-sweep"}
    assert problems(boards) == []


def test_dashboard_checks_catch_what_they_claim_to() -> None:
    board = copy.deepcopy(load_dashboards()[0])
    board["panels"][1]["id"] = board["panels"][0]["id"]
    board["panels"][2]["datasource"] = {"type": "prometheus", "uid": "some-fixed-uid"}
    board["panels"][3]["gridPos"] = dict(board["panels"][4]["gridPos"])
    found = problems([board, board])
    assert any("uid 'testbed-live' is used twice" in p for p in found)
    assert any("panel id 1 is used twice" in p for p in found)
    assert any("not bound to the ${datasource} variable" in p for p in found)
    assert any("overlap" in p for p in found)


def test_every_rate_is_over_the_rate_interval_and_every_panel_has_a_unit() -> None:
    for board in load_dashboards():
        for where, expression in expressions(board):
            for window in re.findall(r"\[([^\]]+)\]", expression):
                assert window in ("$__rate_interval", "$__range"), (where, expression)
            if re.search(r"\b(rate|irate|increase)\(", expression):
                assert "[$__rate_interval]" in expression, (where, expression)
        for panel in panels(board):
            assert panel["fieldConfig"]["defaults"]["unit"], (board["uid"], panel["title"])
    board = copy.deepcopy(load_dashboards()[0])
    board["panels"][3]["targets"][0]["expr"] = "sum(rate(testbed_server_requests_total[5s]))"
    del board["panels"][4]["fieldConfig"]["defaults"]["unit"]
    found = problems([board])
    assert any("not over [$__rate_interval]" in p for p in found)
    assert any("a fixed window [5s]" in p for p in found)
    assert any("no unit" in p for p in found)


def test_the_live_dashboard_cuts_every_panel_by_sweep_mechanism_and_workload() -> None:
    live = next(board for board in load_dashboards() if board["uid"] == "testbed-live")
    variables = {variable["name"] for variable in live["templating"]["list"]}
    assert {"sweep", "mechanism", "workload"} <= variables
    for where, expression in expressions(live):
        if "variable" not in where:
            assert "$sweep" in expression, (where, expression)
    assert live["graphTooltip"] == 1  # shared crosshair
    [phases] = live["annotations"]["list"]
    assert "{{phase}}" in phases["titleFormat"] and "{{rate}}" in phases["textFormat"]


def test_every_uid_carries_the_lab_name_after_binding() -> None:
    for lab in ("emulated", "a-lab-name-of-thirty-one-chars-"[:31]):
        for board in load_dashboards():
            ready = bound(board, lab, "file:///srv/results/reports")
            assert ready["uid"].endswith(lab) and len(ready["uid"]) <= 40
            [source] = [v for v in ready["templating"]["list"] if v["name"] == "datasource"]
            assert lab in source["current"]["value"]
            assert source["current"]["value"] == datasource("http://p:9090", lab)["uid"]
            dashboards_link, report_link = ready["links"]
            assert dashboards_link["tags"] == [f"testbed-lab-{lab}"]
            assert f"testbed-lab-{lab}" in ready["tags"]
            assert report_link["url"] == "file:///srv/results/reports/$sweep/index.html"
    assert lab_uid("testbed-live", "one") != lab_uid("testbed-live", "two")


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


def test_the_orchestrators_metrics_pass_promtool() -> None:
    registry = CollectorRegistry()
    exporter = SweepExporter(LAB, registry=registry)
    sweep = Sweep(
        "emulated-20261126-120000", "emulated", "abc", 7, "running", 0.0, None, 28, "manual"
    )
    point = Point("epoll-et", "one-byte", 0, None, 2000.0, 1)
    exporter.sweep_started(sweep, 28, 0)
    exporter.point_started(0, point, 1)
    exporter.phase("measure")
    exporter.live(1990.0)
    exporter.point_finished(
        PointRecord(
            point,
            0,
            "ok",
            "",
            1,
            0.0,
            9.0,
            summary={"request_rate": 2000.0, "reply_rate": 1999.0, "errors": {"client-timo": 0}},
        )
    )
    saturated = Point("select", "one-byte", 0, None, 2000.0, 1)
    exporter.point_started(1, saturated, 1)
    exporter.point_finished(PointRecord(saturated, 1, "saturated", "server at 99 %", 1, 0.0, 9.0))
    exporter.point_started(2, point, 1)
    exporter.phase("warmup")
    text = generate_latest(registry).decode()
    assert (
        "testbed_point_phase{" in text
        and 'phase="warmup"' in text
        and 'phase="measure"' not in text
    )
    assert "testbed_point_reply_rate{" in text and "1999.0" in text
    assert 'testbed_sweep_points{state="ok",sweep="emulated-20261126-120000"} 1.0' in text
    # a saturated point is counted as such, neither ok nor the clients' limit
    assert 'testbed_sweep_points{state="saturated",sweep="emulated-20261126-120000"} 1.0' in text
    assert 'state="client_limited",sweep="emulated-20261126-120000"} 0.0' in text
    # The plan's size apart from the parts of the done count; an info metric stays 1.
    assert 'testbed_sweep_points_planned{sweep="emulated-20261126-120000"} 28.0' in text
    assert 'state="planned"' not in text and 'state="done"' not in text
    assert (
        'testbed_sweep_info{lab="emulated",seed="7",sweep="emulated-20261126-120000"} 1.0' in text
    )
    assert "_created" not in text
    checked = subprocess.run(
        ["promtool", "check", "metrics"], input=text, capture_output=True, text=True
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_watch_renders_a_point_in_progress() -> None:
    def result(labels: dict[str, str], value: float) -> dict[str, object]:
        return {"metric": labels, "value": [0, str(value)]}

    snapshot = {
        "phase": [
            result(
                {
                    "sweep": "s1",
                    "mechanism": "poll",
                    "workload": "one-byte",
                    "idle_connections": "0",
                    "accept_limit": "inf",
                    "rate": "2000",
                    "repetition": "1",
                    "phase": "measure",
                },
                1,
            )
        ],
        "points": [result({"state": "done"}, 3), result({"state": "planned"}, 28)],
        "replies": [result({}, 1987.4)],
        "time_wait": [result({"host": "client1"}, 412)],
        "cpu": [result({"host": "server"}, 0.93)],
        "up": [result({"host": "server"}, 1), result({"host": "client1"}, 0)],
    }
    console = Console(width=160, record=True)
    console.print(render(snapshot, "emulated", 0.0))
    text = console.export_text()
    assert "one-byte/idle=0/accept=inf/poll/rate=2000/rep=1" in text
    assert "phase measure" in text and "done 3" in text and "planned 28" in text
    assert "1,987" in text and "412" in text and "93%" in text


def test_every_dashboard_query_is_valid_promql(tmp_path: Path) -> None:
    """promtool parses each query (Grafana's variables filled in as Grafana would): a typo in
    a panel fails here, without a sweep. Their data is checked in test_monitoring."""
    values = {"sweep": "s1", "mechanism": ".*", "workload": "one-byte", "host": ".*",
              "accept_limit": "inf", "__rate_interval": "4s", "__range": "60s"}  # fmt: skip
    rules = []
    for board in load_dashboards():
        for where, expression in expressions(board):
            if "variable" in where:  # label_values(...) is Grafana's, not PromQL
                match = re.fullmatch(r"label_values\((.*), \w+\)", expression)
                assert match, (where, expression)
                expression = match.group(1)
            for name in sorted(values, key=len, reverse=True):
                expression = expression.replace(f"${name}", values[name])
            rules.append({"record": f"check:{len(rules)}", "expr": expression})
    path = tmp_path / "rules.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboards", "rules": rules}]}))
    checked = subprocess.run(
        ["promtool", "check", "rules", str(path)], capture_output=True, text=True
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert len(rules) >= 30
