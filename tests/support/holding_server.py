#!/usr/bin/env python3
"""A test server that accepts and holds connections, and closes some when told to.

Run as a child process; it prints ``port N`` once listening, then obeys lines on stdin:

    count       -> "open N accepted M"
    close K     -> closes the K oldest connections, then "closed K"
    quit        -> exits

It holds 10,000+ connections (epoll; RLIMIT_NOFILE raised to its hard limit), so the idle agent
can be tested against a server that really closes connections, at the paper's scale.
"""

from __future__ import annotations

import resource
import select
import socket
import sys
from collections import OrderedDict


def main() -> int:
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", int(sys.argv[1]) if len(sys.argv) > 1 else 0))
    listener.listen(4096)
    listener.setblocking(False)
    ep = select.epoll()
    ep.register(listener.fileno(), select.EPOLLIN)
    ep.register(sys.stdin.fileno(), select.EPOLLIN)
    held: OrderedDict[int, socket.socket] = OrderedDict()
    accepted = 0
    print(f"port {listener.getsockname()[1]}", flush=True)
    while True:
        for fd, _ in ep.poll(1.0):
            if fd == listener.fileno():
                while True:
                    try:
                        conn, _ = listener.accept()
                    except BlockingIOError:
                        break
                    conn.setblocking(False)
                    held[conn.fileno()] = conn
                    ep.register(conn.fileno(), select.EPOLLIN | select.EPOLLRDHUP)
                    accepted += 1
            elif fd == sys.stdin.fileno():
                words = sys.stdin.readline().split()
                if not words or words[0] == "quit":
                    return 0
                if words[0] == "count":
                    print(f"open {len(held)} accepted {accepted}", flush=True)
                elif words[0] == "close":
                    n = int(words[1])
                    for _ in range(min(n, len(held))):
                        cfd, conn = held.popitem(last=False)
                        ep.unregister(cfd)
                        conn.close()
                    print(f"closed {n}", flush=True)
            else:
                if fd in held:  # the client closed (or sent something): let it go
                    ep.unregister(fd)
                    held.pop(fd).close()


if __name__ == "__main__":
    sys.exit(main())
