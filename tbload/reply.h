/*
 * reply.h - an incremental HTTP/1.x reply parser for a client that reads into a shared buffer.
 *
 * Pure: no I/O, no allocation. It keeps no pointer into the caller's buffer between calls (the
 * buffer is reused for every connection), only a short copy of the line being read, so a reply
 * may arrive split anywhere, one byte at a time included.
 *
 * What it needs of a reply: the status line, the end of the head, and where the body ends -
 * Content-Length, or the end of the stream when there is none (RFC 9112 6.3: a reply to GET
 * without Content-Length is delimited by the close). 1xx interim replies are skipped; 204 and
 * 304 have no body. Transfer-Encoding (chunked) is not implemented: such a reply is malformed
 * here (-1), which the caller counts as an error rather than misread.
 */
#ifndef REPLY_H
#define REPLY_H

#include <stddef.h>
#include <stdint.h>

#define REPLY_LINE_MAX 128 /* bytes of a head line kept for matching; longer lines are cut */

enum reply_state {
    REPLY_STATUS,    /* reading the status line */
    REPLY_HEADERS,   /* reading header lines */
    REPLY_BODY,      /* reading Content-Length bytes of body */
    REPLY_BODY_EOF,  /* reading body until the stream ends */
    REPLY_DONE,      /* complete */
};

struct reply {
    enum reply_state state;
    int status;              /* the final status code, once the status line is read */
    int minor;               /* HTTP/1.<minor> */
    int close;               /* 1 when the server will close after this reply: HTTP/1.0 without
                                keep-alive, "Connection: close", or a body delimited by close */
    int64_t content_length;  /* -1 until a Content-Length header is read */
    uint64_t header_bytes;   /* status line, header lines and the empty line (1xx included) */
    uint64_t body_bytes;     /* body bytes read so far */
    uint64_t remaining;      /* body bytes still due (REPLY_BODY) */
    size_t line_len;         /* bytes of the current line seen (may exceed what is kept) */
    char line[REPLY_LINE_MAX];
};

/* Readies r for the next reply (also between replies on one connection). */
void reply_init(struct reply *r);

/*
 * Feeds buf[0, len) to the parser. Returns the number of bytes that belong to this reply: len,
 * or fewer when the reply ends inside buf (state REPLY_DONE; the rest is not this reply's).
 * Returns -1 when the reply is malformed: a bad status line, a bad or conflicting
 * Content-Length, a Transfer-Encoding. Once DONE, returns 0.
 */
long reply_feed(struct reply *r, const char *buf, size_t len);

/*
 * The stream ended. Returns 1 when that completes the reply (state becomes REPLY_DONE: a body
 * delimited by the close, or DONE already), 0 when the reply is cut short.
 */
int reply_eof(struct reply *r);

#endif
