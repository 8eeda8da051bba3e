/*
 * reply.c - the reply parser: a line at a time through the head, then a byte count.
 */
#include "reply.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

void reply_init(struct reply *r)
{
    r->state = REPLY_STATUS;
    r->status = 0;
    r->minor = 1;
    r->close = 0;
    r->content_length = -1;
    r->header_bytes = 0;
    r->body_bytes = 0;
    r->remaining = 0;
    r->line_len = 0;
}

/* "HTTP/1.x SSS ..." -> 0 and the fields, or -1. */
static int status_line(struct reply *r, const char *s, size_t n)
{
    if (n < 12 || memcmp(s, "HTTP/1.", 7) != 0 || !isdigit((unsigned char)s[7]) || s[8] != ' ')
        return -1;
    if (!isdigit((unsigned char)s[9]) || !isdigit((unsigned char)s[10]) ||
        !isdigit((unsigned char)s[11]) || (n > 12 && s[12] != ' '))
        return -1;
    r->minor = s[7] - '0';
    r->status = (s[9] - '0') * 100 + (s[10] - '0') * 10 + (s[11] - '0');
    if (r->status < 100) return -1;
    r->close = r->minor == 0; /* HTTP/1.0 closes unless it says keep-alive */
    return 0;
}

/* Does the comma-separated list s[0, n) hold the token tok (case-insensitive)? */
static int has_token(const char *s, size_t n, const char *tok)
{
    size_t tl = strlen(tok), i = 0;
    while (i < n) {
        while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == ',')) i++;
        size_t start = i;
        while (i < n && s[i] != ',') i++;
        size_t end = i;
        while (end > start && (s[end - 1] == ' ' || s[end - 1] == '\t')) end--;
        if (end - start == tl && strncasecmp(s + start, tok, tl) == 0) return 1;
    }
    return 0;
}

/* One header line (no line end). Returns 0, or -1 when it makes the reply malformed. */
static int header_line(struct reply *r, const char *s, size_t n)
{
    const char *colon = memchr(s, ':', n);
    if (!colon) return 0; /* not a header we use; a lenient client reads on */
    size_t name_len = (size_t)(colon - s);
    const char *v = colon + 1, *end = s + n;
    while (v < end && (*v == ' ' || *v == '\t')) v++;
    while (end > v && (end[-1] == ' ' || end[-1] == '\t')) end--;
    size_t vn = (size_t)(end - v);

    if (name_len == 14 && strncasecmp(s, "Content-Length", 14) == 0) {
        if (vn == 0 || vn > 18) return -1;
        int64_t value = 0;
        for (size_t i = 0; i < vn; i++) {
            if (!isdigit((unsigned char)v[i])) return -1;
            value = value * 10 + (v[i] - '0');
        }
        if (r->content_length >= 0 && r->content_length != value) return -1;
        r->content_length = value;
    } else if (name_len == 10 && strncasecmp(s, "Connection", 10) == 0) {
        if (has_token(v, vn, "close")) r->close = 1;
        else if (has_token(v, vn, "keep-alive")) r->close = 0;
    } else if (name_len == 17 && strncasecmp(s, "Transfer-Encoding", 17) == 0) {
        return -1;
    }
    return 0;
}

/* The head ended (empty line): decide how the body is delimited. */
static void head_done(struct reply *r)
{
    if (r->status < 200) { /* interim: the final reply follows */
        uint64_t head = r->header_bytes;
        reply_init(r);
        r->header_bytes = head;
        return;
    }
    if (r->status == 204 || r->status == 304 || r->content_length == 0) {
        r->state = REPLY_DONE;
    } else if (r->content_length > 0) {
        r->remaining = (uint64_t)r->content_length;
        r->state = REPLY_BODY;
    } else {
        r->close = 1;
        r->state = REPLY_BODY_EOF;
    }
}

long reply_feed(struct reply *r, const char *buf, size_t len)
{
    size_t used = 0;
    while (used < len && r->state != REPLY_DONE) {
        const char *p = buf + used;
        size_t n = len - used;
        if (r->state == REPLY_BODY) {
            size_t take = n < r->remaining ? n : (size_t)r->remaining;
            r->remaining -= take;
            r->body_bytes += take;
            used += take;
            if (r->remaining == 0) r->state = REPLY_DONE;
            continue;
        }
        if (r->state == REPLY_BODY_EOF) {
            r->body_bytes += n;
            used += n;
            continue;
        }
        /* A head line: copy what fits until LF. */
        const char *lf = memchr(p, '\n', n);
        size_t take = lf ? (size_t)(lf - p) + 1 : n;
        if (r->line_len < REPLY_LINE_MAX) {
            size_t room = REPLY_LINE_MAX - r->line_len;
            memcpy(r->line + r->line_len, p, take < room ? take : room);
        }
        r->line_len += take;
        r->header_bytes += take;
        used += take;
        if (!lf) continue;
        size_t ln = r->line_len < REPLY_LINE_MAX ? r->line_len : REPLY_LINE_MAX;
        size_t full = r->line_len;
        r->line_len = 0;
        /* Strip LF and an optional CR (only when the whole line was kept is the end seen). */
        if (full <= REPLY_LINE_MAX) {
            ln--;
            if (ln > 0 && r->line[ln - 1] == '\r') ln--;
        }
        if (r->state == REPLY_STATUS) {
            if (full <= 2 && ln == 0) continue; /* stray CRLF before the status line */
            if (status_line(r, r->line, ln) < 0) return -1;
            r->state = REPLY_HEADERS;
        } else if (full <= 2 && ln == 0) {
            head_done(r);
        } else if (header_line(r, r->line, ln) < 0) {
            return -1;
        }
    }
    return (long)used;
}

int reply_eof(struct reply *r)
{
    if (r->state == REPLY_BODY_EOF) r->state = REPLY_DONE;
    return r->state == REPLY_DONE;
}
