/*
 * conn.c - one HTTP connection: read, parse, answer, send, keep alive or close.
 *
 * A connection reads into the server's shared buffer; only the bytes of a partial request, or
 * of pipelined requests waiting behind a response that did not fit in the socket, are copied
 * into a buffer of its own, freed again when it is empty. A response is written at once after
 * its request is parsed; the connection asks for writability only when the socket is full.
 * Bodies go out with sendfile from the cached descriptor, between TCP_CORK on and off (the
 * paper's configuration, section 4.2).
 */
#include "http.h"
#include "server.h"
#include "stats.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <unistd.h>

static const char *const reasons[ST_COUNT] = {
    [ST_200] = "200 OK",
    [ST_400] = "400 Bad Request",
    [ST_404] = "404 Not Found",
    [ST_405] = "405 Method Not Allowed",
    [ST_500] = "500 Internal Server Error",
    [ST_501] = "501 Not Implemented",
    [ST_503] = "503 Service Unavailable",
    [ST_505] = "505 HTTP Version Not Supported",
};

void conn_init(struct server *s, int fd)
{
    s->conns[fd] = (struct conn){.state = C_READ, .since = s->now};
}

void conn_close(struct server *s, int fd)
{
    struct conn *c = &s->conns[fd];
    aeDelete(s->loop, fd);
    SYSCALL_TIMED(SC_CLOSE, close(fd)); /* never retried: Linux frees fd even on EINTR */
    free(c->buf);
    free(c->out);
    *c = (struct conn){.state = C_FREE};
    STAT_INC(stats.closed);
    STAT_DEC(stats.open);
    server_on_close(s);
}

#define LINGER_MAX (64 * 1024) /* bytes a lingering close drops before closing anyway */

/* Ends a connection whose last response is sent: at once, or through a lingering close when
 * the client may still be sending (an error answered before its request was read through). */
static void finish(struct server *s, int fd, struct conn *c)
{
    if (!c->linger || s->draining) {
        conn_close(s, fd);
        return;
    }
    SYSCALL_TIMED(SC_SHUTDOWN, shutdown(fd, SHUT_WR));
    free(c->buf);
    c->buf = NULL;
    c->len = 0;
    c->state = C_LINGER;
    if (aeSetMask(s->loop, fd, AE_READABLE) < 0) conn_close(s, fd);
}

/* Closes after a failed read, write or sendfile, counting why. */
static void io_error(struct server *s, int fd)
{
    STAT_INC(stats.errors[errno == ECONNRESET || errno == EPIPE ? EK_RESET : EK_IO]);
    conn_close(s, fd);
}

static void cork(int fd, int on)
{
    SYSCALL_TIMED(SC_SETSOCKOPT, setsockopt(fd, IPPROTO_TCP, TCP_CORK, &on, sizeof on));
}

/* Keeps src[0, n) as the connection's buffered input (src may point into that buffer).
 * Returns 0, or -1 when out of memory. */
static int keep(struct conn *c, const char *src, size_t n)
{
    if (n == 0) {
        free(c->buf);
        c->buf = NULL;
    } else {
        if (!c->buf && !(c->buf = malloc(REQ_MAX))) return -1;
        memmove(c->buf, src, n);
    }
    c->len = (uint32_t)n;
    c->scanned = 0;
    return 0;
}

/* Switches between reading requests and writing a response. Returns 0, or -1 when the event
 * mechanism refused (the caller closes). */
static int want(struct server *s, int fd, struct conn *c, int state)
{
    c->state = (uint8_t)state;
    if (aeSetMask(s->loop, fd, state == C_WRITE ? AE_WRITABLE : AE_READABLE) == 0) return 0;
    STAT_INC(stats.errors[EK_EVENT]);
    return -1;
}

/*
 * Sends what the current response still owes: header bytes (hdr, else those saved in c->out),
 * then the body range. Returns 1 when everything is sent, 0 when the socket is full (the rest
 * stays in c), -1 on error with errno set.
 */
