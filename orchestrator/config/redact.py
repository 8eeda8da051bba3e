"""The one place that decides what of a lab may be printed, logged, stored or shown.

    display_url("https://user:pw@hooks.example.org/T0/B1?k=v")   # 'https://hooks.example.org/…'
    redact_yaml(lab.text)                                       # lab.yml with secrets replaced
    redact_text("webhook https://x.org/secret failed")          # every URL shortened

A URL is shown as scheme://host[:port] and `/…` when it had more: userinfo, path, query and
fragment often carry a secret (a webhook's token, basic-auth credentials). A value under a key
that names a secret (token, password, secret, api key, credential, webhook) is replaced by
REDACTED; a key naming an environment variable (`token_env`) is a name, not a secret, and stays.
"""

from __future__ import annotations

import re
import urllib.parse
from typing import Any

import yaml

REDACTED = "<redacted>"
_URL = re.compile(r"\b[A-Za-z][A-Za-z0-9+.-]*://[^\s'\"<>]+")
_SECRET_KEY = re.compile(
    r"(pass(word|wd|phrase)?|secret|token|api[_-]?key|credential|auth|private[_-]?key|webhook"
    r"|cookie|session[_-]?key)",
    re.IGNORECASE,
)
_NAME_KEY = re.compile(r"(_env|_file|_path|_name)$", re.IGNORECASE)  # names of secrets, not secrets


def display_url(url: str) -> str:
    """`url` without userinfo, path, query or fragment: scheme://host[:port] (+ `/…`)."""
    try:
        parts = urllib.parse.urlsplit(url.strip())
        host = parts.hostname or ""
        port = parts.port
    except ValueError:
        return REDACTED
    if not parts.scheme or not host:
        return REDACTED
    if ":" in host:
        host = f"[{host}]"
    shown = f"{parts.scheme}://{host}" + (f":{port}" if port else "")
    more = parts.path.strip("/") or parts.query or parts.fragment
    return shown + ("/…" if more else "")


def redact_text(text: str) -> str:
    """Every URL in `text` shortened by `display_url` (for log lines and messages)."""

    def shorten(match: re.Match[str]) -> str:
        url = match.group(0)
        trail = len(url) - len(url.rstrip(".,;:!?)]}"))  # punctuation after a URL stays
        return display_url(url[: len(url) - trail]) + url[len(url) - trail :]

    return _URL.sub(shorten, text)


def is_secret_key(key: object) -> bool:
    return isinstance(key, str) and bool(_SECRET_KEY.search(key)) and not _NAME_KEY.search(key)


def redact_data(value: Any) -> Any:
    """A copy of parsed YAML/JSON with secret-named keys' values replaced and URLs shortened."""
    if isinstance(value, dict):
        return {
            key: (_redact_secret(item) if is_secret_key(key) else redact_data(item))
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [redact_data(item) for item in value]
    if isinstance(value, str):
        return redact_text(value)
    return value


def _redact_secret(value: Any) -> Any:
    if isinstance(value, str) and _URL.fullmatch(value.strip()):
        return display_url(value)  # a webhook: where it goes may be shown, never its token
    if value is None or isinstance(value, bool):
        return value
    return REDACTED


def redact_yaml(text: str) -> str:
    """A YAML document with its secrets redacted (comments dropped: they may hold secrets too).

    Text that does not parse is not shown at all: what it holds cannot be told apart."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError:
        return f"# {REDACTED}: not valid YAML, not shown\n"
    if data is None:
        return ""
    body = yaml.safe_dump(redact_data(data), sort_keys=False, allow_unicode=True, width=100)
    return "# as run; secrets and comments removed\n" + body
