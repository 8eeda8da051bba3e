/*
 * main.c - userver: command line, limits, signals, and the start and stop log lines.
 */
#include "ae.h"
#include "metrics.h"
#include "server.h"
#include "stats.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#define VERSION     "0.1.0"
#define SETSIZE_CAP (1 << 20) /* descriptors the per-descriptor arrays are sized for, at most */

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: userver --docroot DIR [options]\n"
            "A single-process event-driven HTTP/1.1 static file server (after the paper's\n"
            "userver); the event mechanism is chosen at run time.\n\n"
            "  --mechanism M        select|poll|epoll-lt|epoll-et|epoll2|epoll-ctlv|io_uring\n"
            "                       (default epoll-lt)\n"
            "  --address A          address to serve on (default 0.0.0.0)\n"
            "  --port P             port (default 8080)\n"
            "  --docroot DIR        serve the regular files under DIR (required)\n"
            "  --accept-limit N|inf connections accepted per listener notification (default inf)\n"
            "  --max-conns N        stop accepting while N connections are open\n"
            "                       (default: the descriptor limit less 64)\n"
            "  --idle-timeout S     close a connection that has not sent a complete request\n"
            "                       S seconds after it was accepted or last answered\n"
            "                       (default 0: never, as the paper's idle connections need)\n"
            "  --write-timeout S    close a connection whose socket took no byte of a\n"
            "                       response for S seconds (default 60; 0: never)\n"
            "  --metrics-address A  address of the Prometheus endpoint (default 127.0.0.1)\n"
            "  --metrics-port P     its port, GET /metrics (default 9180; 0 disables it)\n"
            "  --help               this text\n"
            "  --version            the version\n");
}

/* One line on stderr, exit 2: the contract for a bad option or value. */
static void bad(const char *fmt, const char *what)
{
    fputs("userver: ", stderr);
    fprintf(stderr, fmt, what);
    fputs(" (see --help)\n", stderr);
    exit(2);
}

static long number(const char *opt, const char *s, long lo, long hi)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) {
        char msg[160];
        snprintf(msg, sizeof msg, "%s: bad value '%%s' (want %ld..%ld)", opt, lo, hi);
        bad(msg, s);
    }
    return v;
}

/* Raises the soft descriptor limit to the hard one. Returns the limit now in force. */
static long raise_nofile(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0) return 1024;
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
            fprintf(stderr, "userver: setrlimit(RLIMIT_NOFILE): %s\n", strerror(errno));
        getrlimit(RLIMIT_NOFILE, &rl);
    }
    return rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > SETSIZE_CAP ? SETSIZE_CAP
                                                                     : (long)rl.rlim_cur;
}

