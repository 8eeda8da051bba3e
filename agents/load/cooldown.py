"""The cooldown between points, on the host it runs on: wait until the host holds no TIME_WAIT
socket, at most a given time, and say how long that took and how many are left.

The load service answers it over HTTP (``GET /cooldown``), so a client cools down without an
SSH session and a shell per point; hosts without a service run the orchestrator's shell form of
the same wait (``orchestrator.run.commands.cooldown_script``), which this follows rule for rule:

- the TIME_WAIT state itself is counted, not sockstat's ``tw`` (orphaned FIN-WAIT-2 sockets
  count there);
- while waiting only the first socket is read: after a point a client holds tens of thousands;
  they are counted once, at the end.

The sockets are asked of the kernel the way ``ss`` asks (a sock_diag netlink dump filtered to
TIME_WAIT, IPv4 and IPv6), but only the messages are counted: nothing is formatted, and no
process is started per look. ``ss`` listing 30,000 sockets took about 1.5 s of the point on the
core the emulated lab's eight clients share. Where the kernel refuses the dump (no sock_diag
for TCP), ``ss`` does it instead.
"""

from __future__ import annotations

import os
import socket
import struct
import subprocess
import time
from collections.abc import Callable

LOOK_EVERY = 0.2  # seconds between looks while sockets are left

SS = ["ss", "-Htan", "state", "time-wait"]

# <linux/netlink.h>, <linux/sock_diag.h>, <linux/inet_diag.h>
NETLINK_SOCK_DIAG = 4
SOCK_DIAG_BY_FAMILY = 20
NLM_F_REQUEST, NLM_F_DUMP = 0x1, 0x300
NLMSG_ERROR, NLMSG_DONE = 2, 3
TCP_TIME_WAIT = 6
NLMSG_HEADER = struct.Struct("=IHHII")  # length, type, flags, sequence, port id
# inet_diag_req_v2: family, protocol, extensions, pad, states, then a socket id of zeros (match
# any): 16 bytes of ports and addresses ×2 + interface + cookie = 48 bytes
INET_DIAG_REQUEST = struct.Struct("=BBBBI48x")
RECEIVE_BYTES = 65536  # the kernel fills a dump's messages up to the reader's buffer


def time_wait_sockets(most: int | None = None) -> int:
    """The host's TCP sockets in TIME_WAIT (IPv4 and IPv6), counting no further than `most`;
    OSError when the kernel refuses the dump."""
    count = 0
    for family in (socket.AF_INET, socket.AF_INET6):
        count += _dump(family, None if most is None else most - count)
        if most is not None and count >= most:
            break
    return count


def _dump(family: int, most: int | None) -> int:
    """One sock_diag dump of `family`'s TIME_WAIT sockets: how many messages came, up to
    `most` (closing the socket then ends the dump in the kernel)."""
    request = INET_DIAG_REQUEST.pack(family, socket.IPPROTO_TCP, 0, 0, 1 << TCP_TIME_WAIT)
    header = NLMSG_HEADER.pack(
        NLMSG_HEADER.size + len(request), SOCK_DIAG_BY_FAMILY, NLM_F_REQUEST | NLM_F_DUMP, 1, 0
    )
    with socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_SOCK_DIAG) as diag:
        diag.sendall(header + request)
        count = 0
        while True:
            data = diag.recv(RECEIVE_BYTES)
            if not data:
                raise OSError("sock_diag: the dump ended without its last message")
            offset = 0
            while offset + NLMSG_HEADER.size <= len(data):
                length, kind, _, _, _ = NLMSG_HEADER.unpack_from(data, offset)
                if kind == NLMSG_DONE:
                    return count
                if kind == NLMSG_ERROR:
                    (error,) = struct.unpack_from("=i", data, offset + NLMSG_HEADER.size)
                    raise OSError(-error, f"sock_diag: {os.strerror(-error)}")
                if kind == SOCK_DIAG_BY_FAMILY:
                    count += 1
                    if most is not None and count >= most:
                        return count
                if length < NLMSG_HEADER.size:
                    raise OSError("sock_diag: a message shorter than its header")
                offset += (length + 3) & ~3  # messages are 4-byte aligned


def any_time_wait() -> bool:
    """Whether the host holds a TIME_WAIT socket: the kernel is asked for one only."""
    try:
        return time_wait_sockets(most=1) > 0
    except OSError:
        return _ss_any()


def count_time_wait() -> int:
    """The host's TIME_WAIT sockets, all counted once."""
    try:
        return time_wait_sockets()
    except OSError:
        return _ss_count()


def _ss_any() -> bool:
    """`any_time_wait` by ss, ended after its first byte."""
    with subprocess.Popen(SS, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL) as ss:
        assert ss.stdout is not None
        first = ss.stdout.read(1)
        ss.kill()
    return bool(first)


def _ss_count() -> int:
    """`count_time_wait` by ss, its lines counted."""
    done = subprocess.run(SS, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, check=False)
    return done.stdout.count(b"\n")


def cool_down(
    max_seconds: float,
    present: Callable[[], bool] = any_time_wait,
    count: Callable[[], int] = count_time_wait,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> tuple[float, int]:
    """Wait until no TIME_WAIT socket is left, at most `max_seconds`; (seconds waited,
    sockets left)."""
    start = clock()
    while present() and clock() - start < max_seconds:
        sleep(LOOK_EVERY)
    waited = clock() - start
    return waited, count()
