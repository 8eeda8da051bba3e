/*
 * uring.h - just enough io_uring for two backends (io_uring, epoll-ctlv), on the raw system
 * calls of <linux/io_uring.h>: no liburing needed at build or run time.
 *
 * Submission: get SQEs with uring_get_sqe, fill them, and uring_enter submits every prepared
 * one. Completion: uring_peek_cqe / uring_cqe_seen.
 */
#ifndef URING_H
#define URING_H

#include "stats.h"

#include <linux/io_uring.h>
#include <stddef.h>

struct uring {
    int fd;
    unsigned features;
    unsigned *sq_head, *sq_tail, *sq_mask, *sq_flags, sq_entries;
    struct io_uring_sqe *sqes;
    unsigned *cq_head, *cq_tail, *cq_mask, cq_entries;
    struct io_uring_cqe *cqes;
    void *sq_ring, *cq_ring;
    size_t sq_ring_sz, cq_ring_sz, sqes_sz;
};

/* Sets up a ring of `entries` SQEs and `cq_entries` CQEs (0: the kernel's default). Returns 0,
 * or -1 with a message naming the failing call in err. */
int uring_init(struct uring *r, unsigned entries, unsigned cq_entries, char *err, size_t errlen);

/* Unmaps and closes; safe on a ring whose init failed. */
void uring_exit(struct uring *r);

/* Returns 1 when the kernel supports opcode `op`, 0 when not, -1 when it cannot say. */
int uring_probe_op(struct uring *r, int op);

/* Returns a zeroed SQE to fill, or NULL when the submission queue is full (call uring_enter). */
struct io_uring_sqe *uring_get_sqe(struct uring *r);

/* SQEs prepared and not yet consumed by the kernel. */
unsigned uring_sq_ready(const struct uring *r);

/*
 * io_uring_enter, counted and timed as system call `which`: submits every prepared SQE and,
 * when min_complete > 0 or timeout_ms >= 0 is asked, waits for min_complete CQEs or the timeout
 * (timeout_ms < 0: no timeout). Returns the kernel's result: >= 0, or -1 with errno (EINTR and
 * ETIME are the caller's to treat as "nothing yet").
 */
int uring_enter(struct uring *r, enum sc which, unsigned min_complete, int timeout_ms);

/* Returns the oldest unseen CQE, or NULL when there is none. */
struct io_uring_cqe *uring_peek_cqe(struct uring *r);

/* Releases the CQE uring_peek_cqe returned. */
void uring_cqe_seen(struct uring *r);

#endif
