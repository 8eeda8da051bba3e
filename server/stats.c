/* stats.c - the counters' storage, the label values of their rows, and per-call timing. */
#include "stats.h"

struct stats stats;
int stats_timing = TIMING_NONE;
static uint64_t cpu_bias; /* CPU time an empty pair of CPU-clock reads measures */
double stats_timing_cost_ns;  /* CPU time the timing itself adds to each timed call, estimated */

const char *const timing_names[3] = {"none", "wall", "cpu"};

void stats_set_timing(int mode)
{
    stats_timing = mode;
    cpu_bias = 0;
    stats_timing_cost_ns = 0;
    if (mode == TIMING_NONE) return;
    /* What the reads around one call cost: two monotonic reads, and for TIMING_CPU two CPU-clock
     * reads, measured on this thread's own CPU clock over many. */
    enum { N = 2000 };
    uint64_t c0 = cpu_ns();
    for (int i = 0; i < N; i++) (void)now_ns();
    uint64_t c1 = cpu_ns();
    for (int i = 0; i < N; i++) (void)cpu_ns();
    uint64_t c2 = cpu_ns();
    stats_timing_cost_ns = 2.0 * (double)(c1 - c0) / N;
    if (mode == TIMING_CPU) stats_timing_cost_ns += 2.0 * (double)(c2 - c1) / N;
    if (mode != TIMING_CPU) return;
    /* The smallest of many empty intervals: what one read's exit and the next one's entry cost,
     * which every measured call would otherwise carry. */
    uint64_t best = UINT64_MAX;
    for (int i = 0; i < 1000; i++) {
        uint64_t a = cpu_ns(), b = cpu_ns();
        if (b - a < best) best = b - a;
    }
    cpu_bias = best;
}

void sc_end_timed(enum sc which, const struct sc_probe *p)
{
    int e = errno;
    uint64_t cpu = 0;
    if (stats_timing == TIMING_CPU) {
        uint64_t c = cpu_ns() - p->cpu;
        cpu = c > cpu_bias ? c - cpu_bias : 0;
    }
    uint64_t wall = now_ns() - p->wall;
    if (cpu > wall) cpu = wall; /* the two clocks' sources differ by a few ns at most */
    STAT_INC(stats.sc[which].calls);
    STAT_ADD(stats.sc[which].ns, wall);
    STAT_ADD(stats.sc[which].cpu_ns, cpu);
    errno = e;
}

const char *const sc_names[SC_COUNT] = {
    [SC_ACCEPT4] = "accept4",
    [SC_READ] = "read",
    [SC_WRITE] = "write",
    [SC_SENDFILE] = "sendfile",
    [SC_CLOSE] = "close",
    [SC_SETSOCKOPT] = "setsockopt",
    [SC_SHUTDOWN] = "shutdown",
    [SC_SENDMSG] = "sendmsg",
    [SC_PREAD] = "pread64",
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
const char *const ep_op_names[EP_OP_COUNT] = {[EP_ADD] = "add", [EP_MOD] = "mod", [EP_DEL] = "del"};
const char *const ep_via_names[VIA_COUNT] = {[VIA_EPOLL_CTL] = "epoll_ctl",
                                             [VIA_EPOLL_CTLV] = "epoll_ctlv"};
