/*
 * stats.h - the server's counters and the timed system-call wrapper.
 *
 * The serving thread is the only writer; the metrics thread reads the same fields with relaxed
 * atomic loads, so a scrape never takes a lock and never slows the event loop. Every system call
 * on the serving path goes through SYSCALL_TIMED, which counts it and adds the time spent in it
 * (CLOCK_MONOTONIC, a vDSO call here, not a system call) to its row: these rows are the paper's
 * Table 1.
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
    uint64_t ns;
};

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
};

extern struct stats stats;

extern const char *const sc_names[SC_COUNT];
extern const char *const st_codes[ST_COUNT];
extern const char *const ek_names[EK_COUNT];
extern const char *const tk_names[TK_COUNT];

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

static inline void stat_syscall(enum sc which, uint64_t ns)
{
    STAT_INC(stats.sc[which].calls);
    STAT_ADD(stats.sc[which].ns, ns);
}

/* Evaluates `call` once, timed and counted as `which`; yields its result with errno intact. */
#define SYSCALL_TIMED(which, call)                                                                 \
    ({                                                                                             \
        uint64_t t0_ = now_ns();                                                                   \
        __typeof__(call) r_ = (call);                                                              \
        int e_ = errno;                                                                            \
        stat_syscall((which), now_ns() - t0_);                                                     \
        errno = e_;                                                                                \
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
