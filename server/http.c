/* http.c - request-head parser; see http.h for the contract. */
#include "http.h"

#include <limits.h>
#include <string.h>

/* RFC 9110 tchar: the characters of a token (method, header name). */
static int is_tchar(unsigned char c)
{
    static const char extra[] = "!#$%&'*+-.^_`|~";
    if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) return 1;
    return c != 0 && strchr(extra, c) != NULL;
}

static int lower(int c)
{
    return c >= 'A' && c <= 'Z' ? c + 32 : c;
}

static int ieq(const char *a, size_t alen, const char *lit)
{
    size_t n = strlen(lit);
    if (alen != n) return 0;
    for (size_t i = 0; i < n; i++)
        if (lower((unsigned char)a[i]) != lit[i]) return 0;
    return 1;
}

/* Returns the length of the head if buf holds its end (an empty line), else 0. Only bytes from
 * `from` on can complete it, so a re-call after a partial read scans just the new ones. */
static size_t find_head_end(const char *buf, size_t len, size_t from)
{
    size_t i = from > 2 ? from - 2 : 0;
    while (i < len) {
        const char *nl = memchr(buf + i, '\n', len - i);
        if (!nl) return 0;
        i = (size_t)(nl - buf) + 1;
        if (i < len && buf[i] == '\n') return i + 1;
        if (i + 1 < len && buf[i] == '\r' && buf[i + 1] == '\n') return i + 2;
    }
    return 0;
}

/* Splits off one line ending at LF (CR before it dropped). Returns the line's end, or NULL. */
static const char *line_end(const char *p, const char *end, const char **next)
{
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    if (!nl) return NULL;
    *next = nl + 1;
    return nl > p && nl[-1] == '\r' ? nl - 1 : nl;
}

static int parse_version(const char *p, const char *e, struct http_request *r)
{
    if (e - p != 8 || memcmp(p, "HTTP/", 5) != 0 || p[6] != '.') return -1;
    if (p[5] < '0' || p[5] > '9' || p[7] < '0' || p[7] > '9') return -1;
    r->major = p[5] - '0';
    r->minor = p[7] - '0';
    return 0;
}

static int parse_request_line(const char *p, const char *e, struct http_request *r)
{
    const char *s = p;
    while (p < e && is_tchar((unsigned char)*p)) p++;
    if (p == s || p == e || *p != ' ') return -1;
    r->method = s;
    r->method_len = (size_t)(p - s);
    s = ++p;
    while (p < e && (unsigned char)*p > ' ' && (unsigned char)*p < 0x7f) p++;
    if (p == s || p == e || *p != ' ') return -1;
    r->target = s;
    r->target_len = (size_t)(p - s);
    return parse_version(p + 1, e, r);
}

/* Connection header tokens seen so far; the version's default is applied at the end. */
struct conn_tokens {
    int close, keep_alive;
};

/* Notes a Connection header's comma-separated close / keep-alive tokens. */
static void connection_tokens(const char *v, const char *e, struct conn_tokens *t)
{
    while (v < e) {
        while (v < e && (*v == ' ' || *v == '\t' || *v == ',')) v++;
        const char *s = v;
        while (v < e && *v != ',' && *v != ' ' && *v != '\t') v++;
        if (ieq(s, (size_t)(v - s), "close"))
            t->close = 1;
        else if (ieq(s, (size_t)(v - s), "keep-alive"))
            t->keep_alive = 1;
    }
}

/* Parses a Content-Length value: a comma-separated list of one or more equal decimal numbers
 * (RFC 9110 8.6), each fitting a long long, equal as well to a value already seen (*cl, -1 if
 * none). Returns 0 with *cl set, or -1 (a sign, another character, an empty element, overflow,
 * differing values). */
static int content_length(const char *v, const char *e, long long *cl)
{
    for (;;) {
        while (v < e && (*v == ' ' || *v == '\t')) v++;
        const char *s = v;
        long long n = 0;
        for (; v < e && *v >= '0' && *v <= '9'; v++) {
            if (n > (LLONG_MAX - (*v - '0')) / 10) return -1;
            n = n * 10 + (*v - '0');
        }
        if (v == s || (*cl >= 0 && n != *cl)) return -1;
        *cl = n;
        while (v < e && (*v == ' ' || *v == '\t')) v++;
        if (v == e) return 0;
        if (*v++ != ',') return -1;
    }
}

static int header_line(const char *p, const char *e, struct http_request *r,
                       struct conn_tokens *t)
{
    const char *name = p;
    while (p < e && is_tchar((unsigned char)*p)) p++;
    size_t nlen = (size_t)(p - name);
    if (nlen == 0 || p == e || *p != ':') return -1;
    p++;
    while (p < e && (*p == ' ' || *p == '\t')) p++;
    const char *v = p, *ve = e;
    while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t')) ve--;
    for (const char *q = v; q < ve; q++)
        if ((unsigned char)*q < ' ' && *q != '\t') return -1;
    if (ieq(name, nlen, "host")) {
        if (r->has_host) return -1; /* RFC 9112 3.2: more than one Host line is a 400 */
        r->has_host = 1;
    } else if (ieq(name, nlen, "connection")) {
        connection_tokens(v, ve, t);
    } else if (ieq(name, nlen, "content-length")) {
        if (content_length(v, ve, &r->content_length) < 0) return -1;
    } else if (ieq(name, nlen, "transfer-encoding")) {
        r->has_te = 1;
    }
    return 0;
}

int http_parse_request(const char *buf, size_t len, size_t last_len, struct http_request *req)
{
    size_t skip = 0; /* RFC 9112 2.2: empty lines before the request line are ignored */
    while (skip < len && (buf[skip] == '\r' || buf[skip] == '\n')) skip++;
    if (skip == len) return -2;
    size_t head = find_head_end(buf + skip, len - skip, last_len > skip ? last_len - skip : 0);
    if (head == 0) return -2;
    head += skip;
    const char *p = buf + skip, *end = buf + head, *next;
    struct http_request r = {.content_length = -1};
    struct conn_tokens t = {0, 0};
    const char *e = line_end(p, end, &next);
    if (!e || parse_request_line(p, e, &r) < 0) return -1;
    for (p = next; p < end;) {
        e = line_end(p, end, &next);
        if (!e) return -1;
        if (e == p) break;                      /* the empty line */
        if (*p == ' ' || *p == '\t') return -1; /* obsolete line folding */
        if (header_line(p, e, &r, &t) < 0) return -1;
        p = next;
    }
    if (r.has_te && r.content_length >= 0) return -1; /* RFC 9112 6.1: smuggling, or worse */
    r.has_body = r.has_te || r.content_length > 0;
    r.keep_alive = !t.close && !r.has_body &&
                   ((r.major == 1 && r.minor >= 1) || t.keep_alive);
    *req = r;
    return (int)head;
}

int http_method_kind(const char *m, size_t len)
{
    static const char *const known[] = {"POST",    "PUT",   "DELETE", "PATCH",
                                        "OPTIONS", "TRACE", "CONNECT"};
    if (len == 3 && memcmp(m, "GET", 3) == 0) return 1;
    if (len == 4 && memcmp(m, "HEAD", 4) == 0) return 2;
    for (size_t i = 0; i < sizeof known / sizeof *known; i++)
        if (len == strlen(known[i]) && memcmp(m, known[i], len) == 0) return 3;
    return 0;
}
