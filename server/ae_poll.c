/*
 * ae_poll.c - poll(2) over a dense array of the registered descriptors.
 *
 * The array holds only registered descriptors (removal moves the last entry into the hole), so
 * the kernel scans as many entries as there are connections, not as the highest descriptor.
 */
#include "ae.h"
#include "stats.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>

struct state {
    struct pollfd *pfds; /* [n] */
    int *slot;           /* [setsize]: index into pfds + 1, 0 when absent */
    int n;
};

static short events_of(int mask)
{
    return (short)((mask & AE_READABLE ? POLLIN : 0) | (mask & AE_WRITABLE ? POLLOUT : 0));
}

static int poll_create(aeLoop *l, char *err, size_t errlen)
{
    struct state *s = calloc(1, sizeof *s);
    if (s) {
        s->pfds = calloc((size_t)l->setsize, sizeof *s->pfds);
        s->slot = calloc((size_t)l->setsize, sizeof *s->slot);
    }
    if (!s || !s->pfds || !s->slot) {
        if (s) {
            free(s->pfds);
            free(s->slot);
        }
        free(s);
        snprintf(err, errlen, "calloc: out of memory");
        return -1;
    }
    l->state = s;
    return 0;
}

static void poll_free(aeLoop *l)
{
    struct state *s = l->state;
    free(s->pfds);
    free(s->slot);
    free(s);
}

static int poll_add(aeLoop *l, int fd, int mask)
{
    struct state *s = l->state;
    s->pfds[s->n] = (struct pollfd){.fd = fd, .events = events_of(mask)};
    s->slot[fd] = ++s->n;
    return 0;
}

static int poll_modify(aeLoop *l, int fd, int oldmask, int mask)
{
    struct state *s = l->state;
    (void)oldmask;
    s->pfds[s->slot[fd] - 1].events = events_of(mask);
    return 0;
}

static int poll_del(aeLoop *l, int fd, int oldmask)
{
    struct state *s = l->state;
    (void)oldmask;
    int i = s->slot[fd] - 1;
    s->pfds[i] = s->pfds[--s->n];
    s->slot[s->pfds[i].fd] = i + 1;
    s->slot[fd] = 0;
    return 0;
}

static int poll_wait(aeLoop *l, int timeout_ms)
{
    struct state *s = l->state;
    int r = SYSCALL_TIMED(SC_POLL, poll(s->pfds, (nfds_t)s->n, timeout_ms));
    if (r < 0) return errno == EINTR ? 0 : -1;
    int n = 0;
    for (int i = 0; i < s->n && n < r; i++) {
        short re = s->pfds[i].revents;
        if (!re) continue;
        l->fired[n].fd = s->pfds[i].fd;
        l->fired[n].mask = (re & POLLIN ? AE_READABLE : 0) | (re & POLLOUT ? AE_WRITABLE : 0) |
                           (re & (POLLERR | POLLHUP | POLLNVAL) ? AE_ERROR : 0);
        n++;
    }
    return n;
}

const aeBackend aePoll = {
    .name = "poll",
    .create = poll_create,
    .free = poll_free,
    .add = poll_add,
    .modify = poll_modify,
    .del = poll_del,
    .wait = poll_wait,
};
