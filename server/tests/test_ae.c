/*
 * test_ae.c - every mechanism against the same contract: events fire for what is of interest,
 * readiness not used up is served again, deletion silences, descriptors past FD_SETSIZE work,
 * hang-ups are seen; and what is particular to epoll-ctlv (coalescing, per-change results) and
 * io_uring (a reused descriptor number never gets its predecessor's events).
 */
#include "ae.h"
#include "check.h"
#include "stats.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

enum mode { READ_ALL, READ_ONE, ACCEPT_ONE, NOTHING, FLIP };

struct rec {
    int calls, mask, mode;
};

static void handler(aeLoop *l, int fd, void *data, int mask)
{
    struct rec *r = data;
    char buf[64];
    r->calls++;
    r->mask = mask;
    if (r->mode == READ_ALL && (mask & AE_READABLE)) {
        ssize_t n;
        while ((n = read(fd, buf, sizeof buf)) > 0) {}
        if (n < 0 && errno == EAGAIN) aeNotReady(l, fd, AE_READABLE);
    } else if (r->mode == READ_ONE && (mask & AE_READABLE)) {
        if (read(fd, buf, 1) < 0 && errno == EAGAIN) aeNotReady(l, fd, AE_READABLE);
    } else if (r->mode == FLIP) { /* the paper's connection: read the request, then write */
        if (mask & AE_READABLE) {
            while (read(fd, buf, sizeof buf) > 0) {}
            aeNotReady(l, fd, AE_READABLE);
            aeSetMask(l, fd, AE_WRITABLE);
        } else if (mask & AE_WRITABLE) {
            aeSetMask(l, fd, AE_NONE);
        }
    } else if (r->mode == ACCEPT_ONE) {
        int c = accept4(fd, NULL, NULL, SOCK_NONBLOCK);
        if (c >= 0)
            close(c);
        else if (errno == EAGAIN)
            aeNotReady(l, fd, AE_READABLE);
    }
}

/* Runs rounds until the handler has been called `want` times or 20 rounds passed. */
static void rounds(aeLoop *l, struct rec *r, int want)
{
    for (int i = 0; i < 20 && r->calls < want; i++) aeProcessEvents(l, 50);
}

/* A loop for descriptors below 4096 on backend be (NULL, and a failed check, if none). */
static aeLoop *new_loop(const aeBackend *be)
{
    char err[256];
    aeLoop *l = aeCreate(be, 4096, err, sizeof err);
    CHECK(l != NULL);
    if (!l) fprintf(stderr, "%s: %s\n", be->name, err);
    return l;
}

static void pair(int sv[2])
{
    CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) == 0);
}

static void basics(const aeBackend *be)
{
    aeLoop *l = new_loop(be);
    if (!l) return;
    int sv[2];
    pair(sv);
    struct rec r = {0};
    CHECK(aeAdd(l, sv[0], AE_READABLE, handler, &r) == 0);
    CHECK(aeAdd(l, sv[0], AE_READABLE, handler, &r) == -1 && errno == EEXIST);
    aeProcessEvents(l, 0);
    aeProcessEvents(l, 0);
    CHECK(r.calls == 0); /* writable, but only reading is of interest */

    CHECK(write(sv[1], "abc", 3) == 3);
    rounds(l, &r, 1);
    CHECK(r.calls == 1 && r.mask == AE_READABLE);
    aeProcessEvents(l, 0);
    aeProcessEvents(l, 0);
    CHECK(r.calls == 1); /* drained: nothing more */

    CHECK(aeSetMask(l, sv[0], AE_WRITABLE) == 0 && aeGetMask(l, sv[0]) == AE_WRITABLE);
    r.mode = NOTHING;
    rounds(l, &r, 2);
    CHECK(r.calls == 2 && r.mask == AE_WRITABLE);

    /* No interest: data arriving now is remembered or re-reported once interest returns. */
    CHECK(aeSetMask(l, sv[0], AE_NONE) == 0);
    int before = r.calls;
    CHECK(write(sv[1], "xyz", 3) == 3);
    aeProcessEvents(l, 20);
    aeProcessEvents(l, 0);
    CHECK(r.calls == before);
    CHECK(aeSetMask(l, sv[0], AE_READABLE) == 0);
    r.mode = READ_ONE;
    /* Three bytes read one per call: no new event between, yet three calls (and on edge
     * backends a fourth that sees EAGAIN), then quiet. */
    int want = before + 3 + be->edge;
    rounds(l, &r, want);
    aeProcessEvents(l, 20);
    aeProcessEvents(l, 0);
    CHECK(r.calls == want);
    before = r.calls;

    /* Deleted: silent, whatever arrives. */
    CHECK(aeDelete(l, sv[0]) == 0 && aeGetMask(l, sv[0]) == AE_NONE);
    CHECK(aeDelete(l, sv[0]) == -1 && errno == ENOENT);
    CHECK(write(sv[1], "q", 1) == 1);
    aeProcessEvents(l, 20);
    aeProcessEvents(l, 0);
    CHECK(r.calls == before);

    /* Hang-up: the peer closes, the reader hears of it. */
    r.mode = READ_ALL;
    CHECK(aeAdd(l, sv[0], AE_READABLE, handler, &r) == 0);
    close(sv[1]);
    rounds(l, &r, before + 1);
    CHECK(r.calls == before + 1 && (r.mask & AE_READABLE));
    CHECK(aeDelete(l, sv[0]) == 0);
    close(sv[0]);
    aeFree(l);
}

