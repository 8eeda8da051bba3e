"""The one redaction helper: what of a lab may be printed, logged, stored and shown."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
import yaml

from orchestrator.config.redact import REDACTED, display_url, redact_text, redact_yaml
from orchestrator.paths import log_file

SECRET = "s3cr3tT0ken"


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        (f"https://hooks.example.org/services/T0/{SECRET}", "https://hooks.example.org/…"),
        (f"https://user:{SECRET}@grafana.example.org", "https://grafana.example.org"),
        (f"http://grafana.example.org:3000/?token={SECRET}", "http://grafana.example.org:3000/…"),
        (f"https://x.org#{SECRET}", "https://x.org/…"),
        ("https://grafana.example.org/", "https://grafana.example.org"),
        ("http://[::1]:9090", "http://[::1]:9090"),
        ("not a url", REDACTED),
    ],
)
def test_urls_show_scheme_and_host_only(url: str, shown: str) -> None:
    assert display_url(url) == shown
    assert SECRET not in display_url(url)


def test_every_url_in_a_line_is_shortened() -> None:
    line = f"webhook https://a:{SECRET}@h.example/x?y={SECRET}: HTTP 500 (see http://p/{SECRET})"
    assert redact_text(line) == "webhook https://h.example/…: HTTP 500 (see http://p/…)"


LAB = f"""
version: 1   # comment with {SECRET}
name: lab
monitoring:
  grafana: {{url: "https://admin:{SECRET}@grafana.example.org/g", token_env: GRAFANA_TOKEN}}
nightly:
  webhook: https://hooks.example.org/T0/{SECRET}
  command: "curl -H 'Authorization: Bearer x' https://alerts.example.org/{SECRET}"
  api_key: {SECRET}
"""

INVENTORY = f"""
all:
  vars:
    ansible_password: {SECRET}
    ansible_become_pass: {SECRET}
    ansible_ssh_private_key_file: /root/.ssh/id_ed25519
    grafana_token: {SECRET}
  children:
    server:
      hosts:
        server: {{ansible_host: 198.18.0.10, vault_secret: {SECRET}}}
"""


def test_lab_file_and_inventory_are_shown_without_secrets() -> None:
    lab = redact_yaml(LAB)
    inventory = redact_yaml(INVENTORY)
    assert SECRET not in lab and SECRET not in inventory
    data = yaml.safe_load(lab)
    assert data["monitoring"]["grafana"] == {
        "url": "https://grafana.example.org/…",
        "token_env": "GRAFANA_TOKEN",  # a variable's name is fine, its value never
    }
    assert data["nightly"]["webhook"] == "https://hooks.example.org/…"
    assert data["nightly"]["api_key"] == REDACTED
    assert data["nightly"]["command"].endswith("https://alerts.example.org/…")
    hosts = yaml.safe_load(inventory)["all"]
    assert hosts["vars"]["ansible_password"] == REDACTED
    assert hosts["vars"]["ansible_ssh_private_key_file"] == "/root/.ssh/id_ed25519"
    assert hosts["children"]["server"]["hosts"]["server"]["ansible_host"] == "198.18.0.10"
    assert redact_yaml(lab) == lab  # redacting twice changes nothing (stored, then shown)


def test_text_that_is_not_yaml_is_not_shown() -> None:
    assert SECRET not in redact_yaml(f"a: [\n{SECRET}")


def test_log_files_are_private(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        fresh = log_file(tmp_path / "logs" / "night.log")
        wide = tmp_path / "wide.log"
        wide.write_text("x")
        wide.chmod(0o666)
        log_file(wide)
    finally:
        os.umask(old)
    assert stat.S_IMODE(fresh.stat().st_mode) == 0o640
    assert stat.S_IMODE(wide.stat().st_mode) == 0o640
    assert wide.read_text() == "x"  # narrowed, never truncated
