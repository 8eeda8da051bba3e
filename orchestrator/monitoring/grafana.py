"""The one seam to Grafana: publishing the data source and the dashboards (grafana-client).

    result = publish(url, token, prometheus_url, folder="testbed", lab="emulated")
    result.changes   # {"datasource": "created", "folder": "unchanged", "testbed-live-emulated": …}

Idempotent by uid: each object is read first and written only when it differs, so a second
publish makes no change at all. The token is sent as a bearer header and appears in no
message, log or file of ours.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from grafana_client.api import GrafanaApi
from grafana_client.client import GrafanaClientError, GrafanaException

from orchestrator.config.redact import display_url
from orchestrator.errors import TestbedError
from orchestrator.monitoring.dashboards import (
    bound,
    datasource,
    folder_uid,
    load_dashboards,
)

ApiFactory = Callable[[str, str], Any]


def _api(url: str, token: str) -> Any:
    return GrafanaApi.from_url(url=url, credential=token, timeout=10.0)


@dataclass
class PublishResult:
    changes: dict[str, str] = field(default_factory=dict)  # object -> created/updated/unchanged

    @property
    def changed(self) -> bool:
        return any(change != "unchanged" for change in self.changes.values())


def publish(
    url: str,
    token: str,
    prometheus_url: str,
    folder: str,
    lab: str,
    reports_url: str | None = None,
    api_factory: ApiFactory = _api,
) -> PublishResult:
    """Create or update lab `lab`'s data source, folder and dashboards; see the docstring."""
    api = api_factory(url, token)
    result = PublishResult()
    try:
        result.changes["datasource"] = _datasource(api, datasource(prometheus_url, lab))
        result.changes["folder"] = _folder(api, folder, folder_uid(lab))
        for board in load_dashboards():
            wanted = bound(board, lab, reports_url)
            result.changes[wanted["uid"]] = _dashboard(api, wanted, folder_uid(lab))
    except GrafanaException as error:
        raise TestbedError(f"grafana at {display_url(url)}: {_describe(error)}") from None
    except Exception as error:  # the HTTP library's connection errors: an unreachable Grafana
        raise TestbedError(
            f"grafana at {display_url(url)} is unreachable: {type(error).__name__}"
        ) from None
    return result


def _datasource(api: Any, wanted: dict[str, Any]) -> str:
    existing = _get(lambda: api.datasource.get_datasource_by_uid(wanted["uid"]))
    if existing is None:
        api.datasource.create_datasource(wanted)
        return "created"
    if all(existing.get(key) == value for key, value in wanted.items()):
        return "unchanged"
    api.datasource.update_datasource_by_uid(wanted["uid"], wanted)
    return "updated"


def _folder(api: Any, title: str, uid: str) -> str:
    existing = _get(lambda: api.folder.get_folder(uid))
    if existing is None:
        api.folder.create_folder(title, uid=uid)
        return "created"
    if existing.get("title") == title:
        return "unchanged"
    api.folder.update_folder(uid, title=title, overwrite=True)
    return "updated"


def _dashboard(api: Any, wanted: dict[str, Any], folder: str) -> str:
    existing = _get(lambda: api.dashboard.get_dashboard(wanted["uid"]))
    if existing is not None:
        current = {
            k: v for k, v in existing.get("dashboard", {}).items() if k not in ("id", "version")
        }
        desired = {k: v for k, v in wanted.items() if k not in ("id", "version")}
        if current == desired and existing.get("meta", {}).get("folderUid") == folder:
            return "unchanged"
    api.dashboard.update_dashboard(
        {
            "dashboard": {**wanted, "id": None},
            "folderUid": folder,
            "overwrite": True,
            "message": "published by testbed",
        }
    )
    return "created" if existing is None else "updated"


def _get(call: Callable[[], Any]) -> Any:
    """The object, or None when Grafana says it does not exist."""
    try:
        return call()
    except GrafanaClientError as error:
        if error.status_code == 404:
            return None
        raise


def _describe(error: GrafanaException) -> str:
    status = getattr(error, "status_code", "?")
    message = error.message if isinstance(error.message, str) else str(error.message)
    return f"HTTP {status}: {message[:200]}"
