"""A night's alerts: its JSON summary POSTed to the lab's webhook and handed to its command.

    alert(lab, result.payload(), line=view.line, warn=view.warn)   # never raises
    status = post_webhook(url, body)                               # the HTTP status

The webhook's user:password@ goes as Basic authorization, and only ever to the webhook's own
origin (a redirect elsewhere loses it). Neither the webhook nor the command can fail a night.
"""

from __future__ import annotations

import base64
import json
import subprocess
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from http.client import HTTPMessage
from typing import IO, Any

from orchestrator.config.model import Lab
from orchestrator.config.redact import display_url, redact_text

HOOK_TIMEOUT = 10.0
Say = Callable[[str], None]


def alert(lab: Lab, payload: dict[str, Any], line: Say, warn: Say) -> None:
    """Tell the webhook and the command the night's `payload` (JSON); a failure of either is
    told through `warn`, never fatal; what was delivered through `line`."""
    body = json.dumps(payload).encode()
    if lab.nightly.webhook:
        shown = display_url(lab.nightly.webhook)  # its path and query are often the secret
        try:
            line(f"webhook {shown}: HTTP {post_webhook(lab.nightly.webhook, body)}")
        except urllib.error.HTTPError as error:
            warn(f"webhook {shown}: HTTP {error.code}")
        except Exception as error:  # any failure to deliver is logged, never fatal
            reason = getattr(error, "reason", error)
            warn(f"webhook {shown}: {redact_text(str(reason))}")
    if lab.nightly.command:
        try:
            done = subprocess.run(
                lab.nightly.command, shell=True, input=body, timeout=60, capture_output=True
            )
        except subprocess.TimeoutExpired:
            warn("the alert command (nightly.command) did not finish within 60 s")
            return
        except OSError as error:
            warn(f"the alert command (nightly.command) could not run: {error.strerror}")
            return
        if done.returncode != 0:
            tail = done.stderr.decode(errors="replace").strip().splitlines()[-1:] or [""]
            warn(f"alert command exited {done.returncode}: {redact_text(tail[0])}")


def post_webhook(url: str, body: bytes) -> int:
    """POST the JSON `body` to `url`, its user:password@ sent as Basic authorization; the HTTP
    status. Redirects are followed as urllib does, but the credentials only to the webhook's
    own scheme, host and port (`_CredentialsStayHome`). urllib.error.HTTPError for 4xx/5xx."""
    target, headers = _without_userinfo(url)
    request = urllib.request.Request(
        target, data=body, method="POST", headers={"Content-Type": "application/json", **headers}
    )
    opener = urllib.request.build_opener(_CredentialsStayHome)
    with opener.open(request, timeout=HOOK_TIMEOUT) as answer:
        return int(answer.status)


class _CredentialsStayHome(urllib.request.HTTPRedirectHandler):
    """urllib's redirects, without the Authorization header once one leads to another origin:
    urllib copies every header to the new request, so a webhook answering 302 to another host
    would otherwise be handed the webhook's credentials."""

    def redirect_request(
        self,
        req: urllib.request.Request,
        fp: IO[bytes],
        code: int,
        msg: str,
        headers: HTTPMessage,
        newurl: str,
    ) -> urllib.request.Request | None:
        new = super().redirect_request(req, fp, code, msg, headers, newurl)
        if new is not None and _origin(new.full_url) != _origin(req.full_url):
            new.remove_header("Authorization")
        return new


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urllib.parse.urlsplit(url)
    default = {"http": 80, "https": 443}.get(parts.scheme)
    return parts.scheme, (parts.hostname or "").lower(), parts.port or default


def _without_userinfo(url: str) -> tuple[str, dict[str, str]]:
    """A URL's user:password@ as a Basic Authorization header (urllib cannot send it in the
    URL itself), and the URL without it."""
    parts = urllib.parse.urlsplit(url)
    if parts.username is None:
        return url, {}
    host = parts.hostname or ""
    netloc = (f"[{host}]" if ":" in host else host) + (f":{parts.port}" if parts.port else "")
    user = urllib.parse.unquote(parts.username)
    password = urllib.parse.unquote(parts.password or "")
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc)), {
        "Authorization": f"Basic {token}"
    }
