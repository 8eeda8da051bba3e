"""nginx as a server under test: write its configuration into this host's directory, then
become nginx (exec), in the foreground, so the sweep tracks and stops it like any server.

    python3 -m agents.nginx --address 0.0.0.0 --port 8080 --docroot /srv/lab/docroot --cpus 0

One worker process (the paper's servers are single-threaded), pinned to `--cpus` when given,
serving `--docroot` with sendfile and keep-alive like userver. Everything nginx writes (pid,
lock, temporary files) goes under `--prefix` (default `nginx/` in the working directory): the
machine's own nginx and /etc/nginx are never read or touched. Errors go to stderr, where the
sweep reads the last lines of a server that failed.
"""

from __future__ import annotations

import argparse
import getpass
import os
import resource
import shutil
import subprocess
import sys
from pathlib import Path

MODULE_TEMP_PATHS = ("fastcgi", "scgi", "uwsgi")  # built into some nginx packages, not all


def affinity_mask(cpus: str) -> str | None:
    """'0,2' -> '101' (nginx's worker_cpu_affinity: rightmost digit is CPU 0); '' -> None."""
    numbers = [int(cpu) for cpu in cpus.split(",") if cpu.strip()]
    if not numbers:
        return None
    return "".join("1" if cpu in numbers else "0" for cpu in range(max(numbers), -1, -1))


def port_number(text: str) -> int:
    """A TCP port to listen on (1-65535); argparse names the bad value otherwise."""
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port to listen on (1-65535)")
    return int(text)


def worker_connections(open_files: int) -> int:
    """As many connections as the process may open descriptors (nginx warns beyond)."""
    if open_files == resource.RLIM_INFINITY:
        return 1_000_000
    return max(1024, min(open_files, 1_000_000))


def configuration(
    *,
    address: str,
    port: int,
    docroot: str,
    prefix: str,
    cpus: str,
    nginx_build: str,
    connections: int = 60000,
) -> str:
    """nginx.conf for one pinned worker serving `docroot` (pure: tested as text)."""
    mask = affinity_mask(cpus)
    temp = [
        f"    client_body_temp_path {prefix}/tmp/body;",
        f"    proxy_temp_path {prefix}/tmp/proxy;",
    ]
    temp += [
        f"    {module}_temp_path {prefix}/tmp/{module};"
        for module in MODULE_TEMP_PATHS
        if f"--without-http_{module}_module" not in nginx_build
    ]
    lines = [
        "# Written by agents.nginx for a testbed sweep; rewritten at every start.",
        "daemon off;",
        "master_process on;",
        "worker_processes 1;",
        *([f"worker_cpu_affinity {mask};"] if mask else []),
        f"user {getpass.getuser()};",
        f"pid {prefix}/nginx.pid;",
        f"lock_file {prefix}/nginx.lock;",
        "error_log stderr warn;",
        f"events {{ worker_connections {connections}; multi_accept on; }}",
        "http {",
        "    access_log off;",
        "    sendfile on;",
        "    tcp_nopush on;",
        "    keepalive_timeout 65s;",
        "    keepalive_requests 1000000;",
        "    default_type application/octet-stream;",
        *temp,
        "    server {",
        f"        listen {address}:{port} backlog=4096;",
        f"        root {docroot};",
        "        location / { }",
        "    }",
        "}",
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    # Standard library only: it runs under the host's own python3, beside nginx.
    parser = argparse.ArgumentParser(
        prog="agents.nginx", description=__doc__.splitlines()[0], allow_abbrev=False
    )
    parser.add_argument("--address", default="0.0.0.0")
    parser.add_argument("--port", type=port_number, required=True)
    parser.add_argument("--docroot", required=True)
    parser.add_argument("--cpus", default="")
    parser.add_argument("--prefix", default="nginx")
    parser.add_argument("--nginx", default="nginx", help="the nginx binary (default: on PATH)")
    args = parser.parse_args(argv)
    binary = shutil.which(args.nginx) or shutil.which(args.nginx, path="/usr/sbin:/sbin")
    if binary is None:
        print(f"agents.nginx: {args.nginx}: not found (install nginx-light)", file=sys.stderr)
        return 127
    for value in (args.address, args.docroot, args.prefix, args.cpus):
        if any(char in value for char in ";{}'\"\n\\") or value != value.strip():
            print(f"agents.nginx: {value!r}: not usable in nginx.conf", file=sys.stderr)
            return 2
    prefix = Path(args.prefix).resolve()
    (prefix / "tmp").mkdir(parents=True, exist_ok=True)
    build = subprocess.run([binary, "-V"], capture_output=True, text=True, check=False).stderr
    conf = prefix / "nginx.conf"
    conf.write_text(
        configuration(
            address=args.address,
            port=args.port,
            docroot=str(Path(args.docroot).resolve()),
            prefix=str(prefix),
            cpus=args.cpus,
            nginx_build=build,
            connections=worker_connections(resource.getrlimit(resource.RLIMIT_NOFILE)[0]),
        )
    )
    sys.stdout.flush()
    os.execv(binary, [binary, "-e", "stderr", "-p", str(prefix), "-c", str(conf)])


if __name__ == "__main__":
    sys.exit(main())
