/*
 * stats.h - the server's counters and the timed system-call wrapper.
 *
 * The serving thread is the only writer; the metrics thread reads the same fields with relaxed
 * atomic loads, so a scrape never takes a lock and never slows the event loop. Every system call
 * on the serving path goes through SYSCALL_TIMED, which always counts it and, depending on
 * stats_timing, also times it: these rows are the paper's Table 1.
 *
 * Timing modes (--syscall-timing, --profile-syscalls):
 *   TIMING_NONE  calls counted only: no clock is read (the default: the cheapest serving path).
 *   TIMING_WALL  CLOCK_MONOTONIC before and after (vDSO calls, ~35 ns each here): wall time,
 *                which for the waits includes the time spent blocked.
 *   TIMING_CPU   as WALL, plus CLOCK_THREAD_CPUTIME_ID before and after. That clock is a real
 *                system call (no vDSO: ~0.75 us each measured on the 2-core machine), so this
 *                is a profiling mode, as the paper profiled with gprof in a run of its own. The
 *                call's CPU time is measured inside its wall interval (so cpu <= wall), less the
 *                cost of an empty pair of reads calibrated at start; blocked = wall - cpu.
 */
#ifndef STATS_H
#define STATS_H

#include <errno.h>
#include <stdint.h>
#include <time.h>

/* The system calls the serving path makes; the names are the `syscall` label values. */
enum sc {
    SC_ACCEPT4,
    SC_READ,
    SC_WRITE,
    SC_SENDFILE,
    SC_CLOSE,
    SC_SETSOCKOPT,
    SC_SHUTDOWN,
    SC_SENDMSG, /* a response's head and small body in one call */
    SC_PREAD,   /* a small file read into the cache, once */
    SC_OPENAT2,
    SC_FSTAT,
    SC_SELECT,
    SC_POLL,
    SC_EPOLL_CTL,
    SC_EPOLL_WAIT,
    SC_EPOLL_CTLV, /* io_uring_enter submitting a batch of IORING_OP_EPOLL_CTL */
    SC_IO_URING_ENTER,
    SC_COUNT
};

/* Reply status codes the server can send; each gets a `status` label, zero included. */
enum st { ST_200, ST_400, ST_404, ST_405, ST_500, ST_501, ST_503, ST_505, ST_COUNT };

/* Error kinds: a small fixed set, the `kind` label values. */
enum ek {
    EK_EMFILE,   /* accept4 ran out of descriptors (EMFILE/ENFILE): accepting backs off */
    EK_ACCEPT,   /* any other accept4 failure */
    EK_PARSE,    /* malformed request, answered 400 */
    EK_OVERSIZE, /* request head larger than the buffer, answered 400 */
    EK_RESET,    /* the peer reset the connection (ECONNRESET, EPIPE) */
    EK_IO,       /* any other read/write/sendfile failure */
    EK_OPEN,     /* opening a file failed other than ENOENT/ENOTDIR/EXDEV/ELOOP */
    EK_EVENT,    /* the event mechanism refused an interest change */
    EK_COUNT
};

/* Timeouts: connections closed because they waited too long (server.h), the `kind` label. */
enum tk { TK_IDLE, TK_WRITE, TK_LINGER, TK_COUNT };

struct sc_row {
    uint64_t calls;
    uint64_t ns;     /* wall time inside the call (TIMING_WALL, TIMING_CPU) */
    uint64_t cpu_ns; /* of which this thread ran on a CPU (TIMING_CPU); the rest it was blocked */
};

/* Interest-set operations of the epoll backends, counted apart from the system calls that
 * carry them: one epoll_ctlv submission carries many (the paper compares epoll_ctlv calls with
 * epoll_ctl calls). */
enum ep_op { EP_ADD, EP_MOD, EP_DEL, EP_OP_COUNT };
enum ep_via { VIA_EPOLL_CTL, VIA_EPOLL_CTLV, VIA_COUNT };

