/* test_http.c - the request parser: complete, partial, malformed and incremental input. */
#include "check.h"
#include "http.h"

#include <string.h>

static int parse(const char *s, struct http_request *r)
{
    return http_parse_request(s, strlen(s), 0, r);
}

static int eq(const char *p, size_t n, const char *lit)
{
    return n == strlen(lit) && memcmp(p, lit, n) == 0;
}

static void complete_requests(void)
{
    struct http_request r;
    const char *get = "GET /dir00000/class0_1 HTTP/1.1\r\nHost: x\r\nUser-Agent: t\r\n\r\n";
    CHECK(parse(get, &r) == (int)strlen(get));
    CHECK(eq(r.method, r.method_len, "GET"));
    CHECK(eq(r.target, r.target_len, "/dir00000/class0_1"));
    CHECK(r.major == 1 && r.minor == 1);
    CHECK(r.keep_alive == 1 && r.has_host == 1 && r.has_body == 0);

    CHECK(parse("GET / HTTP/1.0\r\n\r\n", &r) == 18);
    CHECK(r.keep_alive == 0 && r.minor == 0 && r.has_host == 0);
    CHECK(parse("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", &r) > 0 && r.keep_alive);
    CHECK(parse("GET / HTTP/1.1\r\nConnection: TE, close\r\n\r\n", &r) > 0 && !r.keep_alive);
    CHECK(parse("GET / HTTP/1.1\nHost: a\n\n", &r) == 24); /* bare LF */
    CHECK(parse("HEAD /a?b=c HTTP/1.1\r\nhost:a\r\n\r\n", &r) > 0);
    CHECK(eq(r.target, r.target_len, "/a?b=c") && r.has_host);
    CHECK(parse("POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\n", &r) > 0 && r.has_body);
    CHECK(parse("GET / HTTP/1.1\r\nContent-Length: 0\r\n\r\n", &r) > 0 && !r.has_body);
    CHECK(parse("GET / HTTP/2.0\r\n\r\n", &r) > 0 && r.major == 2);
    CHECK(parse("GET / HTTP/1.1\r\nX-Empty:\r\n\r\n", &r) > 0);
}

static void pipelined(void)
{
    struct http_request r;
    const char *two = "GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n";
    int n = parse(two, &r);
    CHECK(n == 28 && eq(r.target, r.target_len, "/a"));
    CHECK(http_parse_request(two + n, strlen(two) - (size_t)n, 0, &r) == 28);
    CHECK(eq(r.target, r.target_len, "/b"));
}

static void partial_and_incremental(void)
{
    struct http_request r;
    const char *full = "GET /x HTTP/1.1\r\nHost: h\r\n\r\n";
    size_t len = strlen(full);
    for (size_t i = 0; i < len; i++) CHECK(http_parse_request(full, i, 0, &r) == -2);
    /* Byte by byte, each call told how much the previous one saw: same answer at the end. */
    int res = -2;
    for (size_t i = 1; i <= len; i++) {
        res = http_parse_request(full, i, i - 1, &r);
        if (i < len) CHECK(res == -2);
    }
    CHECK(res == (int)len && eq(r.target, r.target_len, "/x"));
    /* The head's end split across reads at every position of "\r\n\r\n". */
    for (size_t cut = len - 4; cut < len; cut++)
        CHECK(http_parse_request(full, len, cut, &r) == (int)len);
}

static void malformed(void)
{
    struct http_request r;
    const char *bad[] = {
        "GET\r\n\r\n",
        "GET /\r\n\r\n", /* HTTP/0.9 */
        "GET / HTTP/1.1 extra\r\n\r\n",
        "GET  / HTTP/1.1\r\n\r\n",
        "G(T / HTTP/1.1\r\n\r\n",
        "GET / FTP/1.1\r\n\r\n",
        "GET / HTTP/1.x\r\n\r\n",
        "GET / HTTP/11\r\n\r\n",
        "GET /a\x01 HTTP/1.1\r\n\r\n",
        "GET / HTTP/1.1\r\nNo colon\r\n\r\n",
        "GET / HTTP/1.1\r\n: empty name\r\n\r\n",
        "GET / HTTP/1.1\r\nA: b\r\n folded\r\n\r\n",
        "GET / HTTP/1.1\r\nA: b\x01c\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", /* RFC 9112 3.2: two Hosts */
        "GET / HTTP/1.1\r\nHost: a\r\nhost: a\r\n\r\n",  /* even equal, any case */
        "GET / HTTP/1.0\r\nHOST: a\r\nX: y\r\nHost: b\r\n\r\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        int rc = parse(bad[i], &r);
        if (rc != -1) fprintf(stderr, "case %zu gave %d\n", i, rc);
        CHECK(rc == -1);
    }
}

