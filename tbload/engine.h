/*
 * engine.h - the load itself: connections started on the schedule (never on the replies),
 * driven by one epoll loop whose waits end at the next due start, the next timeout or the next
 * 5 s sample, whichever is first (epoll_pwait2's nanosecond timeout: no busy loop, no timer
 * descriptor to re-arm). Descriptors are limited only by RLIMIT_NOFILE.
 */
#ifndef ENGINE_H
#define ENGINE_H

#include "sched.h"
#include "sesslog.h"
#include "stats.h"

#include <signal.h>
#include <stdint.h>
#include <sys/socket.h>

struct config {
    const char *server; /* as given: the Host header and the command echo */
    int port;
    struct sockaddr_storage addr; /* the server's address (port included) */
    socklen_t addrlen;
    struct sockaddr_storage *locals; /* --local-addresses, bound round-robin (port 0) */
    size_t nlocals;
    double timeout;       /* seconds without progress before client-timo; 0: none */
    double rate;          /* starts per second */
    int poisson;          /* exponential gaps instead of uniform ones */
    uint64_t seed;        /* of the Poisson gaps */
    const char *uri;      /* one-request mode */
    uint64_t count;       /* connections (one-request mode) or sessions (session mode) */
    struct sesslog *log;  /* session mode when not NULL: session k replays log session k % n */
    int client_close;     /* one-request mode: no "Connection: close"; the client closes after
                             the reply, as httperf does (the server reads its FIN) */
    unsigned calls;       /* one-request mode: requests per connection, one after another
                             (httperf's --num-calls; over 1 implies client_close); 0 means 1 */
    int verbose;          /* print the 5 s samples */
    unsigned client_id, clients; /* --client i/n: the samples' phase, as httperf */
};

/*
 * Runs the load to its end, or until *stop becomes non-zero (checked whenever a wait ends; the
 * loop waits with SIGINT and SIGTERM unblocked only inside epoll_pwait2, so a signal always
 * ends the wait). Fills st (duration and CPU time included) and lag; *unstarted is what the
 * plan had left. Returns 0, or -1 after a message on stderr when a system call the loop cannot
 * do without fails (epoll_create1, memory).
 */
int engine_run(const struct config *cfg, struct stats *st, struct lag *lag,
               volatile sig_atomic_t *stop, uint64_t *unstarted);

#endif
