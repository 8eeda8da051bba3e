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
    int keep_alive;   /* 1 when the connection may carry another request after this one: the
                         version's default, then the Connection header's tokens, "close" winning
                         over "keep-alive" in any order and over several lines; always 0 when a
                         body is announced (has_body), so that the bytes after the head, which
                         the server never reads as a body, are never parsed as a request */
    int has_host;     /* a Host header was present (exactly one: two are malformed) */
    int has_body;     /* Content-Length > 0 or a Transfer-Encoding: the server does not read
                         bodies, so it answers and closes */
    int has_te;       /* a Transfer-Encoding header was present (without Content-Length): the
                         server implements no transfer coding and answers 501 (RFC 9112 6.1) */
    long long content_length; /* the Content-Length value, -1 when there was none */
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
 *
 * Empty lines (any run of CR and LF) before the request line are skipped, as RFC 9112 2.2 asks,
 * and counted in the length returned; a buffer holding nothing else is incomplete (-2).
 *
 * Framing (RFC 9112 6): a Content-Length must be one or more decimal digits with a value that
 * fits in a long long; a list of values ("5, 5") or repeated header lines are accepted only
 * when every value is the same (RFC 9110 8.6); anything else - a sign, hex, an empty element,
 * overflow, differing values - is malformed (-1), and so is a request with both
 * Transfer-Encoding and Content-Length. A Transfer-Encoding alone is well-formed: has_te tells
 * the caller to answer 501.
 *
 * A request with more than one Host header line, in any case, is malformed (-1): RFC 9112 3.2
 * asks for 400, as nginx answers.
 */
int http_parse_request(const char *buf, size_t len, size_t last_len, struct http_request *req);

/* Method of a parsed request: returns 1 for GET, 2 for HEAD, 3 for another method that the
 * server recognises but does not allow on static files (405), 0 for any other token (501). */
int http_method_kind(const char *m, size_t len);

#endif
