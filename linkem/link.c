/* link.c - one direction of an emulated link (see link.h). */
#include "link.h"

#include <errno.h>
#include <stdlib.h>

int link_init(struct link *l, const struct link_profile *p, uint32_t limit, uint64_t seed)
{
    *l = (struct link){.p = *p, .limit = limit ? limit : 1, .rng = seed};
    l->ring = calloc(l->limit, sizeof *l->ring);
    if (!l->ring) {
        errno = ENOMEM;
        return -1;
    }
    return 0;
}

void link_free(struct link *l)
{
    free(l->ring);
    l->ring = NULL;
}

uint64_t link_random(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* A uniform double in [0, 1). */
static double unit(uint64_t *state)
{
    return (double)(link_random(state) >> 11) * 0x1.0p-53;
}

enum link_fate link_offer(struct link *l, uint32_t id, uint32_t len, uint64_t now, uint64_t *due)
{
    l->c.packets++;
    if (l->p.loss > 0 && unit(&l->rng) < l->p.loss) {
        l->c.lost++;
        return LINK_LOST;
    }
    if (l->count == l->limit) {
        l->c.full++;
        return LINK_FULL;
    }
    uint64_t left = now;
    if (l->p.rate_bps) {
        uint64_t start = l->wire_free > now ? l->wire_free : now;
        left = start + (uint64_t)len * 8 * 1000000000ULL / l->p.rate_bps;
        l->wire_free = left;
    }
    int64_t delay = (int64_t)l->p.delay_ns;
    if (l->p.jitter_ns) {
        double offset = (2 * unit(&l->rng) - 1) * (double)l->p.jitter_ns;
        delay += (int64_t)offset;
        if (delay < 0) delay = 0;
    }
    uint64_t when = left + (uint64_t)delay;
    if (when < l->last_due) when = l->last_due;
    l->last_due = when;
    l->ring[(l->head + l->count) % l->limit] = (struct link_held){id, when};
    l->count++;
    if (l->count > l->c.max_queued) l->c.max_queued = l->count;
    if (due) *due = when;
    return LINK_HELD;
}

uint64_t link_next_due(const struct link *l)
{
    return l->count ? l->ring[l->head].due : UINT64_MAX;
}

static void pop(struct link *l, uint32_t *last_id)
{
    *last_id = l->ring[l->head].id;
    l->head = (l->head + 1) % l->limit;
    l->count--;
    l->c.sent++;
}

uint32_t link_release(struct link *l, uint64_t now, uint64_t late_ns, uint32_t *last_id)
{
    uint32_t n = 0;
    while (l->count && l->ring[l->head].due <= now) {
        uint64_t late = now - l->ring[l->head].due;
        if (late > late_ns) l->c.late++;
        if (late > l->c.max_late_ns) l->c.max_late_ns = late;
        l->c.sum_late_ns += late;
        pop(l, last_id);
        n++;
    }
    return n;
}

uint32_t link_release_all(struct link *l, uint32_t *last_id)
{
    uint32_t n = 0;
    while (l->count) {
        pop(l, last_id);
        n++;
    }
    return n;
}

static int number(const char **at, char stop, uint64_t max, uint64_t *out)
{
    char *end;
    if (**at < '0' || **at > '9') return -1;
    errno = 0;
    unsigned long long v = strtoull(*at, &end, 10);
    if (errno || v > max || *end != stop) return -1;
    *out = v;
    *at = end + (stop != '\0');
    return 0;
}

int link_parse(const char *text, uint16_t *queue, struct link_profile *p, const char **field)
{
    uint64_t q, delay, jitter, rate;
    const char *at = text;
    char *end;
    *field = "queue";
    if (number(&at, ':', 65535, &q) < 0) return -1;
    *field = "delay_us";
    if (number(&at, ':', 60000000, &delay) < 0) return -1;
    *field = "jitter_us";
    if (number(&at, ':', 60000000, &jitter) < 0) return -1;
    *field = "loss";
    if ((*at < '0' || *at > '9') && *at != '.') return -1;
    errno = 0;
    double loss = strtod(at, &end);
    if (errno || end == at || *end != ':' || !(loss >= 0 && loss <= 1)) return -1;
    at = end + 1;
    *field = "rate_bps";
    if (number(&at, '\0', 1000000000000ULL, &rate) < 0) return -1;
    *queue = (uint16_t)q;
    *p = (struct link_profile){delay * 1000, jitter * 1000, loss, rate};
    return 0;
}
