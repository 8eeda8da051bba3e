/* test_link.c - the link model: delay, jitter, loss, rate, order and the queue limit, on
 * simulated time (no clock, no sleeping). */
#include "check.h"
#include "link.h"

#include <stdint.h>
#include <string.h>

#define MS 1000000ULL

static struct link make(uint64_t delay, uint64_t jitter, double loss, uint64_t rate,
                        uint32_t limit)
{
    struct link l;
    struct link_profile p = {delay, jitter, loss, rate};
    CHECK(link_init(&l, &p, limit, 42) == 0);
    return l;
}

/* Every packet leaves exactly `delay` after it came, not a nanosecond before. */
static void delay(void)
{
    struct link l = make(25 * MS, 0, 0, 0, 100);
    uint64_t due = 0;
    uint32_t last = 0;
    CHECK(link_next_due(&l) == UINT64_MAX);
    CHECK(link_offer(&l, 7, 100, 1000, &due) == LINK_HELD);
    CHECK(due == 1000 + 25 * MS);
    CHECK(link_next_due(&l) == due);
    CHECK(link_release(&l, due - 1, MS, &last) == 0);
    CHECK(link_release(&l, due, MS, &last) == 1 && last == 7);
    CHECK(l.c.sent == 1 && l.c.late == 0);
    link_free(&l);
}

/* Released late, a packet counts as late past the threshold, and the worst lateness is kept. */
static void lateness(void)
{
    struct link l = make(MS, 0, 0, 0, 100);
    uint32_t last;
    link_offer(&l, 1, 100, 0, NULL);
    link_offer(&l, 2, 100, 0, NULL);
    CHECK(link_release(&l, 3 * MS, MS, &last) == 2 && last == 2);
    CHECK(l.c.late == 2 && l.c.max_late_ns == 2 * MS && l.c.sum_late_ns == 4 * MS);
    link_offer(&l, 3, 100, 10 * MS, NULL);
    CHECK(link_release(&l, 11 * MS + MS / 2, MS, &last) == 1 && l.c.late == 2);
    link_free(&l);
}

/* Jitter spreads due times over delay ± jitter (packets far apart, so order does not bite). */
static void jitter_spreads(void)
{
    struct link l = make(20 * MS, 5 * MS, 0, 0, 20000);
    uint64_t due, low = UINT64_MAX, high = 0;
    for (uint32_t i = 0; i < 2000; i++) {
        uint64_t now = i * 30 * MS;
        CHECK(link_offer(&l, i, 100, now, &due) == LINK_HELD);
        uint64_t d = due - now;
        if (d < low) low = d;
        if (d > high) high = d;
    }
    CHECK(low >= 15 * MS && high <= 25 * MS);
    CHECK(low < 16 * MS && high > 24 * MS);
    link_free(&l);
}

/* Dense jittered packets still leave in the order they came: ids come out 0, 1, 2, ... */
static void jitter_keeps_order(void)
{
    struct link l = make(20 * MS, 5 * MS, 0, 0, 20000);
    uint64_t due, before = 0;
    int in_order = 1;
    for (uint32_t i = 0; i < 10000; i++) {
        CHECK(link_offer(&l, i, 100, i * (MS / 10), &due) == LINK_HELD);
        if (due < before) in_order = 0;
        before = due;
    }
    CHECK(in_order);
    uint32_t last = 0, released = 0;
    int ids_in_order = 1;
    for (uint64_t now = 0; link_next_due(&l) != UINT64_MAX; now += MS / 4) {
        uint32_t got = link_release(&l, now, UINT64_MAX, &last);
        released += got;
        if (got && last != released - 1) ids_in_order = 0;
    }
    CHECK(ids_in_order && released == 10000 && last == 9999);
    link_free(&l);
}

/* Loss drops about the fraction asked (binomial: 1 % of 100,000 within 4 standard deviations),
 * and lost packets never enter the queue. */