/* RFC 9112 2.2: empty lines before the request line are skipped and counted. */
static void leading_empty_lines(void)
{
    struct http_request r;
    CHECK(parse("\r\nGET / HTTP/1.1\r\n\r\n", &r) == 20);
    CHECK(parse("\r\n\r\nGET /a HTTP/1.1\r\nHost: x\r\n\r\n", &r) == 32);
    CHECK(eq(r.target, r.target_len, "/a") && r.has_host);
    CHECK(parse("\n\n\nGET / HTTP/1.0\n\n", &r) == 19);
    /* Only empty lines so far: the request line is still to come, not a malformed head. */
    CHECK(parse("\r\n", &r) == -2);
    CHECK(parse("\r\n\r\n", &r) == -2);
    CHECK(parse("\r\n\r\n\r\n\n", &r) == -2);
    /* Incrementally: the empty lines in one read, the request in the next. */
    const char *two = "\r\n\r\nGET /b HTTP/1.1\r\n\r\n";
    CHECK(http_parse_request(two, 4, 0, &r) == -2);
    CHECK(http_parse_request(two, 12, 4, &r) == -2);
    CHECK(http_parse_request(two, strlen(two), 12, &r) == (int)strlen(two));
    CHECK(eq(r.target, r.target_len, "/b"));
    /* After a pipelined request, as some clients send after a body. */
    const char *pipe = "GET /a HTTP/1.1\r\n\r\n\r\nGET /b HTTP/1.1\r\n\r\n";
    int n = parse(pipe, &r);
    CHECK(n == 19);
    CHECK(http_parse_request(pipe + n, strlen(pipe) - (size_t)n, 0, &r) == 21);
    CHECK(eq(r.target, r.target_len, "/b"));
}

/* Connection: "close" wins over "keep-alive", in one list or over several lines. */
static void connection_header(void)
{
    struct http_request r;
    CHECK(parse("GET / HTTP/1.1\r\nConnection: close, keep-alive\r\n\r\n", &r) > 0);
    CHECK(r.keep_alive == 0);
    CHECK(parse("GET / HTTP/1.1\r\nConnection: keep-alive, close\r\n\r\n", &r) > 0);
    CHECK(r.keep_alive == 0);
    CHECK(parse("GET / HTTP/1.1\r\nConnection: close\r\nConnection: keep-alive\r\n\r\n", &r) > 0);
    CHECK(r.keep_alive == 0);
    CHECK(parse("GET / HTTP/1.0\r\nConnection: keep-alive\r\nConnection: Close\r\n\r\n", &r) > 0);
    CHECK(r.keep_alive == 0);
    CHECK(parse("GET / HTTP/1.0\r\nConnection: upgrade,keep-alive\r\n\r\n", &r) > 0);
    CHECK(r.keep_alive == 1);
    CHECK(parse("GET / HTTP/1.1\r\nConnection: closed\r\n\r\n", &r) > 0); /* not the token */
    CHECK(r.keep_alive == 1);
}