/* A descriptor far past FD_SETSIZE (1024): select must not use fd_set. */
static void high_fd(const aeBackend *be)
{
    aeLoop *l = new_loop(be);
    if (!l) return;
    int sv[2];
    pair(sv);
    int high = dup2(sv[0], 3000);
    CHECK(high == 3000);
    struct rec r = {0}, low = {0};
    CHECK(aeAdd(l, high, AE_READABLE, handler, &r) == 0);
    CHECK(aeAdd(l, sv[1], AE_READABLE, handler, &low) == 0);
    CHECK(write(sv[1], "x", 1) == 1);
    rounds(l, &r, 1);
    CHECK(r.calls == 1 && r.mask == AE_READABLE && low.calls == 0);
    CHECK(aeSetMask(l, high, AE_WRITABLE) == 0);
    rounds(l, &r, 2);
    CHECK(r.calls == 2 && r.mask == AE_WRITABLE);
    CHECK(l->maxfd == 3000);
    CHECK(aeDelete(l, high) == 0 && l->maxfd == sv[1]);
    close(high);
    CHECK(aeDelete(l, sv[1]) == 0);
    close(sv[0]);
    close(sv[1]);
    aeFree(l);
}

/* A listener with three queued connections and a handler that accepts one per call (as with
 * --accept-limit 1): all three are accepted without any new connection arriving. */
static void accept_limit(const aeBackend *be)
{
    aeLoop *l = new_loop(be);
    if (!l) return;
    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof a;
    CHECK(bind(lfd, (struct sockaddr *)&a, sizeof a) == 0 && listen(lfd, 16) == 0);
    CHECK(getsockname(lfd, (struct sockaddr *)&a, &alen) == 0);
    int cl[3];
    for (int i = 0; i < 3; i++) {
        cl[i] = socket(AF_INET, SOCK_STREAM, 0);
        CHECK(connect(cl[i], (struct sockaddr *)&a, sizeof a) == 0);
    }
    struct rec r = {.mode = ACCEPT_ONE};
    CHECK(aeAdd(l, lfd, AE_READABLE, handler, &r) == 0);
    rounds(l, &r, 4); /* three accepts, then one that sees EAGAIN (level backends: none) */
    int accepted = r.calls;
    CHECK(accepted >= 3);
    aeProcessEvents(l, 20);
    CHECK(r.calls == accepted); /* and then quiet */
    for (int i = 0; i < 3; i++) close(cl[i]);
    aeDelete(l, lfd);
    close(lfd);
    aeFree(l);
}

static void ctlv_batches(void)
{
    aeLoop *l = new_loop(aeBackendByName("epoll-ctlv"));
    if (!l) return;
    int sv[2];
    pair(sv);
    struct rec r = {0};
    uint64_t ctlv = stats.sc[SC_EPOLL_CTLV].calls, ctl = stats.sc[SC_EPOLL_CTL].calls;
    /* ADD then DEL in one round: the kernel never hears of it. */
    CHECK(aeAdd(l, sv[0], AE_READABLE, handler, &r) == 0);
    CHECK(aeDelete(l, sv[0]) == 0);
    aeProcessEvents(l, 0);
    CHECK(stats.sc[SC_EPOLL_CTLV].calls == ctlv && stats.sc[SC_EPOLL_CTL].calls == ctl);
    /* ADD, MOD, MOD: one batch of one change, with the last interest. */
    CHECK(aeAdd(l, sv[0], AE_READABLE, handler, &r) == 0);
    CHECK(aeSetMask(l, sv[0], AE_NONE) == 0);
    CHECK(aeSetMask(l, sv[0], AE_WRITABLE) == 0);
    rounds(l, &r, 1);
    CHECK(stats.sc[SC_EPOLL_CTLV].calls == ctlv + 1);
    CHECK(r.calls == 1 && r.mask == AE_WRITABLE);
    /* A batch where one change fails (epoll refuses regular files): that descriptor, and only
     * it, is reported with AE_ERROR; the other change of the batch took effect. */
    int file = open("/proc/self/exe", O_RDONLY);
    struct rec bad = {.mode = NOTHING}, good = {.mode = READ_ALL};
    CHECK(aeAdd(l, file, AE_READABLE, handler, &bad) == 0);
    CHECK(aeAdd(l, sv[1], AE_READABLE, handler, &good) == 0);
    CHECK(write(sv[0], "x", 1) == 1);
    uint64_t errors = stats.errors[EK_EVENT];
    for (int i = 0; i < 5 && (bad.calls == 0 || good.calls == 0); i++) aeProcessEvents(l, 50);
    CHECK(bad.calls == 1 && (bad.mask & AE_ERROR));
    CHECK(good.calls == 1 && good.mask == AE_READABLE);
    CHECK(stats.errors[EK_EVENT] == errors + 1);
    /* MOD then DEL: the pending MOD is dropped, the DEL is a plain epoll_ctl (as the paper). */
    CHECK(aeSetMask(l, sv[1], AE_WRITABLE) == 0);
    ctl = stats.sc[SC_EPOLL_CTL].calls;
    CHECK(aeDelete(l, sv[1]) == 0);
    CHECK(stats.sc[SC_EPOLL_CTL].calls == ctl + 1);
    aeDelete(l, file);
    close(file);
    aeDelete(l, sv[0]);
    close(sv[0]);
    close(sv[1]);
    aeFree(l);
}

