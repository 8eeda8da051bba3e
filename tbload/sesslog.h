/*
 * sesslog.h - httperf's --wsesslog session file, the subset agents/workloads.py writes: comment
 * lines starting with '#', one URI per line, a blank line between sessions. A line indented
 * with white space (httperf's "embedded object" of a burst) is one more request of the same
 * session, issued after the one before it, as httperf does with --max-connections 1. httperf's
 * per-line attributes (method=, think=, contents=) are not supported and rejected.
 */
#ifndef SESSLOG_H
#define SESSLOG_H

#include <stddef.h>

struct sesslog {
    char *text;         /* the file's text, owned; URIs point into it */
    const char **uri;   /* every request's URI (NUL-terminated inside text), in file order */
    size_t *uri_len;
    size_t nuris;
    size_t *first;      /* session i is uri[first[i]] .. uri[first[i] + len[i] - 1] */
    size_t *len;
    size_t nsessions;
};

/*
 * Parses text (which it takes ownership of, and modifies) into log. Returns 0, or -1 with a
 * message "line N: ..." in err (freeing text): a line with more than a URI, a URI that does not
 * start with '/', no session at all, or out of memory.
 */
int sesslog_parse(struct sesslog *log, char *text, char *err, size_t errlen);

/* Reads and parses the file at path. Returns 0, or -1 with a message in err that names the
 * path (and the line, for bad content). */
int sesslog_load(struct sesslog *log, const char *path, char *err, size_t errlen);

void sesslog_free(struct sesslog *log);

#endif
