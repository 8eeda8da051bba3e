/* ae.c - the event loop's mechanism-independent part; see ae.h. */
#include "ae.h"
#include "stats.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern const aeBackend aeSelect, aePoll, aeEpollLt, aeEpollEt, aeEpoll2, aeEpollCtlv, aeUring;

const aeBackend *const aeBackends[] = {&aeSelect, &aePoll,      &aeEpollLt, &aeEpollEt,
                                       &aeEpoll2, &aeEpollCtlv, &aeUring,   NULL};

const aeBackend *aeBackendByName(const char *name)
{
    for (int i = 0; aeBackends[i]; i++)
        if (strcmp(aeBackends[i]->name, name) == 0) return aeBackends[i];
    return NULL;
}

aeLoop *aeCreate(const aeBackend *be, int setsize, char *err, size_t errlen)
{
    aeLoop *l = calloc(1, sizeof *l);
    if (!l) goto nomem;
    l->be = be;
    l->setsize = setsize;
    l->maxfd = -1;
    /* calloc'ed arrays stay untouched (not resident) until a descriptor uses their slot. */
    l->events = calloc((size_t)setsize, sizeof *l->events);
    l->fired = calloc((size_t)setsize, sizeof *l->fired);
    l->pending = calloc((size_t)setsize, sizeof *l->pending);
    l->work = calloc((size_t)setsize, sizeof *l->work);
    if (!l->events || !l->fired || !l->pending || !l->work) goto nomem;
    if (be->create(l, err, errlen) < 0) goto err;
    return l;
nomem:
    snprintf(err, errlen, "calloc: out of memory");
err:
    if (l) {
        l->be = NULL; /* the backend has nothing to free */
        aeFree(l);
    }
    return NULL;
}

void aeFree(aeLoop *l)
{
    if (!l) return;
    if (l->be && l->state) l->be->free(l);
    free(l->events);
    free(l->fired);
    free(l->pending);
    free(l->work);
    free(l);
}

/* Edge backends: serve fd next round if it is ready for what it wants now. */
static void queue_if_ready(aeLoop *l, int fd)
{
    aeFileEvent *fe = &l->events[fd];
    if (!l->be->edge || !(fe->ready & fe->mask) || (fe->flags & AE_F_QUEUED)) return;
    fe->flags |= AE_F_QUEUED;
    l->pending[l->npending++] = fd;
}

int aeAdd(aeLoop *l, int fd, int mask, aeFileProc *proc, void *data)
{
    if (fd < 0 || fd >= l->setsize) {
        errno = ERANGE;
        return -1;
    }
    aeFileEvent *fe = &l->events[fd];
    if (fe->flags & AE_F_REGISTERED) {
        errno = EEXIST;
        return -1;
    }
    if (l->be->add(l, fd, mask) < 0) return -1;
    /* AE_F_QUEUED may survive from the descriptor's previous life: it is still in the list. */
    fe->flags = AE_F_REGISTERED | (fe->flags & AE_F_QUEUED);
    fe->mask = mask;
    fe->ready = 0;
    fe->round = l->round;
    fe->proc = proc;
    fe->data = data;
    if (fd > l->maxfd) l->maxfd = fd;
    return 0;
}

int aeSetMask(aeLoop *l, int fd, int mask)
{
    aeFileEvent *fe = &l->events[fd];
    if (!(fe->flags & AE_F_REGISTERED)) {
        errno = ENOENT;
        return -1;
    }
    if (fe->mask == mask) return 0;
    if (l->be->modify(l, fd, fe->mask, mask) < 0) return -1;
    fe->mask = mask;
    queue_if_ready(l, fd);
    return 0;
}

int aeDelete(aeLoop *l, int fd)
{
    aeFileEvent *fe = &l->events[fd];
    if (!(fe->flags & AE_F_REGISTERED)) {
        errno = ENOENT;
        return -1;
    }
    int r = l->be->del(l, fd, fe->mask);
    fe->flags &= AE_F_QUEUED;
    fe->mask = fe->ready = AE_NONE;
    if (fd == l->maxfd)
        while (l->maxfd >= 0 && !(l->events[l->maxfd].flags & AE_F_REGISTERED)) l->maxfd--;
    return r;
}

void aeNotReady(aeLoop *l, int fd, int mask)
{
    l->events[fd].ready &= ~mask;
}

int aeGetMask(aeLoop *l, int fd)
{
    return l->events[fd].flags & AE_F_REGISTERED ? l->events[fd].mask : AE_NONE;
}

/* Calls fd's handler for what fired (mask) or, on edge backends, for what is still ready. */
static int dispatch(aeLoop *l, int fd, int mask)
{
    aeFileEvent *fe = &l->events[fd];
    if (!(fe->flags & AE_F_REGISTERED)) return 0;
    int error = mask & AE_ERROR;
    if (error) mask |= AE_READABLE | AE_WRITABLE;
    mask &= AE_READABLE | AE_WRITABLE;
    int call;
    if (l->be->edge) {
        fe->ready |= mask;
        if (fe->round == l->round) { /* served this round already: next round will see it */
            queue_if_ready(l, fd);
            return 0;
        }
        call = fe->ready & fe->mask;
    } else {
        call = mask & fe->mask; /* epoll2 drops most of its events here */
    }
    if (!call) return 0;
    fe->round = l->round;
    /* A handler that changes its interest (a connection going from reading its request to
     * writing the reply) is called again at once when this round already showed the descriptor
     * ready for the new interest: epoll2 reports read and write together, edge backends
     * remember writability. Level backends that asked only for reading learn of writability
     * from their next wait, as the paper's server did. Bounded: a state machine that keeps
     * flipping waits for the next round. */
    for (int again = 0;; again++) {
        int before = fe->mask;
        fe->proc(l, fd, fe->data, call | error);
        if (!(fe->flags & AE_F_REGISTERED) || fe->mask == before || again == 2) break;
        call = (l->be->edge ? fe->ready : mask) & fe->mask;
        if (!call) break;
    }
    if (fe->flags & AE_F_REGISTERED) queue_if_ready(l, fd);
    return 1;
}

int aeProcessEvents(aeLoop *l, int timeout_ms)
{
    if (l->be->flush && l->be->flush(l) < 0) return -1;
    int n = l->be->wait(l, l->npending ? 0 : timeout_ms);
    if (n < 0) return -1;
    l->round++;
    STAT_INC(stats.rounds);
    STAT_ADD(stats.events_fired, (uint64_t)n);
    int nwork = l->npending, *w = l->pending, calls = 0;
    l->pending = l->work;
    l->work = w;
    l->npending = 0;
    for (int i = 0; i < nwork; i++) l->events[w[i]].flags &= ~AE_F_QUEUED;
    for (int i = 0; i < n; i++) calls += dispatch(l, l->fired[i].fd, l->fired[i].mask);
    for (int i = 0; i < nwork; i++) calls += dispatch(l, w[i], AE_NONE);
    STAT_ADD(stats.events_handled, (uint64_t)calls);
    return calls;
}
