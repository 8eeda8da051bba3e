/*
 * fuzz_http.c - libFuzzer target for the request parser and the path rules.
 *
 * Checks more than "no crash": a request parsed in two reads (split at every point the input
 * chooses) gives the same answer as in one, the fields point inside the buffer, and a
 * normalized path never holds a ".." segment, an empty segment or a leading slash.
 *
 * Framing (RFC 9112 6): the input is also read as a connection's byte stream, request after
 * request, as conn.c does (the next request is parsed only while keep_alive holds), and as the
 * header lines of a POST whose body is a whole "GET /smuggled" request. An oracle of its own
 * reads every parsed head's lines: a head that announces a body (a non-zero Content-Length, or
 * a Transfer-Encoding) must end the stream - so no request is ever parsed out of a body - and
 * one with both headers must be refused; a "close" token must end it too.
 */
#include "files.h"
#include "http.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void check_path(const char *t, size_t len)
{
    char out[512];
    int n = path_normalize(t, len, out, sizeof out);
    if (n < 0) return;
    if ((size_t)n != strlen(out) || out[0] == '/') abort();
    for (const char *seg = out;;) {
        const char *slash = strchr(seg, '/');
        size_t sl = slash ? (size_t)(slash - seg) : strlen(seg);
        if (sl == 0 || (sl == 2 && seg[0] == '.' && seg[1] == '.') || (sl == 1 && seg[0] == '.'))
            abort();
        if (!slash) break;
        seg = slash + 1;
    }
}


static int lower(int c)
{
    return c >= 'A' && c <= 'Z' ? c + 32 : c;
}

static int is_sep(char c)
{
    return c == ' ' || c == '\t' || c == ',';
}

/* Case-insensitive: does [p, e) begin with the lower-case literal lit? */
static int starts(const char *p, const char *e, const char *lit)
{
    for (; *lit; p++, lit++)
        if (p >= e || lower((unsigned char)*p) != *lit) return 0;
    return 1;
}

/* The oracle: what the header lines of head[0, len) say, read independently of the parser. */
struct said {
    int cl_nonzero, cl, te, close;
};

static struct said oracle(const char *head, size_t len)
{
    struct said o = {0, 0, 0, 0};
    const char *p = head, *end = head + len;
    while (p < end && (*p == '\r' || *p == '\n')) p++;  /* leading empty lines */
    const char *nl = memchr(p, '\n', (size_t)(end - p)); /* the request line */
    for (p = nl ? nl + 1 : end; p < end;) {
        const char *e = memchr(p, '\n', (size_t)(end - p)), *next = e ? e + 1 : end;
        if (!e) e = end;
        const char *colon = memchr(p, ':', (size_t)(e - p));
        if (colon) {
            size_t nlen = (size_t)(colon - p);
            if (nlen == 14 && starts(p, colon, "content-length")) {
                o.cl = 1;
                for (const char *q = colon; q < e; q++)
                    if (*q >= '1' && *q <= '9') o.cl_nonzero = 1;
            } else if (nlen == 17 && starts(p, colon, "transfer-encoding")) {
                o.te = 1;
            } else if (nlen == 10 && starts(p, colon, "connection")) {
                for (const char *q = colon + 1; q + 5 <= e; q++)
                    if (starts(q, e, "close") && (q == colon + 1 || is_sep(q[-1])) &&
                        (q + 5 == e || is_sep(q[5]) || q[5] == '\r'))
                        o.close = 1;
            }
        }
        p = next;
    }
    return o;
}

/* Parses buf[0, len) as a connection would, request after request while keep_alive holds,
 * checking every head against the oracle. Returns how many requests were parsed. */
static int stream(const char *buf, size_t len)
{
    size_t pos = 0;
    int count = 0;
    while (pos < len) {
        struct http_request r;
        int hl = http_parse_request(buf + pos, len - pos, 0, &r);
        if (hl <= 0) break;
        if ((size_t)hl > len - pos) abort();
        struct said o = oracle(buf + pos, (size_t)hl);
        if (o.cl && o.te) abort();                      /* must have been refused */
        if ((o.cl_nonzero || o.te) && (!r.has_body || r.keep_alive)) abort();
        if (o.te != r.has_te) abort();
        if (o.close && r.keep_alive) abort();
        count++;
        pos += (size_t)hl;
        if (!r.keep_alive) break; /* conn.c answers, then closes: nothing more is parsed */
    }
    return count;
}

/* The input as the header lines of a POST whose body is a whole request. When the input makes
 * the head announce a body, the smuggled request must never be parsed. */
static void smuggle(const uint8_t *data, size_t size)
{
    static const char pre[] = "POST / HTTP/1.1\r\nHost: a\r\n";
    static const char post[] = "\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n";
    size_t len = sizeof pre - 1 + size + sizeof post - 1;
    char *buf = malloc(len);
    memcpy(buf, pre, sizeof pre - 1);
    memcpy(buf + sizeof pre - 1, data, size);
    memcpy(buf + sizeof pre - 1 + size, post, sizeof post - 1);
    struct http_request r;
    int hl = http_parse_request(buf, len, 0, &r);
    if (hl > 0 && r.has_body) {
        /* Everything after this head is body: the stream must stop right here. */
        if (stream(buf, len) != 1) abort();
    } else {
        stream(buf, len);
    }
    free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    size_t split = data[0] % size; /* where the first read ends */
    data++, size--;
    char *buf = malloc(size ? size : 1); /* exact size: ASan sees any read past the end */
    memcpy(buf, data, size);
    struct http_request r1, r2;
    int whole = http_parse_request(buf, size, 0, &r1);
    if (whole > 0) {
        if ((size_t)whole > size) abort();
        if (r1.method < buf || r1.method + r1.method_len > buf + whole) abort();
        if (r1.target < buf || r1.target + r1.target_len > buf + whole || !r1.target_len) abort();
        check_path(r1.target, r1.target_len);
    }
    if (split > size) split = size;
    int first = http_parse_request(buf, split, 0, &r2);
    int second = first == -2 ? http_parse_request(buf, size, split, &r2) : first;
    /* A complete head within the first read is the same head; otherwise same overall answer. */
    if (first > 0 && first != whole) abort();
    if (first == -2 && second != whole) abort();
    if (whole > 0 && second > 0 &&
        (r1.target_len != r2.target_len || r1.keep_alive != r2.keep_alive ||
         r1.has_body != r2.has_body))
        abort();
    check_path(buf, size);
    stream(buf, size);
    free(buf);
    smuggle(data, size);
    return 0;
}
