/* test_nfq.c - NFQUEUE messages: packets parsed as the kernel sends them, verdicts built as it
 * reads them, errors and malformed messages refused. */
#include "check.h"
#include "nfq.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_queue.h>
#include <linux/netlink.h>
#include <string.h>

static struct nfq_packet seen[8];
static int nseen;

static void record(const struct nfq_packet *p, void *arg)
{
    (void)arg;
    if (nseen < 8) seen[nseen++] = *p;
}

static void packets(void)
{
    char buf[1024];
    int error = 0;
    /* A short packet is copied whole: its length is the payload's. */
    size_t n = nfq_build_packet(buf, sizeof buf, 1, 77, 60, 60);
    /* A long one is cut at the copy range: its length comes from NFQA_CAP_LEN. */
    n += nfq_build_packet(buf + n, sizeof buf - n, 0, 78, 1500, NFQ_COPY_RANGE);
    nseen = 0;
    CHECK(nfq_parse(buf, n, record, NULL, &error) == 2);
    CHECK(seen[0].queue == 1 && seen[0].id == 77 && seen[0].len == 60);
    CHECK(seen[1].queue == 0 && seen[1].id == 78 && seen[1].len == 1500);
    /* A message whose attribute runs past its end is refused. */
    n = nfq_build_packet(buf, sizeof buf, 1, 79, 60, 60);
    ((struct nlattr *)(buf + NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(struct nfgenmsg))))->nla_len = 900;
    CHECK(nfq_parse(buf, n, record, NULL, &error) == -1 && error == EPROTO);
    CHECK(nfq_build_packet(buf, 20, 1, 1, 60, 60) == 0); /* no room: nothing built */
}

static void errors(void)
{
    char buf[256] = {0};
    struct nlmsghdr *nh = (void *)buf;
    struct nlmsgerr *e = NLMSG_DATA(nh);
    nh->nlmsg_len = NLMSG_LENGTH(sizeof *e);
    nh->nlmsg_type = NLMSG_ERROR;
    e->error = -EPERM;
    int error = 0;
    CHECK(nfq_parse(buf, nh->nlmsg_len, record, NULL, &error) == -1 && error == EPERM);
    e->error = 0; /* an acknowledgement is no packet and no error */
    CHECK(nfq_parse(buf, nh->nlmsg_len, record, NULL, &error) == 0);
}

static void verdicts(void)
{
    char buf[256];
    size_t used = 0;
    CHECK(nfq_verdict(buf, sizeof buf, &used, 3, 1234, NF_ACCEPT, 1) == 0);
    size_t one = used;
    CHECK(nfq_verdict(buf, sizeof buf, &used, 3, 99, NF_DROP, 0) == 0 && used == 2 * one);
    const struct nlmsghdr *nh = (const void *)buf;
    CHECK(nh->nlmsg_len == one);
    CHECK(nh->nlmsg_type == ((NFNL_SUBSYS_QUEUE << 8) | NFQNL_MSG_VERDICT_BATCH));
    CHECK(nh->nlmsg_flags == NLM_F_REQUEST);
    const struct nfgenmsg *g = NLMSG_DATA(nh);
    CHECK(ntohs(g->res_id) == 3 && g->version == NFNETLINK_V0);
    const struct nlattr *a = (const void *)((const char *)g + NLMSG_ALIGN(sizeof *g));
    CHECK(a->nla_type == NFQA_VERDICT_HDR);
    struct nfqnl_msg_verdict_hdr v;
    memcpy(&v, (const char *)a + NLA_HDRLEN, sizeof v);
    CHECK(ntohl(v.verdict) == NF_ACCEPT && ntohl(v.id) == 1234);
    const struct nlmsghdr *second = (const void *)(buf + one);
    CHECK(second->nlmsg_type == ((NFNL_SUBSYS_QUEUE << 8) | NFQNL_MSG_VERDICT));
    size_t full = sizeof buf - 8;
    CHECK(nfq_verdict(buf, sizeof buf, &full, 3, 1, NF_ACCEPT, 0) == -1 && full == sizeof buf - 8);
}

int main(void)
{
    packets();
    errors();
    verdicts();
    return check_done("test_nfq");
}
