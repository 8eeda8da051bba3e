/*
 * engine.c - connections, their state machine, timeouts and the event loop.
 *
 * A connection (struct conn) goes CONNECTING -> SENDING -> READING -> [DRAINING] -> closed.
 * DRAINING waits for the server's FIN after a reply that announced the close, so that the
 * server, not the client, closes first and keeps the TIME_WAIT: the client's ports stay free.
 * In session mode one struct conn carries a whole session: the next request goes out when the
 * reply before it is complete, on the same connection, or on a new one when the server closed
 * it (httperf's --max-connections 1). --num-calls N does the same with N requests for one URI,
 * and the client closes after the last reply.
 *
 * Timeouts: every deadline is "now + timeout" when set, and now never decreases, so appending
 * to a list keeps it sorted: the earliest deadline is the list's head, and setting, resetting
 * and clearing one are O(1).
 */
#include "engine.h"
#include "reply.h"

#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif

#define SAMPLE_S    5.0  /* httperf's RATE_INTERVAL */
#define TICK_S      1e-3 /* starts are made on 1 ms ticks (at most 1 ms late, never early) */
#define START_CAP   256  /* most starts in one turn of the loop, so replies are read meanwhile */
#define EVENTS      1024 /* events taken per wait */
#define CHUNK_CONNS 4096 /* connection structs allocated at a time */
#define RBUF_SIZE   (64 * 1024)

enum cstate { C_FREE, C_CONNECTING, C_SENDING, C_READING, C_DRAINING };

struct conn {
    int fd;
    enum cstate state;
    struct conn *prev, *next; /* the timeout list; next alone chains the free list */
    int timed;                /* on the timeout list */
    double deadline;
    double t_connect, t_send, t_recv; /* connect() called, request begun, first reply byte */
    const char *req;
    size_t req_len, req_off;
    int got_bytes;          /* a byte of the current reply arrived */
    unsigned conn_replies;  /* replies completed on this connection */
    struct reply rp;
    /* Session mode. */
    size_t sess;            /* the log's session this one replays */
    size_t next_req;        /* index within it of the request to send next */
    unsigned sess_replies, sess_conns;
    double birth;
    int reconnect;          /* DRAINING: open a new connection for the rest, then */
    int sess_done;          /* every request of the session got its reply */
};

