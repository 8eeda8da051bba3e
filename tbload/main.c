/*
 * main.c - tbload: the command line (a compatible subset of httperf's), limits, signals, and
 * the summary.
 */
#include "engine.h"
#include "sesslog.h"
#include "stats.h"

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <netdb.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: tbload [-v] --server H --port P --rate R --uri U --num-conns N [options]\n"
            "       tbload [-v] --server H --port P --rate R --wsesslog N,0,FILE [options]\n"
            "An open-loop HTTP load generator: connections (or sessions) start on a schedule\n"
            "at --rate per second, whatever the replies do; the summary is httperf 0.9.0's.\n\n"
            "  -v, --verbose            print reply-rate (and session-rate) every 5 s\n"
            "  --server H               server name or address (default localhost)\n"
            "  --port P                 server port (default 80)\n"
            "  --rate R                 connections (sessions) started per second (required)\n"
            "  --uri U                  one request per connection: GET U, Connection: close\n"
            "  --num-conns N            connections to start\n"
            "  --num-calls N            requests per connection, one after another on a\n"
            "                           keep-alive connection the client closes after the\n"
            "                           last reply (default 1; over 1 implies --client-close)\n"
            "  --wsesslog N,0,FILE      N sessions replaying FILE's sessions in turn, each on a\n"
            "                           keep-alive connection, requests one after another\n"
            "  --max-connections 1      connections per session at a time (only 1)\n"
            "  --timeout T              seconds a connection may wait for the server (connect,\n"
            "                           each reply's bytes) before client-timo (default: none)\n"
            "  --client I/N             the I-th of N clients: phase of the 5 s samples\n"
            "  --poisson                exponential gaps between starts (default: uniform)\n"
            "  --seed N                 seed of the Poisson gaps (default 1)\n"
            "  --client-close           one-request mode: send no \"Connection: close\" and close\n"
            "                           after the reply, as httperf does (default: the server\n"
            "                           closes, and keeps the TIME_WAIT)\n"
            "  --local-addresses A[,B]  bind connections to these local addresses in turn\n"
            "                           (IP_BIND_ADDRESS_NO_PORT: ports per 4-tuple)\n"
            "  -h, --help               this text\n\n"
            "After httperf's summary, one line: tbload: schedule late-max-ms X late-p99-ms Y\n"
            "late-bound-ms B late-starts K of N kept yes|no (late: started more than B ms\n"
            "after its due time, B = 1 %% of the schedule's span (count / rate), at least 10;\n"
            "kept no when over 1 %% of starts were late or the run ended with starts left).\n"
            "Exit status: 0 a run (errors are counted, not fatal), 1 a system failure, 2 bad\n"
            "arguments.\n");
}

/* One line on stderr, exit 2: the contract for a bad option or value. */
static void bad(const char *opt, const char *value, const char *why)
{
    fprintf(stderr, "tbload: %s: bad value '%s' (%s)\n", opt, value, why);
    exit(2);
}

static double real(const char *opt, const char *s, double lo, int lo_open)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !isfinite(v) || v < lo || (lo_open && v == lo))
        bad(opt, s, lo_open ? "want a number > 0" : "want a number >= 0");
    return v;
}

static unsigned long long whole(const char *opt, const char *s, unsigned long long lo,
                                unsigned long long hi)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *end || *s == '-' || v < lo || v > hi) {
        char why[80];
        snprintf(why, sizeof why, "want an integer %llu..%llu", lo, hi);
        bad(opt, s, why);
    }
    return v;
}

static int parse_addr(const char *s, int family, struct sockaddr_storage *out, socklen_t *len)
{
    memset(out, 0, sizeof *out);
    if (family == AF_INET) {
        struct sockaddr_in *a = (struct sockaddr_in *)out;
        a->sin_family = AF_INET;
        *len = sizeof *a;
        return inet_pton(AF_INET, s, &a->sin_addr) == 1 ? 0 : -1;
    }
    struct sockaddr_in6 *a = (struct sockaddr_in6 *)out;
    a->sin6_family = AF_INET6;
    *len = sizeof *a;
    return inet_pton(AF_INET6, s, &a->sin6_addr) == 1 ? 0 : -1;
}

