/* metrics.c - the Prometheus endpoint; see metrics.h. */
#include "metrics.h"
#include "net.h"
#include "stats.h"

#include <dirent.h>
#include <errno.h>
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
    one(f, "testbed_server_accept_limit_hits_total", "counter",
        "Times accepting stopped at the accept-limit with connections possibly still pending.",
        (double)STAT_GET(stats.accept_limit_hits));
    family(f, "testbed_server_errors_total", "counter", "Errors, by kind.");
    for (int i = 0; i < EK_COUNT; i++)
        fprintf(f, "testbed_server_errors_total{kind=\"%s\"} %llu\n", ek_names[i],
                (unsigned long long)STAT_GET(stats.errors[i]));
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

/* Answers one scrape on a blocking socket with 2 s timeouts. */
static void serve_one(int fd)
{
    struct timeval tv = {2, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    char req[4096];
    size_t len = 0;
    while (len < sizeof req - 1) {
        ssize_t n = read(fd, req + len, sizeof req - 1 - len);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return;
        len += (size_t)n;
        req[len] = 0;
        if (strstr(req, "\r\n\r\n") || strstr(req, "\n\n")) break;
    }
    req[len] = 0;
    char *body = NULL;
    size_t blen = 0;
    FILE *f = open_memstream(&body, &blen);
    if (!f) return;
    const char *status = "200 OK", *type = "text/plain; version=0.0.4; charset=utf-8";
    int head = strncmp(req, "HEAD /metrics", 13) == 0;
    if (head || strncmp(req, "GET /metrics", 12) == 0) {
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
    struct iovec iov[2] = {{hdr, (size_t)hl}, {body, head ? 0 : blen}};
    for (int i = 0; i < 2; i++)
        while (iov[i].iov_len > 0) {
            ssize_t n = write(fd, iov[i].iov_base, iov[i].iov_len);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) goto out;
            iov[i].iov_base = (char *)iov[i].iov_base + n;
            iov[i].iov_len -= (size_t)n;
        }
out:
    free(body);
}

static void *run(void *arg)
{
    (void)arg;
    /* This thread takes no signals: SIGTERM's EINTR is for the serving thread's wait. */
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, NULL);
    while (!M.stop) {
        struct pollfd p = {.fd = M.fd, .events = POLLIN};
        if (poll(&p, 1, 200) <= 0) continue;
        int fd = accept4(M.fd, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0) { /* out of descriptors, probably: the scrape waits, the thread must not spin */
            usleep(50000);
            continue;
        }
        serve_one(fd);
        close(fd);
    }
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
    if ((M.fd = net_listen(addr, port, 0, 64, why, sizeof why)) < 0) {
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
