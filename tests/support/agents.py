"""Real servers and helpers for the agents' tests (and the golden-file capture script).

Everything here starts processes of its own and stops exactly those, by the PID it holds: the
machine runs other people's nginx and httperf, so nothing is ever killed by name. Ports come from
28000-28999, checked free before use.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import random
import resource
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Self

FILESET_SEED = 1  # the agents' tests' docroot: a 3-directory file set from seed 1
FILESET_DIRECTORIES = 3
REPO = Path(__file__).resolve().parents[2]
PORT_RANGE = (28000, 28999)


def free_port() -> int:
    """A TCP port in 28000-28999 that nothing listens on now (random, so parallel runs rarely
    collide; the bind test rules out ports already taken)."""
    candidates = list(range(PORT_RANGE[0], PORT_RANGE[1] + 1))
    random.shuffle(candidates)
    for port in candidates:
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
        return port
    raise RuntimeError("no free port in 28000-28999")


def write_key(path: Path, key: str) -> Path:
    """A control key file as the orchestrator places one: mode 0600 from its creation."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as file:
        file.write(key + "\n")
    return path


def wait_for_port(port: int, timeout: float = 10.0, host: str = "127.0.0.1") -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def stop_process(proc: subprocess.Popen[Any], sig: int = signal.SIGTERM, grace: float = 10) -> None:
    """Stop one process we started: signal it by PID, wait, SIGKILL if it lingers."""
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(proc.pid, sig)
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=grace)


class Nginx:
    """Debian's nginx on a temp config: one worker, daemon off, our own prefix and pid file.

    Usage::

        with Nginx(docroot, access_log=True) as ngx:
            ... http://127.0.0.1:{ngx.port}/ ...
            ngx.access_log_statuses()  # Counter of status codes nginx logged
    """

    def __init__(
        self,
        docroot: Path,
        *,
        port: int | None = None,
        access_log: bool = False,
        keepalive_timeout: float = 30,
        client_header_timeout: float = 60,
        worker_connections: int = 16000,
    ) -> None:
        self.docroot = docroot
        self.port = port or free_port()
        self.access_log = access_log
        self.keepalive_timeout = keepalive_timeout
        self.client_header_timeout = client_header_timeout
        self.worker_connections = worker_connections
        self.prefix = Path(tempfile.mkdtemp(prefix="tbagents-nginx-"))
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def access_log_path(self) -> Path:
        return self.prefix / "access.log"

    def config(self) -> str:
        hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
        nofile = hard if hard != resource.RLIM_INFINITY else 65536
        access = (
            f"log_format tb '$status $request_uri';\n  access_log {self.access_log_path} tb;"
            if self.access_log
            else "access_log off;"
        )
        p = self.prefix
        # As root, nginx's worker would run as nobody and could not read a docroot under a
        # private temp directory; keep it as ourselves.
        user = f"user {pwd.getpwuid(os.geteuid()).pw_name};" if os.geteuid() == 0 else ""
        return textwrap.dedent(
            f"""\
            daemon off;
            {user}
            worker_processes 1;
            worker_rlimit_nofile {nofile};
            pid {p}/nginx.pid;
            error_log {p}/error.log warn;
            events {{ worker_connections {self.worker_connections}; }}
            http {{
              {access}
              keepalive_timeout {self.keepalive_timeout}s;
              keepalive_requests 1000000;
              client_header_timeout {self.client_header_timeout}s;
              client_body_temp_path {p}/tmp;
              proxy_temp_path {p}/tmp;
              fastcgi_temp_path {p}/tmp;
              uwsgi_temp_path {p}/tmp;
              scgi_temp_path {p}/tmp;
              server {{
                listen 127.0.0.1:{self.port} backlog=4096;
                root {self.docroot};
                location = /nginx_status {{ stub_status; access_log off; }}
              }}
            }}
            """
        )

    def start(self) -> Nginx:
        (self.prefix / "tmp").mkdir(exist_ok=True)
        conf = self.prefix / "nginx.conf"
        conf.write_text(self.config())
        with open(self.prefix / "stderr.log", "wb") as stderr:
            self.proc = subprocess.Popen(
                ["nginx", "-c", str(conf), "-p", str(self.prefix)],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=stderr,
            )
        try:
            wait_for_port(self.port)
        except OSError:
            self.stop()
            raise RuntimeError(f"nginx did not start: {self.stderr()}") from None
        return self

    def stderr(self) -> str:
        parts = []
        for name in ("stderr.log", "error.log"):
            path = self.prefix / name
            if path.exists():
                parts.append(path.read_text(errors="replace"))
        return "\n".join(parts)

    def stop(self) -> None:
        if self.proc is not None:
            stop_process(self.proc)
            self.proc = None

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.prefix, ignore_errors=True)

    def __enter__(self) -> Nginx:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.cleanup()

    def access_log_statuses(self) -> Counter[str]:
        """Status code of every request nginx logged (our stub_status requests are not logged)."""
        if not self.access_log_path.exists():
            return Counter()
        return Counter(line.split()[0] for line in self.access_log_path.read_text().splitlines())

    def access_log_uris(self) -> list[str]:
        return [line.split()[1] for line in self.access_log_path.read_text().splitlines()]

    def stub_status(self) -> dict[str, int]:
        """nginx's own counters: accepts, handled, requests (this request included)."""
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/nginx_status", timeout=5) as r:
            lines = r.read().decode().splitlines()
        accepts, handled, requests = (int(x) for x in lines[2].split())
        return {
            "active": int(lines[0].split(":")[1]),
            "accepts": accepts,
            "handled": handled,
            "requests": requests,
        }


