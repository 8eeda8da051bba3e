/* test_stats.c - the summary, line by line in httperf 0.9.0's format, and the samples. */
#include "check.h"
#include "stats.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct stats st;
static struct lag lg;

static FILE *out;

static char *summary(void)
{
    char *buf = NULL;
    size_t len = 0;
    out = open_memstream(&buf, &len);
    stats_print(&st, out);
    fclose(out);
    return buf;
}

static int has_line(const char *text, const char *line)
{
    size_t n = strlen(line);
    for (const char *p = text; (p = strstr(p, line)) != NULL; p += n)
        if ((p == text || p[-1] == '\n') && (p[n] == '\n' || p[n] == '\0')) return 1;
    return 0;
}

static void one_request_run(void)
{
    CHECK(stats_init(&st, 0, 0) == 0);
    /* 3300 connections at 300/s, as tests/agents/golden/one-byte-2samples.txt. */
    st.conns = st.sent = 3300;
    st.req_bytes = 3300 * 70;
    st.replies[2] = 3300;
    st.hdr_bytes = 3300 * 235;
    st.body_bytes = 3300;
    st.max_active = 3;
    st.max_burst = 2;
    for (int i = 0; i < 3300; i++) stats_lifetime(&st, i % 2 ? 0.0001 : 0.0002);
    st.connects = 3300;
    st.connect_sum = 0.0;
    st.responses = 3300;
    st.response_sum = 3300 * 0.0001;
    st.replies_since_sample = 1500;
    stats_sample(&st, 5.0, 0, stdout);
    st.replies_since_sample = 1500;
    stats_sample(&st, 5.0, 0, stdout);
    st.duration_s = 10.997;
    st.user_s = 2.04;
    st.sys_s = 8.95;
    char *s = summary();
    CHECK(strncmp(s, "Maximum connect burst length: 2\n\nTotal: ", 39) == 0);
    CHECK(has_line(s, "Total: connections 3300 requests 3300 replies 3300 test-duration 10.997 s"));
    CHECK(has_line(s, "Connection rate: 300.1 conn/s (3.3 ms/conn, <=3 concurrent connections)"));
    CHECK(has_line(s, "Connection time [ms]: min 0.1 avg 0.1 max 0.2 median 0.5 stddev 0.1"));
    CHECK(has_line(s, "Connection time [ms]: connect 0.0"));
    CHECK(has_line(s, "Connection length [replies/conn]: 1.000"));
    CHECK(has_line(s, "Request rate: 300.1 req/s (3.3 ms/req)"));
    CHECK(has_line(s, "Request size [B]: 70.0"));
    CHECK(has_line(s, "Reply rate [replies/s]: min 300.0 avg 300.0 max 300.0 stddev 0.0 "
                      "(2 samples)"));
    CHECK(has_line(s, "Reply time [ms]: response 0.1 transfer 0.0"));
    CHECK(has_line(s, "Reply size [B]: header 235.0 content 1.0 footer 0.0 (total 236.0)"));
    CHECK(has_line(s, "Reply status: 1xx=0 2xx=3300 3xx=0 4xx=0 5xx=0"));
    CHECK(has_line(s, "CPU time [s]: user 2.04 system 8.95 (user 18.6% system 81.4% total "
                      "99.9%)"));
    CHECK(has_line(s, "Net I/O: 89.7 KB/s (0.7*10^6 bps)"));
    CHECK(has_line(s, "Errors: total 0 client-timo 0 socket-timo 0 connrefused 0 connreset 0"));
    CHECK(has_line(s, "Errors: fd-unavail 0 addrunavail 0 ftab-full 0 other 0"));
    CHECK(strstr(s, "Session") == NULL);
    free(s);
    stats_free(&st);
}

