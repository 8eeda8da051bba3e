"""The Grafana dashboards kept in dashboards/: loading, checking, binding, provisioning files.

Pure JSON work; `orchestrator.monitoring.grafana` is what talks to a Grafana server.

Several labs can publish to one Grafana: binding a dashboard to a lab gives it, its data source
and its folder uids that carry the lab's name (`lab_uid`), so one lab never repoints another's
dashboards; the links between the two dashboards follow the lab's tag, and the report link
points at the lab's reports.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
from pathlib import Path
from typing import Any

import yaml

from orchestrator.paths import resource

DASHBOARDS = resource("dashboards")
GRID_WIDTH = 24
UID_LENGTH = 40  # Grafana's limit
LINK_TAG = "testbed"  # the dashboards' links list the dashboards with this tag (per lab, bound)
REPORTS_URL = "${reports_url}"  # the report link's prefix in the JSON, replaced when bound
RANGE_FUNCTIONS = re.compile(r"\b(rate|irate|increase|delta|idelta|deriv)\s*\(")
WINDOW = re.compile(r"\[([^\]]+)\]")


def lab_uid(base: str, lab: str) -> str:
    """`base` made the lab's own: 'testbed-live' -> 'testbed-live-emulated' (Grafana allows
    40 characters: a longer one keeps the lab's name and a digest of the base)."""
    uid = f"{base}-{lab}"
    if len(uid) <= UID_LENGTH:
        return uid
    digest = hashlib.sha256(base.encode()).hexdigest()[:8]
    return f"{digest}-{lab}"[:UID_LENGTH]


def datasource_uid(lab: str) -> str:
    return lab_uid("testbed-prom", lab)


def folder_uid(lab: str) -> str:
    return lab_uid("testbed", lab)


def load_dashboards(directory: Path = DASHBOARDS) -> list[dict[str, Any]]:
    return [json.loads(path.read_text()) for path in sorted(directory.glob("*.json"))]


def panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    """Every panel, those inside collapsed rows included."""
    found = []
    for panel in dashboard.get("panels", []):
        found.append(panel)
        found += panel.get("panels", [])
    return found


def problems(dashboards: list[dict[str, Any]]) -> list[str]:
    """What is wrong with a set of dashboards: duplicate uids or panel ids, a panel or query not
    bound to the data-source variable, panels overlapping or off the grid."""
    found: list[str] = []
    uids = [board.get("uid") for board in dashboards]
    found += [f"dashboard uid {uid!r} is used twice" for uid in set(uids) if uids.count(uid) > 1]
    for board in dashboards:
        name = board.get("uid", "?")
        ids = [panel.get("id") for panel in panels(board)]
        found += [f"{name}: panel id {i} is used twice" for i in set(ids) if ids.count(i) > 1]
        for panel in panels(board):
            where = f"{name}: panel {panel.get('id')} ({panel.get('title')})"
            if panel.get("type") == "row":
                continue
            if panel.get("datasource", {}).get("uid") != "${datasource}":
                found.append(f"{where}: not bound to the ${{datasource}} variable")
            for target in panel.get("targets", []):
                if target.get("datasource", {}).get("uid") != "${datasource}":
                    found.append(
                        f"{where}: query {target.get('refId')} not bound to ${{datasource}}"
                    )
            grid = panel.get("gridPos", {})
            if grid.get("x", 0) + grid.get("w", 0) > GRID_WIDTH or grid.get("w", 0) <= 0:
                found.append(f"{where}: off the {GRID_WIDTH}-column grid")
        cells: dict[tuple[int, int], int] = {}
        for panel in board.get("panels", []):
            grid = panel["gridPos"]
            for x in range(grid["x"], grid["x"] + grid["w"]):
                for y in range(grid["y"], grid["y"] + grid["h"]):
                    if (x, y) in cells:
                        found.append(f"{name}: panels {cells[(x, y)]} and {panel['id']} overlap")
                        break
                    cells[(x, y)] = panel["id"]
                else:
                    continue
                break
        variables = [v.get("name") for v in board.get("templating", {}).get("list", [])]
        if "datasource" not in variables:
            found.append(f"{name}: no datasource variable")
        found += _query_problems(board)
    return found


def expressions(board: dict[str, Any]) -> list[tuple[str, str]]:
    """(where, PromQL) for every query of the dashboard: panels, variables, annotations."""
    name = board.get("uid", "?")
    found = []
    for panel in panels(board):
        for target in panel.get("targets", []):
            found.append((f"{name}: panel {panel.get('id')} {target.get('refId')}", target["expr"]))
    for variable in board.get("templating", {}).get("list", []):
        if variable.get("type") == "query":
            found.append((f"{name}: variable {variable['name']}", variable["query"]["query"]))
    for annotation in board.get("annotations", {}).get("list", []):
        found.append((f"{name}: annotation {annotation.get('name')}", annotation["expr"]))
    return found


