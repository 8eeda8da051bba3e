/*
 * fuzz_http.c - libFuzzer target for the request parser and the path rules.
 *
 * Checks more than "no crash": a request parsed in two reads (split at every point the input
 * chooses) gives the same answer as in one, the fields point inside the buffer, and a
 * normalized path never holds a ".." segment, an empty segment or a leading slash.
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
    free(buf);
    return 0;
}
