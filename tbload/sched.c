/*
 * sched.c - due times of the starts (uniform or Poisson) and the lateness record.
 */
#include "sched.h"

#include <math.h>

void sched_init(struct sched *s, double rate, int poisson, uint64_t seed)
{
    s->rate = rate;
    s->poisson = poisson;
    s->rng = seed;
    s->issued = 0;
    s->last = 0.0;
}

/* splitmix64 (Steele, Lea, Flood 2014): small state, passes BigCrush, any seed is fine. */
static uint64_t splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

double sched_uniform(uint64_t *state)
{
    /* 53 random bits, shifted into (0, 1]: never 0, so log() below is finite. */
    return ((double)(splitmix64(state) >> 11) + 1.0) * 0x1.0p-53;
}

double sched_next(struct sched *s)
{
    double t;
    if (!s->poisson) {
        t = (double)s->issued / s->rate;
    } else {
        if (s->issued > 0) s->last += -log(sched_uniform(&s->rng)) / s->rate;
        t = s->last;
    }
    s->issued++;
    s->last = t;
    return t;
}

void lag_init(struct lag *l, double span_s)
{
    l->bound_s = fmax(LATE_MIN_S, LATE_SHARE * span_s);
}

double lag_bound(const struct lag *l)
{
    return l->bound_s > LATE_MIN_S ? l->bound_s : LATE_MIN_S;
}

void lag_add(struct lag *l, double late_s)
{
    if (late_s < 0) late_s = 0;
    l->starts++;
    if (late_s > lag_bound(l)) l->late++;
    if (late_s > l->max_s) l->max_s = late_s;
    double us = late_s * 1e6;
    if (us < LAG_FINE_BINS * 10.0) {
        l->fine[(unsigned)(us / 10.0)]++;
    } else {
        double ms = late_s * 1e3 - 100.0;
        unsigned bin = ms < LAG_COARSE_BINS - 1 ? (unsigned)ms : LAG_COARSE_BINS - 1;
        l->coarse[bin]++;
    }
}

double lag_quantile(const struct lag *l, double q)
{
    if (l->starts == 0) return 0.0;
    /* The rank that q of the starts do not exceed, 1-based: ceil(q * n), at least 1. */
    uint64_t rank = (uint64_t)ceil(q * (double)l->starts);
    if (rank < 1) rank = 1;
    uint64_t seen = 0;
    for (unsigned i = 0; i < LAG_FINE_BINS; i++) {
        seen += l->fine[i];
        if (seen >= rank) return fmin((i + 1) * 10e-6, l->max_s);
    }
    for (unsigned i = 0; i < LAG_COARSE_BINS; i++) {
        seen += l->coarse[i];
        if (seen >= rank && i < LAG_COARSE_BINS - 1)
            return fmin(0.1 + (i + 1) * 1e-3, l->max_s);
    }
    return l->max_s;
}

int lag_kept(const struct lag *l, uint64_t unstarted)
{
    return unstarted == 0 && l->late * 100 <= l->starts;
}
