/*
 * stats.c - counting a run, and printing it as httperf does.
 */
#include "stats.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

int stats_init(struct stats *s, int sessions, unsigned max_len)
{
    memset(s, 0, sizeof *s);
    s->life_min = DBL_MAX;
    s->reply_rate.min = DBL_MAX;
    s->sess_rate.min = DBL_MAX;
    s->sessions = sessions;
    if (sessions) {
        s->sess_hist_cap = max_len + 1;
        s->sess_hist = calloc(s->sess_hist_cap, sizeof *s->sess_hist);
        if (!s->sess_hist) return -1;
    }
    return 0;
}

void stats_free(struct stats *s)
{
    free(s->sess_hist);
    s->sess_hist = NULL;
}

void stats_error(struct stats *s, enum err_kind kind)
{
    s->errors[kind]++;
}

void stats_lifetime(struct stats *s, double t)
{
    s->lifetimes++;
    s->life_sum += t;
    s->life_sum2 += t * t;
    if (t < s->life_min) s->life_min = t;
    if (t > s->life_max) s->life_max = t;
    double bin = t * 1e3;
    s->life_hist[bin < LIFETIME_BINS ? (unsigned)bin : LIFETIME_BINS]++;
}

void stats_session(struct stats *s, int failed, double life_s, unsigned replies, unsigned conns)
{
    if (failed) {
        s->sess_failed++;
        s->sess_fail_sum += life_s;
    } else {
        s->sess_completed++;
        s->sess_since_sample++;
        s->sess_life_sum += life_s;
        s->sess_conns += conns;
    }
    if (replies >= s->sess_hist_cap) replies = s->sess_hist_cap - 1; /* cannot happen */
    s->sess_hist[replies]++;
    if (replies > s->sess_longest) s->sess_longest = replies;
}

static void rate_add(struct rate_samples *r, double rate)
{
    r->n++;
    r->sum += rate;
    r->sum2 += rate * rate;
    if (rate < r->min) r->min = rate;
    if (rate > r->max) r->max = rate;
}

/* httperf's STDDEV: the sample standard deviation from the sums (0 when n < 2). */
static double stddev(double sum, double sum2, double n)
{
    if (n < 2) return 0.0;
    double var = (n * sum2 - sum * sum) / (n * (n - 1));
    return var > 0 ? sqrt(var) : 0.0;
}

void stats_sample(struct stats *s, double elapsed_s, int verbose, FILE *out)
{
    double w = elapsed_s > 0 ? 1.0 / elapsed_s : 0.0;
    double rate = w * (double)s->replies_since_sample;
    s->replies_since_sample = 0;
    rate_add(&s->reply_rate, rate);
    if (verbose) fprintf(out, "reply-rate = %-8.1f\n", rate);
    if (s->sessions) {
        double srate = w * (double)s->sess_since_sample;
        s->sess_since_sample = 0;
        rate_add(&s->sess_rate, srate);
        if (verbose) fprintf(out, "session-rate = %-8.1f\n", srate);
    }
    if (verbose) fflush(out);
}