/* A handler that switches from reading to writing is called again in the same round where the
 * round already showed writability (epoll2 reports read and write together; edge backends
 * remember it); level backends that asked for reading only learn of it from their next wait. */
static void state_change(const aeBackend *be)
{
    aeLoop *l = new_loop(be);
    if (!l) return;
    int sv[2];
    pair(sv);
    struct rec r = {.mode = FLIP};
    CHECK(aeAdd(l, sv[0], AE_READABLE, handler, &r) == 0);
    CHECK(write(sv[1], "GET", 3) == 3);
    for (int i = 0; i < 20 && r.calls == 0; i++) aeProcessEvents(l, 50);
    int same_round = strcmp(be->name, "epoll-et") == 0 || strcmp(be->name, "epoll2") == 0 ||
                     strcmp(be->name, "io_uring") == 0;
    CHECK(r.calls == (same_round ? 2 : 1));
    rounds(l, &r, 2);
    CHECK(r.calls == 2 && r.mask == AE_WRITABLE && aeGetMask(l, sv[0]) == AE_NONE);
    for (int i = 0; i < 3; i++) aeProcessEvents(l, 10);
    CHECK(r.calls == 2); /* no interest left: quiet */
    aeDelete(l, sv[0]);
    close(sv[0]);
    close(sv[1]);
    aeFree(l);
}

/* io_uring: the poll of a closed descriptor is cancelled; its last completion, carrying the old
 * generation, must not reach the next connection that gets the same number. */
static void uring_reuse(void)
{
    aeLoop *l = new_loop(aeBackendByName("io_uring"));
    if (!l) return;
    int sv[2], sv2[2];
    pair(sv);
    struct rec r = {0}, r2 = {0};
    CHECK(aeAdd(l, sv[0], AE_READABLE, handler, &r) == 0);
    CHECK(write(sv[1], "x", 1) == 1);
    int fd = sv[0];
    CHECK(aeDelete(l, fd) == 0); /* event pending, poll still armed in the kernel */
    close(fd);
    close(sv[1]);
    pair(sv2);
    CHECK(sv2[0] == fd || sv2[1] == fd);
    int reused = fd;
    CHECK(aeAdd(l, reused, AE_READABLE, handler, &r2) == 0);
    for (int i = 0; i < 3; i++) aeProcessEvents(l, 20);
    CHECK(r.calls == 0 && r2.calls == 0);
    CHECK(write(reused == sv2[0] ? sv2[1] : sv2[0], "y", 1) == 1);
    rounds(l, &r2, 1);
    CHECK(r2.calls == 1 && r.calls == 0);
    aeDelete(l, reused);
    close(sv2[0]);
    close(sv2[1]);
    aeFree(l);
}

int main(void)
{
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    CHECK(aeBackendByName("nope") == NULL);
    for (int i = 0; aeBackends[i]; i++) {
        CHECK(aeBackendByName(aeBackends[i]->name) == aeBackends[i]);
        int failed = check_fail;
        basics(aeBackends[i]);
        high_fd(aeBackends[i]);
        accept_limit(aeBackends[i]);
        state_change(aeBackends[i]);
        printf("  %-10s %s\n", aeBackends[i]->name, check_fail == failed ? "ok" : "FAILED");
    }
    ctlv_batches();
    uring_reuse();
    return check_done("test_ae");
}
