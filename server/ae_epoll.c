/*
 * ae_epoll.c - epoll-lt: level-triggered epoll with an epoll_ctl at every change of interest
 * (ADD at accept, MOD read<->write, DEL before close), as the paper's epoll-LT; and the parts the
 * other epoll backends share (ae_epoll.h).
 */
#include "ae_epoll.h"
#include "stats.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int ep_create(aeLoop *l, char *err, size_t errlen)
{
    struct epstate *s = calloc(1, sizeof *s);
    if (!s) goto nomem;
    s->maxevents = l->setsize < 1024 ? l->setsize : 1024;
    s->evs = calloc((size_t)s->maxevents, sizeof *s->evs);
    if (!s->evs) goto nomem;
    s->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (s->epfd < 0) {
        snprintf(err, errlen, "epoll_create1: %s", strerror(errno));
        goto err;
    }
    l->state = s;
    return 0;
nomem:
    snprintf(err, errlen, "calloc: out of memory");
err:
    if (s) free(s->evs);
    free(s);
    return -1;
}

void ep_free(aeLoop *l)
{
    struct epstate *s = l->state;
    close(s->epfd);
    free(s->evs);
    free(s);
}

uint32_t ep_events(int mask)
{
    return (mask & AE_READABLE ? EPOLLIN : 0) | (mask & AE_WRITABLE ? EPOLLOUT : 0);
}

int ep_ctl(aeLoop *l, int op, int fd, int mask, uint32_t extra)
{
    struct epstate *s = l->state;
    struct epoll_event ev = {.events = ep_events(mask) | extra, .data.fd = fd};
    stat_ep_op(op == EPOLL_CTL_ADD ? EP_ADD : op == EPOLL_CTL_MOD ? EP_MOD : EP_DEL,
               VIA_EPOLL_CTL, 1);
    return SYSCALL_TIMED(SC_EPOLL_CTL, epoll_ctl(s->epfd, op, fd, &ev));
}

int ep_wait(aeLoop *l, int timeout_ms)
{
    struct epstate *s = l->state;
    int r = SYSCALL_TIMED(SC_EPOLL_WAIT, epoll_wait(s->epfd, s->evs, s->maxevents, timeout_ms));
    if (r < 0) return errno == EINTR ? 0 : -1;
    for (int i = 0; i < r; i++) {
        uint32_t e = s->evs[i].events;
        l->fired[i].fd = s->evs[i].data.fd;
        l->fired[i].mask = (e & (EPOLLIN | EPOLLRDHUP) ? AE_READABLE : 0) |
                           (e & EPOLLOUT ? AE_WRITABLE : 0) |
                           (e & (EPOLLERR | EPOLLHUP) ? AE_ERROR : 0);
    }
    return r;
}

static int lt_add(aeLoop *l, int fd, int mask)
{
    return ep_ctl(l, EPOLL_CTL_ADD, fd, mask, 0);
}

static int lt_modify(aeLoop *l, int fd, int oldmask, int mask)
{
    (void)oldmask;
    return ep_ctl(l, EPOLL_CTL_MOD, fd, mask, 0);
}

int ep_keep(aeLoop *l, int fd, int oldmask, int mask)
{
    (void)l, (void)fd, (void)oldmask, (void)mask;
    return 0;
}

int ep_del(aeLoop *l, int fd, int oldmask)
{
    (void)oldmask;
    return ep_ctl(l, EPOLL_CTL_DEL, fd, AE_NONE, 0);
}

const aeBackend aeEpollLt = {
    .name = "epoll-lt",
    .create = ep_create,
    .free = ep_free,
    .add = lt_add,
    .modify = lt_modify,
    .del = ep_del,
    .wait = ep_wait,
};
