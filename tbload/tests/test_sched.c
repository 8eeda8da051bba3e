/* test_sched.c - due times (uniform, Poisson) and the lateness record's quantiles and verdict. */
#include "check.h"
#include "sched.h"

#include <math.h>
#include <stdlib.h>

static void uniform(void)
{
    struct sched s;
    sched_init(&s, 1000.0, 0, 1);
    CHECK(sched_next(&s) == 0.0);
    CHECK(fabs(sched_next(&s) - 0.001) < 1e-12);
    for (int i = 2; i < 1000000; i++) sched_next(&s);
    /* Computed, never summed: the millionth start is due at exactly 1000 s. */
    CHECK(sched_next(&s) == 1000.0);

    sched_init(&s, 3.0, 0, 1);
    double prev = sched_next(&s);
    int even = 1;
    for (int i = 0; i < 30; i++) {
        double t = sched_next(&s);
        if (fabs(t - prev - 1.0 / 3.0) > 1e-9) even = 0;
        prev = t;
    }
    CHECK(even);
}

static void poisson(void)
{
    struct sched a, b, c;
    sched_init(&a, 2000.0, 1, 42);
    sched_init(&b, 2000.0, 1, 42);
    sched_init(&c, 2000.0, 1, 43);
    CHECK(sched_next(&a) == 0.0);
    sched_next(&b);
    sched_next(&c);
    int same = 1, differs = 0, increasing = 1;
    double prev = 0, sum = 0, sum2 = 0;
    const int n = 200000;
    for (int i = 0; i < n; i++) {
        double ta = sched_next(&a), tb = sched_next(&b), tc = sched_next(&c);
        if (ta != tb) same = 0;
        if (ta != tc) differs = 1;
        if (ta < prev) increasing = 0;
        double gap = ta - prev;
        sum += gap;
        sum2 += gap * gap;
        prev = ta;
    }
    CHECK(same);       /* the same seed gives the same schedule */
    CHECK(differs);    /* another seed another */
    CHECK(increasing); /* never due before the start before it */
    double mean = sum / n, sd = sqrt(sum2 / n - mean * mean);
    /* Exponential gaps: mean 1/rate, coefficient of variation 1 (within 2 %, n = 200,000). */
    CHECK(fabs(mean * 2000.0 - 1.0) < 0.02);
    CHECK(fabs(sd / mean - 1.0) < 0.02);
    /* Memoryless: about e^-1 of the gaps exceed the mean. */
    sched_init(&a, 1.0, 1, 7);
    sched_next(&a);
    int over = 0;
    prev = 0;
    for (int i = 0; i < n; i++) {
        double t = sched_next(&a);
        over += t - prev > 1.0;
        prev = t;
    }
    CHECK(fabs((double)over / n - exp(-1.0)) < 0.01);
}

static void uniform_draws(void)
{
    uint64_t st = 0;
    int in_range = 1;
    for (int i = 0; i < 100000; i++) {
        double u = sched_uniform(&st);
        if (!(u > 0.0 && u <= 1.0)) in_range = 0;
    }
    CHECK(in_range);
}

static void lag(void)
{
    struct lag *l = calloc(1, sizeof *l);
    CHECK(lag_quantile(l, 0.99) == 0.0);
    CHECK(lag_kept(l, 0));
    for (int i = 0; i < 990; i++) lag_add(l, 0.0001 * (i % 10)); /* 0 .. 0.9 ms */
    for (int i = 0; i < 10; i++) lag_add(l, 0.050);              /* 1 % at 50 ms */
    CHECK(l->starts == 1000 && l->late == 10);
    CHECK(fabs(l->max_s - 0.050) < 1e-12);
    CHECK(lag_quantile(l, 0.99) <= 0.000911 && lag_quantile(l, 0.99) >= 0.00089);
    CHECK(fabs(lag_quantile(l, 1.0) - 0.050) < 1e-9);
    CHECK(lag_kept(l, 0));  /* exactly 1 % late: kept */
    CHECK(!lag_kept(l, 1)); /* a start left undone: not kept */
    lag_add(l, 0.0101);     /* one more late start: over 1 % */
    CHECK(!lag_kept(l, 0));
    lag_add(l, 0.010); /* 10 ms exactly is not late */
    CHECK(l->late == 11);
    lag_add(l, -0.5); /* early (cannot happen) counts as on time */
    CHECK(l->late == 11 && l->starts == 1003);
    lag_add(l, 250.0); /* beyond the histogram: the last bin, and the exact maximum */
    CHECK(l->max_s == 250.0 && lag_quantile(l, 1.0) == 250.0);
    /* Coarse bins: 99 % at 2 s, the quantile is the bin's upper edge. */
    struct lag *m = calloc(1, sizeof *m);
    for (int i = 0; i < 100; i++) lag_add(m, 2.0);
    CHECK(lag_quantile(m, 0.99) >= 2.0 && lag_quantile(m, 0.99) <= 2.0 + 1e-9);
    CHECK(m->late == 100 && !lag_kept(m, 0));
    free(l);
    free(m);
}

/* The bound grows with the schedule's span: jitter that recurs without accumulating is kept,
 * a schedule that slips by more than 1 % of the rate is not, whatever the run's length. */
static void bound(void)
{
    struct lag *l = calloc(1, sizeof *l);
    CHECK(lag_bound(l) == LATE_MIN_S); /* zeroed: the floor */
    lag_init(l, 0.5);
    CHECK(lag_bound(l) == LATE_MIN_S); /* 1 % of a short run is under the floor */
    lag_init(l, 4.0);
    CHECK(fabs(lag_bound(l) - 0.040) < 1e-12);
    /* Eight clients taking turns on one core: every start up to 25 ms late, none lost. */
    for (int i = 0; i < 8000; i++) lag_add(l, 0.025 * (double)(i % 100) / 100.0);
    CHECK(l->late == 0 && lag_kept(l, 0));
    for (int pct = 1; pct <= 3; pct++) {
        /* A client at (100 - 2 pct) % of the rate: start i made at i / (rate * share), a lag
         * growing to 2 pct % of the 4 s span; over 1 % late from 2 % slower on. */
        struct lag *s = calloc(1, sizeof *s);
        lag_init(s, 4.0);
        double rate = 2000.0, share = 1.0 - 0.02 * pct;
        for (int i = 0; i < 8000; i++) lag_add(s, i / (rate * share) - i / rate);
        CHECK(!lag_kept(s, 0));
        free(s);
    }
    struct lag *s = calloc(1, sizeof *s); /* 0.5 % slower: within the bound, kept */
    lag_init(s, 4.0);
    for (int i = 0; i < 8000; i++) lag_add(s, i / (2000.0 * 0.995) - i / 2000.0);
    CHECK(lag_kept(s, 0));
    free(s);
    free(l);
}

int main(void)
{
    uniform();
    poisson();
    uniform_draws();
    lag();
    bound();
    return check_done("test_sched");
}
