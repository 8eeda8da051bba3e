/* test_sesslog.c - the --wsesslog file: what agents/workloads.py writes, and bad lines. */
#include "check.h"
#include "sesslog.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int parse(struct sesslog *log, const char *text, char *err, size_t errlen)
{
    return sesslog_parse(log, strdup(text), err, errlen);
}

static int uri_is(const struct sesslog *log, size_t i, const char *s)
{
    return strlen(s) == log->uri_len[i] && strcmp(log->uri[i], s) == 0;
}

static void as_written(void)
{
    /* agents.workloads.session_file_text: comment header, a blank line between sessions. */
    const char *text = "# testbed specweb99 sessions (agents.workloads)\n"
                       "# seed=1 client=0 clients=1 directories=1 sessions=3 requests=5\n"
                       "/dir00000/class1_2\n"
                       "\n"
                       "/dir00000/class0_4\n"
                       "/dir00000/class2_1\n"
                       "/dir00000/class1_4\n"
                       "\n"
                       "/one-byte\n";
    struct sesslog log;
    char err[200] = "";
    CHECK(parse(&log, text, err, sizeof err) == 0);
    CHECK(log.nsessions == 3 && log.nuris == 5);
    CHECK(log.first[0] == 0 && log.len[0] == 1);
    CHECK(log.first[1] == 1 && log.len[1] == 3);
    CHECK(log.first[2] == 4 && log.len[2] == 1);
    CHECK(uri_is(&log, 0, "/dir00000/class1_2"));
    CHECK(uri_is(&log, 3, "/dir00000/class1_4"));
    CHECK(uri_is(&log, 4, "/one-byte"));
    sesslog_free(&log);
}

static void variants(void)
{
    struct sesslog log;
    char err[200];
    /* CRLF, several blank lines, white-space-only lines, no final newline, indented lines
     * (httperf's embedded objects: the same session), trailing blanks after a URI. */
    CHECK(parse(&log, "\n\n/a\r\n  /b\r\n\t/c \r\n \t\n\n/d", err, sizeof err) == 0);
    CHECK(log.nsessions == 2 && log.len[0] == 3 && log.len[1] == 1);
    CHECK(uri_is(&log, 1, "/b") && uri_is(&log, 2, "/c") && uri_is(&log, 3, "/d"));
    sesslog_free(&log);
}

static void rejected(void)
{
    struct sesslog log;
    char err[200];
    CHECK(parse(&log, "# only a comment\n\n", err, sizeof err) == -1);
    CHECK(strstr(err, "no session") != NULL);
    CHECK(parse(&log, "/a\n/b think=2.0\n", err, sizeof err) == -1);
    CHECK(strstr(err, "line 2") != NULL && strstr(err, "think=2.0") != NULL);
    CHECK(parse(&log, "/a\n\nhttp://x/b\n", err, sizeof err) == -1);
    CHECK(strstr(err, "line 3") != NULL && strstr(err, "http://x/b") != NULL);
    CHECK(log.uri == NULL && log.text == NULL); /* freed on error */
}

static void from_file(void)
{
    struct sesslog log;
    char err[300];
    CHECK(sesslog_load(&log, "/nonexistent/sessions.txt", err, sizeof err) == -1);
    CHECK(strstr(err, "/nonexistent/sessions.txt") != NULL);

    char path[] = "/tmp/test_sesslog_XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    FILE *f = fdopen(fd, "w");
    /* Larger than the first read buffer (64 KiB): 20,000 sessions. */
    for (int i = 0; i < 20000; i++) fprintf(f, "%s/dir%05d/class0_%d\n", i ? "\n" : "", i, i % 9);
    fclose(f);
    CHECK(sesslog_load(&log, path, err, sizeof err) == 0);
    CHECK(log.nsessions == 20000 && log.nuris == 20000);
    CHECK(uri_is(&log, 19999, "/dir19999/class0_1"));
    sesslog_free(&log);

    f = fopen(path, "w");
    fputs("/a\n/b method=POST\n", f);
    fclose(f);
    CHECK(sesslog_load(&log, path, err, sizeof err) == -1);
    CHECK(strstr(err, path) != NULL && strstr(err, "line 2") != NULL);
    unlink(path);
}

int main(void)
{
    as_written();
    variants();
    rejected();
    from_file();
    return check_done("test_sesslog");
}