struct engine {
    const struct config *cfg;
    struct stats *st;
    int ep;
    double t0;
    struct conn *timed_head, *timed_tail;
    struct conn *free_list;
    struct conn **chunks;
    size_t nchunks;
    uint64_t live;        /* connection structs in use */
    size_t next_local;    /* round-robin over --local-addresses */
    const char **reqs;    /* request text per URI (one in one-request mode) */
    size_t *req_lens;
    char *req_text;
    int warned_other;
    char rbuf[RBUF_SIZE];
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* ------------------------------------------------------------------ requests */

/* Every request's text, built once: "GET <uri> HTTP/1.1", Host, and in one-request mode
 * "Connection: close" (unless the client closes). */
static int build_requests(struct engine *e)
{
    const struct config *c = e->cfg;
    size_t n = c->log ? c->log->nuris : 1, total = 0;
    for (size_t i = 0; i < n; i++)
        total += (c->log ? c->log->uri_len[i] : strlen(c->uri)) + strlen(c->server) + 64;
    e->req_text = malloc(total);
    e->reqs = malloc(n * sizeof *e->reqs);
    e->req_lens = malloc(n * sizeof *e->req_lens);
    if (!e->req_text || !e->reqs || !e->req_lens) return -1;
    char *p = e->req_text;
    for (size_t i = 0; i < n; i++) {
        const char *uri = c->log ? c->log->uri[i] : c->uri;
        int len = sprintf(p, "GET %s HTTP/1.1\r\nHost: %s\r\n%s\r\n", uri, c->server,
                          c->log || c->client_close ? "" : "Connection: close\r\n");
        e->reqs[i] = p;
        e->req_lens[i] = (size_t)len;
        p += len + 1;
    }
    return 0;
}

/* ------------------------------------------------------------------ connection structs */

static struct conn *conn_get(struct engine *e)
{
    if (!e->free_list) {
        struct conn *chunk = calloc(CHUNK_CONNS, sizeof *chunk);
        struct conn **chunks = realloc(e->chunks, (e->nchunks + 1) * sizeof *chunks);
        if (!chunk || !chunks) {
            free(chunk);
            if (chunks) e->chunks = chunks;
            return NULL;
        }
        e->chunks = chunks;
        e->chunks[e->nchunks++] = chunk;
        for (size_t i = 0; i < CHUNK_CONNS; i++) {
            chunk[i].next = e->free_list;
            e->free_list = &chunk[i];
        }
    }
    struct conn *c = e->free_list;
    e->free_list = c->next;
    memset(c, 0, sizeof *c);
    c->fd = -1;
    e->live++;
    return c;
}

static void conn_put(struct engine *e, struct conn *c)
{
    c->state = C_FREE;
    c->next = e->free_list;
    e->free_list = c;
    e->live--;
}

/* ------------------------------------------------------------------ timeouts */

static void untime(struct engine *e, struct conn *c)
{
    if (!c->timed) return;
    if (c->prev) c->prev->next = c->next;
    else e->timed_head = c->next;
    if (c->next) c->next->prev = c->prev;
    else e->timed_tail = c->prev;
    c->prev = c->next = NULL;
    c->timed = 0;
}

/* (Re)sets c's deadline to now + timeout, at the list's tail. */
static void retime(struct engine *e, struct conn *c, double now)
{
    if (e->cfg->timeout <= 0) return;
    untime(e, c);
    c->deadline = now + e->cfg->timeout;
    c->prev = e->timed_tail;
    c->next = NULL;
    if (e->timed_tail) e->timed_tail->next = c;
    else e->timed_head = c;
    e->timed_tail = c;
    c->timed = 1;
}

/* ------------------------------------------------------------------ ending connections */

static enum err_kind kind_of(struct engine *e, int err)
{
    switch (err) {
    case ECONNREFUSED: return ERR_CONNREFUSED;
    case ECONNRESET:
    case EPIPE: return ERR_CONNRESET;
    case ETIMEDOUT: return ERR_SOCKET_TIMO;
    case EMFILE:
    case ENFILE: return ERR_FD_UNAVAIL;
    case EADDRNOTAVAIL:
    case EADDRINUSE:
    case EAGAIN: return ERR_ADDRUNAVAIL; /* connect(): no free local port */
    default:
        if (!e->warned_other) { /* httperf says so once, too */
            e->warned_other = 1;
            fprintf(stderr, "tbload: connection failed with unexpected error %d (%s)\n", err,
                    strerror(err));
        }
        return ERR_OTHER;
    }
}

/* Closes c's socket; a connection that completed a reply counts its lifetime. */
static void close_fd(struct engine *e, struct conn *c, double now)
{
    untime(e, c);
    if (c->fd < 0) return;
    close(c->fd); /* also leaves the epoll set */
    c->fd = -1;
    e->st->active--;
    if (c->conn_replies) stats_lifetime(e->st, now - c->t_connect);
}

static void finish_session(struct engine *e, struct conn *c, int failed, double now)
{
    if (e->cfg->log) stats_session(e->st, failed, now - c->birth, c->sess_replies, c->sess_conns);
    conn_put(e, c);
}

/* The connection failed (the error is counted by the caller): in session mode, so did its
 * session. */
static void fail(struct engine *e, struct conn *c, enum err_kind kind, double now)
{
    stats_error(e->st, kind);
    close_fd(e, c, now);
    finish_session(e, c, 1, now);
}

/* ------------------------------------------------------------------ the state machine */

static int open_conn(struct engine *e, struct conn *c, double now);
static void send_more(struct engine *e, struct conn *c, double now);

/* The connection ended normally (the reply and the server's close, or our close after a
 * keep-alive reply). */
static void done(struct engine *e, struct conn *c, double now)
{
    close_fd(e, c, now);
    if (c->reconnect) {
        c->reconnect = 0;
        c->conn_replies = 0;
        int kind = open_conn(e, c, now);
        if (kind >= 0) {
            stats_error(e->st, (enum err_kind)kind);
            finish_session(e, c, 1, now);
        }
        return;
    }
    finish_session(e, c, !c->sess_done && e->cfg->log, now);
}

static void begin_request(struct engine *e, struct conn *c, double now)
{
    const struct config *cfg = e->cfg;
    size_t i = cfg->log ? cfg->log->first[c->sess] + c->next_req : 0;
    c->req = e->reqs[i];
    c->req_len = e->req_lens[i];
    c->req_off = 0;
    c->got_bytes = 0;
    c->t_send = now;
    reply_init(&c->rp);
    c->state = C_SENDING;
    retime(e, c, now);
}

static void connected(struct engine *e, struct conn *c, double now)
{
    e->st->connects++;
    e->st->connect_sum += now - c->t_connect;
    c->sess_conns++;
    begin_request(e, c, now);
}

/* Opens a connection for c and starts connect(). Returns -1 on success, else the error kind
 * (nothing left open). */
static int open_conn(struct engine *e, struct conn *c, double now)
{
    const struct config *cfg = e->cfg;
    int fd = socket(cfg->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return kind_of(e, errno);
    if (cfg->nlocals) {
        const struct sockaddr_storage *la = &cfg->locals[e->next_local++ % cfg->nlocals];
        int one = 1;
        /* The port is chosen at connect(), for the whole 4-tuple: many more than 64 K
         * connections across servers and local addresses. */
        (void)setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
        if (bind(fd, (const struct sockaddr *)la, cfg->addrlen) < 0) {
            int err = errno;
            close(fd);
            return kind_of(e, err);
        }
    }
    struct stats *st = e->st;
    st->conns++;
    if (++st->active > st->max_active) st->max_active = st->active;
    c->fd = fd;
    c->t_connect = now;
    c->state = C_CONNECTING;
    int rc = connect(fd, (const struct sockaddr *)&cfg->addr, cfg->addrlen);
    if (rc < 0 && errno != EINPROGRESS) {
        int err = errno;
        close_fd(e, c, now);
        return kind_of(e, err);
    }
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, .data.ptr = c};
    if (epoll_ctl(e->ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
        int err = errno;
        close_fd(e, c, now);
        return kind_of(e, err);
    }
    retime(e, c, now);
    if (rc == 0) {
        connected(e, c, now);
        send_more(e, c, now);
    }
    return -1;
}

static void send_more(struct engine *e, struct conn *c, double now)
{
    while (c->req_off < c->req_len) {
        ssize_t n = send(c->fd, c->req + c->req_off, c->req_len - c->req_off, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN) return; /* EPOLLOUT will say when */
            fail(e, c, kind_of(e, errno), now);
            return;
        }
        c->req_off += (size_t)n;
    }
    e->st->sent++;
    e->st->req_bytes += c->req_len;
    c->state = C_READING;
    retime(e, c, now);
}

/* The current reply is complete. */
static void reply_complete(struct engine *e, struct conn *c, double now)
{
    struct stats *st = e->st;
    const struct reply *r = &c->rp;
    unsigned cls = (unsigned)r->status / 100;
    if (cls >= 1 && cls <= 5) {
        st->replies[cls]++;
        st->replies_since_sample++;
    }
    st->hdr_bytes += r->header_bytes;
    st->body_bytes += r->body_bytes;
    st->xfer_sum += now - c->t_recv;
    c->conn_replies++;
    c->sess_replies++;
    c->next_req++;
    const struct config *cfg = e->cfg;
    size_t calls = cfg->log ? cfg->log->len[c->sess] : (cfg->calls ? cfg->calls : 1);
    int more = c->next_req < calls;
    if (!more) c->sess_done = 1;
    if (!more && cfg->client_close && !cfg->log) {
        done(e, c, now); /* httperf's way: the client closes, and keeps the TIME_WAIT */
    } else if (r->close) { /* wait for the server's FIN, then close (and reconnect for the rest) */
        c->state = C_DRAINING;
        c->reconnect = more;
        retime(e, c, now);
    } else if (more) {
        begin_request(e, c, now);
        send_more(e, c, now);
    } else {
        done(e, c, now);
    }
}

/* The stream ended (read() returned 0, or the FIN was seen with everything read). */
static void at_eof(struct engine *e, struct conn *c, double now)
{
    if (c->state == C_DRAINING) {
        done(e, c, now);
    } else if (c->state == C_READING && c->got_bytes && reply_eof(&c->rp)) {
        reply_complete(e, c, now); /* a body delimited by the close */
        if (c->state == C_DRAINING) done(e, c, now);
    } else {
        fail(e, c, ERR_CONNRESET, now); /* httperf: the server closed on a call in progress */
    }
}

static void read_more(struct engine *e, struct conn *c, uint32_t events, double now)
{
    if (c->state == C_DRAINING && (events & EPOLLRDHUP)) {
        done(e, c, now); /* nothing is unread: close() sends a FIN, not a reset */
        return;
    }
    for (;;) {
        ssize_t n = recv(c->fd, e->rbuf, sizeof e->rbuf, 0);
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno != EAGAIN) fail(e, c, kind_of(e, errno), now);
            return;
        }
        if (n == 0) {
            at_eof(e, c, now);
            return;
        }
        now = now_s();
        if (c->state == C_READING) {
            if (!c->got_bytes) {
                c->got_bytes = 1;
                c->t_recv = now;
                e->st->responses++;
                e->st->response_sum += now - c->t_send;
            }
            if (reply_feed(&c->rp, e->rbuf, (size_t)n) < 0) {
                fail(e, c, ERR_OTHER, now); /* a reply this client cannot read */
                return;
            }
            if (c->rp.state == REPLY_DONE) {
                /* Bytes after the reply, if any, are not read as a reply. Unless the reply
                 * left c waiting for the server's FIN, c is done with this read: it sent the
                 * next request, ended, or carries the session on a new connection. */
                reply_complete(e, c, now);
                if (c->state != C_DRAINING) return;
            } else {
                retime(e, c, now); /* progress */
            }
        }
        /* A short read took everything there was: edge-triggered epoll reports the next
         * arrival. With the peer's FIN seen before the read, nothing more will come. */
        if ((size_t)n < sizeof e->rbuf) {
            if (events & EPOLLRDHUP) at_eof(e, c, now);
            return;
        }
    }
}