static int send_more(struct server *s, int fd, struct conn *c, const char *hdr, size_t hlen)
{
    if (!hdr && c->out) {
        hdr = c->out + c->out_off;
        hlen = c->out_len - c->out_off;
    }
    while (hlen > 0) {
        ssize_t n = SYSCALL_RETRY(SC_WRITE, write(fd, hdr, hlen));
        if (n < 0) {
            if (errno != EAGAIN) return -1;
            if (c->out) {
                c->out_off = (uint32_t)(hdr - c->out);
            } else {
                if (!(c->out = malloc(hlen))) return -1;
                memcpy(c->out, hdr, hlen);
                c->out_len = (uint32_t)hlen;
                c->out_off = 0;
            }
            aeNotReady(s->loop, fd, AE_WRITABLE);
            return 0;
        }
        STAT_ADD(stats.sent_bytes, (uint64_t)n);
        hdr += n;
        hlen -= (size_t)n;
    }
    free(c->out);
    c->out = NULL;
    while (c->off < c->end) {
        ssize_t n = SYSCALL_RETRY(SC_SENDFILE,
                                  sendfile(fd, c->file->fd, &c->off, (size_t)(c->end - c->off)));
        if (n < 0) {
            if (errno != EAGAIN) return -1;
            aeNotReady(s->loop, fd, AE_WRITABLE);
            return 0;
        }
        if (n == 0) { /* the file shrank since it was cached */
            errno = EIO;
            return -1;
        }
        STAT_ADD(stats.sent_bytes, (uint64_t)n);
    }
    c->file = NULL;
    if (c->corked) {
        cork(fd, 0);
        c->corked = 0;
    }
    return 1;
}

static char *append(char *p, const char *s, size_t n)
{
    memcpy(p, s, n);
    return p + n;
}
#define APPEND(p, lit) append((p), (lit), sizeof(lit) - 1)

/* Starts a response: composes its head in s->obuf and sends what the socket takes. Error
 * responses other than 404 and 405 close the connection. Returns as send_more. */
static int respond(struct server *s, int fd, struct conn *c, enum st st, struct file *f,
                   int head_only)
{
    STAT_INC(stats.requests);
    STAT_INC(stats.replies[st]);
    if (st != ST_200 && st != ST_404 && st != ST_405) c->keep_alive = 0;
    if (st == ST_400 || st == ST_405 || st == ST_501 || st == ST_505) c->linger = 1;
    const char *reason = reasons[st];
    size_t rlen = strlen(reason);
    char *p = APPEND(s->obuf, "HTTP/1.1 ");
    p = append(p, reason, rlen);
    p = APPEND(p, "\r\nServer: userver\r\n");
    p = append(p, s->date, strlen(s->date));
    if (f) {
        p = append(p, f->hdr, f->hdr_len);
    } else {
        p = APPEND(p, "Content-Type: text/plain\r\nContent-Length: ");
        char num[8];
        size_t nl = 0;
        for (size_t v = rlen + 1; v; v /= 10) num[nl++] = (char)('0' + v % 10);
        while (nl) *p++ = num[--nl];
        p = APPEND(p, "\r\n");
        if (st == ST_405) p = APPEND(p, "Allow: GET, HEAD\r\n");
    }
    p = c->keep_alive ? APPEND(p, "Connection: keep-alive\r\n\r\n")
                      : APPEND(p, "Connection: close\r\n\r\n");
    if (!f && !head_only) {
        p = append(p, reason, rlen);
        *p++ = '\n';
    }
    if (f && !head_only && f->size > 0) {
        c->file = f;
        c->off = 0;
        c->end = f->size;
        cork(fd, 1);
        c->corked = 1;
    }
    return send_more(s, fd, c, s->obuf, (size_t)(p - s->obuf));
}

/* Answers one well-formed request head. Returns as send_more. */
static int serve(struct server *s, int fd, struct conn *c, const struct http_request *r)
{
    c->keep_alive = r->keep_alive && !r->has_body && !s->draining;
    c->linger = (uint8_t)r->has_body; /* its body is left unread */
    int kind = http_method_kind(r->method, r->method_len);
    if (r->has_te) return respond(s, fd, c, ST_501, NULL, 0); /* no transfer coding is known */
    if (r->major != 1) return respond(s, fd, c, ST_505, NULL, 0);
    if (kind == 0) return respond(s, fd, c, ST_501, NULL, 0);
    if (kind == 3) return respond(s, fd, c, ST_405, NULL, 0);
    char path[1024];
    if ((r->minor >= 1 && !r->has_host) ||
        path_normalize(r->target, r->target_len, path, sizeof path) < 0) {
        STAT_INC(stats.errors[EK_PARSE]);
        return respond(s, fd, c, ST_400, NULL, kind == 2);
    }
    struct file *f;
    switch (files_get(s->files, path, &f)) {
    case 0: return respond(s, fd, c, ST_200, f, kind == 2);
    case -1: return respond(s, fd, c, ST_404, NULL, kind == 2);
    case -2: STAT_INC(stats.errors[EK_EMFILE]); return respond(s, fd, c, ST_503, NULL, kind == 2);
    default: STAT_INC(stats.errors[EK_OPEN]); return respond(s, fd, c, ST_500, NULL, kind == 2);
    }
}

/*
 * Answers the requests in data[0, len) in turn (pipelining), until one is incomplete, a
 * response does not fit in the socket, or the connection is to close; keeps the unanswered
 * bytes in c->buf. scanned: how many leading bytes were already searched for a head's end.
 */
