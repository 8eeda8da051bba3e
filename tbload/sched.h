/*
 * sched.h - the open-loop schedule (when each connection is due) and the record of how late
 * each start was against it. Pure: no clock, no I/O; times are seconds from the run's start.
 */
#ifndef SCHED_H
#define SCHED_H

#include <stdint.h>

/*
 * When a start counts as "late": more than LATE_SHARE of the schedule's span (count / rate)
 * after its due time, and never less than LATE_MIN_S. The bound separates a slipping schedule
 * from jitter. A client that cannot keep up lags more with every start, so its lag passes 1 %
 * of the span exactly when it offered less than 99 % of the rate over the run; a lag that stays
 * under that is the scheduler's jitter on a shared core (eight clients sharing one core each
 * wait tens of ms for their turn) and leaves the load the server sees over the run unchanged.
 */
#define LATE_MIN_S 0.010
#define LATE_SHARE 0.01

struct sched {
    double rate;     /* starts per second, > 0 */
    int poisson;     /* 0: uniform, start i due at i / rate; 1: exponential gaps, mean 1 / rate */
    uint64_t rng;    /* splitmix64 state (poisson only) */
    uint64_t issued; /* due times handed out so far */
    double last;     /* the last due time handed out (poisson: the running sum of the gaps) */
};

/* Starts a schedule; the first start is due at 0. */
void sched_init(struct sched *s, double rate, int poisson, uint64_t seed);

/* The due time of the next start, in seconds from the schedule's start, and advances. Uniform
 * times are computed as i / rate, never summed, so they do not drift over a long run. */
double sched_next(struct sched *s);

/* A uniform draw in (0, 1] from splitmix64 (the state advances). */
double sched_uniform(uint64_t *state);

/*
 * Lateness of the starts: exact maximum and count of late starts, and a histogram for the
 * 99th percentile - 10 us bins below 100 ms, 1 ms bins up to 100 s, anything later in the
 * last bin. The histogram is fixed-size (about 440 KB), whatever the run's length.
 */
#define LAG_FINE_BINS   10000  /* 10 us each: [0, 100 ms) */
#define LAG_COARSE_BINS 99900  /* 1 ms each: [100 ms, 100 s) */

struct lag {
    double bound_s; /* lateness above this is late (lag_init); 0: LATE_MIN_S */
    uint64_t starts, late;
    double max_s;
    uint32_t fine[LAG_FINE_BINS];
    uint32_t coarse[LAG_COARSE_BINS];
};

/* Sets the bound for a schedule spanning `span_s` seconds (count / rate). A zeroed struct
 * without it uses LATE_MIN_S. */
void lag_init(struct lag *l, double span_s);

/* The lateness above which a start is late. */
double lag_bound(const struct lag *l);

/* Records one start that began `late_s` seconds after its due time (negative counts as 0). */
void lag_add(struct lag *l, double late_s);

/* The lateness that `q` (0..1) of the starts did not exceed: the upper edge of the bin holding
 * that rank, so never an under-estimate; 0 with no starts. */
double lag_quantile(const struct lag *l, double q);

/* The verdict: 1 when the schedule was kept - at most 1 % of the starts late (lag_bound) and
 * no start of the plan left unmade (`unstarted`) - else 0. */
int lag_kept(const struct lag *l, uint64_t unstarted);

#endif
