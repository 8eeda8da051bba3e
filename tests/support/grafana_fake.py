"""A local HTTP server that answers the Grafana HTTP API calls testbed makes, keeps what it was
given, and records every request (method, path, headers, body). No Grafana server can be
installed on these machines; this stands in for it in the publishing tests."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class FakeGrafana:
    """Start with `with FakeGrafana(token) as grafana:`; `grafana.url`, `grafana.requests`."""

    def __init__(self, token: str) -> None:
        self.token = token
        self.requests: list[dict[str, Any]] = []
        self.datasources: dict[str, dict[str, Any]] = {}
        self.folders: dict[str, dict[str, Any]] = {}
        self.dashboards: dict[str, dict[str, Any]] = {}
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> FakeGrafana:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def writes(self) -> list[dict[str, Any]]:
        return [r for r in self.requests if r["method"] in ("POST", "PUT", "DELETE")]

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # keep test output clean
                pass

            def _answer(self, status: int, body: Any) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _handle(self, method: str) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"null")
                fake.requests.append(
                    {
                        "method": method,
                        "path": self.path,
                        "headers": dict(self.headers),
                        "body": body,
                    }
                )
                if self.headers.get("Authorization") != f"Bearer {fake.token}":
                    return self._answer(401, {"message": "Unauthorized"})
                status, answer = fake.route(method, self.path, body)
                self._answer(status, answer)

            def do_GET(self) -> None:
                self._handle("GET")

            def do_POST(self) -> None:
                self._handle("POST")

            def do_PUT(self) -> None:
                self._handle("PUT")

        return Handler

    def route(self, method: str, path: str, body: Any) -> tuple[int, Any]:
        parts = path.split("?")[0].strip("/").split("/")
        missing = (404, {"message": "not found"})
        if parts[:3] == ["api", "datasources", "uid"]:
            uid = parts[3]
            if method == "GET":
                return (200, self.datasources[uid]) if uid in self.datasources else missing
            if method == "PUT":
                self.datasources[uid] = {**body, "id": self.datasources[uid]["id"]}
                return 200, {"message": "Datasource updated"}
        if parts == ["api", "datasources"] and method == "POST":
            self.datasources[body["uid"]] = {**body, "id": len(self.datasources) + 1}
            return 200, {"message": "Datasource added"}
        if parts[:2] == ["api", "folders"]:
            if method == "POST":
                self.folders[body["uid"]] = {"uid": body["uid"], "title": body["title"]}
                return 200, self.folders[body["uid"]]
            uid = parts[2]
            if method == "GET":
                return (200, self.folders[uid]) if uid in self.folders else missing
            if method == "PUT":
                self.folders[uid]["title"] = body["title"]
                return 200, self.folders[uid]
        if parts[:3] == ["api", "dashboards", "uid"] and method == "GET":
            uid = parts[3]
            return (200, self.dashboards[uid]) if uid in self.dashboards else missing
        if parts == ["api", "dashboards", "db"] and method == "POST":
            board = dict(body["dashboard"])
            previous = self.dashboards.get(board["uid"])
            board["id"] = previous["dashboard"]["id"] if previous else len(self.dashboards) + 1
            board["version"] = previous["dashboard"]["version"] + 1 if previous else 1
            meta = {"folderUid": body.get("folderUid")}
            self.dashboards[board["uid"]] = {"dashboard": board, "meta": meta}
            return 200, {"status": "success", "uid": board["uid"], "version": board["version"]}
        return 404, {"message": f"fake grafana does not know {method} {path}"}