static void process(struct server *s, int fd, struct conn *c, char *data, size_t len,
                    size_t scanned)
{
    size_t pos = 0;
    while (pos < len) {
        struct http_request r;
        int hl = http_parse_request(data + pos, len - pos, scanned, &r), rc;
        scanned = 0;
        if (hl == -2 && len - pos < REQ_MAX) {
            if (keep(c, data + pos, len - pos) < 0) goto fail;
            c->scanned = c->len;
            return;
        }
        if (hl < 0) {
            STAT_INC(stats.errors[hl == -2 ? EK_OVERSIZE : EK_PARSE]);
            rc = respond(s, fd, c, ST_400, NULL, 0);
            pos = len; /* nothing after a malformed head can be trusted */
        } else {
            rc = serve(s, fd, c, &r);
            pos += (size_t)hl;
        }
        if (rc < 0) goto fail;
        if (rc == 0) { /* the socket is full: finish this response before reading on */
            if (keep(c, data + pos, len - pos) < 0 || want(s, fd, c, C_WRITE) < 0) goto fail;
            return;
        }
        if (!c->keep_alive) {
            finish(s, fd, c);
            return;
        }
    }
    if (keep(c, NULL, 0) < 0 || (c->state != C_READ && want(s, fd, c, C_READ) < 0)) goto fail;
    return;
fail:
    io_error(s, fd);
}

static void on_readable(struct server *s, int fd, struct conn *c, int error)
{
    char *dst = c->buf ? c->buf + c->len : s->rbuf;
    size_t room = c->buf ? REQ_MAX - c->len : REQ_MAX;
    ssize_t n = SYSCALL_RETRY(SC_READ, read(fd, dst, room));
    if (n < 0 && errno == EAGAIN) {
        aeNotReady(s->loop, fd, AE_READABLE);
        if (error) { /* the mechanism lost this descriptor and the socket has nothing */
            STAT_INC(stats.errors[EK_EVENT]);
            conn_close(s, fd);
        }
        return;
    }
    if (n < 0) {
        io_error(s, fd);
    } else if (n == 0) {
        conn_close(s, fd); /* the client closed */
    } else if (c->buf) {
        c->len += (uint32_t)n;
        process(s, fd, c, c->buf, c->len, c->scanned);
    } else {
        process(s, fd, c, s->rbuf, (size_t)n, 0);
    }
}

/* A lingering close: drop what arrives until the client closes or sends too much. */
static void on_linger(struct server *s, int fd, struct conn *c)
{
    ssize_t n = SYSCALL_RETRY(SC_READ, read(fd, s->rbuf, sizeof s->rbuf));
    if (n < 0 && errno == EAGAIN) {
        aeNotReady(s->loop, fd, AE_READABLE);
        return;
    }
    if (n > 0 && (c->len += (uint32_t)n) < LINGER_MAX) return;
    conn_close(s, fd);
}

static void on_writable(struct server *s, int fd, struct conn *c)
{
    int rc = send_more(s, fd, c, NULL, 0);
    if (rc < 0) {
        io_error(s, fd);
    } else if (rc == 1 && !c->keep_alive) {
        finish(s, fd, c);
    } else if (rc == 1) { /* done: go on with pipelined requests, or wait for the next one */
        if (want(s, fd, c, C_READ) < 0)
            io_error(s, fd);
        else if (c->len)
            process(s, fd, c, c->buf, c->len, 0);
    }
}

void conn_event(aeLoop *l, int fd, void *data, int mask)
{
    struct server *s = data;
    struct conn *c = &s->conns[fd];
    uint8_t state = c->state;
    (void)l;
    if (state == C_WRITE && (mask & AE_WRITABLE))
        on_writable(s, fd, c);
    else if (state == C_READ && (mask & AE_READABLE))
        on_readable(s, fd, c, mask & AE_ERROR);
    else if (state == C_LINGER && (mask & AE_READABLE))
        on_linger(s, fd, c);
    else
        return;
    /* Timeouts (server.h): a wait begins at a change of state, when the socket took bytes of
     * a response, and when no partial request is held; a request trickling in keeps the time
     * its wait began, so the idle timeout bounds it as a whole. */
    if (c->state != C_FREE && (c->state != state || c->state == C_WRITE ||
                               (c->state == C_READ && c->len == 0)))
        c->since = s->now;
}

void conn_drain(struct server *s, int fd)
{
    struct conn *c = &s->conns[fd];
    if ((c->state == C_READ && c->len == 0) || c->state == C_LINGER)
        conn_close(s, fd);
    else
        c->keep_alive = 0;
}
