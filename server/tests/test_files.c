/* test_files.c - the docroot's path rules and the file cache, on a temporary docroot. */
#include "check.h"
#include "files.h"
#include "stats.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int norm(const char *target, char *out)
{
    return path_normalize(target, strlen(target), out, 256);
}

static void normalize(void)
{
    char o[256];
    static const struct {
        const char *in, *out;
    } ok[] = {
        {"/one", "one"},
        {"/dir00000/class0_1", "dir00000/class0_1"},
        {"/", "index.html"},
        {"/dir/", "dir/index.html"},
        {"/a//b/./c", "a/b/c"},
        {"/a/b/../c", "a/c"},
        {"/a/..", "index.html"},
        {"/a/.", "a/index.html"},
        {"/a%20b", "a b"},
        {"/a%2fb", "a/b"},
        {"/x?y=/../../etc", "x"},
        {"/x#frag", "x"},
        {"http://host:80/p/q", "p/q"},
        {"HTTP://host", "index.html"},
        {"/etc/passwd", "etc/passwd"}, /* absolute paths stay under the docroot */
    };
    for (size_t i = 0; i < sizeof ok / sizeof *ok; i++) {
        int n = norm(ok[i].in, o);
        if (n < 0 || strcmp(o, ok[i].out) != 0)
            fprintf(stderr, "%s -> %d %s\n", ok[i].in, n, n >= 0 ? o : "");
        CHECK(n == (int)strlen(ok[i].out) && strcmp(o, ok[i].out) == 0);
    }
    CHECK(norm("/..", o) == -2);
    CHECK(norm("/../etc/passwd", o) == -2);
    CHECK(norm("/a/../../etc/passwd", o) == -2);
    CHECK(norm("/%2e%2e/etc/passwd", o) == -2);
    CHECK(norm("/%2E%2E%2fetc", o) == -2);
    CHECK(norm("/..%2f..%2fetc", o) == -2);
    CHECK(norm("relative", o) == -1);
    CHECK(norm("*", o) == -1);
    CHECK(norm("/a%00b", o) == -1);
    CHECK(norm("/a%zz", o) == -1);
    CHECK(norm("/a%2", o) == -1);
    char big[600];
    memset(big, 'a', sizeof big);
    big[0] = '/';
    CHECK(path_normalize(big, sizeof big, o, 256) == -3);
}

static void put(const char *path, const char *content)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    CHECK(fd >= 0 && write(fd, content, strlen(content)) == (ssize_t)strlen(content));
    close(fd);
}

static void cache(void)
{
    char root[] = "/tmp/test_files.XXXXXX", outside[] = "/tmp/test_files_out.XXXXXX";
    CHECK(mkdtemp(root) && mkdtemp(outside));
    char p[512], q[512];
    snprintf(p, sizeof p, "%s/one", root);
    put(p, "x");
    snprintf(p, sizeof p, "%s/sub", root);
    mkdir(p, 0755);
    snprintf(p, sizeof p, "%s/sub/page.html", root);
    put(p, "<p>hi</p>\n");
    snprintf(p, sizeof p, "%s/secret", outside);
    put(p, "secret");
    snprintf(q, sizeof q, "%s/out", root);
    CHECK(symlink(p, q) == 0); /* absolute link out of the docroot */
    snprintf(q, sizeof q, "%s/rel-out", root);
    CHECK(symlink("../../../../../../../etc/passwd", q) == 0);
    snprintf(q, sizeof q, "%s/in", root);
    CHECK(symlink("sub/page.html", q) == 0); /* a link that stays inside is fine */
    snprintf(q, sizeof q, "%s/fifo", root);
    CHECK(mkfifo(q, 0644) == 0);

    char err[256];
    CHECK(files_open("/nonexistent/docroot", err, sizeof err) == NULL);
    CHECK(strstr(err, "open(/nonexistent/docroot)") != NULL);
    struct files *fs = files_open(root, err, sizeof err);
    CHECK(fs != NULL);
    if (!fs) return;
    struct file *f, *g;
    CHECK(files_get(fs, "one", &f) == 0 && f->size == 1);
    CHECK(strstr(f->hdr, "Content-Length: 1\r\n") && strstr(f->hdr, "application/octet-stream"));
    uint64_t opens = stats.sc[SC_OPENAT2].calls;
    CHECK(files_get(fs, "one", &g) == 0 && g == f);
    CHECK(stats.sc[SC_OPENAT2].calls == opens); /* cached: no system call */
    CHECK(f->data && f->data[0] == 'x'); /* small: its body is cached, read once */
    CHECK(files_get(fs, "sub/page.html", &f) == 0 && f->size == 10);
    CHECK(strstr(f->hdr, "Content-Type: text/html\r\n") != NULL);
    CHECK(f->data && memcmp(f->data, "<p>hi</p>\n", 10) == 0);
    {
        static char big[FILE_INLINE_MAX + 1];
        memset(big, 'b', sizeof big - 1);
        snprintf(p, sizeof p, "%s/big", root);
        put(p, big);
        CHECK(files_get(fs, "big", &f) == 0 && f->size == FILE_INLINE_MAX);
        CHECK(f->data && f->data[FILE_INLINE_MAX - 1] == 'b'); /* the largest cached in memory */
        snprintf(p, sizeof p, "%s/bigger", root);
        big[sizeof big - 1] = 'b'; /* one byte more: sendfile's, not cached */
        int fd = open(p, O_CREAT | O_WRONLY | O_TRUNC, 0644);
        CHECK(fd >= 0 && write(fd, big, sizeof big) == (ssize_t)sizeof big);
        close(fd);
        CHECK(files_get(fs, "bigger", &f) == 0 && f->size == FILE_INLINE_MAX + 1 && !f->data);
    }
    CHECK(files_get(fs, "in", &f) == 0 && f->size == 10);
    CHECK(files_get(fs, "out", &f) == -1);
    CHECK(files_get(fs, "rel-out", &f) == -1);
    CHECK(files_get(fs, "sub", &f) == -1);  /* a directory */
    CHECK(files_get(fs, "fifo", &f) == -1); /* not a regular file */
    CHECK(files_get(fs, "missing", &f) == -1);
    CHECK(files_get(fs, "one/x", &f) == -1);
    /* Enough entries to make the table grow several times; all still found after. */
    for (int i = 0; i < 600; i++) {
        snprintf(p, sizeof p, "%s/f%03d", root, i);
        put(p, "abc");
    }
    int found = 0;
    for (int i = 0; i < 600; i++) {
        snprintf(p, sizeof p, "f%03d", i);
        found += files_get(fs, p, &f) == 0 && f->size == 3;
    }
    CHECK(found == 600);
    CHECK(files_get(fs, "one", &f) == 0 && f->size == 1);
    files_close(fs);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf %s %s", root, outside);
    CHECK(system(cmd) == 0);
}

int main(void)
{
    normalize();
    cache();
    return check_done("test_files");
}
