"""Publishing to Grafana through the real CLI, against a local fake of Grafana's HTTP API."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from orchestrator.monitoring.dashboards import datasource_uid, folder_uid, lab_uid, load_dashboards
from tests.support.grafana_fake import FakeGrafana
from tests.support.labfiles import write_lab
from tests.support.labtools import orchestrate

TOKEN = "glsa_testbedSecretToken_0123456789abcdef"
LAB = "tbtest-grafana"


def lab_with_grafana(directory: Path, url: str, name: str = LAB) -> Path:
    path = write_lab(directory, name=name, lab_changes={"emulate": False})
    data = yaml.safe_load(path.read_text())
    data["monitoring"]["grafana"] = {
        "url": url,
        "token_env": "TESTBED_TEST_GRAFANA_TOKEN",
        "folder": "testbed lab",
    }
    path.write_text(yaml.safe_dump(data))
    return path


def test_publish_upserts_by_uid_and_a_second_publish_changes_nothing(
    tmp_path: Path, monkeypatch: object
) -> None:
    with FakeGrafana(TOKEN) as grafana:
        path = lab_with_grafana(tmp_path, grafana.url)
        env = {"TESTBED_TEST_GRAFANA_TOKEN": TOKEN}
        first = orchestrate("dashboards", "publish", str(path), state=tmp_path / "s", env=env)
        assert first.returncode == 0, first.stdout + first.stderr
        assert grafana.requests and all(
            r["headers"].get("Authorization") == f"Bearer {TOKEN}" for r in grafana.requests
        )
        source = datasource_uid(LAB)
        assert set(grafana.datasources) == {source} and LAB in source
        assert grafana.datasources[source]["type"] == "prometheus"
        assert grafana.folders[folder_uid(LAB)]["title"] == "testbed lab"
        uids = {lab_uid(board["uid"], LAB) for board in load_dashboards()}
        assert set(grafana.dashboards) == uids
        for board in grafana.dashboards.values():
            assert board["meta"]["folderUid"] == folder_uid(LAB)
            variable = board["dashboard"]["templating"]["list"][0]
            assert variable["current"]["value"] == source
        writes = len(grafana.writes())
        assert writes == 2 + len(uids)  # data source, folder, each dashboard

        second = orchestrate("dashboards", "publish", str(path), state=tmp_path / "s", env=env)
        assert second.returncode == 0, second.stdout + second.stderr
        assert len(grafana.writes()) == writes, "a second publish wrote something"
        assert "created" not in second.stdout and "updated" not in second.stdout

        everything = first.stdout + first.stderr + second.stdout + second.stderr
        logs = [p.read_text(errors="replace") for p in tmp_path.rglob("*") if p.is_file()]
        assert TOKEN not in everything and not any(TOKEN in text for text in logs)


def test_two_labs_publish_to_one_grafana_side_by_side(tmp_path: Path) -> None:
    with FakeGrafana(TOKEN) as grafana:
        env = {"TESTBED_TEST_GRAFANA_TOKEN": TOKEN}
        for name in (LAB, "tbtest-other"):
            (tmp_path / name).mkdir()
            path = lab_with_grafana(tmp_path / name, grafana.url, name=name)
            result = orchestrate("dashboards", "publish", str(path), state=tmp_path / "s", env=env)
            assert result.returncode == 0, result.stdout + result.stderr
        assert set(grafana.datasources) == {datasource_uid(LAB), datasource_uid("tbtest-other")}
        assert len(grafana.dashboards) == 2 * len(load_dashboards())
        for board in grafana.dashboards.values():
            lab = LAB if board["dashboard"]["uid"].endswith(LAB) else "tbtest-other"
            variable = board["dashboard"]["templating"]["list"][0]
            assert variable["current"]["value"] == datasource_uid(lab)
            assert board["meta"]["folderUid"] == folder_uid(lab)


def test_a_changed_dashboard_is_updated_in_place(tmp_path: Path) -> None:
    with FakeGrafana(TOKEN) as grafana:
        path = lab_with_grafana(tmp_path, grafana.url)
        env = {"TESTBED_TEST_GRAFANA_TOKEN": TOKEN}
        assert (
            orchestrate("dashboards", "publish", str(path), state=tmp_path, env=env).returncode == 0
        )
        board = next(iter(grafana.dashboards.values()))["dashboard"]
        board["title"] = "edited by hand in Grafana"
        result = orchestrate("dashboards", "publish", str(path), state=tmp_path, env=env)
        assert result.returncode == 0
        assert f"{board['uid']} updated" in result.stdout
        assert grafana.dashboards[board["uid"]]["dashboard"]["title"] != "edited by hand in Grafana"


def test_wrong_token_and_unreachable_grafana_are_clear_errors(tmp_path: Path) -> None:
    with FakeGrafana(TOKEN) as grafana:
        path = lab_with_grafana(tmp_path, grafana.url)
        bad = orchestrate(
            "dashboards",
            "publish",
            str(path),
            state=tmp_path,
            env={"TESTBED_TEST_GRAFANA_TOKEN": "wrong"},
        )
        assert bad.returncode == 1
        assert "HTTP 401" in bad.stderr and "wrong" not in bad.stderr
    gone = orchestrate(
        "dashboards",
        "publish",
        str(path),
        state=tmp_path,
        env={"TESTBED_TEST_GRAFANA_TOKEN": TOKEN},
    )
    assert gone.returncode == 1 and "unreachable" in gone.stderr
    unset = orchestrate("dashboards", "publish", str(path), state=tmp_path, env={})
    assert unset.returncode == 1
    assert (
        "TESTBED_TEST_GRAFANA_TOKEN (monitoring.grafana.token_env) holds no API token"
        in unset.stderr
    )


def test_export_writes_grafana_file_provisioning(tmp_path: Path) -> None:
    result = orchestrate(
        "dashboards",
        "export",
        str(tmp_path / "grafana"),
        "--prometheus-url",
        "http://prom.lab:9090",
        "--lab",
        "physical",
        "--dashboards-path",
        "/var/lib/grafana/dashboards/testbed",
        state=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    provisioning = tmp_path / "grafana/provisioning"
    sources = yaml.safe_load((provisioning / "datasources/testbed-physical.yaml").read_text())
    assert sources["datasources"][0]["url"] == "http://prom.lab:9090"
    assert sources["datasources"][0]["uid"] == datasource_uid("physical")
    providers = yaml.safe_load((provisioning / "dashboards/testbed-physical.yaml").read_text())
    provider = providers["providers"][0]
    # The provider's path is where the files will be on the Grafana host, not where they are now.
    assert provider["options"]["path"] == "/var/lib/grafana/dashboards/testbed"
    assert provider["folderUid"] == folder_uid("physical")
    boards = [json.loads(p.read_text()) for p in (tmp_path / "grafana/dashboards").glob("*.json")]
    assert {board["uid"] for board in boards} == {
        lab_uid(board["uid"], "physical") for board in load_dashboards()
    }
