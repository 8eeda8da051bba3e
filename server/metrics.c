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
#include <sys/stat.h>
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

/*
 * Fresh on every scrape, as client_python's process collector, but read through descriptors
 * held from the start: a scrape must not need a new descriptor, or a process out of them (the
 * case these figures matter most) could not be scraped. pread at offset 0 makes procfs render
 * statm again; the descriptor count is read from the directory as it is now (open_fds).
 */
static int statm_fd = -1;
static DIR *fd_dir;

static void open_proc_files(void)
{
    if (statm_fd < 0) statm_fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
    if (!fd_dir) fd_dir = opendir("/proc/self/fd");
}

static void close_proc_files(void)
{
    if (statm_fd >= 0) close(statm_fd);
    if (fd_dir) closedir(fd_dir);
    statm_fd = -1;
    fd_dir = NULL;
}

/*
 * Descriptors open now. Since Linux 6.2 the size of /proc/self/fd is that count, taken from the
 * descriptor bitmap. Listing the directory instead costs a dentry per descriptor: with 10,000
 * connections open, tens of milliseconds of CPU, and seconds of waiting on an overloaded server's
 * CPU share, past a scrape's deadline, just when the counters matter. So listing is the fallback
 * for older kernels (size 0).
 */
static long open_fds(void)
{
    struct stat st;
    if (!fd_dir) return 0;
    if (fstat(dirfd(fd_dir), &st) == 0 && st.st_size > 0) return (long)st.st_size;
    long fds = 0;
    rewinddir(fd_dir);
    for (struct dirent *e; (e = readdir(fd_dir));)
        if (e->d_name[0] != '.') fds++;
    return fds;
}

static void process_metrics(FILE *f)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    one(f, "process_cpu_seconds_total", "counter",
        "Total user and system CPU time spent in seconds.",
        (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
            ru.ru_stime.tv_usec / 1e6);
    long pages_v = 0, pages_r = 0, psz = sysconf(_SC_PAGESIZE);
    open_proc_files(); /* again, if they could not be opened before */
    char statm[128];
    ssize_t got = statm_fd >= 0 ? pread(statm_fd, statm, sizeof statm - 1, 0) : -1;
    if (got > 0) {
        statm[got] = 0;
        if (sscanf(statm, "%ld %ld", &pages_v, &pages_r) != 2) pages_v = pages_r = 0;
    }
    one(f, "process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.",
        (double)pages_v * psz);
    one(f, "process_resident_memory_bytes", "gauge", "Resident memory size in bytes.",
        (double)pages_r * psz);
    one(f, "process_open_fds", "gauge", "Number of open file descriptors.", (double)open_fds());
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    one(f, "process_max_fds", "gauge", "Maximum number of open file descriptors.",
        (double)rl.rlim_cur);
    one(f, "process_start_time_seconds", "gauge",
        "Start time of the process since unix epoch in seconds.", M.start_time);
}

