/*
 * stats.h - what a run counts, and the end-of-run summary in httperf 0.9.0's exact format
 * (stat/basic.c and stat/sess_stat.c), so that agents/load/httperf.py parses tbload like httperf.
 *
 * The meanings are httperf's: `conns` are connections created (a socket that was handed to
 * connect(); those refused a descriptor are fd-unavail errors instead), `sent` requests fully
 * written, replies complete replies by status class; connection lifetimes cover connections
 * that completed at least one reply, from the start of connect() to the close; response time
 * runs from the request's first byte sent to the reply's first byte received, transfer time
 * from there to its last byte.
 */
#ifndef STATS_H
#define STATS_H

#include "sched.h"

#include <stdint.h>
#include <stdio.h>

#define LIFETIME_BINS 100000 /* 1 ms bins up to 100 s, httperf's MAX_LIFETIME / BIN_WIDTH */

struct rate_samples {
    unsigned n;
    double sum, sum2, min, max;
};

enum err_kind {
    ERR_CLIENT_TIMO,
    ERR_SOCKET_TIMO,
    ERR_CONNREFUSED,
    ERR_CONNRESET,
    ERR_FD_UNAVAIL,
    ERR_ADDRUNAVAIL,
    ERR_FTAB_FULL,
    ERR_OTHER,
    ERR_KINDS
};

struct stats {
    uint64_t conns, sent, req_bytes;
    uint64_t replies[6]; /* by status class, [1] = 1xx ... [5] = 5xx; [0] is never counted */
    uint64_t hdr_bytes, body_bytes;
    uint64_t errors[ERR_KINDS];
    unsigned active, max_active; /* open connections now, and at most */
    unsigned max_burst;          /* most connections started in one turn of the loop */

    uint64_t lifetimes;
    double life_sum, life_sum2, life_min, life_max;
    uint32_t life_hist[LIFETIME_BINS + 1];

    uint64_t connects;
    double connect_sum;
    uint64_t responses;
    double response_sum, xfer_sum;

    struct rate_samples reply_rate;
    uint64_t replies_since_sample;

    /* Session mode (sessions = 1). */
    int sessions;
    struct rate_samples sess_rate;
    uint64_t sess_since_sample;
    uint64_t sess_completed, sess_failed, sess_conns;
    double sess_life_sum, sess_fail_sum;
    uint64_t *sess_hist; /* sessions by replies completed, 0 .. sess_hist_cap - 1 */
    unsigned sess_hist_cap, sess_longest;

    /* The run, filled in at its end. */
    double duration_s, user_s, sys_s;
};

/* Zeroes s; in session mode, with room for sessions of up to max_len requests (allocates).
 * Returns 0, -1 out of memory. */
int stats_init(struct stats *s, int sessions, unsigned max_len);
void stats_free(struct stats *s);

void stats_error(struct stats *s, enum err_kind kind);

/* A connection that completed at least one reply closed after `lifetime_s`. */
void stats_lifetime(struct stats *s, double lifetime_s);

/* A session ended: failed or not, after `life_s`, with `replies` replies on `conns`
 * connections. */
void stats_session(struct stats *s, int failed, double life_s, unsigned replies, unsigned conns);

/* A 5 s sample ended, `elapsed_s` after the previous one: records the reply rate (and session
 * rate), and prints "reply-rate = X" (and "session-rate = X") on out when verbose. */
void stats_sample(struct stats *s, double elapsed_s, int verbose, FILE *out);

/* The summary, from "Maximum connect burst length" to the session lines. */
void stats_print(const struct stats *s, FILE *out);

/* The verdict line: "tbload: schedule late-max-ms X late-p99-ms Y late-bound-ms B late-starts K
 * of N kept yes|no". */
void stats_print_schedule(const struct lag *l, uint64_t unstarted, FILE *out);

#endif