static void loss(void)
{
    struct link l = make(MS, 0, 0.01, 0, 200000);
    uint32_t lost = 0;
    for (uint32_t i = 0; i < 100000; i++) lost += link_offer(&l, i, 100, i, NULL) == LINK_LOST;
    CHECK(lost > 1000 - 4 * 31 && lost < 1000 + 4 * 31);
    CHECK(l.c.lost == lost && l.count == 100000 - lost);
    link_free(&l);
    struct link none = make(0, 0, 0, 0, 10), all = make(0, 0, 1, 0, 10);
    CHECK(link_offer(&none, 1, 100, 0, NULL) == LINK_HELD);
    CHECK(link_offer(&all, 1, 100, 0, NULL) == LINK_LOST);
    link_free(&none);
    link_free(&all);
}

/* Rate: back-to-back packets leave one transmission time apart; an idle wire sends at once. */
static void rate(void)
{
    struct link l = make(10 * MS, 0, 0, 8000000, 100); /* 8 Mbit/s: 1,000 bytes take 1 ms */
    uint64_t due;
    link_offer(&l, 1, 1000, 0, &due);
    CHECK(due == 11 * MS);
    link_offer(&l, 2, 1000, 0, &due);
    CHECK(due == 12 * MS);
    link_offer(&l, 3, 500, MS / 2, &due);
    CHECK(due == 12 * MS + MS / 2);
    link_offer(&l, 4, 1000, 100 * MS, &due); /* the wire idled meanwhile */
    CHECK(due == 111 * MS);
    /* 1,000 packets of 1,250 bytes at 10 Mbit/s: one second on the wire */
    struct link cap = make(0, 0, 0, 10000000, 2000);
    for (uint32_t i = 0; i < 1000; i++) link_offer(&cap, i, 1250, 0, &due);
    CHECK(due == 1000 * MS);
    link_free(&l);
    link_free(&cap);
}

/* The queue holds `limit` packets; one more is refused, and there is room again once one left. */
static void limit(void)
{
    struct link l = make(MS, 0, 0, 0, 3);
    uint32_t last;
    for (uint32_t i = 0; i < 3; i++) CHECK(link_offer(&l, i, 100, 0, NULL) == LINK_HELD);
    CHECK(link_offer(&l, 3, 100, 0, NULL) == LINK_FULL && l.c.full == 1);
    CHECK(l.c.max_queued == 3);
    CHECK(link_release(&l, MS, MS, &last) == 3 && last == 2);
    for (uint32_t i = 4; i < 7; i++) CHECK(link_offer(&l, i, 100, MS, NULL) == LINK_HELD);
    CHECK(link_release_all(&l, &last) == 3 && last == 6); /* across the ring's end */
    CHECK(link_next_due(&l) == UINT64_MAX);
    link_free(&l);
}

static void parse(void)
{
    uint16_t q;
    struct link_profile p;
    const char *field = NULL;
    CHECK(link_parse("1:25000:2000:0.0005:100000000", &q, &p, &field) == 0);
    CHECK(q == 1 && p.delay_ns == 25 * MS && p.jitter_ns == 2 * MS && p.loss == 0.0005);
    CHECK(p.rate_bps == 100000000);
    CHECK(link_parse("0:0:0:0:0", &q, &p, &field) == 0 && q == 0 && p.delay_ns == 0);
    static const struct {
        const char *text, *field;
    } bad[] = {
        {"", "queue"},           {"x:1:1:0:0", "queue"},      {"70000:0:0:0:0", "queue"},
        {"0:-1:0:0:0", "delay_us"}, {"0:1", "delay_us"},     {"0:1:1:1.5:0", "loss"},
        {"0:1:1:-0.1:0", "loss"},   {"0:1:1:nan:0", "loss"}, {"0:1:1:0:", "rate_bps"},
        {"0:1:1:0:5x", "rate_bps"}, {"0:1:1:0:5:6", "rate_bps"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        int r = link_parse(bad[i].text, &q, &p, &field);
        CHECK(r == -1 && strcmp(field, bad[i].field) == 0);
        if (r != -1 || strcmp(field, bad[i].field) != 0)
            fprintf(stderr, "%s -> %d %s\n", bad[i].text, r, field);
    }
}

int main(void)
{
    delay();
    lateness();
    jitter_spreads();
    jitter_keeps_order();
    loss();
    rate();
    limit();
    parse();
    return check_done("test_link");
}
