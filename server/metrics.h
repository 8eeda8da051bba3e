/*
 * metrics.h - the Prometheus endpoint: GET /metrics in text format 0.0.4.
 *
 * Served by a thread of its own, outside the serving event loop: a scrape adds no descriptor to
 * the mechanism's interest set, no round to the loop and no system call to the counters (which
 * count the serving path only). The thread runs a small loop of its own on non-blocking
 * sockets and poll(): up to 8 scrapes at once, each cut 2 s after it was accepted whatever it
 * is doing, so a client that trickles its request or never reads the answer delays no other
 * scrape by more than that. The thread reads the counters with relaxed atomic loads; the
 * serving thread never waits for it.
 */
#ifndef METRICS_H
#define METRICS_H

#include <stddef.h>
#include <stdio.h>

struct metrics_info {
    const char *mechanism;
    const char *accept_limit; /* "inf" or the number */
    const char *version;
};

/* Writes the whole exposition to f. */
void metrics_render(FILE *f, const struct metrics_info *info);

/* Binds addr:port and starts the thread. Returns 0, or -1 with a message naming the failing
 * call in err. */
int metrics_start(const char *addr, int port, const struct metrics_info *info, char *err,
                  size_t errlen);

/* Stops the thread (it notices within 200 ms), closes its clients and the listener; a no-op if
 * not started. */
void metrics_stop(void);

#endif
