/*
 * server.c - the listener, the accept policy and the serving loop.
 *
 * Accepting follows the paper's accept-limit (section 5.2): at most N connections per
 * readiness notification of the listener, or all that are pending (inf). It pauses - the
 * listener's read interest is switched off - while --max-conns connections are open, and after
 * accept4 fails with EMFILE/ENFILE until a connection closes or a second has passed (the
 * descriptors may be held by the file cache, the metrics thread or, for ENFILE, other
 * processes), so a process out of descriptors sleeps and keeps serving the connections it has
 * instead of spinning on a listener it cannot drain.
 *
 * Once a second the loop sweeps the connections for timeouts (see server.h).
 */
#include "net.h"
#include "server.h"
#include "stats.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define ACCEPT_BACKOFF_NS (1000 * 1000000ull)
#define DRAIN_NS          (5 * 1000000000ull)

/* Switches the listener's interest off (paused) or back on. */
static void pause_accept(struct server *s, int paused)
{
    if (s->lfd < 0 || s->accept_paused == paused) return;
    s->accept_paused = paused;
    __atomic_store_n(&stats.accept_paused, (uint64_t)paused, __ATOMIC_RELAXED);
    if (aeSetMask(s->loop, s->lfd, paused ? AE_NONE : AE_READABLE) < 0)
        STAT_INC(stats.errors[EK_EVENT]);
}

void server_on_close(struct server *s)
{
    if (!s->accept_paused || s->draining) return;
    s->accept_resume_ns = 0; /* a descriptor is free now: backing off from EMFILE ends too */
    pause_accept(s, 0);
}

static void on_accept(aeLoop *l, int lfd, void *data, int mask)
{
    struct server *s = data;
    (void)mask;
    long n = 0;
    for (; s->cfg.accept_limit == 0 || n < s->cfg.accept_limit; n++) {
        if ((int)STAT_GET(stats.open) >= s->max_conns) {
            pause_accept(s, 1);
            return;
        }
        int fd = SYSCALL_RETRY(SC_ACCEPT4, accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC));
        if (fd < 0) {
            if (errno == EAGAIN) {
                aeNotReady(l, lfd, AE_READABLE);
            } else if (errno == EMFILE || errno == ENFILE) {
                STAT_INC(stats.errors[EK_EMFILE]);
                s->accept_resume_ns = now_ns() + ACCEPT_BACKOFF_NS;
                pause_accept(s, 1);
            } else {
                STAT_INC(stats.errors[EK_ACCEPT]);
                continue; /* ECONNABORTED and the like: that connection is gone, go on */
            }
            return;
        }
        if (fd >= s->cfg.setsize || aeAdd(l, fd, AE_READABLE, conn_event, s) < 0) {
            STAT_INC(stats.errors[EK_EVENT]);
            SYSCALL_TIMED(SC_CLOSE, close(fd));
            continue;
        }
        conn_init(s, fd);
        STAT_INC(stats.accepted);
        STAT_INC(stats.open);
    }
    STAT_INC(stats.accept_limit_hits);
}

struct server *server_create(const struct server_config *cfg, char *err, size_t errlen)
{
    struct server *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, errlen, "calloc: out of memory");
        return NULL;
    }
    s->cfg = *cfg;
    s->lfd = -1;
    /* Descriptors besides connections: listener, mechanism, metrics, cached files. */
    s->max_conns = cfg->max_conns;
    s->conns = calloc((size_t)cfg->setsize, sizeof *s->conns);
    if (!s->conns) {
        snprintf(err, errlen, "calloc: out of memory");
        goto err;
    }
    if (!(s->files = files_open(cfg->docroot, err, errlen))) goto err;
    if (!(s->loop = aeCreate(cfg->be, cfg->setsize, err, errlen))) goto err;
    if ((s->lfd = net_listen(cfg->address, cfg->port, 1, 65535, err, errlen)) < 0) goto err;
    if (aeAdd(s->loop, s->lfd, AE_READABLE, on_accept, s) < 0) {
        snprintf(err, errlen, "%s: registering the listener: %s", cfg->be->name, strerror(errno));
        goto err;
    }
    return s;
