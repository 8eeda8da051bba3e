/* nfq.c - NFQUEUE over raw netlink (see nfq.h). */
#include "nfq.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_queue.h>
#include <linux/netlink.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define NFQ_TYPE(msg) ((NFNL_SUBSYS_QUEUE << 8) | (msg))

/* -- building -------------------------------------------------------------------------------- */

struct builder {
    char *buf;
    size_t cap, start, used;
};

static void *put(struct builder *b, size_t len)
{
    size_t aligned = NLMSG_ALIGN(len);
    if (b->used + aligned > b->cap) return NULL;
    void *at = b->buf + b->used;
    memset(at, 0, aligned);
    b->used += aligned;
    return at;
}

static int begin(struct builder *b, uint16_t type, uint16_t flags, uint16_t queue, uint32_t seq)
{
    b->start = b->used;
    struct nlmsghdr *nh = put(b, sizeof *nh);
    struct nfgenmsg *g = nh ? put(b, sizeof *g) : NULL;
    if (!g) return -1;
    nh->nlmsg_type = type;
    nh->nlmsg_flags = flags;
    nh->nlmsg_seq = seq;
    g->nfgen_family = AF_UNSPEC;
    g->version = NFNETLINK_V0;
    g->res_id = htons(queue);
    return 0;
}

static int attr(struct builder *b, uint16_t type, const void *data, size_t len)
{
    struct nlattr *a = put(b, NLA_HDRLEN + len);
    if (!a) return -1;
    a->nla_type = type;
    a->nla_len = (uint16_t)(NLA_HDRLEN + len);
    memcpy((char *)a + NLA_HDRLEN, data, len);
    return 0;
}

static void end(struct builder *b)
{
    ((struct nlmsghdr *)(b->buf + b->start))->nlmsg_len = (uint32_t)(b->used - b->start);
}

int nfq_verdict(char *buf, size_t cap, size_t *used, uint16_t queue, uint32_t id,
                uint32_t verdict, int batch)
{
    struct builder b = {buf, cap, *used, *used};
    struct nfqnl_msg_verdict_hdr v = {htonl(verdict), htonl(id)};
    uint16_t type = NFQ_TYPE(batch ? NFQNL_MSG_VERDICT_BATCH : NFQNL_MSG_VERDICT);
    if (begin(&b, type, NLM_F_REQUEST, queue, 0) < 0 || attr(&b, NFQA_VERDICT_HDR, &v, sizeof v))
        return -1;
    end(&b);
    *used = b.used;
    return 0;
}

size_t nfq_build_packet(char *buf, size_t cap, uint16_t queue, uint32_t id, uint32_t len,
                        uint32_t copied)
{
    struct builder b = {buf, cap, 0, 0};
    struct nfqnl_msg_packet_hdr h = {.packet_id = htonl(id), .hw_protocol = htons(0x0800)};
    char payload[NFQ_COPY_RANGE] = {0};
    uint32_t cap_len = htonl(len);
    if (copied > sizeof payload) copied = sizeof payload;
    if (begin(&b, NFQ_TYPE(NFQNL_MSG_PACKET), 0, queue, 0) < 0 ||
        attr(&b, NFQA_PACKET_HDR, &h, sizeof h) < 0 || attr(&b, NFQA_PAYLOAD, payload, copied) < 0)
        return 0;
    if (copied < len && attr(&b, NFQA_CAP_LEN, &cap_len, sizeof cap_len) < 0) return 0;
    end(&b);
    return b.used;
}

/* -- parsing --------------------------------------------------------------------------------- */

static int parse_packet(const struct nlmsghdr *nh, struct nfq_packet *p)
{
    size_t head = NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(struct nfgenmsg));
    if (nh->nlmsg_len < head) return -1;
    const struct nfgenmsg *g = (const void *)((const char *)nh + NLMSG_HDRLEN);
    int have_id = 0, have_cap = 0;
    *p = (struct nfq_packet){.queue = ntohs(g->res_id)};
    size_t at = head;
    while (at + NLA_HDRLEN <= nh->nlmsg_len) {
        const struct nlattr *a = (const void *)((const char *)nh + at);
        if (a->nla_len < NLA_HDRLEN || at + a->nla_len > nh->nlmsg_len) return -1;
        const char *data = (const char *)a + NLA_HDRLEN;
        size_t len = a->nla_len - NLA_HDRLEN;
        uint32_t value;
        switch (a->nla_type & NLA_TYPE_MASK) {
        case NFQA_PACKET_HDR:
            if (len < sizeof(struct nfqnl_msg_packet_hdr)) return -1;
            memcpy(&value, data, sizeof value);
            p->id = ntohl(value);
            have_id = 1;
            break;
        case NFQA_PAYLOAD:
            if (!have_cap) p->len = (uint32_t)len;
            break;
        case NFQA_CAP_LEN:
            if (len < sizeof value) return -1;
            memcpy(&value, data, sizeof value);
            p->len = ntohl(value);
            have_cap = 1;
            break;
        }
        at += NLA_ALIGN(a->nla_len);
    }
    return have_id ? 0 : -1;
}

