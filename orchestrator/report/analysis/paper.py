"""What the paper states, as data: its Table 1 and the numbers its text gives for its figures.

    TABLE1["epoll-lt"]["epoll_ctl"]      # 16.34: % of the µserver's run time, gprof
    TABLE1_MECHANISMS                    # its columns, in its order
    OUR_CALLS["accept"]                  # ("accept4", "accept"): our calls in its row

The paper: L. Gammo, T. Brecht, A. Shukla and D. Pariag, "Comparing and Evaluating epoll,
select, and poll Event Mechanisms", Ottawa Linux Symposium 2004 (the project's
`paper-epoll-select-poll.txt`). Only what its Table 1 and its text state; nothing is read off a
figure's curve. The report sets our own numbers beside these (`beside`).
"""

from __future__ import annotations

from collections.abc import Mapping

# Table 1 (section 5): "gprof profile data for the µserver under the one-byte workload at
# 22,000 requests/sec", percentage of the run time spent in each system call (rows) per event
# dispatch method (columns); "-": the method does not make the call. Calls and µserver
# functions that did not contribute much are left out of the paper's table, so a column sums
# to less than 100 %.
TABLE1_WORKLOAD, TABLE1_IDLE, TABLE1_RATE = "one-byte", 0, 22_000.0
TABLE1_MECHANISMS = ("select", "epoll-lt", "epoll-ctlv", "epoll2", "epoll-et", "poll")
TABLE1_ROWS = (
    "read",
    "close",
    "select",
    "poll",
    "epoll_ctl",
    "epoll_wait",
    "epoll_ctlv",
    "setsockopt",
    "accept",
    "write",
    "fcntl",
    "sendfile",
)
_: None = None  # the paper's "-"
_COLUMNS: dict[str, tuple[float | None, ...]] = {
    #             read   close  select poll   e_ctl  e_wait ctlv   setso  accept write  fcntl  sendf
    "select": (21.51, 14.90, 13.33, _, _, _, _, 11.17, 10.08, 5.98, 3.66, 3.43),
    "epoll-lt": (20.95, 14.05, _, _, 16.34, 7.15, _, 9.13, 9.51, 5.06, 3.34, 2.70),
    "epoll-ctlv": (21.41, 14.90, _, _, 5.98, 6.01, 9.28, 9.13, 9.76, 5.10, 3.37, 2.71),
    "epoll2": (20.08, 13.02, _, _, 10.27, 12.56, _, 7.57, 9.05, 4.13, 3.14, 3.00),
    "epoll-et": (22.19, 14.14, _, _, 11.06, 6.52, _, 9.08, 9.30, 5.31, 3.34, 3.91),
    "poll": (20.97, 14.79, _, 13.32, _, _, _, 10.68, 10.20, 5.70, 3.61, 3.43),
}
TABLE1: Mapping[str, Mapping[str, float | None]] = {
    mechanism: dict(zip(TABLE1_ROWS, values, strict=True)) for mechanism, values in _COLUMNS.items()
}

# Our server's calls counted in a row of the paper's (by default the row's own call). Ours
# accepts with accept4, which also sets O_NONBLOCK, so it makes no fcntl; it sends a small
# reply with one sendmsg (header and body) where the µserver corked the socket (setsockopt),
# wrote the header (write) and sent the file (sendfile): `ROLES` compares those as a whole.
OUR_CALLS: Mapping[str, tuple[str, ...]] = {
    "accept": ("accept4", "accept"),
    "write": ("write", "writev"),
}


def our_order() -> tuple[str, ...]:
    """Our calls in the paper's row order (Table 1 lists them so)."""
    return tuple(dict.fromkeys(c for row in TABLE1_ROWS for c in OUR_CALLS.get(row, (row,))))


# What the calls are for, so the profiles compare where the two servers make different calls
# for the same work: (role, the paper's rows, our calls).
ROLES: tuple[tuple[str, tuple[str, ...], tuple[str, ...]], ...] = (
    ("reading requests", ("read",), ("read",)),
    ("closing connections", ("close",), ("close", "shutdown")),
    (
        "events: declaring interest and waiting",
        ("select", "poll", "epoll_ctl", "epoll_wait", "epoll_ctlv"),
        ("select", "poll", "epoll_ctl", "epoll_wait", "epoll_ctlv", "io_uring_enter"),
    ),
    ("accepting connections", ("accept", "fcntl"), ("accept4", "accept", "fcntl")),
    (
        "sending replies",
        ("setsockopt", "write", "sendfile"),
        ("setsockopt", "write", "writev", "sendmsg", "sendfile"),
    ),
)

# Numbers the text states (section 5), beside Table 1's own cells.
SELECT_POLL_EVENTS = 13.0  # "spending about 13% of their time" in select / poll
EPOLL_EVENTS = (21.0, 23.0)  # epoll-LT, epoll-ctlv, epoll2: "about 21 - 23%" in their calls
CTLV_CALLS, LT_CTL_CALLS = 1_949_404, 3_947_769  # epoll_ctlv + epoll_ctl vs epoll-LT's epoll_ctl
CTLV_TIME = 16.0  # epoll-ctlv in epoll_ctlv and epoll_ctl: "about the same (around 16%)"
IDLE_DROP = 0.79  # 5.1: select and poll "degrade by up to 79%" with 10,000 idle connections
IDLE_CONNECTIONS = 10_000
CTLV_ACCEPT_GAIN = 0.07  # 5.2: accept-limit 10 "improves peak throughput for epoll-ctlv by 7%"
CTLV_ACCEPT_GAP, CTLV_ACCEPT_GAP_RATE = 0.32, 21_000.0  # "widens to 32% at 21,000 requests/sec"