err:
    server_free(s);
    return NULL;
}

/* Keeps the "Date:" header line current; time() is a vDSO call, not a system call. */
static void tick_date(struct server *s)
{
    time_t now = time(NULL);
    if (now == s->date_sec) return;
    struct tm tm;
    s->date_sec = now;
    strftime(s->date, sizeof s->date, "Date: %a, %d %b %Y %H:%M:%S GMT\r\n", gmtime_r(&now, &tm));
}

/* Closes the connections that waited too long (server.h); counts each by kind. O(maxfd) once a
 * second: a pass over 10,000 connections reads 640 KB and takes tens of microseconds. */
static void sweep(struct server *s)
{
    uint32_t idle = (uint32_t)s->cfg.idle_timeout, wr = (uint32_t)s->cfg.write_timeout;
    for (int fd = 0; fd <= s->loop->maxfd; fd++) {
        struct conn *c = &s->conns[fd];
        uint32_t waited = s->now - c->since; /* whole seconds, so "> limit" waits at least it */
        enum tk kind;
        if (c->state == C_READ && idle && waited > idle)
            kind = TK_IDLE;
        else if (c->state == C_WRITE && wr && waited > wr)
            kind = TK_WRITE;
        else if (c->state == C_LINGER && waited > LINGER_SECONDS)
            kind = TK_LINGER;
        else
            continue;
        STAT_INC(stats.timeouts[kind]);
        conn_close(s, fd);
    }
}

/* Stops accepting and closes every idle connection; busy ones close when done. */
static void start_drain(struct server *s)
{
    s->draining = 1;
    if (s->lfd >= 0) {
        aeDelete(s->loop, s->lfd);
        close(s->lfd);
        s->lfd = -1;
    }
    for (int fd = 0; fd <= s->loop->maxfd; fd++)
        if (s->conns[fd].state != C_FREE) conn_drain(s, fd);
}

int server_run(struct server *s, volatile sig_atomic_t *stop, char *err, size_t errlen)
{
    uint64_t deadline = 0;
    for (;;) {
        if (*stop && !s->draining) {
            start_drain(s);
            deadline = now_ns() + DRAIN_NS;
        }
        if (s->draining && (STAT_GET(stats.open) == 0 || now_ns() >= deadline)) break;
        int timeout = 1000; /* at most: *stop is checked at least once a second */
        if (s->accept_resume_ns) {
            uint64_t now = now_ns();
            if (now >= s->accept_resume_ns) {
                s->accept_resume_ns = 0;
                if ((int)STAT_GET(stats.open) < s->max_conns && !s->draining) pause_accept(s, 0);
            } else {
                timeout = (int)((s->accept_resume_ns - now) / 1000000) + 1;
            }
        }
        tick_date(s);
        struct timespec ts; /* a vDSO call, not a system call */
        clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
        s->now = (uint32_t)ts.tv_sec;
        if (s->now != s->swept) {
            s->swept = s->now;
            sweep(s);
        }
        if (aeProcessEvents(s->loop, s->draining ? 100 : timeout) < 0 && errno != EINTR) {
            snprintf(err, errlen, "%s: waiting for events: %s", s->loop->be->name, strerror(errno));
            return -1;
        }
    }
    for (int fd = 0; fd <= s->loop->maxfd; fd++) /* the drain's deadline passed */
        if (s->conns[fd].state != C_FREE) conn_close(s, fd);
    return 0;
}

void server_free(struct server *s)
{
    if (!s) return;
    if (s->loop) {
        for (int fd = 0; fd <= s->loop->maxfd; fd++)
            if (s->conns[fd].state != C_FREE) conn_close(s, fd);
        aeFree(s->loop);
    }
    if (s->lfd >= 0) close(s->lfd);
    files_close(s->files);
    free(s->conns);
    free(s);
}