/* --local-addresses: each must be an address of this host, of the server's family. */
static void local_addresses(struct config *c, char *list)
{
    size_t n = 1;
    for (const char *p = list; *p; p++) n += *p == ',';
    c->locals = calloc(n, sizeof *c->locals);
    if (!c->locals) bad("--local-addresses", list, "out of memory");
    for (char *save = NULL, *a = strtok_r(list, ",", &save); a; a = strtok_r(NULL, ",", &save)) {
        socklen_t len;
        struct sockaddr_storage *la = &c->locals[c->nlocals];
        if (parse_addr(a, c->addr.ss_family, la, &len) < 0)
            bad("--local-addresses", a, "not an address of the server's family");
        int fd = socket(la->ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
        if (fd >= 0) (void)setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
        if (fd < 0 || bind(fd, (struct sockaddr *)la, len) < 0)
            bad("--local-addresses", a, strerror(errno));
        close(fd);
        c->nlocals++;
    }
    if (!c->nlocals) bad("--local-addresses", "", "want A[,B...]");
}

static void resolve(struct config *c)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res;
    int rc = getaddrinfo(c->server, NULL, &hints, &res);
    if (rc != 0) bad("--server", c->server, gai_strerror(rc));
    memcpy(&c->addr, res->ai_addr, res->ai_addrlen);
    c->addrlen = res->ai_addrlen;
    freeaddrinfo(res);
    if (c->addr.ss_family == AF_INET)
        ((struct sockaddr_in *)&c->addr)->sin_port = htons((uint16_t)c->port);
    else
        ((struct sockaddr_in6 *)&c->addr)->sin6_port = htons((uint16_t)c->port);
}

/* "N,0,FILE" -> sessions and the file; think times other than 0 are not supported. */
static const char *wsesslog(const char *arg, uint64_t *count)
{
    char *end;
    errno = 0;
    unsigned long long n = strtoull(arg, &end, 10);
    if (errno || end == arg || *end != ',' || *arg == '-' || n == 0)
        bad("--wsesslog", arg, "want N,0,FILE with N > 0 sessions");
    const char *think = end + 1;
    double t = strtod(think, &end);
    if (end == think || *end != ',' || t != 0.0)
        bad("--wsesslog", arg, "want N,0,FILE: a think time other than 0 is not supported");
    if (!end[1]) bad("--wsesslog", arg, "want N,0,FILE: no FILE");
    *count = n;
    return end + 1;
}

enum {
    O_SERVER = 256,
    O_PORT,
    O_CLIENT,
    O_TIMEOUT,
    O_RATE,
    O_URI,
    O_NUM_CONNS,
    O_NUM_CALLS,
    O_WSESSLOG,
    O_MAX_CONNS,
    O_POISSON,
    O_SEED,
    O_LOCALS,
    O_CLIENT_CLOSE
};

static const struct option longopts[] = {
    {"verbose", no_argument, NULL, 'v'},
    {"help", no_argument, NULL, 'h'},
    {"server", required_argument, NULL, O_SERVER},
    {"port", required_argument, NULL, O_PORT},
    {"client", required_argument, NULL, O_CLIENT},
    {"timeout", required_argument, NULL, O_TIMEOUT},
    {"rate", required_argument, NULL, O_RATE},
    {"uri", required_argument, NULL, O_URI},
    {"num-conns", required_argument, NULL, O_NUM_CONNS},
    {"num-calls", required_argument, NULL, O_NUM_CALLS},
    {"wsesslog", required_argument, NULL, O_WSESSLOG},
    {"max-connections", required_argument, NULL, O_MAX_CONNS},
    {"poisson", no_argument, NULL, O_POISSON},
    {"seed", required_argument, NULL, O_SEED},
    {"local-addresses", required_argument, NULL, O_LOCALS},
    {"client-close", no_argument, NULL, O_CLIENT_CLOSE},
    {NULL, 0, NULL, 0},
};

