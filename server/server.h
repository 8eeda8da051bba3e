/*
 * server.h - the HTTP server: listener, accept policy, connections, graceful stop.
 *
 * Single-threaded on the serving path: one event loop (ae.h) drives the listener and every
 * connection. Nothing here knows which mechanism runs underneath.
 */
#ifndef SERVER_H
#define SERVER_H

#include "ae.h"
#include "files.h"

#include <signal.h>
#include <stdint.h>
#include <sys/types.h>

#define REQ_MAX 8192 /* a request head larger than this is answered 400 */

struct server_config {
    const aeBackend *be;
    const char *address;
    int port;
    const char *docroot;
    long accept_limit; /* connections accepted per readiness notification; 0: until EAGAIN */
    int max_conns;     /* 0: as many as descriptors allow */
    int setsize;       /* highest descriptor + 1 the process may use */
    int idle_timeout;  /* seconds a connection may wait for a request; 0: for ever */
    int write_timeout; /* seconds a response may make no progress; 0: for ever */
};

/* One connection; the array of them is indexed by descriptor. Kept small: an idle keep-alive
 * connection owns nothing else (no buffer), which is what the 1 KiB/connection budget needs. */
struct conn {
    uint8_t state;      /* C_* below */
    uint8_t keep_alive; /* after the current response */
    uint8_t corked;     /* TCP_CORK is on */
    uint8_t linger;     /* close through a lingering close: the client may still be sending */
    uint32_t len;       /* bytes held in buf */
    uint32_t scanned;   /* of those, already scanned for the end of a request head */
    uint32_t since;     /* server.now when the connection's current wait began: see timeouts */
    char *buf;          /* REQ_MAX bytes, only while a partial or pipelined request is held */
    char *out;          /* unsent header bytes of the current response, NULL when none */
    uint32_t out_len, out_off;
    struct file *file; /* the body being sent, NULL when none */
    off_t off, end;    /* its remaining range */
};

/* C_LINGER: the response is sent and our side shut down; what the client still sends is read
 * and dropped until it closes, so that closing cannot reset the connection (an RST would
 * destroy the response, unread, in the client's buffer). */
enum { C_FREE, C_READ, C_WRITE, C_LINGER };

struct server {
    struct server_config cfg;
    aeLoop *loop;
    struct files *files;
    struct conn *conns; /* [cfg.setsize] */
    int lfd;            /* listener, -1 once closed */
    int max_conns;
    int accept_paused;         /* the listener's interest is off: full or backing off */
    uint64_t accept_resume_ns; /* backing off from EMFILE until then; 0: not backing off */
    int draining;              /* SIGTERM seen: no more accepts, close when idle */
    char rbuf[REQ_MAX];        /* reads land here; only leftovers are copied into conn.buf */
    char obuf[1024];           /* response heads are composed here */
    char date[40];             /* "Date: ...\r\n", refreshed once a second */
    long date_sec;
    uint32_t now;   /* coarse monotonic seconds, read once per loop round (vDSO, no syscall) */
    uint32_t swept; /* s->now at the last timeout sweep */
};

/*
 * Timeouts. A connection's `since` is set when it is accepted and at every handler call that
 * moves it on (a read in C_READ, except while it holds a partial request; a write in
 * C_WRITE), all from the loop's coarse clock, so the hot path gains one store and no system
 * call. Once a second the loop sweeps the connections (server_sweep) and closes those waiting
 * too long: in C_READ for --idle-timeout (no request begun, or one begun and not completed
 * within it), in C_WRITE for --write-timeout (no byte taken by the socket), in C_LINGER for
 * LINGER_SECONDS. Each is counted in stats.timeouts.
 */
#define LINGER_SECONDS 5

/* Opens the docroot and the listener and creates the loop. Returns the server, or NULL with a
 * message naming the failing call in err. */
struct server *server_create(const struct server_config *cfg, char *err, size_t errlen);

/* Serves until *stop is set, then stops accepting, lets responses in progress finish (at most
 * 5 s) and closes every connection. Returns 0, or -1 with a message in err when the event
 * mechanism failed. */
int server_run(struct server *s, volatile sig_atomic_t *stop, char *err, size_t errlen);

void server_free(struct server *s);

/* conn.c: the connection state machine. */
void conn_init(struct server *s, int fd);                 /* a new connection, registered */
void conn_event(aeLoop *l, int fd, void *data, int mask); /* its event handler */
void conn_close(struct server *s, int fd);                /* unregisters, closes, frees */
void conn_drain(struct server *s, int fd);                /* stop: close now if idle, else later */

/* server.c, for conn.c: a connection closed, so accepting may resume. */
void server_on_close(struct server *s);

#endif
