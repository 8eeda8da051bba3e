"""The one client of Prometheus's HTTP API: instant and range queries.

    client = PrometheusClient("http://127.0.0.1:9090")
    client.query("testbed_server_connections_open")
    client.query_range("rate(testbed_server_replies_total[5s])", start, end)

Errors (no answer, HTTP errors, a failed query) raise `TestbedError` naming the URL or the path.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any

from orchestrator.config.redact import display_url, redact_text
from orchestrator.errors import TestbedError


@dataclass(frozen=True)
class PrometheusClient:
    """Queries to the Prometheus at `url`; see the module docstring."""

    url: str

    def query(self, expression: str, at: float | None = None) -> list[dict[str, Any]]:
        """An instant query: [{"metric": {...}, "value": [time, "value"]}, ...]."""
        parameters = {"query": expression}
        if at is not None:
            parameters["time"] = f"{at:.3f}"
        return list(self._get("/api/v1/query", parameters)["result"])

    def query_range(
        self, expression: str, start: float, end: float, step: float = 1.0
    ) -> list[dict[str, Any]]:
        """A range query: [{"metric": {...}, "values": [[time, "value"], ...]}, ...]."""
        parameters = {
            "query": expression,
            "start": f"{start:.3f}",
            "end": f"{end:.3f}",
            "step": f"{step:g}",
        }
        return list(self._get("/api/v1/query_range", parameters)["result"])

    def _get(self, path: str, parameters: dict[str, str]) -> dict[str, Any]:
        url = f"{self.url}{path}?{urllib.parse.urlencode(parameters)}"
        try:
            with urllib.request.urlopen(url, timeout=10) as answer:
                body = json.loads(answer.read())
        except urllib.error.HTTPError as error:
            detail = error.read().decode(errors="replace")[:300]
            raise TestbedError(f"prometheus {path}: HTTP {error.code}: {detail}") from None
        except (urllib.error.URLError, OSError) as error:
            raise TestbedError(
                f"prometheus at {display_url(self.url)} does not answer: {redact_text(str(error))}"
            ) from None
        if body.get("status") != "success":
            raise TestbedError(f"prometheus {path}: {body.get('error', body)}")
        return dict(body["data"])