/* RFC 9112 6 and RFC 9110 8.6: Content-Length and Transfer-Encoding. */
static void framing(void)
{
    struct http_request r;
    CHECK(parse("GET / HTTP/1.1\r\n\r\n", &r) > 0);
    CHECK(r.content_length == -1 && !r.has_body && !r.has_te && r.keep_alive);
    CHECK(parse("GET / HTTP/1.1\r\nContent-Length: 0\r\n\r\n", &r) > 0);
    CHECK(r.content_length == 0 && !r.has_body && r.keep_alive);
    CHECK(parse("POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\n", &r) > 0);
    CHECK(r.content_length == 5 && r.has_body && !r.has_te);
    CHECK(r.keep_alive == 0); /* the body is never read: nothing after it may be parsed */
    CHECK(parse("GET / HTTP/1.0\r\nConnection: keep-alive\r\nContent-Length: 1\r\n\r\n", &r) > 0);
    CHECK(r.has_body && r.keep_alive == 0);
    CHECK(parse("GET / HTTP/1.1\r\nContent-Length: 007\r\n\r\n", &r) > 0); /* 1*DIGIT */
    CHECK(r.content_length == 7);
    CHECK(parse("GET / HTTP/1.1\r\nContent-Length: 9223372036854775807\r\n\r\n", &r) > 0);
    CHECK(r.content_length == 9223372036854775807LL);
    /* Identical values, as a list or repeated lines: accepted (RFC 9110 8.6 allows it). */
    CHECK(parse("GET / HTTP/1.1\r\nContent-Length: 5, 5\r\n\r\n", &r) > 0);
    CHECK(r.content_length == 5 && r.has_body && !r.keep_alive);
    CHECK(parse("GET / HTTP/1.1\r\nContent-Length: 5\r\ncontent-length:5\r\n\r\n", &r) > 0);
    CHECK(r.content_length == 5);
    CHECK(parse("GET / HTTP/1.1\r\nContent-Length: 0,0\r\n\r\n", &r) > 0 && r.keep_alive);
    /* Transfer-Encoding alone: well-formed, a body is announced, the caller answers 501. */
    CHECK(parse("GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", &r) > 0);
    CHECK(r.has_te && r.has_body && !r.keep_alive && r.content_length == -1);
    CHECK(parse("GET / HTTP/1.1\r\ntransfer-encoding: gzip, chunked\r\n\r\n", &r) > 0);
    CHECK(r.has_te && r.has_body && !r.keep_alive);
    CHECK(parse("GET / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", &r) > 0 && r.has_te);

    const char *bad[] = {
        "GET / HTTP/1.1\r\nContent-Length: 1x\r\n\r\n",
        "GET / HTTP/1.1\r\nContent-Length:\r\n\r\n",
        "GET / HTTP/1.1\r\nContent-Length: +5\r\n\r\n",
        "GET / HTTP/1.1\r\nContent-Length: -5\r\n\r\n",
        "GET / HTTP/1.1\r\nContent-Length: -0\r\n\r\n",
        "GET / HTTP/1.1\r\nContent-Length: 0x5\r\n\r\n",
        "GET / HTTP/1.1\r\nContent-Length: 5 5\r\n\r\n",
        "GET / HTTP/1.1\r\nContent-Length: 5.0\r\n\r\n",
        "GET / HTTP/1.1\r\nContent-Length: 9223372036854775808\r\n\r\n",   /* LLONG_MAX + 1 */
        "GET / HTTP/1.1\r\nContent-Length: 18446744073709551621\r\n\r\n",  /* 2^64 + 5 */
        "GET / HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n\r\n",
        "GET / HTTP/1.1\r\nContent-Length: 5, 6\r\n\r\n",
        "GET / HTTP/1.1\r\nContent-Length: 5,\r\n\r\n",
        "GET / HTTP/1.1\r\nContent-Length: ,5\r\n\r\n",
        "GET / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
        "GET / HTTP/1.1\r\nContent-Length: 0\r\nContent-Length: 5\r\n\r\n",
        "GET / HTTP/1.1\r\nContent-Length : 5\r\n\r\n", /* RFC 9112 5.1: space before colon */
        "GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n",
        "GET / HTTP/1.1\r\nContent-Length: 0\r\nTransfer-Encoding: chunked\r\n\r\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        int rc = parse(bad[i], &r);
        if (rc != -1) fprintf(stderr, "framing case %zu gave %d\n", i, rc);
        CHECK(rc == -1);
    }
    /* A body holding a whole request: the head is parsed, keep_alive forbids going on. */
    const char *smuggle = "POST / HTTP/1.1\r\nContent-Length: 28\r\n\r\n"
                          "GET /x HTTP/1.1\r\nHost: h\r\n\r\n";
    int n = parse(smuggle, &r);
    CHECK(n == 39 && r.has_body && r.keep_alive == 0);
}

static void methods(void)
{
    CHECK(http_method_kind("GET", 3) == 1);
    CHECK(http_method_kind("HEAD", 4) == 2);
    CHECK(http_method_kind("POST", 4) == 3);
    CHECK(http_method_kind("DELETE", 6) == 3);
    CHECK(http_method_kind("BREW", 4) == 0);
    CHECK(http_method_kind("get", 3) == 0); /* methods are case-sensitive */
}

int main(void)
{
    complete_requests();
    pipelined();
    partial_and_incremental();
    malformed();
    leading_empty_lines();
    connection_header();
    framing();
    methods();
    return check_done("test_http");
}
