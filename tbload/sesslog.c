/*
 * sesslog.c - reading a --wsesslog file into sessions of URIs.
 */
#include "sesslog.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void sesslog_free(struct sesslog *log)
{
    free(log->text);
    free(log->uri);
    free(log->uri_len);
    free(log->first);
    free(log->len);
    memset(log, 0, sizeof *log);
}

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r';
}

int sesslog_parse(struct sesslog *log, char *text, char *err, size_t errlen)
{
    memset(log, 0, sizeof *log);
    log->text = text;
    size_t lines = 1;
    for (const char *p = text; *p; p++) lines += *p == '\n';
    /* At most one URI, and one session start, per line. */
    log->uri = malloc(lines * sizeof *log->uri);
    log->uri_len = malloc(lines * sizeof *log->uri_len);
    log->first = malloc(lines * sizeof *log->first);
    log->len = malloc(lines * sizeof *log->len);
    if (!log->uri || !log->uri_len || !log->first || !log->len) {
        snprintf(err, errlen, "out of memory");
        goto err;
    }
    int in_session = 0;
    size_t lineno = 0;
    for (char *line = text; line && *line;) {
        char *nl = strchr(line, '\n');
        if (nl) *nl = '\0';
        lineno++;
        char *next = nl ? nl + 1 : NULL;
        if (line[0] == '#') {
            line = next;
            continue;
        }
        char *s = line;
        while (is_space(*s)) s++;
        if (!*s) { /* a blank line ends the session */
            in_session = 0;
            line = next;
            continue;
        }
        char *e = s;
        while (*e && !is_space(*e)) e++;
        char *rest = e;
        while (is_space(*rest)) rest++;
        if (*rest) {
            snprintf(err, errlen, "line %zu: '%.60s' after the URI is not supported", lineno,
                     rest);
            goto err;
        }
        if (*s != '/') {
            snprintf(err, errlen, "line %zu: URI '%.60s' does not start with '/'", lineno, s);
            goto err;
        }
        *e = '\0';
        if (!in_session) {
            log->first[log->nsessions] = log->nuris;
            log->len[log->nsessions] = 0;
            log->nsessions++;
            in_session = 1;
        }
        log->uri[log->nuris] = s;
        log->uri_len[log->nuris] = (size_t)(e - s);
        log->nuris++;
        log->len[log->nsessions - 1]++;
        line = next;
    }
    if (log->nsessions == 0) {
        snprintf(err, errlen, "no session in the file");
        goto err;
    }
    return 0;
err:
    sesslog_free(log);
    return -1;
}

int sesslog_load(struct sesslog *log, const char *path, char *err, size_t errlen)
{
    char msg[200];
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    size_t cap = 1 << 16, n = 0;
    char *text = malloc(cap);
    while (text) {
        n += fread(text + n, 1, cap - n - 1, f);
        if (n < cap - 1) break;
        char *bigger = realloc(text, cap * 2);
        if (!bigger) {
            free(text);
            text = NULL;
            break;
        }
        text = bigger;
        cap *= 2;
    }
    int bad = ferror(f);
    fclose(f);
    if (!text || bad) {
        snprintf(err, errlen, "%s: %s", path, text ? "read error" : "out of memory");
        free(text);
        return -1;
    }
    text[n] = '\0';
    if (sesslog_parse(log, text, msg, sizeof msg) < 0) {
        snprintf(err, errlen, "%s: %s", path, msg);
        return -1;
    }
    return 0;
}
