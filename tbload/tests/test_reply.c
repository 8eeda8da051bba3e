/* test_reply.c - the reply parser: framing, every split point, malformed replies, EOF. */
#include "check.h"
#include "reply.h"

#include <string.h>

static const char *OK1 = "HTTP/1.1 200 OK\r\nServer: userver\r\nContent-Length: 1\r\n"
                         "Connection: close\r\n\r\nx";

static long feed(struct reply *r, const char *s)
{
    return reply_feed(r, s, strlen(s));
}

static void whole_replies(void)
{
    struct reply r;
    reply_init(&r);
    CHECK(feed(&r, OK1) == (long)strlen(OK1));
    CHECK(r.state == REPLY_DONE && r.status == 200 && r.close == 1);
    CHECK(r.content_length == 1 && r.body_bytes == 1);
    CHECK(r.header_bytes == strlen(OK1) - 1);

    /* Keep-alive: a second reply behind the first is not consumed. */
    const char *two = "HTTP/1.1 404 Not Found\r\ncontent-length: 3\r\n\r\nabcHTTP/1.1 200 OK\r\n";
    long first = (long)(strstr(two, "abc") - two) + 3;
    reply_init(&r);
    CHECK(feed(&r, two) == first);
    CHECK(r.state == REPLY_DONE && r.status == 404 && r.close == 0 && r.body_bytes == 3);
    CHECK(feed(&r, two + first) == 0); /* done: takes nothing more */

    /* HTTP/1.0 closes unless it says keep-alive; bare LF line ends. */
    reply_init(&r);
    CHECK(feed(&r, "HTTP/1.0 200 OK\nContent-Length: 0\n\n") > 0);
    CHECK(r.state == REPLY_DONE && r.close == 1 && r.minor == 0);
    reply_init(&r);
    CHECK(feed(&r, "HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 2\r\n\r\nab") >
          0);
    CHECK(r.state == REPLY_DONE && r.close == 0);
    reply_init(&r);
    CHECK(feed(&r, "HTTP/1.1 200 OK\r\nConnection: foo, CLOSE\r\nContent-Length: 0\r\n\r\n"));
    CHECK(r.close == 1);

    /* No body for 204 and 304 whatever they announce; 1xx is skipped, its bytes counted. */
    reply_init(&r);
    CHECK(feed(&r, "HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n") > 0);
    CHECK(r.state == REPLY_DONE && r.body_bytes == 0);
    reply_init(&r);
    const char *cont = "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi";
    CHECK(feed(&r, cont) == (long)strlen(cont));
    CHECK(r.state == REPLY_DONE && r.status == 200 && r.header_bytes == strlen(cont) - 2);

    /* No Content-Length: the body runs to the close. */
    reply_init(&r);
    CHECK(feed(&r, "HTTP/1.1 200 OK\r\n\r\nsome body") == 28);
    CHECK(r.state == REPLY_BODY_EOF && r.close == 1 && r.body_bytes == 9);
    CHECK(feed(&r, " more") == 5 && r.body_bytes == 14);
    CHECK(reply_eof(&r) == 1 && r.state == REPLY_DONE);
    CHECK(reply_eof(&r) == 1);
}

static void every_split(void)
{
    /* The same reply fed in two pieces split at every offset, and one byte at a time. */
    size_t len = strlen(OK1);
    for (size_t cut = 0; cut <= len; cut++) {
        struct reply r;
        reply_init(&r);
        long a = reply_feed(&r, OK1, cut);
        long b = reply_feed(&r, OK1 + cut, len - cut);
        CHECK(a == (long)cut && b == (long)(len - cut));
        CHECK(r.state == REPLY_DONE && r.status == 200 && r.body_bytes == 1 && r.close == 1);
        CHECK(r.header_bytes == len - 1);
    }
    struct reply r;
    reply_init(&r);
    int ok = 1;
    for (size_t i = 0; i < len; i++) {
        if (reply_feed(&r, OK1 + i, 1) != 1) ok = 0;
        if (i + 1 < len && r.state == REPLY_DONE) ok = 0;
    }
    CHECK(ok && r.state == REPLY_DONE && r.content_length == 1);
}

static void long_lines(void)
{
    /* A header line longer than what is kept is skipped; the next ones still count. */
    char buf[2048];
    char big[600];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    snprintf(buf, sizeof buf, "HTTP/1.1 200 OK\r\nX-Long: %s\r\nContent-Length: 4\r\n\r\nbody",
             big);
    struct reply r;
    reply_init(&r);
    CHECK(feed(&r, buf) == (long)strlen(buf));
    CHECK(r.state == REPLY_DONE && r.body_bytes == 4);
    /* A large body arrives in pieces; the count is exact. */
    reply_init(&r);
    CHECK(feed(&r, "HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n") > 0);
    char chunk[4096];
    memset(chunk, 'z', sizeof chunk);
    size_t got = 0;
    while (r.state != REPLY_DONE) got += (size_t)reply_feed(&r, chunk, sizeof chunk);
    CHECK(got == 1000000 && r.body_bytes == 1000000);
}

static void malformed(void)
{
    const char *bad[] = {
        "HTTP/2 200 OK\r\n\r\n",
        "HTTX/1.1 200 OK\r\n\r\n",
        "HTTP/1.1 20 OK\r\n\r\n",
        "HTTP/1.1 2000 OK\r\n\r\n",
        "HTTP/1.1 099 Low\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 1x\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length:\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct reply r;
        reply_init(&r);
        CHECK(feed(&r, bad[i]) == -1);
    }
    struct reply r;
    reply_init(&r); /* the same Content-Length twice is fine */
    CHECK(feed(&r, "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx") > 0);
    CHECK(r.state == REPLY_DONE);
}

static void cut_short(void)
{
    struct reply r;
    reply_init(&r);
    CHECK(reply_eof(&r) == 0); /* nothing at all */
    reply_init(&r);
    feed(&r, "HTTP/1.1 200 OK\r\nContent-Len");
    CHECK(reply_eof(&r) == 0); /* inside the head */
    reply_init(&r);
    feed(&r, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nab");
    CHECK(reply_eof(&r) == 0 && r.state == REPLY_BODY && r.remaining == 3);
}

int main(void)
{
    whole_replies();
    every_split();
    long_lines();
    malformed();
    cut_short();
    return check_done("test_reply");
}