void stats_print(const struct stats *s, FILE *out)
{
    double delta = s->duration_s;
    uint64_t total_replies = 0;
    for (int i = 1; i < 6; i++) total_replies += s->replies[i];

    fprintf(out, "Maximum connect burst length: %u\n", s->max_burst);
    fprintf(out, "\nTotal: connections %llu requests %llu replies %llu test-duration %.3f s\n",
            (unsigned long long)s->conns, (unsigned long long)s->sent,
            (unsigned long long)total_replies, delta);
    fputc('\n', out);

    fprintf(out, "Connection rate: %.1f conn/s (%.1f ms/conn, <=%u concurrent connections)\n",
            delta > 0 ? (double)s->conns / delta : 0.0,
            s->conns ? 1e3 * delta / (double)s->conns : 0.0, s->max_active);
    double avg = 0, sd = 0, median = 0;
    if (s->lifetimes) {
        avg = s->life_sum / (double)s->lifetimes;
        sd = stddev(s->life_sum, s->life_sum2, (double)s->lifetimes);
        uint64_t n = 0;
        for (unsigned i = 0; i <= LIFETIME_BINS; i++) {
            n += s->life_hist[i];
            if ((double)n >= 0.5 * (double)s->lifetimes) {
                median = (i + 0.5) * 1e-3;
                break;
            }
        }
    }
    fprintf(out, "Connection time [ms]: min %.1f avg %.1f max %.1f median %.1f stddev %.1f\n",
            s->lifetimes ? 1e3 * s->life_min : 0.0, 1e3 * avg, 1e3 * s->life_max, 1e3 * median,
            1e3 * sd);
    fprintf(out, "Connection time [ms]: connect %.1f\n",
            s->connects ? 1e3 * s->connect_sum / (double)s->connects : 0.0);
    fprintf(out, "Connection length [replies/conn]: %.3f\n",
            s->lifetimes ? (double)total_replies / (double)s->lifetimes : 0.0);
    fputc('\n', out);

    fprintf(out, "Request rate: %.1f req/s (%.1f ms/req)\n",
            delta > 0 ? (double)s->sent / delta : 0.0,
            s->sent ? 1e3 * delta / (double)s->sent : 0.0);
    fprintf(out, "Request size [B]: %.1f\n",
            s->sent ? (double)s->req_bytes / (double)s->sent : 0.0);
    fputc('\n', out);

    const struct rate_samples *rr = &s->reply_rate;
    fprintf(out,
            "Reply rate [replies/s]: min %.1f avg %.1f max %.1f stddev %.1f (%u samples)\n",
            rr->n ? rr->min : 0.0, rr->n ? rr->sum / rr->n : 0.0, rr->max,
            stddev(rr->sum, rr->sum2, rr->n), rr->n);
    double tr = (double)total_replies;
    fprintf(out, "Reply time [ms]: response %.1f transfer %.1f\n",
            s->responses ? 1e3 * s->response_sum / (double)s->responses : 0.0,
            total_replies ? 1e3 * s->xfer_sum / tr : 0.0);
    double hdr = total_replies ? (double)s->hdr_bytes / tr : 0.0;
    double body = total_replies ? (double)s->body_bytes / tr : 0.0;
    fprintf(out, "Reply size [B]: header %.1f content %.1f footer %.1f (total %.1f)\n", hdr, body,
            0.0, hdr + body);
    fprintf(out, "Reply status: 1xx=%llu 2xx=%llu 3xx=%llu 4xx=%llu 5xx=%llu\n",
            (unsigned long long)s->replies[1], (unsigned long long)s->replies[2],
            (unsigned long long)s->replies[3], (unsigned long long)s->replies[4],
            (unsigned long long)s->replies[5]);
    fputc('\n', out);

    double d = delta > 0 ? delta : 1e-9;
    fprintf(out, "CPU time [s]: user %.2f system %.2f (user %.1f%% system %.1f%% total %.1f%%)\n",
            s->user_s, s->sys_s, 100.0 * s->user_s / d, 100.0 * s->sys_s / d,
            100.0 * (s->user_s + s->sys_s) / d);
    double bytes = (double)(s->req_bytes + s->hdr_bytes + s->body_bytes);
    fprintf(out, "Net I/O: %.1f KB/s (%.1f*10^6 bps)\n", bytes / d / 1024.0, 8e-6 * bytes / d);
    fputc('\n', out);

    const uint64_t *e = s->errors;
    uint64_t total = 0;
    for (int i = 0; i < ERR_KINDS; i++) total += e[i];
    fprintf(out,
            "Errors: total %llu client-timo %llu socket-timo %llu connrefused %llu connreset "
            "%llu\n",
            (unsigned long long)total, (unsigned long long)e[ERR_CLIENT_TIMO],
            (unsigned long long)e[ERR_SOCKET_TIMO], (unsigned long long)e[ERR_CONNREFUSED],
            (unsigned long long)e[ERR_CONNRESET]);
    fprintf(out, "Errors: fd-unavail %llu addrunavail %llu ftab-full %llu other %llu\n",
            (unsigned long long)e[ERR_FD_UNAVAIL], (unsigned long long)e[ERR_ADDRUNAVAIL],
            (unsigned long long)e[ERR_FTAB_FULL], (unsigned long long)e[ERR_OTHER]);

    if (!s->sessions) return;
    const struct rate_samples *sr = &s->sess_rate;
    fprintf(out, "\nSession rate [sess/s]: min %.2f avg %.2f max %.2f stddev %.2f (%llu/%llu)\n",
            sr->n ? sr->min : 0.0, delta > 0 ? (double)s->sess_completed / delta : 0.0, sr->max,
            stddev(sr->sum, sr->sum2, sr->n), (unsigned long long)s->sess_completed,
            (unsigned long long)(s->sess_completed + s->sess_failed));
    fprintf(out, "Session: avg %.2f connections/session\n",
            s->sess_completed ? (double)s->sess_conns / (double)s->sess_completed : 0.0);
    fprintf(out, "Session lifetime [s]: %.1f\n",
            s->sess_completed ? s->sess_life_sum / (double)s->sess_completed : 0.0);
    fprintf(out, "Session failtime [s]: %.1f\n",
            s->sess_failed ? s->sess_fail_sum / (double)s->sess_failed : 0.0);
    fputs("Session length histogram:", out);
    for (unsigned i = 0; i <= s->sess_longest; i++)
        fprintf(out, " %llu", (unsigned long long)s->sess_hist[i]);
    fputc('\n', out);
}

void stats_print_schedule(const struct lag *l, uint64_t unstarted, FILE *out)
{
    fprintf(out, "tbload: schedule late-max-ms %.1f late-p99-ms %.1f late-bound-ms %.1f "
            "late-starts %llu of %llu kept %s\n",
            1e3 * l->max_s, 1e3 * lag_quantile(l, 0.99), 1e3 * lag_bound(l),
            (unsigned long long)l->late,
            (unsigned long long)l->starts, lag_kept(l, unstarted) ? "yes" : "no");
}
