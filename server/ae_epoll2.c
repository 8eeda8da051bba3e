/*
 * ae_epoll2.c - epoll2: level-triggered epoll with read and write interest registered once, at
 * accept, and removed before close: two epoll_ctl calls per connection. The price, which the
 * paper measures and which is kept here on purpose: sockets are writable nearly always, so idle
 * keep-alive connections come back from every epoll_wait and the core drops those events.
 */
#include "ae_epoll.h"

static int once_add(aeLoop *l, int fd, int mask)
{
    (void)mask;
    return ep_ctl(l, EPOLL_CTL_ADD, fd, AE_READABLE | AE_WRITABLE, 0);
}

const aeBackend aeEpoll2 = {
    .name = "epoll2",
    .create = ep_create,
    .free = ep_free,
    .add = once_add,
    .modify = ep_keep,
    .del = ep_del,
    .wait = ep_wait,
};