static void on_event(struct engine *e, struct conn *c, uint32_t events)
{
    double now = now_s();
    if (c->state == C_CONNECTING) {
        if (events & (EPOLLERR | EPOLLHUP)) {
            int err = 0;
            socklen_t len = sizeof err;
            getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
            fail(e, c, kind_of(e, err ? err : ECONNREFUSED), now);
            return;
        }
        if (!(events & EPOLLOUT)) return;
        connected(e, c, now);
    }
    if (c->state == C_SENDING) {
        send_more(e, c, now);
        if (c->state != C_READING) return;
    }
    if (c->state == C_READING || c->state == C_DRAINING) read_more(e, c, events, now);
}

/* ------------------------------------------------------------------ starts and the loop */

static void start_one(struct engine *e, uint64_t k, double now)
{
    const struct config *cfg = e->cfg;
    struct conn *c = conn_get(e);
    if (!c) {
        stats_error(e->st, ERR_OTHER); /* out of memory: counted, the run goes on */
        return;
    }
    c->birth = now;
    if (cfg->log) c->sess = (size_t)(k % cfg->log->nsessions);
    int kind = open_conn(e, c, now);
    if (kind >= 0) {
        stats_error(e->st, (enum err_kind)kind);
        finish_session(e, c, 1, now);
    }
}