int main(int argc, char **argv)
{
    enum {
        O_MECH = 256, O_ADDR, O_PORT, O_DOC, O_ALIM, O_MAXC, O_IDLE, O_WRITE, O_MADDR, O_MPORT,
        O_HELP, O_VER
    };
    static const struct option opts[] = {
        {"mechanism", required_argument, 0, O_MECH},
        {"address", required_argument, 0, O_ADDR},
        {"port", required_argument, 0, O_PORT},
        {"docroot", required_argument, 0, O_DOC},
        {"accept-limit", required_argument, 0, O_ALIM},
        {"max-conns", required_argument, 0, O_MAXC},
        {"idle-timeout", required_argument, 0, O_IDLE},
        {"write-timeout", required_argument, 0, O_WRITE},
        {"metrics-address", required_argument, 0, O_MADDR},
        {"metrics-port", required_argument, 0, O_MPORT},
        {"help", no_argument, 0, O_HELP},
        {"version", no_argument, 0, O_VER},
        {0, 0, 0, 0},
    };
    struct server_config cfg = {
        .be = aeBackendByName("epoll-lt"), .address = "0.0.0.0", .port = 8080, .write_timeout = 60};
    const char *maddr = "127.0.0.1", *alim = "inf";
    int mport = 9180, o;
    opterr = 0;
    while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (o) {
        case O_MECH:
            if (!(cfg.be = aeBackendByName(optarg)))
                bad("--mechanism: unknown '%s' (select, poll, epoll-lt, epoll-et, epoll2, "
                    "epoll-ctlv, io_uring)",
                    optarg);
            break;
        case O_ADDR: cfg.address = optarg; break;
        case O_PORT: cfg.port = (int)number("--port", optarg, 1, 65535); break;
        case O_DOC: cfg.docroot = optarg; break;
        case O_ALIM:
            alim = optarg;
            cfg.accept_limit =
                strcmp(optarg, "inf") == 0 ? 0 : number("--accept-limit", optarg, 1, INT_MAX);
            break;
        case O_MAXC: cfg.max_conns = (int)number("--max-conns", optarg, 1, INT_MAX); break;
        case O_IDLE: cfg.idle_timeout = (int)number("--idle-timeout", optarg, 0, 86400); break;
        case O_WRITE: cfg.write_timeout = (int)number("--write-timeout", optarg, 0, 86400); break;
        case O_MADDR: maddr = optarg; break;
        case O_MPORT: mport = (int)number("--metrics-port", optarg, 0, 65535); break;
        case O_HELP: usage(stdout); return 0;
        case O_VER: puts("userver " VERSION); return 0;
        case ':': bad("%s needs a value", argv[optind - 1]); break;
        default: bad("unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc) bad("unexpected argument '%s'", argv[optind]);
    if (!cfg.docroot) bad("%s", "--docroot DIR is required");

    cfg.setsize = (int)raise_nofile();
    /* The default leaves room for the other descriptors; an explicit value is taken as given
     * (past the limit, accept4's EMFILE makes accepting back off). */
    if (cfg.max_conns == 0) cfg.max_conns = cfg.setsize > 128 ? cfg.setsize - 64 : cfg.setsize / 2;
    signal(SIGPIPE, SIG_IGN);
    struct sigaction sa = {.sa_handler = on_signal}; /* no SA_RESTART: the wait returns EINTR */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);

    char err[256];
    struct server *s = server_create(&cfg, err, sizeof err);
    if (!s) {
        fprintf(stderr, "userver: %s\n", err);
        return 1;
    }
    struct metrics_info info = {cfg.be->name, alim, VERSION};
    if (mport && metrics_start(maddr, mport, &info, err, sizeof err) < 0) {
        fprintf(stderr, "userver: %s\n", err);
        server_free(s);
        return 1;
    }
    char mlisten[96] = "off", idle[16] = "off", wr[16] = "off";
    if (mport) snprintf(mlisten, sizeof mlisten, "%s:%d", maddr, mport);
    if (cfg.idle_timeout) snprintf(idle, sizeof idle, "%d", cfg.idle_timeout);
    if (cfg.write_timeout) snprintf(wr, sizeof wr, "%d", cfg.write_timeout);
    fprintf(stderr,
            "userver: started mechanism=%s listen=%s:%d metrics=%s accept-limit=%s "
            "max-conns=%d idle-timeout=%s write-timeout=%s docroot=%s pid=%d\n",
            cfg.be->name, cfg.address, cfg.port, mlisten, alim, cfg.max_conns, idle, wr,
            cfg.docroot, (int)getpid());
    int rc = server_run(s, &stop, err, sizeof err);
    if (rc < 0) fprintf(stderr, "userver: %s\n", err);
    server_free(s);
    metrics_stop();
    fprintf(stderr,
            "userver: stopped mechanism=%s accepted=%llu requests=%llu sent-bytes=%llu "
            "pid=%d%s\n",
            cfg.be->name, (unsigned long long)stats.accepted, (unsigned long long)stats.requests,
            (unsigned long long)stats.sent_bytes, (int)getpid(), rc < 0 ? " (failed)" : "");
    fflush(stderr);
    return rc < 0 ? 1 : 0;
}
