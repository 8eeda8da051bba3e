/*
 * ae_uring.c - io_uring: readiness through multishot IORING_OP_POLL_ADD, the mechanism the
 * paper could not have had.
 *
 * One multishot poll for read and write per descriptor, armed at accept and cancelled before
 * close, both queued as SQEs and submitted by the io_uring_enter that also waits for
 * completions: a connection costs no system call of its own for its interest. A multishot poll
 * posts a CQE at each wake-up, not while a state lasts, so this backend is edge-triggered and
 * the core remembers readiness (as for epoll-et).
 *
 * user_data is generation << 32 | fd: the cancelled poll's last CQE, or one already queued when
 * the descriptor was closed, carries an old generation and is dropped, so a reused descriptor
 * number never receives its predecessor's events.
 */
#include "ae.h"
#include "stats.h"
#include "uring.h"

#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define REMOVE_TAG (~(__u64)0) /* user_data of POLL_REMOVE completions, which are ignored */
#define POLL_MASK  (POLLIN | POLLOUT | POLLRDHUP)

struct state {
    struct uring ring;
    uint32_t *gen; /* [setsize] */
};

static void ur_free(aeLoop *l)
{
    struct state *s = l->state;
    uring_exit(&s->ring);
    free(s->gen);
    free(s);
}

static int ur_create(aeLoop *l, char *err, size_t errlen)
{
    struct state *s = calloc(1, sizeof *s);
    if (!s || !(s->gen = calloc((size_t)l->setsize, sizeof *s->gen))) {
        free(s);
        snprintf(err, errlen, "calloc: out of memory");
        return -1;
    }
    l->state = s;
    if (uring_init(&s->ring, 4096, 16384, err, errlen) < 0) goto err;
    /* Multishot poll came in 5.13 together with IORING_FEAT_RSRC_TAGS; EXT_ARG (5.11) gives
     * io_uring_enter a timeout. */
    if (!(s->ring.features & IORING_FEAT_RSRC_TAGS) || !(s->ring.features & IORING_FEAT_EXT_ARG)) {
        snprintf(err, errlen, "io_uring: multishot poll and wait timeouts need Linux 5.13+");
        goto err;
    }
    return 0;
err:
    ur_free(l);
    l->state = NULL;
    return -1;
}

/* Returns a free SQE, submitting what is queued first when the queue is full. */
static struct io_uring_sqe *sqe_get(struct state *s)
{
    struct io_uring_sqe *sqe;
    while (!(sqe = uring_get_sqe(&s->ring)))
        if (uring_enter(&s->ring, SC_IO_URING_ENTER, 0, -1) < 0 && errno != EINTR &&
            errno != EAGAIN && errno != EBUSY)
            return NULL;
    return sqe;
}

static int arm(struct state *s, int fd)
{
    struct io_uring_sqe *sqe = sqe_get(s);
    if (!sqe) return -1;
    sqe->opcode = IORING_OP_POLL_ADD;
    sqe->fd = fd;
    sqe->poll32_events = POLL_MASK;
    sqe->len = IORING_POLL_ADD_MULTI;
    sqe->user_data = (__u64)s->gen[fd] << 32 | (__u64)fd;
    return 0;
}

static int ur_add(aeLoop *l, int fd, int mask)
{
    (void)mask;
    return arm(l->state, fd);
}

static int ur_modify(aeLoop *l, int fd, int oldmask, int mask)
{
    (void)l, (void)fd, (void)oldmask, (void)mask;
    return 0;
}

/* The poll holds a reference to the socket, so it must be cancelled or close() would not close
 * it: the cancellation is submitted by the next io_uring_enter, at the latest the next wait. */
static int ur_del(aeLoop *l, int fd, int oldmask)
{
    struct state *s = l->state;
    (void)oldmask;
    struct io_uring_sqe *sqe = sqe_get(s);
    if (!sqe) return -1;
    sqe->opcode = IORING_OP_POLL_REMOVE;
    sqe->addr = (__u64)s->gen[fd] << 32 | (__u64)fd;
    sqe->user_data = REMOVE_TAG;
    s->gen[fd]++;
    return 0;
}

static int ur_wait(aeLoop *l, int timeout_ms)
{
    struct state *s = l->state;
    /* Completions already there and nothing to submit: no need to enter the kernel. */
    if (uring_sq_ready(&s->ring) || !uring_peek_cqe(&s->ring) ||
        (*s->ring.sq_flags & IORING_SQ_CQ_OVERFLOW)) {
        int r = uring_enter(&s->ring, SC_IO_URING_ENTER, 0, timeout_ms);
        if (r < 0 && errno != EINTR && errno != ETIME && errno != EAGAIN && errno != EBUSY)
            return -1;
    }
    int n = 0;
    struct io_uring_cqe *cqe;
    while (n < l->setsize && (cqe = uring_peek_cqe(&s->ring))) {
        __u64 ud = cqe->user_data;
        int fd = (int)(ud & 0xffffffffu), res = cqe->res;
        int more = cqe->flags & IORING_CQE_F_MORE;
        uring_cqe_seen(&s->ring);
        if (ud == REMOVE_TAG || fd >= l->setsize || (uint32_t)(ud >> 32) != s->gen[fd]) continue;
        if (!more && res != -ECANCELED && arm(s, fd) < 0) return -1; /* the poll ended: re-arm */
        if (res < 0) {
            l->fired[n++] = (aeFired){.fd = fd, .mask = AE_ERROR};
            continue;
        }
        l->fired[n].fd = fd;
        l->fired[n].mask = (res & (POLLIN | POLLRDHUP) ? AE_READABLE : 0) |
                           (res & POLLOUT ? AE_WRITABLE : 0) |
                           (res & (POLLERR | POLLHUP | POLLNVAL) ? AE_ERROR : 0);
        n++;
    }
    return n;
}

const aeBackend aeUring = {
    .name = "io_uring",
    .edge = 1,
    .create = ur_create,
    .free = ur_free,
    .add = ur_add,
    .modify = ur_modify,
    .del = ur_del,
    .wait = ur_wait,
};
