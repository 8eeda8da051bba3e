/*
 * linkem - a user-space link emulator on NFQUEUE: per direction delay, jitter, loss and rate
 * for kernels without netem.
 *
 *   linkem [--stats FILE] [--limit N] [--late-us N] [--slack-us N] [--seed N] [--priority N]
 *          DIRECTION...
 *   DIRECTION = QUEUE:DELAY_US:JITTER_US:LOSS:RATE_BPS    e.g. 0:25000:0:0.0005:0
 *
 * nftables rules in the host's network namespace send a direction's packets to its queue
 * (`queue num 0` on output, `queue num 1` on input); linkem holds each packet's verdict until
 * the link (link.h) says it is due, then accepts it, oldest first, one batch verdict for all
 * the packets of a queue due at once. Lost packets and packets beyond --limit are dropped.
 *
 * --slack-us (default 200): linkem sleeps until the oldest packet is due plus this slack, so
 * the packets due meanwhile leave in one wake-up and one verdict instead of one each (never
 * early: at most the slack late, below --late-us). At 10,000 packets a second this halves the
 * CPU linkem needs; 200 µs is 0.8 % of a 25 ms delay.
 *
 * --stats FILE is rewritten (atomically) every second and at exit, one line per direction:
 *   queue 0 packets N lost N full N sent N late N max_late_us N sum_late_us N max_queued N
 * plus `pid N`, `receive_errors N` (packets the kernel could not hand us: our socket's
 * buffer was full) and `backlogs N` (times more than 1,024 packets waited to be read: a packet
 * is timed from when linkem reads it, so a backlog is lateness it cannot see otherwise).
 * full, late (released more than --late-us after due), receive_errors and backlogs mean the
 * emulator fell behind; sum_late_us / sent is the delay it added to the profile's.
 * The orchestrator reads them per point.
 *
 * SIGTERM, SIGINT, SIGHUP: release every held packet (order kept) and exit 0. A killed linkem
 * loses its held packets (the kernel drops them with the queue); its rules, without `bypass`,
 * then drop the link's traffic until they are removed: an emulator that died never looks like
 * a clean link. Exit status: 0 after a signal, 1 on a failure (one line on stderr), 2 on bad
 * arguments.
 */
#include "link.h"
#include "nfq.h"

#include <errno.h>
#include <getopt.h>
#include <linux/netfilter.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_DIRECTIONS 8
#define BATCH 64           /* messages per recvmmsg */
#define MESSAGE 1024       /* bytes: one packet message with NFQ_COPY_RANGE bytes copied */
#define RCVBUF (8 << 20)   /* bytes of pending packet messages the kernel may buffer */
#define READ_ROUNDS 16     /* recvmmsg calls before due packets are released again */
#define STATS_EVERY 1000000000ULL

struct direction {
    uint16_t queue;
    struct link link;
};

static struct direction dirs[MAX_DIRECTIONS];
static int ndirs;
static uint64_t receive_errors;
static uint64_t backlogs; /* reads that left READ_ROUNDS full batches and more waiting */
static volatile sig_atomic_t stop;

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

static void usage(void)
{
    fprintf(stderr, "usage: linkem [--stats FILE] [--limit N] [--late-us N] [--slack-us N]"
                    " [--seed N] [--priority N] QUEUE:DELAY_US:JITTER_US:LOSS:RATE_BPS...\n");
    exit(2);
}

static unsigned long long option_number(const char *name, const char *text, unsigned long long max)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 10);
    if (errno || end == text || *end || v > max || text[0] == '-') {
        fprintf(stderr, "linkem: --%s: expected a whole number up to %llu, got '%s'\n", name, max,
                text);
        exit(2);
    }
    return v;
}

/* -- verdicts -------------------------------------------------------------------------------- */

static char out[BATCH * 4 * 64 + 4096];
static size_t out_used;

static void flush(int fd)
{
    if (!out_used) return;
    while (send(fd, out, out_used, 0) < 0) {
        if (errno == EINTR) continue;
        fprintf(stderr, "linkem: send(verdicts): %s\n", strerror(errno));
        exit(1);
    }
    out_used = 0;
}

