/*
 * nfq.h - the kernel's NFQUEUE over raw netlink (NETLINK_NETFILTER), libc only: bind queues,
 * read the packets they hold, give verdicts. libnetfilter_queue does the same with two more
 * libraries to build and install on every lab host; the protocol is four message types.
 *
 * Building and parsing messages is pure (unit-tested on byte buffers); nfq_open and
 * nfq_bind talk to the kernel.
 */
#ifndef NFQ_H
#define NFQ_H

#include <stddef.h>
#include <stdint.h>

#define NFQ_COPY_RANGE 64 /* bytes of each packet copied to us: its length is all we need */

struct nfq_packet {
    uint16_t queue;
    uint32_t id;
    uint32_t len; /* the packet's whole length (NFQA_CAP_LEN when the copy was cut) */
};

/* A netlink socket for NFQUEUE (non-blocking, close-on-exec, receive buffer of `rcvbuf` bytes
 * when the kernel allows). Returns the descriptor, or -1 with "socket(...): why" in err. */
int nfq_open(int rcvbuf, char *err, size_t errlen);

/* Bind queue `queue` to this socket: copy NFQ_COPY_RANGE bytes, hold up to `maxlen` packets,
 * whole GSO packets (no segmentation for us). Waits for the kernel's answer. Returns 0, or -1
 * with the reason in err ("queue 3: bind: Device or resource busy" when another holds it). */
int nfq_bind(int fd, uint16_t queue, uint32_t maxlen, char *err, size_t errlen);

/* Append a verdict on packet `id` of `queue` to buf (at *used, advanced), as a batch (every
 * packet of the queue up to id) or for that packet alone. Returns 0, or -1 when buf is full. */
int nfq_verdict(char *buf, size_t cap, size_t *used, uint16_t queue, uint32_t id,
                uint32_t verdict, int batch);

/* Parse the netlink messages in buf[0..len): calls `packet` for every queued packet. Returns
 * how many packets were seen, or -1 when the kernel reported an error (its errno in *error)
 * or a message was malformed (*error = EPROTO). */
int nfq_parse(const char *buf, size_t len, void (*packet)(const struct nfq_packet *, void *),
              void *arg, int *error);

/* Build a packet message as the kernel sends it (for tests): returns its length. */
size_t nfq_build_packet(char *buf, size_t cap, uint16_t queue, uint32_t id, uint32_t len,
                        uint32_t copied);

#endif
