/*
 * http.h - an incremental, zero-copy HTTP/1.x request-head parser (after picohttpparser).
 *
 * Pure: no I/O, no allocation. The request fields point into the caller's buffer, which must
 * outlive their use.
 */
#ifndef HTTP_H
#define HTTP_H

#include <stddef.h>

struct http_request {
    const char *method; /* the request method token, not NUL-terminated */
    size_t method_len;
    const char *target; /* the request target as sent (origin- or absolute-form) */
    size_t target_len;
    int major, minor; /* the HTTP version; the caller decides what it supports */
    int keep_alive;   /* 1 when the connection may stay open: the version's default, then the
                         Connection header's close / keep-alive tokens */
    int has_host;     /* a Host header was present */
    int has_body;     /* Content-Length > 0 or a Transfer-Encoding: the server does not read
                         bodies, so it answers and closes */
};

/*
 * Parses the request head at the start of buf[0, len).
 *
 * last_len is the length the previous call saw for this same, still incomplete head (0 on the
 * first call), so that a call after each read() scans only the new bytes for the head's end.
 *
 * Returns the length of the head (request line, header lines and the empty line) when it is
 * complete and well-formed, -2 when it is incomplete (read more and call again), -1 when it is
 * malformed. Bare LF line ends are accepted as well as CRLF. *req is written only on success.
 */
int http_parse_request(const char *buf, size_t len, size_t last_len, struct http_request *req);

/* Method of a parsed request: returns 1 for GET, 2 for HEAD, 3 for another method that the
 * server recognises but does not allow on static files (405), 0 for any other token (501). */
int http_method_kind(const char *m, size_t len);

#endif