static void expire(struct engine *e, double now)
{
    while (e->timed_head && e->timed_head->deadline <= now) {
        struct conn *c = e->timed_head;
        if (c->state == C_DRAINING) done(e, c, now); /* the reply is in; the FIN never came */
        else fail(e, c, ERR_CLIENT_TIMO, now);
    }
}

static void free_engine(struct engine *e)
{
    for (size_t i = 0; i < e->nchunks; i++) {
        for (size_t j = 0; j < CHUNK_CONNS; j++)
            if (e->chunks[i][j].state != C_FREE && e->chunks[i][j].fd >= 0)
                close(e->chunks[i][j].fd);
        free(e->chunks[i]);
    }
    free(e->chunks);
    free(e->req_text);
    free(e->reqs);
    free(e->req_lens);
    if (e->ep >= 0) close(e->ep);
    free(e);
}

static double tv_s(struct timeval tv)
{
    return (double)tv.tv_sec + (double)tv.tv_usec * 1e-6;
}

int engine_run(const struct config *cfg, struct stats *st, struct lag *lag,
               volatile sig_atomic_t *stop, uint64_t *unstarted)
{
    struct engine *e = calloc(1, sizeof *e);
    if (!e) {
        fprintf(stderr, "tbload: out of memory\n");
        return -1;
    }
    e->cfg = cfg;
    e->st = st;
    e->ep = epoll_create1(EPOLL_CLOEXEC);
    if (e->ep < 0 || build_requests(e) < 0) {
        fprintf(stderr, "tbload: %s: %s\n", e->ep < 0 ? "epoll_create1" : "malloc",
                strerror(errno));
        free_engine(e);
        return -1;
    }
    /* SIGINT and SIGTERM arrive only inside the wait, which they end. */
    sigset_t block, old, waitmask;
    sigemptyset(&block);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGTERM);
    sigprocmask(SIG_BLOCK, &block, &old);
    waitmask = old;
    sigdelset(&waitmask, SIGINT);
    sigdelset(&waitmask, SIGTERM);

    struct sched sc;
    sched_init(&sc, cfg->rate, cfg->poisson, cfg->seed);
    struct epoll_event evs[EVENTS];
    struct rusage ru0, ru1;
    getrusage(RUSAGE_SELF, &ru0);
    e->t0 = now_s();
    uint64_t started = 0;
    double due = e->t0 + sched_next(&sc);
    double last_sample = e->t0;
    double next_sample = e->t0 + (cfg->client_id + 1.0) * SAMPLE_S / cfg->clients;

    while (!*stop) {
        double now = now_s();
        unsigned burst = 0;
        while (started < cfg->count && due <= now && burst < START_CAP) {
            lag_add(lag, now - due);
            start_one(e, started, now);
            started++;
            burst++;
            if (started < cfg->count) due = e->t0 + sched_next(&sc);
            now = now_s();
        }
        if (burst > st->max_burst) st->max_burst = burst;
        expire(e, now);
        if (now >= next_sample) {
            stats_sample(st, now - last_sample, cfg->verbose, stdout);
            last_sample = now;
            next_sample = now + SAMPLE_S;
        }
        if (started == cfg->count && e->live == 0) break;

        /* The schedule wakes the loop on the first 1 ms tick at or after the next due time:
         * the starts of a tick go out together, so the loop (and, on a virtual machine, the
         * timer and the interrupts of each start's packets) wakes once per tick, not once per
         * start, for at most 1 ms of lateness, far under the 10 ms or more that counts as late. */
        double wake = next_sample;
        double tick = e->t0 + ceil((due - e->t0) / TICK_S) * TICK_S;
        if (started < cfg->count && tick < wake) wake = tick;
        if (e->timed_head && e->timed_head->deadline < wake) wake = e->timed_head->deadline;
        double wait = wake - now_s();
        if (wait < 0) wait = 0;
        struct timespec ts = {(time_t)wait, (long)((wait - (double)(time_t)wait) * 1e9)};
        int n = epoll_pwait2(e->ep, evs, EVENTS, &ts, &waitmask);
        if (n < 0) {
            if (errno == EINTR) continue;
            fprintf(stderr, "tbload: epoll_pwait2: %s\n", strerror(errno));
            break;
        }
        for (int i = 0; i < n; i++) on_event(e, evs[i].data.ptr, evs[i].events);
    }
    st->duration_s = now_s() - e->t0;
    getrusage(RUSAGE_SELF, &ru1);
    st->user_s = tv_s(ru1.ru_utime) - tv_s(ru0.ru_utime);
    st->sys_s = tv_s(ru1.ru_stime) - tv_s(ru0.ru_stime);
    *unstarted = cfg->count - started;
    sigprocmask(SIG_SETMASK, &old, NULL);
    free_engine(e);
    return 0;
}