int nfq_parse(const char *buf, size_t len, void (*packet)(const struct nfq_packet *, void *),
              void *arg, int *error)
{
    int n = 0;
    const struct nlmsghdr *nh = (const void *)buf;
    for (; NLMSG_OK(nh, len); nh = NLMSG_NEXT(nh, len)) {
        if (nh->nlmsg_type == NLMSG_ERROR) {
            const struct nlmsgerr *e = NLMSG_DATA(nh);
            if (nh->nlmsg_len < NLMSG_LENGTH(sizeof *e)) goto bad;
            if (e->error) {
                *error = -e->error;
                return -1;
            }
            continue; /* an acknowledgement */
        }
        if (nh->nlmsg_type != NFQ_TYPE(NFQNL_MSG_PACKET)) continue;
        struct nfq_packet p;
        if (parse_packet(nh, &p) < 0) goto bad;
        packet(&p, arg);
        n++;
    }
    return n;
bad:
    *error = EPROTO;
    return -1;
}

/* -- the kernel ------------------------------------------------------------------------------ */

int nfq_open(int rcvbuf, char *err, size_t errlen)
{
    int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, NETLINK_NETFILTER);
    if (fd < 0) {
        snprintf(err, errlen, "socket(AF_NETLINK, NETLINK_NETFILTER): %s", strerror(errno));
        return -1;
    }
    struct sockaddr_nl addr = {.nl_family = AF_NETLINK};
    if (bind(fd, (struct sockaddr *)&addr, sizeof addr) < 0) {
        snprintf(err, errlen, "bind(netlink): %s", strerror(errno));
        close(fd);
        return -1;
    }
    /* FORCE passes root's rmem_max; without the privilege the plain option still helps. */
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof rcvbuf) < 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    return fd;
}

/* Send one configuration message and wait (up to 2 s) for the kernel's acknowledgement. */
static int configure(int fd, const char *msg, size_t len, uint32_t seq, int *error)
{
    if (send(fd, msg, len, 0) < 0) {
        *error = errno;
        return -1;
    }
    char answer[8192];
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    for (;;) {
        int ready = poll(&pfd, 1, 2000);
        if (ready < 0 && errno == EINTR) continue;
        if (ready <= 0) {
            *error = ready ? errno : ETIMEDOUT;
            return -1;
        }
        ssize_t got = recv(fd, answer, sizeof answer, 0);
        if (got < 0) {
            if (errno == EINTR || errno == EAGAIN) continue;
            *error = errno;
            return -1;
        }
        size_t left = (size_t)got;
        for (struct nlmsghdr *nh = (void *)answer; NLMSG_OK(nh, left); nh = NLMSG_NEXT(nh, left)) {
            if (nh->nlmsg_type != NLMSG_ERROR || nh->nlmsg_seq != seq) continue;
            const struct nlmsgerr *e = NLMSG_DATA(nh);
            *error = -e->error;
            return e->error ? -1 : 0;
        }
    }
}

int nfq_bind(int fd, uint16_t queue, uint32_t maxlen, char *err, size_t errlen)
{
    char msg[256];
    uint32_t seq = 1000u + queue;
    struct builder b = {msg, sizeof msg, 0, 0};
    struct nfqnl_msg_config_cmd cmd = {.command = NFQNL_CFG_CMD_BIND, .pf = htons(AF_INET)};
    struct nfqnl_msg_config_params params = {htonl(NFQ_COPY_RANGE), NFQNL_COPY_PACKET};
    uint32_t len = htonl(maxlen), flags = htonl(NFQA_CFG_F_GSO);
    int error = 0;
    const char *step = "bind";
    if (begin(&b, NFQ_TYPE(NFQNL_MSG_CONFIG), NLM_F_REQUEST | NLM_F_ACK, queue, seq) < 0 ||
        attr(&b, NFQA_CFG_CMD, &cmd, sizeof cmd) < 0)
        goto full;
    end(&b);
    if (configure(fd, msg, b.used, seq, &error) < 0) goto fail;
    step = "configure";
    b.used = 0;
    seq++;
    if (begin(&b, NFQ_TYPE(NFQNL_MSG_CONFIG), NLM_F_REQUEST | NLM_F_ACK, queue, seq) < 0 ||
        attr(&b, NFQA_CFG_PARAMS, &params, 5) < 0 || attr(&b, NFQA_CFG_QUEUE_MAXLEN, &len, 4) < 0 ||
        attr(&b, NFQA_CFG_MASK, &flags, 4) < 0 || attr(&b, NFQA_CFG_FLAGS, &flags, 4) < 0)
        goto full;
    end(&b);
    if (configure(fd, msg, b.used, seq, &error) < 0) goto fail;
    return 0;
full:
    error = EMSGSIZE;
fail:
    snprintf(err, errlen, "queue %u: %s: %s", queue, step, strerror(error));
    return -1;
}