static void verdict(int fd, uint16_t queue, uint32_t id, uint32_t what, int batch)
{
    if (nfq_verdict(out, sizeof out, &out_used, queue, id, what, batch) < 0) {
        flush(fd);
        nfq_verdict(out, sizeof out, &out_used, queue, id, what, batch);
    }
}

static int packet_fd;
static uint64_t packet_now;

static void on_packet(const struct nfq_packet *p, void *arg)
{
    (void)arg;
    for (int i = 0; i < ndirs; i++) {
        if (dirs[i].queue != p->queue) continue;
        if (link_offer(&dirs[i].link, p->id, p->len, packet_now, NULL) != LINK_HELD)
            verdict(packet_fd, p->queue, p->id, NF_DROP, 0);
        return;
    }
    verdict(packet_fd, p->queue, p->id, NF_ACCEPT, 0); /* not ours: cannot happen */
}

static void release(int fd, uint64_t now, uint64_t late_ns, int all)
{
    for (int i = 0; i < ndirs; i++) {
        uint32_t last;
        struct link *l = &dirs[i].link;
        if (all ? link_release_all(l, &last) : link_release(l, now, late_ns, &last))
            verdict(fd, dirs[i].queue, last, NF_ACCEPT, 1);
    }
    flush(fd);
}

/* -- statistics ------------------------------------------------------------------------------ */

static void write_stats(const char *path)
{
    if (!path) return;
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f) return;
    fprintf(f, "pid %d\nreceive_errors %llu\nbacklogs %llu\n", (int)getpid(),
            (unsigned long long)receive_errors, (unsigned long long)backlogs);
    for (int i = 0; i < ndirs; i++) {
        const struct link_counters *c = &dirs[i].link.c;
        fprintf(f,
                "queue %u packets %llu lost %llu full %llu sent %llu late %llu max_late_us %llu"
                " sum_late_us %llu max_queued %llu\n",
                dirs[i].queue, (unsigned long long)c->packets, (unsigned long long)c->lost,
                (unsigned long long)c->full, (unsigned long long)c->sent,
                (unsigned long long)c->late, (unsigned long long)(c->max_late_ns / 1000),
                (unsigned long long)(c->sum_late_ns / 1000), (unsigned long long)c->max_queued);
    }
    if (fclose(f) == 0) rename(tmp, path);
}

/* -- main loop ------------------------------------------------------------------------------- */

/* Read what the queues hold, at most READ_ROUNDS batches. Returns 0, or -1 on a failure. */
static int receive(int fd)
{
    static char bufs[BATCH][MESSAGE];
    static struct iovec iov[BATCH];
    static struct mmsghdr msgs[BATCH];
    for (int round = 0; round < READ_ROUNDS; round++) {
        for (int i = 0; i < BATCH; i++) {
            iov[i] = (struct iovec){bufs[i], MESSAGE};
            msgs[i] = (struct mmsghdr){.msg_hdr = {.msg_iov = &iov[i], .msg_iovlen = 1}};
        }
        int got = recvmmsg(fd, msgs, BATCH, MSG_DONTWAIT, NULL);
        if (got < 0) {
            if (errno == EAGAIN || errno == EINTR) return 0;
            if (errno == ENOBUFS) { /* the kernel dropped packets it could not queue to us */
                receive_errors++;
                continue;
            }
            fprintf(stderr, "linkem: recvmmsg: %s\n", strerror(errno));
            return -1;
        }
        packet_now = now_ns();
        for (int i = 0; i < got; i++) {
            int error = 0;
            if (nfq_parse(bufs[i], msgs[i].msg_len, on_packet, NULL, &error) < 0) {
                fprintf(stderr, "linkem: netlink: %s\n", strerror(error));
                return -1;
            }
        }
        if (got < BATCH) return 0;
    }
    backlogs++; /* more than READ_ROUNDS * BATCH packets were waiting: we are behind */
    return 0;
}

