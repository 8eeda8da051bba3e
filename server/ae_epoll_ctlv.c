/*
 * ae_epoll_ctlv.c - epoll-ctlv: level-triggered epoll whose interest changes (ADD at accept,
 * MOD read<->write) are queued and submitted in one batch per round, the paper's epoll_ctlv.
 *
 * That system call never reached Linux; io_uring's IORING_OP_EPOLL_CTL (5.6+) submitted in a
 * batch by one io_uring_enter is its modern equivalent, and that io_uring_enter is counted as
 * syscall "epoll_ctlv". As in the paper, deletion is a plain epoll_ctl just before close (the
 * descriptor number will be reused, so no change for it may still be queued).
 *
 * Changes are coalesced per descriptor: ADD then MOD is one ADD, MOD then MOD one MOD, ADD then
 * DEL nothing at all (the kernel never saw the descriptor). Each CQE carries its descriptor in
 * user_data and its own result, so nothing depends on the order of completions in a batch; a
 * failed change is reported to the core as AE_ERROR on that descriptor by the next wait.
 */
#include "ae_epoll.h"
#include "stats.h"
#include "uring.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct change {
    int fd, op; /* op 0: cancelled */
    uint32_t events;
};

struct ctlv {
    struct uring ring;
    struct change *q; /* [cap] queued changes, in arrival order */
    int nq, cap;
    int *qi;                 /* [setsize] index + 1 of the descriptor's queued change, 0: none */
    struct epoll_event *evs; /* [cap] what the SQEs of a batch point at */
    int *failed, nfailed;    /* [setsize] descriptors whose change failed */
};

static void ctlv_free(aeLoop *l)
{
    struct epstate *s = l->state;
    struct ctlv *c = s->ext;
    if (c) {
        uring_exit(&c->ring);
        free(c->q);
        free(c->qi);
        free(c->evs);
        free(c->failed);
        free(c);
    }
    ep_free(l);
}

static int ctlv_create(aeLoop *l, char *err, size_t errlen)
{
    if (ep_create(l, err, errlen) < 0) return -1;
    struct epstate *s = l->state;
    struct ctlv *c = s->ext = calloc(1, sizeof *c);
    if (!c) goto nomem;
    c->ring.fd = -1;
    if (uring_init(&c->ring, 1024, 0, err, errlen) < 0) goto err;
    if (uring_probe_op(&c->ring, IORING_OP_EPOLL_CTL) != 1) {
        snprintf(err, errlen, "io_uring: IORING_OP_EPOLL_CTL not supported (needs Linux 5.6+)");
        goto err;
    }
    c->cap = (int)c->ring.sq_entries;
    c->q = calloc((size_t)c->cap, sizeof *c->q);
    c->evs = calloc((size_t)c->cap, sizeof *c->evs);
    c->qi = calloc((size_t)l->setsize, sizeof *c->qi);
    c->failed = calloc((size_t)l->setsize, sizeof *c->failed);
    if (!c->q || !c->evs || !c->qi || !c->failed) goto nomem;
    return 0;
nomem:
    snprintf(err, errlen, "calloc: out of memory");
err:
    ctlv_free(l);
    l->state = NULL;
    return -1;
}

/* Submits the queued changes as one batch and reaps each one's completion. Returns 0, or -1
 * with errno when io_uring_enter itself failed. */
static int ctlv_flush(aeLoop *l)
{
    struct epstate *s = l->state;
    struct ctlv *c = s->ext;
    int n = 0;
    for (int i = 0; i < c->nq; i++) {
        struct change *ch = &c->q[i];
        if (!ch->op) continue;
        c->qi[ch->fd] = 0;
        c->evs[n] = (struct epoll_event){.events = ch->events, .data.fd = ch->fd};
        struct io_uring_sqe *sqe = uring_get_sqe(&c->ring); /* never NULL: nq <= cap */
        sqe->opcode = IORING_OP_EPOLL_CTL;
        sqe->fd = s->epfd;
        sqe->off = (__u64)ch->fd;
        sqe->len = (__u32)ch->op;
        sqe->addr = (__u64)(uintptr_t)&c->evs[n];
        sqe->user_data = (__u64)ch->fd;
        stat_ep_op(ch->op == EPOLL_CTL_ADD ? EP_ADD : EP_MOD, VIA_EPOLL_CTLV, 1);
        n++;
    }
    c->nq = 0;
    for (int reaped = 0; reaped < n;) {
        /* The enter that submits the batch is the one epoll_ctlv call. Its wait for the batch's
         * completions can end early (a signal, task work), and an enter that only waits for the
         * rest counts as io_uring_enter: every system call is still counted, and epoll_ctlv
         * calls stay what the paper compares, batches against operations. */
        enum sc which = uring_sq_ready(&c->ring) ? SC_EPOLL_CTLV : SC_IO_URING_ENTER;
        if (uring_enter(&c->ring, which, (unsigned)(n - reaped), -1) < 0 && errno != EINTR)
            return -1;
        struct io_uring_cqe *cqe;
        while ((cqe = uring_peek_cqe(&c->ring))) {
            if (cqe->res < 0 && c->nfailed < l->setsize) {
                STAT_INC(stats.errors[EK_EVENT]);
                c->failed[c->nfailed++] = (int)cqe->user_data;
            }
            uring_cqe_seen(&c->ring);
            reaped++;
        }
    }
    return 0;
}

/* Queues op for fd, or folds it into the change already queued for fd. Returns 0 or -1. */
static int enqueue(aeLoop *l, int fd, int op, int mask)
{
    struct ctlv *c = ((struct epstate *)l->state)->ext;
    uint32_t events = ep_events(mask);
    if (c->qi[fd]) {
        c->q[c->qi[fd] - 1].events = events; /* keeps ADD an ADD */
        return 0;
    }
    if (c->nq == c->cap && ctlv_flush(l) < 0) return -1;
    c->q[c->nq++] = (struct change){.fd = fd, .op = op, .events = events};
    c->qi[fd] = c->nq;
    return 0;
}

static int ctlv_add(aeLoop *l, int fd, int mask)
{
    return enqueue(l, fd, EPOLL_CTL_ADD, mask);
}

static int ctlv_modify(aeLoop *l, int fd, int oldmask, int mask)
{
    (void)oldmask;
    return enqueue(l, fd, EPOLL_CTL_MOD, mask);
}

static int ctlv_del(aeLoop *l, int fd, int oldmask)
{
    struct ctlv *c = ((struct epstate *)l->state)->ext;
    if (c->qi[fd]) {
        struct change *ch = &c->q[c->qi[fd] - 1];
        int was_add = ch->op == EPOLL_CTL_ADD;
        ch->op = 0;
        c->qi[fd] = 0;
        if (was_add) return 0; /* never reached the kernel */
    }
    return ep_del(l, fd, oldmask);
}

static int ctlv_wait(aeLoop *l, int timeout_ms)
{
    struct ctlv *c = ((struct epstate *)l->state)->ext;
    int n = ep_wait(l, c->nfailed ? 0 : timeout_ms);
    if (n < 0) return -1;
    while (c->nfailed && n < l->setsize)
        l->fired[n++] = (aeFired){.fd = c->failed[--c->nfailed], .mask = AE_ERROR};
    return n;
}

const aeBackend aeEpollCtlv = {
    .name = "epoll-ctlv",
    .create = ctlv_create,
    .free = ctlv_free,
    .add = ctlv_add,
    .modify = ctlv_modify,
    .del = ctlv_del,
    .flush = ctlv_flush,
    .wait = ctlv_wait,
};
