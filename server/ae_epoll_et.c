/*
 * ae_epoll_et.c - epoll-et: edge-triggered epoll. Read and write interest are registered once,
 * at accept, and never modified; the core remembers readiness until a call hits EAGAIN (reads
 * and accepts go on until then), and a listener stopped by the accept-limit stays "ready" in the
 * core because no new edge will come for the connections already queued.
 */
#include "ae_epoll.h"

static int et_add(aeLoop *l, int fd, int mask)
{
    (void)mask;
    return ep_ctl(l, EPOLL_CTL_ADD, fd, AE_READABLE | AE_WRITABLE, EPOLLRDHUP | EPOLLET);
}

const aeBackend aeEpollEt = {
    .name = "epoll-et",
    .edge = 1,
    .create = ep_create,
    .free = ep_free,
    .add = et_add,
    .modify = ep_keep,
    .del = ep_del,
    .wait = ep_wait,
};
