/* stats.c - the counters' storage and the label values of their rows. */
#include "stats.h"

struct stats stats;

const char *const sc_names[SC_COUNT] = {
    [SC_ACCEPT4] = "accept4",
    [SC_READ] = "read",
    [SC_WRITE] = "write",
    [SC_SENDFILE] = "sendfile",
    [SC_CLOSE] = "close",
    [SC_SETSOCKOPT] = "setsockopt",
    [SC_SHUTDOWN] = "shutdown",
    [SC_OPENAT2] = "openat2",
    [SC_FSTAT] = "fstat",
    [SC_SELECT] = "select",
    [SC_POLL] = "poll",
    [SC_EPOLL_CTL] = "epoll_ctl",
    [SC_EPOLL_WAIT] = "epoll_wait",
    [SC_EPOLL_CTLV] = "epoll_ctlv",
    [SC_IO_URING_ENTER] = "io_uring_enter",
};

const char *const st_codes[ST_COUNT] = {
    [ST_200] = "200", [ST_400] = "400", [ST_404] = "404", [ST_405] = "405",
    [ST_500] = "500", [ST_501] = "501", [ST_503] = "503", [ST_505] = "505",
};

const char *const ek_names[EK_COUNT] = {
    [EK_EMFILE] = "emfile",     [EK_ACCEPT] = "accept", [EK_PARSE] = "parse",
    [EK_OVERSIZE] = "oversize", [EK_RESET] = "reset",   [EK_IO] = "io",
    [EK_OPEN] = "open",         [EK_EVENT] = "event",
};

const char *const tk_names[TK_COUNT] = {
    [TK_IDLE] = "idle",
    [TK_WRITE] = "write",
    [TK_LINGER] = "linger",
};
