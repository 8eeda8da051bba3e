"""agents.nginx: the configuration it writes for nginx as a server under test."""

from __future__ import annotations

import resource
from typing import Any

from agents.nginx import affinity_mask, configuration, worker_connections


def conf(**changes: Any) -> str:
    values: dict[str, Any] = {
        "address": "0.0.0.0",
        "port": 8080,
        "docroot": "/srv/lab/server/docroot",
        "prefix": "/srv/lab/server/nginx",
        "cpus": "0",
        "nginx_build": "nginx version: nginx/1.22.1",
        **changes,
    }
    return configuration(**values)


def test_one_worker_pinned_serving_the_docroot_from_the_hosts_directory() -> None:
    text = conf(cpus="0,2")
    assert "worker_processes 1;" in text and "worker_cpu_affinity 101;" in text
    assert "listen 0.0.0.0:8080 backlog=4096;" in text
    assert "root /srv/lab/server/docroot;" in text
    assert "daemon off;" in text and "error_log stderr" in text
    assert "/etc/nginx" not in text and "/var/lib/nginx" not in text
    paths = [line.split()[1] for line in text.splitlines() if "_path " in line]
    assert paths and all(p.startswith("/srv/lab/server/nginx/") for p in paths)


def test_unpinned_and_modules_the_build_lacks() -> None:
    text = conf(cpus="", nginx_build="--without-http_uwsgi_module --without-http_scgi_module")
    assert "worker_cpu_affinity" not in text
    assert "uwsgi_temp_path" not in text and "scgi_temp_path" not in text
    assert "fastcgi_temp_path" in text


def test_affinity_mask_and_connections() -> None:
    assert affinity_mask("1") == "10" and affinity_mask("") is None
    assert worker_connections(20000) == 20000 and worker_connections(256) == 1024
    assert worker_connections(resource.RLIM_INFINITY) == 1_000_000
