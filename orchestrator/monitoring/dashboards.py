"""The Grafana dashboards kept in dashboards/: loading, checking, binding, provisioning files.

Pure JSON work; `orchestrator.monitoring.grafana` is what talks to a Grafana server.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import yaml

from orchestrator.paths import resource

DASHBOARDS = resource("dashboards")
DATASOURCE_UID = "testbed-prometheus"
DATASOURCE_NAME = "testbed Prometheus"
GRID_WIDTH = 24


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
    return found


def bound(dashboard: dict[str, Any]) -> dict[str, Any]:
    """A copy whose data-source variable defaults to the testbed data source."""
    result = copy.deepcopy(dashboard)
    for variable in result.get("templating", {}).get("list", []):
        if variable.get("name") == "datasource":
            variable["current"] = {"text": DATASOURCE_NAME, "value": DATASOURCE_UID}
    return result


def datasource(prometheus_url: str) -> dict[str, Any]:
    """The Grafana data source for the lab's Prometheus."""
    return {
        "uid": DATASOURCE_UID,
        "name": DATASOURCE_NAME,
        "type": "prometheus",
        "access": "proxy",
        "url": prometheus_url,
        "isDefault": False,
        "jsonData": {"timeInterval": "1s", "httpMethod": "POST"},
    }


def write_provisioning(directory: Path, prometheus_url: str, folder: str) -> list[Path]:
    """Grafana file provisioning: data source, dashboard provider and the dashboards' JSON."""
    written = []
    json_dir = directory / "dashboards"
    json_dir.mkdir(parents=True, exist_ok=True)
    for board in load_dashboards():
        path = json_dir / f"{board['uid']}.json"
        path.write_text(json.dumps(bound(board), indent=2) + "\n")
        written.append(path)
    sources = directory / "provisioning" / "datasources" / "testbed.yaml"
    sources.parent.mkdir(parents=True, exist_ok=True)
    sources_yaml = {"apiVersion": 1, "datasources": [datasource(prometheus_url)]}
    sources.write_text(yaml.safe_dump(sources_yaml, sort_keys=False))
    providers = directory / "provisioning" / "dashboards" / "testbed.yaml"
    providers.parent.mkdir(parents=True, exist_ok=True)
    providers.write_text(
        yaml.safe_dump(
            {
                "apiVersion": 1,
                "providers": [
                    {
                        "name": "testbed",
                        "folder": folder,
                        "folderUid": "testbed",
                        "type": "file",
                        "disableDeletion": False,
                        "allowUiUpdates": False,
                        "options": {"path": str(json_dir.resolve())},
                    }
                ],
            },
            sort_keys=False,
        )
    )
    return [*written, sources, providers]