void metrics_render(FILE *f, const struct metrics_info *info)
{
    family(f, "testbed_server_info", "gauge",
           "The server under test: mechanism, accept-limit, interest handling, syscall timing.");
    fprintf(f,
            "testbed_server_info{mechanism=\"%s\",accept_limit=\"%s\",version=\"%s\","
            "interest=\"%s\",syscall_timing=\"%s\"} 1\n",
            info->mechanism, info->accept_limit, info->version, info->interest,
            info->syscall_timing);
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
           "Wall time spent in system calls of the serving path (CLOCK_MONOTONIC around each "
           "call; 0 unless --syscall-timing is wall or cpu).");
    for (int i = 0; i < SC_COUNT; i++)
        fprintf(f, "testbed_server_syscall_seconds_total{syscall=\"%s\",mechanism=\"%s\"} %.9f\n",
                sc_names[i], info->mechanism, (double)STAT_GET(stats.sc[i].ns) / 1e9);
    family(f, "testbed_server_syscall_cpu_seconds_total", "counter",
           "CPU time of the serving thread inside each system call (0 unless --syscall-timing "
           "cpu).");
    for (int i = 0; i < SC_COUNT; i++)
        fprintf(f,
                "testbed_server_syscall_cpu_seconds_total{syscall=\"%s\",mechanism=\"%s\"} "
                "%.9f\n",
                sc_names[i], info->mechanism, (double)STAT_GET(stats.sc[i].cpu_ns) / 1e9);
    family(f, "testbed_server_syscall_blocked_seconds_total", "counter",
           "Wall time inside each system call during which the serving thread did not run: "
           "blocked or preempted (0 unless --syscall-timing cpu).");
    int cpu_timed = strcmp(info->syscall_timing, "cpu") == 0;
    for (int i = 0; i < SC_COUNT; i++) {
        uint64_t wall = STAT_GET(stats.sc[i].ns), cpu = STAT_GET(stats.sc[i].cpu_ns);
        fprintf(f,
                "testbed_server_syscall_blocked_seconds_total{syscall=\"%s\",mechanism=\"%s\"} "
                "%.9f\n",
                sc_names[i], info->mechanism,
                cpu_timed && wall > cpu ? (double)(wall - cpu) / 1e9 : 0.0);
    }
    uint64_t ncalls = 0;
    for (int i = 0; i < SC_COUNT; i++) ncalls += STAT_GET(stats.sc[i].calls);
    one(f, "testbed_server_syscall_timing_cpu_seconds_total", "counter",
        "CPU time the per-call timing itself cost (its clock reads, outside every call's row; "
        "estimated from a calibration at start; 0 when nothing is timed): part of "
        "process_cpu_seconds_total that is not the server's work.",
        (double)ncalls * stats_timing_cost_ns / 1e9);
    family(f, "testbed_server_epoll_ctl_operations_total", "counter",
           "Interest-set operations of the epoll mechanisms, by operation and by the system call "
           "that carried them (one epoll_ctlv submission carries many).");
    for (int op = 0; op < EP_OP_COUNT; op++)
        for (int via = 0; via < VIA_COUNT; via++)
            fprintf(f,
                    "testbed_server_epoll_ctl_operations_total{op=\"%s\",via=\"%s\","
                    "mechanism=\"%s\"} %llu\n",
                    ep_op_names[op], ep_via_names[via], info->mechanism,
                    (unsigned long long)STAT_GET(stats.ep_ops[op][via]));
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

struct client {
    int fd;    /* -1: a free slot */
    int spare; /* accepted on the spare descriptor: it is taken back when it is done */
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
 * every descriptor it can (accept4 until EMFILE). So this thread holds one spare descriptor
 * for a scrape's socket (a scrape needs no other: see process_metrics), and when accept4 fails
 * for want of one it lets the spare go for that scrape - only while the serving loop is not
 * accepting (stats.accept_paused: it is backing off from its own EMFILE, or full), so that its
 * accept4 does not take it first. When that scrape ends its socket's descriptor becomes the
 * spare again in one dup2, so the serving loop, which accepts again the moment a connection
 * closes, never gets it in between: under a sustained overload it would, on every scrape. If
 * the serving loop still takes the spare (a close resumed it between our close and accept4),
 * the spare comes back as descriptors free up, and the scrape waits as it would have.
 */
static int spare = -1;

/* Opens the spare if it is not held; it may stay closed while descriptors are short. */
static void hold_spare(void)
{
    if (spare < 0) spare = open("/dev/null", O_RDONLY | O_CLOEXEC);
}

/* Closes the spare. Returns 1 if it was held. */
static int release_spare(void)
{
    if (spare < 0) return 0;
    close(spare);
    spare = -1;
    return 1;
}

static void drop(struct client *c)
{
    /* On the spare: the socket is closed and its number kept, as a copy of our listener. */
    if (c->spare && spare < 0 && dup2(M.fd, c->fd) == c->fd)
        spare = c->fd;
    else
        close(c->fd);
    free(c->out);
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
    while (!M.stop) {
        struct pollfd p[CLIENTS + 1];
        int slot[CLIENTS + 1], n = 0, free_slots = 0;
        uint64_t now = now_ms();
        int timeout = 200; /* at most: M.stop is checked five times a second */
        int on_spare = 0;
        for (int i = 0; i < CLIENTS; i++) {
            on_spare |= cl[i].fd >= 0 && cl[i].spare;
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
        if (!on_spare) hold_spare(); /* one the serving loop took may be free again */
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
                if (fd < 0 && (errno == EMFILE || errno == ENFILE) && !on_spare &&
                    STAT_GET(stats.accept_paused) && release_spare()) {
                    fd = accept4(M.fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
                    if (fd < 0) hold_spare();
                    sp = on_spare = fd >= 0;
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
    release_spare();
    close_proc_files();
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
    /* Taken here, before the serving loop runs: on a busy machine the thread may first run
     * after a flood of connections has taken every descriptor. */
    open_proc_files();
    hold_spare();
    int rc;
    if ((rc = pthread_create(&M.thread, NULL, run, NULL)) != 0) {
        snprintf(err, errlen, "pthread_create: %s", strerror(rc));
        goto err;
    }
    M.started = 1;
    return 0;
err:
    release_spare();
    close_proc_files();
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
