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
    CHECK(parse("\r\nGET / HTTP/1.1\r\n\r\n", &r) == 20);  /* a leading empty line */
    CHECK(parse("HEAD /a?b=c HTTP/1.1\r\nhost:a\r\n\r\n", &r) > 0);
    CHECK(eq(r.target, r.target_len, "/a?b=c") && r.has_host);
    CHECK(parse("POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\n", &r) > 0 && r.has_body);
    CHECK(parse("GET / HTTP/1.1\r\nContent-Length: 0\r\n\r\n", &r) > 0 && !r.has_body);
    CHECK(parse("GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", &r) > 0 && r.has_body);
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
        "\r\n\r\n",
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
        "GET / HTTP/1.1\r\nContent-Length: 1x\r\n\r\n",
        "GET / HTTP/1.1\r\nContent-Length:\r\n\r\n",
        "GET / HTTP/1.1\r\nA: b\x01c\r\n\r\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        int rc = parse(bad[i], &r);
        if (rc != -1) fprintf(stderr, "case %zu gave %d\n", i, rc);
        CHECK(rc == -1);
    }
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
    methods();
    return check_done("test_http");
}
