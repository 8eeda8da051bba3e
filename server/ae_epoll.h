/*
 * ae_epoll.h - what the four epoll backends share: the instance, counted epoll_ctl, and a wait
 * that turns epoll events into fired entries. Each backend's file decides when to call ctl.
 */
#ifndef AE_EPOLL_H
#define AE_EPOLL_H

#include "ae.h"

#include <stdint.h>
#include <sys/epoll.h>

struct epstate {
    int epfd;
    struct epoll_event *evs;
    int maxevents;
    void *ext; /* a backend's extra state (epoll-ctlv) */
};

/* Creates the epoll instance as l->state. Returns 0, or -1 with a message in err. */
int ep_create(aeLoop *l, char *err, size_t errlen);
void ep_free(aeLoop *l);

/* epoll_ctl(op, fd) for the AE mask plus extra flags, counted as a call and as an operation
 * (stats.ep_ops). Returns 0 or -1 with errno. */
int ep_ctl(aeLoop *l, int op, int fd, int mask, uint32_t extra);

/* The epoll_event bits for an AE mask. */
uint32_t ep_events(int mask);

/* Removal, for every epoll backend: a plain epoll_ctl(DEL) before close, as in the paper. */
int ep_del(aeLoop *l, int fd, int oldmask);

/* Interest that never changes after add (epoll-et, epoll2): nothing to do. Returns 0. */
int ep_keep(aeLoop *l, int fd, int oldmask, int mask);

/* epoll_wait, counted; fills l->fired. Returns as aeBackend.wait. */
int ep_wait(aeLoop *l, int timeout_ms);

#endif
