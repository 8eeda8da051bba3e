/* metrics.c - the Prometheus endpoint; see metrics.h. */
#include "metrics.h"
#include "net.h"
#include "stats.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static struct {
    int fd;
    pthread_t thread;
    int started;
    volatile int stop;
    struct metrics_info info;
    double start_time;
} M = {.fd = -1};

static void family(FILE *f, const char *name, const char *type, const char *help)
{
    fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void one(FILE *f, const char *name, const char *type, const char *help, double v)
{
    family(f, name, type, help);
    fprintf(f, "%s %.17g\n", name, v);
}

/* Fresh on every scrape, as client_python's process collector: nothing is kept in between. */
static void process_metrics(FILE *f)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    one(f, "process_cpu_seconds_total", "counter",
        "Total user and system CPU time spent in seconds.",
        (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
            ru.ru_stime.tv_usec / 1e6);
    long pages_v = 0, pages_r = 0, psz = sysconf(_SC_PAGESIZE);
    FILE *sm = fopen("/proc/self/statm", "r");
    if (sm) {
        if (fscanf(sm, "%ld %ld", &pages_v, &pages_r) != 2) pages_v = pages_r = 0;
        fclose(sm);
    }
    one(f, "process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.",
        (double)pages_v * psz);
    one(f, "process_resident_memory_bytes", "gauge", "Resident memory size in bytes.",
        (double)pages_r * psz);
    long fds = 0;
    DIR *d = opendir("/proc/self/fd");
    if (d) {
        for (struct dirent *e; (e = readdir(d));)
            if (e->d_name[0] != '.') fds++;
        closedir(d);
        fds--; /* the directory stream's own descriptor */
    }
    one(f, "process_open_fds", "gauge", "Number of open file descriptors.", (double)fds);
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    one(f, "process_max_fds", "gauge", "Maximum number of open file descriptors.",
        (double)rl.rlim_cur);
    one(f, "process_start_time_seconds", "gauge",
        "Start time of the process since unix epoch in seconds.", M.start_time);
}

void metrics_render(FILE *f, const struct metrics_info *info)
{
    family(f, "testbed_server_info", "gauge", "The server under test: mechanism, accept-limit.");
    fprintf(f, "testbed_server_info{mechanism=\"%s\",accept_limit=\"%s\",version=\"%s\"} 1\n",
            info->mechanism, info->accept_limit, info->version);
    one(f, "testbed_server_connections_accepted_total", "counter", "Connections accepted.",
        (double)STAT_GET(stats.accepted));
    one(f, "testbed_server_connections_closed_total", "counter", "Connections closed.",
        (double)STAT_GET(stats.closed));
    one(f, "testbed_server_connections_open", "gauge", "Connections open now.",
        (double)STAT_GET(stats.open));
    one(f, "testbed_server_requests_total", "counter",
        "Requests answered, malformed ones included.", (double)STAT_GET(stats.requests));
    family(f, "testbed_server_replies_total", "counter", "Replies sent, by status code.");
    for (int i = 0; i < ST_COUNT; i++)
        fprintf(f, "testbed_server_replies_total{status=\"%s\"} %llu\n", st_codes[i],
                (unsigned long long)STAT_GET(stats.replies[i]));
    one(f, "testbed_server_sent_bytes_total", "counter", "Bytes sent: headers and bodies.",
        (double)STAT_GET(stats.sent_bytes));
    one(f, "testbed_server_accept_paused", "gauge",
        "1 while accepting is paused: --max-conns connections open, or out of descriptors.",
        (double)STAT_GET(stats.accept_paused));
    one(f, "testbed_server_accept_limit_hits_total", "counter",
        "Times accepting stopped at the accept-limit with connections possibly still pending.",
        (double)STAT_GET(stats.accept_limit_hits));
    family(f, "testbed_server_errors_total", "counter", "Errors, by kind.");
    for (int i = 0; i < EK_COUNT; i++)
        fprintf(f, "testbed_server_errors_total{kind=\"%s\"} %llu\n", ek_names[i],
                (unsigned long long)STAT_GET(stats.errors[i]));
    family(f, "testbed_server_timeouts_total", "counter",
           "Connections closed for waiting too long: idle (no complete request within "
           "--idle-timeout), write (no progress within --write-timeout), linger (a lingering "
           "close past its bound).");
    for (int i = 0; i < TK_COUNT; i++)
        fprintf(f, "testbed_server_timeouts_total{kind=\"%s\"} %llu\n", tk_names[i],
                (unsigned long long)STAT_GET(stats.timeouts[i]));
    one(f, "testbed_server_loop_rounds_total", "counter",
        "Event-loop rounds, each with one wait on the mechanism.", (double)STAT_GET(stats.rounds));
    one(f, "testbed_server_events_fired_total", "counter",
        "Events the mechanism returned from its waits.", (double)STAT_GET(stats.events_fired));
    one(f, "testbed_server_events_handled_total", "counter",
        "Handler calls: events that were of interest, plus readiness remembered by the loop.",
        (double)STAT_GET(stats.events_handled));
    family(f, "testbed_server_syscalls_total", "counter", "System calls made by the serving path.");
    for (int i = 0; i < SC_COUNT; i++)
        fprintf(f, "testbed_server_syscalls_total{syscall=\"%s\",mechanism=\"%s\"} %llu\n",
                sc_names[i], info->mechanism, (unsigned long long)STAT_GET(stats.sc[i].calls));
    family(f, "testbed_server_syscall_seconds_total", "counter",
           "Time spent in system calls of the serving path (CLOCK_MONOTONIC around each call).");
    for (int i = 0; i < SC_COUNT; i++)
        fprintf(f, "testbed_server_syscall_seconds_total{syscall=\"%s\",mechanism=\"%s\"} %.9f\n",
                sc_names[i], info->mechanism, (double)STAT_GET(stats.sc[i].ns) / 1e9);
    process_metrics(f);
}

/* ------------------------------------------------------------------------------------------
 * The listener's own small loop: non-blocking sockets and poll(), a few clients at a time, each
 * with a deadline for its whole exchange (accept to last byte written), so a client that
 * trickles its request, or never reads the answer, holds one slot for at most that long and
 * delays nobody else's scrape.
 */

#define CLIENTS     8    /* scrapes served at once; more wait in the listen backlog */
#define DEADLINE_MS 2000 /* for a whole exchange */
#define REQ_BYTES   2048 /* a request head longer than this is answered as it stands */
#define BACKOFF_MS  100  /* accept4 out of descriptors: the listener rests this long */
#define SPARES      3    /* descriptors held back for a scrape when the process has no more */

struct client {
    int fd;    /* -1: a free slot */
    int spare; /* accepted on the spare descriptors: they are taken back when it is done */
    uint64_t deadline;
    size_t len;          /* request bytes in req */
    char req[REQ_BYTES]; /* NUL-terminated */
    char *out;           /* the whole response once the request is read; NULL before */
    size_t out_len, out_off;
};

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/*
 * A process out of descriptors is when its counters matter most, and the serving loop takes
 * every descriptor it can (accept4 until EMFILE). So this thread holds SPARES descriptors on
 * /dev/null - the client's socket, /proc/self/statm, /proc/self/fd - and when accept4 fails
 * for want of one it lets them go for one scrape - only while the serving loop is not
 * accepting (stats.accept_paused: it is backing off from its own EMFILE, or full), so that its
 * accept4 does not take them first. If it still does (a close resumed it in between), the
 * spares come back as descriptors free up, and the scrape waits as it would have.
 */
static int spare[SPARES] = {-1, -1, -1};

/* Opens the spares that are not held; some may stay closed while descriptors are short. */
static void hold_spares(void)
{
    for (int i = 0; i < SPARES; i++)
        if (spare[i] < 0) spare[i] = open("/dev/null", O_RDONLY | O_CLOEXEC);
}

/* Closes the spares held. Returns how many there were. */
static int release_spares(void)
{
    int n = 0;
    for (int i = 0; i < SPARES; i++)
        if (spare[i] >= 0) {
            close(spare[i]);
            spare[i] = -1;
            n++;
        }
    return n;
}

static void drop(struct client *c)
{
    close(c->fd);
    free(c->out);
    if (c->spare) hold_spares();
    c->fd = -1;
    c->spare = 0;
    c->out = NULL;
}

/* Composes the answer to the request in c->req. Returns 0, or -1 when out of memory. */
static int compose(struct client *c)
{
    char *body = NULL;
    size_t blen = 0;
    FILE *f = open_memstream(&body, &blen);
    if (!f) return -1;
    const char *status = "200 OK", *type = "text/plain; version=0.0.4; charset=utf-8";
    int head = strncmp(c->req, "HEAD /metrics", 13) == 0;
    if (head || strncmp(c->req, "GET /metrics", 12) == 0) {
        metrics_render(f, &M.info);
    } else {
        status = "404 Not Found";
        type = "text/plain";
        fputs("metrics are at /metrics\n", f);
    }
    fclose(f);
    char hdr[256];
    int hl = snprintf(hdr, sizeof hdr,
                      "HTTP/1.1 %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                      "Connection: close\r\n\r\n",
                      status, type, blen);
    size_t send_body = head ? 0 : blen;
    if ((c->out = malloc((size_t)hl + send_body))) {
        memcpy(c->out, hdr, (size_t)hl);
        memcpy(c->out + hl, body, send_body);
        c->out_len = (size_t)hl + send_body;
        c->out_off = 0;
    }
    free(body);
    return c->out ? 0 : -1;
}

/* Moves one client on after poll() said it may. Returns 0 while it goes on, -1 when done. */
static int step(struct client *c)
{
    if (!c->out) {
        ssize_t n = read(c->fd, c->req + c->len, sizeof c->req - 1 - c->len);
        if (n < 0 && (errno == EAGAIN || errno == EINTR)) return 0;
        if (n <= 0) return -1;
        c->len += (size_t)n;
        c->req[c->len] = 0;
        if (c->len < sizeof c->req - 1 && !memmem(c->req, c->len, "\r\n\r\n", 4) &&
            !memmem(c->req, c->len, "\n\n", 2))
            return 0;
        if (compose(c) < 0) return -1;
    }
    while (c->out_off < c->out_len) {
        ssize_t n = write(c->fd, c->out + c->out_off, c->out_len - c->out_off);
        if (n < 0 && (errno == EAGAIN || errno == EINTR)) return 0;
        if (n <= 0) return -1;
        c->out_off += (size_t)n;
    }
    return -1;
}

static void *run(void *arg)
{
    (void)arg;
    /* This thread takes no signals: SIGTERM's EINTR is for the serving thread's wait. */
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, NULL);
    static struct client cl[CLIENTS];
    for (int i = 0; i < CLIENTS; i++) cl[i] = (struct client){.fd = -1};
    uint64_t rest_until = 0; /* the listener rests (EMFILE) until then */
    hold_spares();
    while (!M.stop) {
        struct pollfd p[CLIENTS + 1];
        int slot[CLIENTS + 1], n = 0, free_slots = 0;
        uint64_t now = now_ms();
        int timeout = 200; /* at most: M.stop is checked five times a second */
        int on_spares = 0;
        for (int i = 0; i < CLIENTS; i++) {
            on_spares |= cl[i].fd >= 0 && cl[i].spare;
            if (cl[i].fd < 0) {
                free_slots++;
                continue;
            }
            if (now >= cl[i].deadline) { /* its time is up, whatever it was doing */
                drop(&cl[i]);
                free_slots++;
                continue;
            }
            if (cl[i].deadline - now < (uint64_t)timeout) timeout = (int)(cl[i].deadline - now) + 1;
            p[n] = (struct pollfd){.fd = cl[i].fd, .events = cl[i].out ? POLLOUT : POLLIN};
            slot[n++] = i;
        }
        if (!on_spares) hold_spares(); /* those the serving loop took back may be free again */
        if (free_slots && now >= rest_until) {
            p[n] = (struct pollfd){.fd = M.fd, .events = POLLIN};
            slot[n++] = -1;
        } else if (free_slots && rest_until - now < (uint64_t)timeout) {
            timeout = (int)(rest_until - now) + 1;
        }
        if (poll(p, (nfds_t)n, timeout) <= 0) continue;
        for (int k = 0; k < n; k++) {
            if (!p[k].revents) continue;
            if (slot[k] >= 0) {
                if (step(&cl[slot[k]]) < 0) drop(&cl[slot[k]]);
                continue;
            }
            for (int i = 0; i < CLIENTS; i++) { /* the listener: fill free slots */
                if (cl[i].fd >= 0) continue;
                int fd = accept4(M.fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC), sp = 0;
                if (fd < 0 && (errno == EMFILE || errno == ENFILE) && !on_spares &&
                    STAT_GET(stats.accept_paused) && release_spares() > 0) {
                    fd = accept4(M.fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
                    if (fd < 0) hold_spares();
                    sp = on_spares = fd >= 0;
                }
                if (fd < 0) {
                    if (errno == EMFILE || errno == ENFILE) rest_until = now_ms() + BACKOFF_MS;
                    break; /* EAGAIN, or the like: poll again */
                }
                cl[i].fd = fd;
                cl[i].spare = sp;
                cl[i].len = 0;
                cl[i].deadline = now_ms() + DEADLINE_MS;
                if (step(&cl[i]) < 0) drop(&cl[i]); /* the request is often there already */
            }
        }
    }
    for (int i = 0; i < CLIENTS; i++)
        if (cl[i].fd >= 0) drop(&cl[i]);
    release_spares();
    return NULL;
}

int metrics_start(const char *addr, int port, const struct metrics_info *info, char *err,
                  size_t errlen)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    M.start_time = (double)ts.tv_sec + ts.tv_nsec / 1e9;
    M.info = *info;
    char why[200];
    if ((M.fd = net_listen(addr, port, 1, 64, why, sizeof why)) < 0) {
        snprintf(err, errlen, "metrics: %s", why);
        return -1;
    }
    int rc;
    if ((rc = pthread_create(&M.thread, NULL, run, NULL)) != 0) {
        snprintf(err, errlen, "pthread_create: %s", strerror(rc));
        goto err;
    }
    M.started = 1;
    return 0;
err:
    close(M.fd);
    M.fd = -1;
    return -1;
}

void metrics_stop(void)
{
    if (!M.started) return;
    M.stop = 1;
    pthread_join(M.thread, NULL);
    close(M.fd);
    M.fd = -1;
    M.started = 0;
}
