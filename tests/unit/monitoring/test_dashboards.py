"""The dashboards in git: well formed, every query valid PromQL, every panel cut by sweep,
mechanism and workload, every uid carrying the lab's name once bound."""

from __future__ import annotations

import copy
import re
import subprocess
from pathlib import Path

import yaml

from orchestrator.monitoring.dashboards import (
    bound,
    datasource,
    expressions,
    lab_uid,
    load_dashboards,
    panels,
    problems,
)
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


def test_every_dashboard_query_is_valid_promql(tmp_path: Path) -> None:
    """promtool parses each query (Grafana's variables filled in as Grafana would): a typo in
    a panel fails here, without a sweep. Their data is checked in test_monitoring."""
    values = {"sweep": "s1", "mechanism": ".*", "workload": "one-byte", "host": ".*",
              "accept_limit": "inf", "__rate_interval": "4s", "__range": "60s"}  # fmt: skip
    rules: list[dict[str, str]] = []
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
