/*
 * link.h - one direction of an emulated link: delay, jitter, loss and rate, as a FIFO of held
 * packets with the time each is due.
 *
 * Pure: the caller gives every time (nanoseconds on one monotonic clock) and the generator's
 * seed, so a test replays a link exactly. The semantics are netem's, per direction:
 *   - loss: each packet is lost with probability `loss`, before it takes any of the link;
 *   - rate: a packet occupies the wire len*8/rate seconds after the one ahead of it (0: none);
 *   - delay, jitter: it then arrives delay + U(-jitter, +jitter) later (never before it left);
 *   - order is kept: no packet is due before the one ahead of it (netem with jitter reorders;
 *     reordering is not a profile option here, so a jittered packet waits for its elder).
 */
#ifndef LINK_H
#define LINK_H

#include <stdint.h>

struct link_profile {
    uint64_t delay_ns;
    uint64_t jitter_ns;
    double loss;       /* 0..1 */
    uint64_t rate_bps; /* 0: no rate limit */
};

struct link_counters {
    uint64_t packets; /* offered */
    uint64_t lost;    /* by the profile's loss */
    uint64_t full;    /* dropped: the queue held `limit` packets (the emulator fell behind) */
    uint64_t sent;    /* released when due */
    uint64_t late;    /* released more than late_ns after they were due */
    uint64_t max_late_ns;
    uint64_t sum_late_ns; /* over every packet released when due: its mean is the delay added */
    uint64_t max_queued;
};

struct link_held {
    uint32_t id;
    uint64_t due;
};

struct link {
    struct link_profile p;
    struct link_held *ring;
    uint32_t limit, head, count;
    uint64_t wire_free; /* when the wire has sent the last packet offered (rate) */
    uint64_t last_due;  /* the due time of the youngest held packet: order is kept */
    uint64_t rng;
    struct link_counters c;
};

enum link_fate { LINK_HELD = 0, LINK_LOST = 1, LINK_FULL = 2 };

/* Set up `l` for profile `p`, holding at most `limit` packets (>= 1). Returns 0, or -1 with
 * errno ENOMEM. */
int link_init(struct link *l, const struct link_profile *p, uint32_t limit, uint64_t seed);
void link_free(struct link *l);

/* Offer packet `id` of `len` bytes that reached the link at `now`. Returns LINK_HELD (it is in
 * the queue; *due, when not NULL, says when it leaves), LINK_LOST or LINK_FULL (the caller drops
 * it; counted). */
enum link_fate link_offer(struct link *l, uint32_t id, uint32_t len, uint64_t now, uint64_t *due);

/* When the oldest held packet is due; UINT64_MAX when none is held. */
uint64_t link_next_due(const struct link *l);

/* Release every held packet due at `now`, oldest first. Returns how many; *last_id is the id
 * of the youngest released (untouched when none). A packet released more than `late_ns` after
 * its due time counts as late. */
uint32_t link_release(struct link *l, uint64_t now, uint64_t late_ns, uint32_t *last_id);

/* Release everything still held, due or not (a clean exit lets the packets go). */
uint32_t link_release_all(struct link *l, uint32_t *last_id);

/* Parse a direction as the command line gives it, "QUEUE:DELAY_US:JITTER_US:LOSS:RATE_BPS"
 * (LOSS a fraction 0..1, RATE_BPS 0 for none), into *queue and *p. Returns 0, or -1 with the
 * offending field's name in *field. */
int link_parse(const char *text, uint16_t *queue, struct link_profile *p, const char **field);

/* Uniform 64-bit random number (splitmix64); advances *state. */
uint64_t link_random(uint64_t *state);

#endif