int main(int argc, char **argv)
{
    static const struct option options[] = {
        {"stats", required_argument, NULL, 's'},   {"limit", required_argument, NULL, 'l'},
        {"late-us", required_argument, NULL, 't'}, {"seed", required_argument, NULL, 'r'},
        {"priority", required_argument, NULL, 'p'}, {"slack-us", required_argument, NULL, 'k'},
        {NULL, 0, NULL, 0}};
    const char *stats = NULL;
    uint32_t limit = 100000;
    uint64_t late_ns = 1000000, slack_ns = 200000, seed = 0;
    int priority = 0, opt;
    while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
        switch (opt) {
        case 's': stats = optarg; break;
        case 'l': limit = (uint32_t)option_number("limit", optarg, 1000000); break;
        case 't': late_ns = option_number("late-us", optarg, 60000000) * 1000; break;
        case 'r': seed = option_number("seed", optarg, UINT64_MAX); break;
        case 'p': priority = (int)option_number("priority", optarg, 99); break;
        case 'k': slack_ns = option_number("slack-us", optarg, 1000000) * 1000; break;
        default: usage();
        }
    }
    if (optind == argc || argc - optind > MAX_DIRECTIONS || limit == 0) usage();
    if (!seed) seed = now_ns() ^ ((uint64_t)getpid() << 32);
    for (int i = optind; i < argc; i++) {
        const char *field;
        struct direction *d = &dirs[ndirs];
        struct link_profile p;
        if (link_parse(argv[i], &d->queue, &p, &field) < 0) {
            fprintf(stderr, "linkem: direction '%s': bad %s\n", argv[i], field);
            return 2;
        }
        for (int j = 0; j < ndirs; j++) {
            if (dirs[j].queue == d->queue) {
                fprintf(stderr, "linkem: direction '%s': queue %u given twice\n", argv[i],
                        d->queue);
                return 2;
            }
        }
        if (link_init(&d->link, &p, limit, link_random(&seed)) < 0) {
            fprintf(stderr, "linkem: calloc: %s\n", strerror(errno));
            return 1;
        }
        ndirs++;
    }

    char err[256];
    int fd = nfq_open(RCVBUF, err, sizeof err);
    for (int i = 0; fd >= 0 && i < ndirs; i++) {
        if (nfq_bind(fd, dirs[i].queue, limit, err, sizeof err) < 0) fd = -1;
    }
    if (fd < 0) {
        fprintf(stderr, "linkem: %s\n", err);
        return 1;
    }
    packet_fd = fd;
    if (priority) {
        /* A wire does not wait for the load generators: run before them, when allowed. */
        struct sched_param sp = {.sched_priority = priority};
        if (sched_setscheduler(0, SCHED_FIFO, &sp) < 0)
            fprintf(stderr, "linkem: sched_setscheduler(SCHED_FIFO): %s (running unprioritised)\n",
                    strerror(errno));
    }

    struct sigaction sa = {.sa_handler = on_signal};
    sigemptyset(&sa.sa_mask);
    sigset_t blocked, unblocked;
    sigemptyset(&blocked);
    int signals[] = {SIGTERM, SIGINT, SIGHUP};
    for (size_t i = 0; i < sizeof signals / sizeof *signals; i++) {
        sigaction(signals[i], &sa, NULL);
        sigaddset(&blocked, signals[i]);
    }
    /* Signals arrive only inside ppoll, so `stop` is never missed between check and wait. */
    sigprocmask(SIG_BLOCK, &blocked, &unblocked);
    write_stats(stats);

    uint64_t next_stats = now_ns() + STATS_EVERY;
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    while (!stop) {
        uint64_t now = now_ns(), wake = next_stats;
        for (int i = 0; i < ndirs; i++) {
            uint64_t due = link_next_due(&dirs[i].link);
            if (due != UINT64_MAX && due + slack_ns < wake) wake = due + slack_ns;
        }
        struct timespec timeout = {0, 0};
        if (wake > now)
            timeout = (struct timespec){(time_t)((wake - now) / 1000000000ULL),
                                        (long)((wake - now) % 1000000000ULL)};
        int ready = ppoll(&pfd, 1, &timeout, &unblocked);
        if (ready < 0 && errno != EINTR) {
            fprintf(stderr, "linkem: ppoll: %s\n", strerror(errno));
            return 1;
        }
        if (ready > 0 && receive(fd) < 0) return 1;
        now = now_ns();
        release(fd, now, late_ns, 0);
        if (now >= next_stats) {
            write_stats(stats);
            next_stats = now + STATS_EVERY;
        }
    }
    release(fd, now_ns(), late_ns, 1);
    write_stats(stats);
    for (int i = 0; i < ndirs; i++) link_free(&dirs[i].link);
    close(fd);
    return 0;
}