int main(int argc, char **argv)
{
    struct config c = {.server = "localhost", .port = 80, .seed = 1, .clients = 1};
    const char *sessfile = NULL;
    char *locals = NULL;
    uint64_t sessions = 0;
    int have_conns = 0, have_uri = 0;
    c.uri = "/";
    opterr = 0;
    int ch;
    while ((ch = getopt_long(argc, argv, ":vh", longopts, NULL)) != -1) {
        switch (ch) {
        case 'v': c.verbose = 1; break;
        case 'h': usage(stdout); return 0;
        case O_SERVER:
            if (!*optarg) bad("--server", optarg, "empty");
            c.server = optarg;
            break;
        case O_PORT: c.port = (int)whole("--port", optarg, 1, 65535); break;
        case O_CLIENT: {
            char *slash = strchr(optarg, '/');
            if (!slash) bad("--client", optarg, "want I/N");
            *slash = '\0';
            c.client_id = (unsigned)whole("--client", optarg, 0, 1000000);
            c.clients = (unsigned)whole("--client", slash + 1, 1, 1000000);
            *slash = '/';
            if (c.client_id >= c.clients) bad("--client", optarg, "want I/N with I < N");
            break;
        }
        case O_TIMEOUT: c.timeout = real("--timeout", optarg, 0, 0); break;
        case O_RATE: c.rate = real("--rate", optarg, 0, 1); break;
        case O_URI:
            if (optarg[0] != '/' || strpbrk(optarg, " \r\n"))
                bad("--uri", optarg, "want a path starting with '/', without spaces");
            c.uri = optarg;
            have_uri = 1;
            break;
        case O_NUM_CONNS:
            c.count = whole("--num-conns", optarg, 1, 1ULL << 40);
            have_conns = 1;
            break;
        case O_NUM_CALLS: c.calls = (unsigned)whole("--num-calls", optarg, 1, 1000000); break;
        case O_WSESSLOG: sessfile = wsesslog(optarg, &sessions); break;
        case O_MAX_CONNS: whole("--max-connections", optarg, 1, 1); break;
        case O_POISSON: c.poisson = 1; break;
        case O_SEED: c.seed = whole("--seed", optarg, 0, UINT64_MAX); break;
        case O_LOCALS: locals = optarg; break;
        case O_CLIENT_CLOSE: c.client_close = 1; break;
        case ':':
            fprintf(stderr, "tbload: %s needs a value (see --help)\n", argv[optind - 1]);
            return 2;
        default:
            fprintf(stderr, "tbload: unknown option '%s' (see --help)\n", argv[optind - 1]);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "tbload: unexpected argument '%s' (see --help)\n", argv[optind]);
        return 2;
    }
    if (c.rate <= 0) {
        fprintf(stderr, "tbload: --rate is required (see --help)\n");
        return 2;
    }
    if (sessfile && c.client_close) {
        fprintf(stderr, "tbload: --client-close is for one request per connection, not "
                        "--wsesslog\n");
        return 2;
    }
    if (sessfile && c.calls > 1) {
        fprintf(stderr, "tbload: --num-calls over 1 is for --num-conns, not --wsesslog\n");
        return 2;
    }
    if (c.calls > 1) c.client_close = 1; /* keep-alive until the last reply, as httperf */
    if (sessfile && (have_conns || have_uri)) {
        fprintf(stderr, "tbload: --wsesslog does not go with --num-conns or --uri\n");
        return 2;
    }
    if (!sessfile && !have_conns) {
        fprintf(stderr, "tbload: --num-conns or --wsesslog is required (see --help)\n");
        return 2;
    }
    struct sesslog log;
    if (sessfile) {
        char err[512];
        if (sesslog_load(&log, sessfile, err, sizeof err) < 0) {
            fprintf(stderr, "tbload: --wsesslog: %s\n", err);
            return 2;
        }
        c.log = &log;
        c.count = sessions;
    }
    resolve(&c);
    if (locals) local_addresses(&c, locals);

    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    getrlimit(RLIMIT_NOFILE, &rl);

    struct sigaction sa = {.sa_handler = on_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    /* The command, as httperf echoes it (options in its order), then the descriptors. */
    printf("tbload%s", c.verbose ? " --verbose" : "");
    if (c.timeout > 0) printf(" --timeout=%g", c.timeout);
    printf(" --client=%u/%u --server=%s --port=%d", c.client_id, c.clients, c.server, c.port);
    if (!c.log) printf(" --uri=%s", c.uri);
    if (c.log) printf(" --max-connections=1");
    printf(" --rate=%g", c.rate);
    if (c.poisson) printf(" --poisson --seed=%llu", (unsigned long long)c.seed);
    if (c.client_close) printf(" --client-close");
    if (locals) {
        char host[INET6_ADDRSTRLEN];
        printf(" --local-addresses=");
        for (size_t i = 0; i < c.nlocals; i++) {
            const void *a = c.locals[i].ss_family == AF_INET
                                ? (const void *)&((struct sockaddr_in *)&c.locals[i])->sin_addr
                                : (const void *)&((struct sockaddr_in6 *)&c.locals[i])->sin6_addr;
            inet_ntop(c.locals[i].ss_family, a, host, sizeof host);
            printf("%s%s", i ? "," : "", host);
        }
    }
    if (c.log)
        printf(" --wsesslog=%llu,0.000,%s\n", (unsigned long long)c.count, sessfile);
    else
        printf(" --num-conns=%llu --num-calls=%u\n", (unsigned long long)c.count,
               c.calls ? c.calls : 1);
    printf("httperf: maximum number of open descriptors = %llu\n",
           (unsigned long long)rl.rlim_cur);
    fflush(stdout);

    unsigned longest = 0;
    for (size_t i = 0; c.log && i < c.log->nsessions; i++)
        if (c.log->len[i] > longest) longest = (unsigned)c.log->len[i];
    static struct stats st; /* large (the lifetime histogram): not on the stack */
    static struct lag lag;
    if (stats_init(&st, c.log != NULL, longest) < 0) {
        fprintf(stderr, "tbload: out of memory\n");
        return 1;
    }
    lag_init(&lag, (double)c.count / c.rate);
    uint64_t unstarted = 0;
    int rc = engine_run(&c, &st, &lag, &stop, &unstarted);
    if (rc == 0) {
        stats_print(&st, stdout);
        stats_print_schedule(&lag, unstarted, stdout);
    }
    stats_free(&st);
    if (c.log) sesslog_free(c.log);
    free(c.locals);
    return rc == 0 ? 0 : 1;
}