static void failed_run(void)
{
    /* Nothing answered: every figure is 0, none is NaN or DBL_MAX. */
    CHECK(stats_init(&st, 0, 0) == 0);
    st.conns = 300;
    for (int i = 0; i < 300; i++) stats_error(&st, ERR_CONNREFUSED);
    stats_error(&st, ERR_FD_UNAVAIL);
    stats_error(&st, ERR_OTHER);
    st.duration_s = 2.991;
    char *s = summary();
    CHECK(has_line(s, "Connection rate: 100.3 conn/s (10.0 ms/conn, <=0 concurrent connections)"));
    CHECK(has_line(s, "Connection time [ms]: min 0.0 avg 0.0 max 0.0 median 0.0 stddev 0.0"));
    CHECK(has_line(s, "Connection length [replies/conn]: 0.000"));
    CHECK(has_line(s, "Request rate: 0.0 req/s (0.0 ms/req)"));
    CHECK(has_line(s, "Reply rate [replies/s]: min 0.0 avg 0.0 max 0.0 stddev 0.0 (0 samples)"));
    CHECK(has_line(s, "Reply size [B]: header 0.0 content 0.0 footer 0.0 (total 0.0)"));
    CHECK(has_line(s, "Errors: total 302 client-timo 0 socket-timo 0 connrefused 300 connreset 0"));
    CHECK(has_line(s, "Errors: fd-unavail 1 addrunavail 0 ftab-full 0 other 1"));
    CHECK(strstr(s, "nan") == NULL && strstr(s, "inf") == NULL);
    free(s);
    stats_free(&st);
}

static void session_run(void)
{
    CHECK(stats_init(&st, 1, 15) == 0);
    stats_session(&st, 0, 0.02, 1, 1);
    stats_session(&st, 0, 0.04, 5, 2);
    stats_session(&st, 1, 2.0, 3, 1);
    st.duration_s = 2.0;
    char *buf = NULL;
    size_t len = 0;
    out = open_memstream(&buf, &len);
    stats_sample(&st, 1.0, 1, out);
    fclose(out);
    CHECK(strcmp(buf, "reply-rate = 0.0     \nsession-rate = 2.0     \n") == 0);
    free(buf);
    char *s = summary();
    CHECK(has_line(s, "Session rate [sess/s]: min 2.00 avg 1.00 max 2.00 stddev 0.00 (2/3)"));
    CHECK(has_line(s, "Session: avg 1.50 connections/session"));
    CHECK(has_line(s, "Session lifetime [s]: 0.0"));
    CHECK(has_line(s, "Session failtime [s]: 2.0"));
    CHECK(has_line(s, "Session length histogram: 0 1 0 1 0 1"));
    /* The session lines come after the errors, after a blank line, as httperf prints them. */
    CHECK(strstr(s, "other 0\n\nSession rate") != NULL);
    free(s);
    stats_free(&st);
}

static void rate_samples(void)
{
    CHECK(stats_init(&st, 0, 0) == 0);
    double rates[] = {100, 200, 300};
    for (int i = 0; i < 3; i++) {
        st.replies_since_sample = (uint64_t)(rates[i] * 5);
        stats_sample(&st, 5.0, 0, stdout);
    }
    CHECK(st.replies_since_sample == 0);
    st.duration_s = 15;
    char *s = summary();
    CHECK(has_line(s, "Reply rate [replies/s]: min 100.0 avg 200.0 max 300.0 stddev 100.0 "
                      "(3 samples)"));
    free(s);
    /* The median is the 1 ms bin holding the middle lifetime, at its centre (httperf). */
    stats_lifetime(&st, 0.0123);
    stats_lifetime(&st, 0.0124);
    stats_lifetime(&st, 250.0); /* past the histogram: the last bin */
    s = summary();
    CHECK(strstr(s, "median 12.5 ") != NULL && strstr(s, "max 250000.0 ") != NULL);
    free(s);
    stats_free(&st);
}

static void schedule_line(void)
{
    for (int i = 0; i < 99; i++) lag_add(&lg, 0.0005);
    lag_add(&lg, 0.0345);
    char *buf = NULL;
    size_t len = 0;
    out = open_memstream(&buf, &len);
    stats_print_schedule(&lg, 0, out);
    stats_print_schedule(&lg, 7, out);
    fclose(out);
    CHECK(strcmp(buf, "tbload: schedule late-max-ms 34.5 late-p99-ms 0.5 late-bound-ms 10.0 "
                      "late-starts 1 of 100 kept yes\n"
                      "tbload: schedule late-max-ms 34.5 late-p99-ms 0.5 late-bound-ms 10.0 "
                      "late-starts 1 of 100 kept no\n") == 0);
    free(buf);
}

int main(void)
{
    one_request_run();
    failed_run();
    session_run();
    rate_samples();
    schedule_line();
    return check_done("test_stats");
}