@contextlib.contextmanager
def silent_listener(backlog: int = 4096) -> Iterator[int]:
    """A port that completes TCP handshakes (in the kernel's backlog) and never reads or replies:
    every request sent there times out on the client."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", free_port()))
    sock.listen(backlog)
    try:
        yield sock.getsockname()[1]
    finally:
        sock.close()


def closed_port() -> int:
    """A port with no listener: connects there are refused at once."""
    return free_port()


class HoldingServer:
    """tests/agents/holding_server.py in a child process, driven over its stdin/stdout."""

    def __init__(self, port: int | None = None) -> None:
        port = port or free_port()
        self.proc = subprocess.Popen(
            [sys.executable, str(Path(__file__).with_name("holding_server.py")), str(port)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        self.port = int(self.proc.stdout.readline().split()[1])

    def ask(self, command: str) -> list[str]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        return self.proc.stdout.readline().split()

    def count(self) -> tuple[int, int]:
        """(connections held now, connections accepted so far)"""
        words = self.ask("count")
        return int(words[1]), int(words[3])

    def wait_for(self, held: int, accepted: int | None = None, timeout: float = 30) -> float:
        started = time.monotonic()
        while True:
            now_held, now_accepted = self.count()
            if now_held == held and (accepted is None or now_accepted == accepted):
                return time.monotonic() - started
            if time.monotonic() - started > timeout:
                raise AssertionError(f"server holds {now_held}/{held}, accepted {now_accepted}")
            time.sleep(0.02)

    def stop(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()  # "quit" by end of input
        stop_process(self.proc)
        if self.proc.stdout is not None:
            self.proc.stdout.close()


def run_module(
    module: str, args: Sequence[str], timeout: float, python: str | None = None
) -> subprocess.CompletedProcess[str]:
    """Run `python3 -m agents.<module> ARGS` from the repository root, as lab hosts do."""
    return subprocess.run(
        [python or sys.executable, "-m", module, *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def scrape(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
        text: str = r.read().decode()
    return text


def metric_value(text: str, name: str, labels: str = "") -> float | None:
    """Value of one sample in Prometheus text format, or None when absent."""
    want = f"{name}{{{labels}}}" if labels else name
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        key, _, value = line.rpartition(" ")
        if key == want:
            return float(value)
    return None


def promtool_check(text: str) -> subprocess.CompletedProcess[str]:
    """`promtool check metrics` on an exposition: rc 0 and no output when it is clean."""
    return subprocess.run(
        ["promtool", "check", "metrics"],
        input=text,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def make_time_wait(count: int, family: socket.AddressFamily = socket.AF_INET) -> None:
    """Leave `count` real TCP sockets in TIME_WAIT on this host's loopback (for 60 s, the
    kernel's TIME_WAIT): each connection is closed by its client first, as httperf does."""
    address = "127.0.0.1" if family == socket.AF_INET else "::1"
    with socket.socket(family) as listener:
        listener.bind((address, 0))
        listener.listen(count)
        for _ in range(count):
            client = socket.create_connection(listener.getsockname()[:2])
            accepted, _ = listener.accept()
            client.close()
            accepted.close()


def fake_ss(tmp_path: Path, sockets: int) -> Path:
    """An `ss` on PATH that prints `sockets` TIME_WAIT lines, logging each call and each
    listing it finished (a reader that closed the pipe early ends it by SIGPIPE, as ss)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    script = bin_dir / "ss"
    script.write_text(
        "#!/bin/sh\n"
        f"echo call >>{tmp_path}/calls\n"
        f"i=0; while [ $i -lt {sockets} ]; do"
        ' echo "0 0 198.18.1.11:$i 198.18.1.1:8080" || break; i=$((i+1)); done\n'
        f'echo "listed $i" >>{tmp_path}/calls\n'
    )
    script.chmod(0o755)
    return bin_dir


class AgentService:
    """A running agent service (`python3 -m agents.<module>` on 127.0.0.1, its control on its
    metrics port, its key in a 0600 file beside `log`) and `ask`, one HTTP request to it
    bearing that key (or the `headers` given instead)."""

    def __init__(self, module: str, argv: list[str], log: Path) -> None:
        self.port = free_port()
        self.log = log
        self.key = secrets.token_urlsafe(32)
        self.key_file = write_key(log.parent / f"{log.stem}.key", self.key)
        self.log_file = log.open("w")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                f"agents.{module}",
                *argv,
                *f"--metrics-address 127.0.0.1 --metrics-port {self.port}".split(),
                *("--control-key-file", str(self.key_file)),
            ],
            cwd=REPO,
            stdout=subprocess.DEVNULL,
            stderr=self.log_file,
        )
        wait_for_port(self.port)

    def ask(
        self,
        method: str,
        path: str,
        body: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, str]:
        """One request: (status, text). With `headers` (``{}``: none), those instead of the
        service's key."""
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}{path}",
            data=None if body is None else body.encode(),
            method=method,
            headers={"Authorization": f"Bearer {self.key}"} if headers is None else headers,
        )
        try:
            with urllib.request.urlopen(request, timeout=40) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()

    def close(self) -> None:
        stop_process(self.proc)
        self.log_file.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