enum timing { TIMING_NONE, TIMING_WALL, TIMING_CPU };
extern int stats_timing;          /* enum timing; set once at start, before serving */
extern double stats_timing_cost_ns; /* CPU time the timing adds per timed call (estimated) */
extern const char *const timing_names[3];

struct stats {
    struct sc_row sc[SC_COUNT];
    uint64_t accepted, closed, open, requests, sent_bytes, accept_limit_hits;
    uint64_t rounds;         /* event-loop rounds: one wait each */
    uint64_t events_fired;   /* entries the mechanism returned */
    uint64_t events_handled; /* of those, the ones a handler acted on */
    uint64_t replies[ST_COUNT];
    uint64_t errors[EK_COUNT];
    uint64_t timeouts[TK_COUNT];
    uint64_t accept_paused; /* 1 while the listener's interest is off (max-conns, EMFILE) */
    uint64_t ep_ops[EP_OP_COUNT][VIA_COUNT];
};

extern struct stats stats;

extern const char *const sc_names[SC_COUNT];
extern const char *const st_codes[ST_COUNT];
extern const char *const ek_names[EK_COUNT];
extern const char *const tk_names[TK_COUNT];
extern const char *const ep_op_names[EP_OP_COUNT];
extern const char *const ep_via_names[VIA_COUNT];

/* Single writer: a relaxed load and store is an increment that a concurrent reader never sees
 * torn, at the cost of a plain add (no lock prefix). */
#define STAT_ADD(field, v)                                                                         \
    __atomic_store_n(&(field), __atomic_load_n(&(field), __ATOMIC_RELAXED) + (v), __ATOMIC_RELAXED)
#define STAT_INC(field) STAT_ADD(field, 1)
#define STAT_DEC(field) STAT_ADD(field, (uint64_t)-1)
#define STAT_GET(field) __atomic_load_n(&(field), __ATOMIC_RELAXED)

static inline uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* This thread's CPU time: a system call (see above), only under TIMING_CPU. */
static inline uint64_t cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Sets the timing mode and, for TIMING_CPU, calibrates the cost of an empty pair of CPU-clock
 * reads (subtracted from every call's CPU time). Call once, before serving. */
void stats_set_timing(int mode);

/* The probe's state around one call: t[0] wall, t[1] cpu at the start. */
struct sc_probe {
    uint64_t wall, cpu;
};

static inline void sc_begin(struct sc_probe *p)
{
    if (__builtin_expect(stats_timing == TIMING_NONE, 1)) return;
    p->wall = now_ns();
    if (stats_timing == TIMING_CPU) p->cpu = cpu_ns();
}

/* Counts the call and adds its times; leaves errno alone. */
void sc_end_timed(enum sc which, const struct sc_probe *p);

static inline void sc_end(enum sc which, const struct sc_probe *p)
{
    if (__builtin_expect(stats_timing == TIMING_NONE, 1))
        STAT_INC(stats.sc[which].calls);
    else
        sc_end_timed(which, p);
}

static inline void stat_ep_op(enum ep_op op, enum ep_via via, uint64_t n)
{
    STAT_ADD(stats.ep_ops[op][via], n);
}

/* Evaluates `call` once, counted (and timed, per stats_timing) as `which`; yields its result
 * with errno intact. */
#define SYSCALL_TIMED(which, call)                                                                 \
    ({                                                                                             \
        struct sc_probe p_;                                                                        \
        sc_begin(&p_);                                                                             \
        __typeof__(call) r_ = (call);                                                              \
        sc_end((which), &p_);                                                                      \
        r_;                                                                                        \
    })

/* The same, retried while the call fails with EINTR (each try is a system call, so each counts). */
#define SYSCALL_RETRY(which, call)                                                                 \
    ({                                                                                             \
        __typeof__(call) rr_;                                                                      \
        do rr_ = SYSCALL_TIMED(which, call);                                                       \
        while (rr_ < 0 && errno == EINTR);                                                         \
        rr_;                                                                                       \
    })

#endif