def _query_problems(board: dict[str, Any]) -> list[str]:
    """Grafana's conventions: rates over $__rate_interval (a fixed window is too short for a
    slow scrape and too coarse for a fast one), no other fixed window, a unit on every panel."""
    found = []
    for where, expression in expressions(board):
        if RANGE_FUNCTIONS.search(expression) and "[$__rate_interval]" not in expression:
            found.append(f"{where}: a rate not over [$__rate_interval]: {expression}")
        for window in WINDOW.findall(expression):
            if not window.startswith("$__"):
                found.append(f"{where}: a fixed window [{window}]: {expression}")
    for panel in panels(board):
        unit = panel.get("fieldConfig", {}).get("defaults", {}).get("unit")
        if panel.get("type") != "row" and not unit:
            found.append(
                f"{board.get('uid')}: panel {panel.get('id')} ({panel.get('title')}): no unit"
            )
    return found


def bound(dashboard: dict[str, Any], lab: str, reports_url: str | None = None) -> dict[str, Any]:
    """A copy made lab `lab`'s own: its uid carries the lab's name, its data-source variable
    defaults to the lab's data source, its links list the lab's dashboards, and the report link
    starts with `reports_url` (RESULTS/reports as the browser reaches it)."""
    result = copy.deepcopy(dashboard)
    result["uid"] = lab_uid(dashboard["uid"], lab)
    result["title"] = f"{dashboard['title']} ({lab})"
    result["tags"] = sorted({*dashboard.get("tags", []), lab_tag(lab)})
    for variable in result.get("templating", {}).get("list", []):
        if variable.get("name") == "datasource":
            variable["current"] = {"text": datasource_name(lab), "value": datasource_uid(lab)}
    for link in result.get("links", []):
        if link.get("type") == "dashboards":
            link["tags"] = [lab_tag(lab)]
        elif "url" in link:
            link["url"] = link["url"].replace(REPORTS_URL, reports_url or "/reports")
    return result


def lab_tag(lab: str) -> str:
    return f"{LINK_TAG}-lab-{lab}"


def datasource_name(lab: str) -> str:
    return f"testbed {lab} Prometheus"


def datasource(prometheus_url: str, lab: str) -> dict[str, Any]:
    """The Grafana data source for lab `lab`'s Prometheus."""
    return {
        "uid": datasource_uid(lab),
        "name": datasource_name(lab),
        "type": "prometheus",
        "access": "proxy",
        "url": prometheus_url,
        "isDefault": False,
        "jsonData": {"timeInterval": "1s", "httpMethod": "POST"},
    }


def write_provisioning(
    directory: Path,
    prometheus_url: str,
    folder: str,
    *,
    lab: str = "testbed",
    dashboards_path: str | None = None,
    reports_url: str | None = None,
) -> list[Path]:
    """Grafana file provisioning: data source, dashboard provider and the dashboards' JSON.

    `dashboards_path` is where `directory`/dashboards will be on the Grafana host (the
    provider's path); by default `directory`'s own, for a Grafana on this machine."""
    written = []
    json_dir = directory / "dashboards"
    json_dir.mkdir(parents=True, exist_ok=True)
    for board in load_dashboards():
        board = bound(board, lab, reports_url)
        path = json_dir / f"{board['uid']}.json"
        path.write_text(json.dumps(board, indent=2) + "\n")
        written.append(path)
    sources = directory / "provisioning" / "datasources" / f"testbed-{lab}.yaml"
    sources.parent.mkdir(parents=True, exist_ok=True)
    sources_yaml = {"apiVersion": 1, "datasources": [datasource(prometheus_url, lab)]}
    sources.write_text(yaml.safe_dump(sources_yaml, sort_keys=False))
    providers = directory / "provisioning" / "dashboards" / f"testbed-{lab}.yaml"
    providers.parent.mkdir(parents=True, exist_ok=True)
    providers.write_text(
        yaml.safe_dump(
            {
                "apiVersion": 1,
                "providers": [
                    {
                        "name": f"testbed-{lab}",
                        "folder": folder,
                        "folderUid": folder_uid(lab),
                        "type": "file",
                        "disableDeletion": False,
                        "allowUiUpdates": False,
                        "options": {"path": dashboards_path or str(json_dir.resolve())},
                    }
                ],
            },
            sort_keys=False,
        )
    )
    return [*written, sources, providers]
