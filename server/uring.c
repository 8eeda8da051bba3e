/* uring.c - a minimal io_uring on raw system calls; see uring.h. */
#include "uring.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

static int sys_setup(unsigned entries, struct io_uring_params *p)
{
    return (int)syscall(__NR_io_uring_setup, entries, p);
}

static int sys_enter(int fd, unsigned submit, unsigned min, unsigned flags, void *arg, size_t sz)
{
    return (int)syscall(__NR_io_uring_enter, fd, submit, min, flags, arg, sz);
}

int uring_init(struct uring *r, unsigned entries, unsigned cq_entries, char *err, size_t errlen)
{
    memset(r, 0, sizeof *r);
    r->fd = -1;
    struct io_uring_params p = {0};
    if (cq_entries) {
        p.flags |= IORING_SETUP_CQSIZE;
        p.cq_entries = cq_entries;
    }
    r->fd = sys_setup(entries, &p);
    if (r->fd < 0) {
        snprintf(err, errlen, "io_uring_setup: %s%s", strerror(errno),
                 errno == EPERM || errno == ENOSYS ? " (io_uring disabled? see sysctl "
                                                     "kernel.io_uring_disabled)"
                                                   : "");
        return -1;
    }
    if (!(p.features & IORING_FEAT_SINGLE_MMAP) || !(p.features & IORING_FEAT_NODROP)) {
        snprintf(err, errlen, "io_uring_setup: kernel lacks single-mmap/no-drop (Linux 5.5+)");
        goto err;
    }
    r->features = p.features;
    r->sq_ring_sz = p.sq_off.array + p.sq_entries * sizeof(unsigned);
    r->cq_ring_sz = p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe);
    if (r->cq_ring_sz > r->sq_ring_sz) r->sq_ring_sz = r->cq_ring_sz;
    r->sq_ring = mmap(NULL, r->sq_ring_sz, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, r->fd,
                      IORING_OFF_SQ_RING);
    if (r->sq_ring == MAP_FAILED) {
        r->sq_ring = NULL;
        snprintf(err, errlen, "mmap(io_uring SQ ring): %s", strerror(errno));
        goto err;
    }
    r->cq_ring = r->sq_ring; /* one mapping for both rings (IORING_FEAT_SINGLE_MMAP) */
    r->sqes_sz = p.sq_entries * sizeof(struct io_uring_sqe);
    r->sqes = mmap(NULL, r->sqes_sz, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, r->fd,
                   IORING_OFF_SQES);
    if (r->sqes == MAP_FAILED) {
        r->sqes = NULL;
        snprintf(err, errlen, "mmap(io_uring SQEs): %s", strerror(errno));
        goto err;
    }
    char *sq = r->sq_ring, *cq = r->cq_ring;
    r->sq_head = (unsigned *)(sq + p.sq_off.head);
    r->sq_tail = (unsigned *)(sq + p.sq_off.tail);
    r->sq_mask = (unsigned *)(sq + p.sq_off.ring_mask);
    r->sq_flags = (unsigned *)(sq + p.sq_off.flags);
    r->sq_entries = p.sq_entries;
    unsigned *array = (unsigned *)(sq + p.sq_off.array);
    for (unsigned i = 0; i < p.sq_entries; i++) array[i] = i; /* SQE i sits in slot i */
    r->cq_head = (unsigned *)(cq + p.cq_off.head);
    r->cq_tail = (unsigned *)(cq + p.cq_off.tail);
    r->cq_mask = (unsigned *)(cq + p.cq_off.ring_mask);
    r->cq_entries = p.cq_entries;
    r->cqes = (struct io_uring_cqe *)(cq + p.cq_off.cqes);
    return 0;
err:
    uring_exit(r);
    return -1;
}

void uring_exit(struct uring *r)
{
    if (r->sqes) munmap(r->sqes, r->sqes_sz);
    if (r->sq_ring) munmap(r->sq_ring, r->sq_ring_sz);
    if (r->fd >= 0) close(r->fd);
    r->sqes = NULL;
    r->sq_ring = r->cq_ring = NULL;
    r->fd = -1;
}

int uring_probe_op(struct uring *r, int op)
{
    size_t sz = sizeof(struct io_uring_probe) + 256 * sizeof(struct io_uring_probe_op);
    struct io_uring_probe *p = calloc(1, sz);
    if (!p) return -1;
    int res = -1;
    if (syscall(__NR_io_uring_register, r->fd, IORING_REGISTER_PROBE, p, 256) == 0)
        res = op <= p->last_op && (p->ops[op].flags & IO_URING_OP_SUPPORTED);
    free(p);
    return res;
}

unsigned uring_sq_ready(const struct uring *r)
{
    return *r->sq_tail - __atomic_load_n(r->sq_head, __ATOMIC_ACQUIRE);
}

struct io_uring_sqe *uring_get_sqe(struct uring *r)
{
    unsigned tail = *r->sq_tail;
    if (tail - __atomic_load_n(r->sq_head, __ATOMIC_ACQUIRE) >= r->sq_entries) return NULL;
    struct io_uring_sqe *sqe = &r->sqes[tail & *r->sq_mask];
    memset(sqe, 0, sizeof *sqe);
    /* Published at once: the kernel reads it only at the next io_uring_enter anyway. */
    __atomic_store_n(r->sq_tail, tail + 1, __ATOMIC_RELEASE);
    return sqe;
}

int uring_enter(struct uring *r, enum sc which, unsigned min_complete, int timeout_ms)
{
    unsigned flags = 0;
    struct __kernel_timespec ts;
    struct io_uring_getevents_arg arg = {0};
    void *argp = NULL;
    size_t argsz = 0;
    if (min_complete > 0 || timeout_ms >= 0) flags |= IORING_ENTER_GETEVENTS;
    if (timeout_ms >= 0 && (r->features & IORING_FEAT_EXT_ARG)) {
        ts.tv_sec = timeout_ms / 1000;
        ts.tv_nsec = (long long)(timeout_ms % 1000) * 1000000;
        arg.ts = (__u64)(unsigned long)&ts;
        flags |= IORING_ENTER_EXT_ARG;
        argp = &arg;
        argsz = sizeof arg;
        if (min_complete == 0) min_complete = 1;
    }
    return SYSCALL_TIMED(which,
                         sys_enter(r->fd, uring_sq_ready(r), min_complete, flags, argp, argsz));
}

struct io_uring_cqe *uring_peek_cqe(struct uring *r)
{
    unsigned head = *r->cq_head;
    if (head == __atomic_load_n(r->cq_tail, __ATOMIC_ACQUIRE)) return NULL;
    return &r->cqes[head & *r->cq_mask];
}

void uring_cqe_seen(struct uring *r)
{
    __atomic_store_n(r->cq_head, *r->cq_head + 1, __ATOMIC_RELEASE);
}
