/* files.c - the docroot's path rules and file cache; see files.h. */
#include "files.h"
#include "stats.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* ------------------------------------------------------------------ path rules */

static int hexval(int c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

int path_normalize(const char *t, size_t len, char *out, size_t outsize)
{
    const char *end = t + len;
    if (len > 7 && strncasecmp(t, "http://", 7) == 0) { /* absolute-form: drop the authority */
        t += 7;
        while (t < end && *t != '/') t++;
        if (t == end) { /* "http://host" asks for "/" */
            t = "/";
            end = t + 1;
        }
    }
    if (t == end || *t != '/') return -1;
    for (const char *q = t; q < end; q++)
        if (*q == '?' || *q == '#') {
            end = q;
            break;
        }
    /* out holds the segments so far, each followed by '/'; seg is where the open one starts. */
    size_t o = 0, seg = 0;
    int last_dir = 1; /* the last closed segment left a directory: "", "." or ".." */
    for (const char *p = t + 1;; p++) {
        int c = p < end ? (unsigned char)*p : '/';
        int slash = p >= end || c == '/';
        if (c == 0) return -1;
        if (c == '%' && p < end) {
            int hi = p + 2 < end ? hexval(p[1]) : -1, lo = p + 2 < end ? hexval(p[2]) : -1;
            if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) return -1;
            c = hi * 16 + lo;
            slash = c == '/'; /* an encoded slash is a slash */
            p += 2;
        }
        if (!slash) {
            if (o + 1 >= outsize) return -3;
            out[o++] = (char)c;
            continue;
        }
        size_t n = o - seg;
        if (n == 0 || (n == 1 && out[seg] == '.')) {
            o = seg;
            last_dir = 1;
        } else if (n == 2 && out[seg] == '.' && out[seg + 1] == '.') {
            if (seg == 0) return -2;
            o = seg - 1; /* drop the "<name>/" before ".." */
            while (o > 0 && out[o - 1] != '/') o--;
            last_dir = 1;
        } else {
            if (o + 1 >= outsize) return -3;
            out[o++] = '/';
            last_dir = 0;
        }
        seg = o;
        if (p >= end) break;
    }
    if (!last_dir) {
        out[--o] = 0;
        return (int)o;
    }
    static const char idx[] = "index.html";
    if (o + sizeof idx > outsize) return -3;
    memcpy(out + o, idx, sizeof idx);
    return (int)(o + sizeof idx - 1);
}

/* ------------------------------------------------------------------ file cache */

struct entry {
    char *path; /* NULL: empty slot */
    struct file f;
};

struct files {
    int rootfd;
    struct entry *tab; /* open addressing, linear probing; size a power of two */
    size_t size, used;
};

static uint64_t hash(const char *s)
{
    uint64_t h = 1469598103934665603u; /* FNV-1a */
    while (*s) h = (h ^ (unsigned char)*s++) * 1099511628211u;
    return h;
}

static struct entry *slot(struct entry *tab, size_t size, const char *path)
{
    size_t i = hash(path) & (size - 1);
    while (tab[i].path && strcmp(tab[i].path, path) != 0) i = (i + 1) & (size - 1);
    return &tab[i];
}

static int grow(struct files *fs)
{
    size_t size = fs->size * 2;
    struct entry *tab = calloc(size, sizeof *tab);
    if (!tab) return -1;
    for (size_t i = 0; i < fs->size; i++)
        if (fs->tab[i].path) *slot(tab, size, fs->tab[i].path) = fs->tab[i];
    free(fs->tab);
    fs->tab = tab;
    fs->size = size;
    return 0;
}

struct files *files_open(const char *docroot, char *err, size_t errlen)
{
    struct files *fs = calloc(1, sizeof *fs);
    if (!fs) goto nomem;
    fs->rootfd = -1;
    fs->size = 256;
    fs->tab = calloc(fs->size, sizeof *fs->tab);
    if (!fs->tab) goto nomem;
    fs->rootfd = open(docroot, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (fs->rootfd < 0) {
        snprintf(err, errlen, "open(%s): %s", docroot, strerror(errno));
        goto err;
    }
    return fs;
nomem:
    snprintf(err, errlen, "calloc: out of memory");
err:
    files_close(fs);
    return NULL;
}

void files_close(struct files *fs)
{
    if (!fs) return;
    for (size_t i = 0; fs->tab && i < fs->size; i++) {
        if (!fs->tab[i].path) continue;
        close(fs->tab[i].f.fd);
        free(fs->tab[i].path);
        free(fs->tab[i].f.hdr);
        free(fs->tab[i].f.data);
    }
    if (fs->rootfd >= 0) close(fs->rootfd);
    free(fs->tab);
    free(fs);
}

static const char *content_type(const char *path)
{
    static const char *const types[][2] = {
        {".html", "text/html"},      {".htm", "text/html"},      {".txt", "text/plain"},
        {".css", "text/css"},        {".js", "text/javascript"}, {".json", "application/json"},
        {".png", "image/png"},       {".jpg", "image/jpeg"},     {".jpeg", "image/jpeg"},
        {".gif", "image/gif"},       {".svg", "image/svg+xml"},  {".ico", "image/x-icon"},
        {".pdf", "application/pdf"},
    };
    const char *dot = strrchr(path, '.');
    if (dot && !strchr(dot, '/'))
        for (size_t i = 0; i < sizeof types / sizeof *types; i++)
            if (strcasecmp(dot, types[i][0]) == 0) return types[i][1];
    return "application/octet-stream";
}

/* Opens path beneath the docroot and prepares its entry. Returns as files_get does. */
static int load(struct files *fs, const char *path, struct file *f)
{
    struct open_how how = {.flags = O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC,
                           .resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS};
    int fd =
        SYSCALL_RETRY(SC_OPENAT2, (int)syscall(SYS_openat2, fs->rootfd, path, &how, sizeof how));
    if (fd < 0) {
        if (errno == EMFILE || errno == ENFILE) return -2;
        if (errno == ENOENT || errno == ENOTDIR || errno == EXDEV || errno == ELOOP ||
            errno == EACCES || errno == ENAMETOOLONG)
            return -1;
        return -3;
    }
    struct stat st;
    if (SYSCALL_TIMED(SC_FSTAT, fstat(fd, &st)) < 0) goto err;
    if (!S_ISREG(st.st_mode)) {
        SYSCALL_TIMED(SC_CLOSE, close(fd));
        return -1;
    }
    char date[64];
    struct tm tm;
    strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S GMT", gmtime_r(&st.st_mtime, &tm));
    char buf[256];
    int n = snprintf(buf, sizeof buf,
                     "Content-Type: %s\r\nContent-Length: %lld\r\nLast-Modified: %s\r\n",
                     content_type(path), (long long)st.st_size, date);
    f->data = NULL;
    if (st.st_size > 0 && st.st_size <= FILE_INLINE_MAX) {
        if (!(f->data = malloc((size_t)st.st_size))) goto err;
        for (off_t got = 0; got < st.st_size;) {
            size_t want = (size_t)(st.st_size - got);
            ssize_t r = SYSCALL_RETRY(SC_PREAD, pread(fd, f->data + got, want, got));
            if (r <= 0) { /* shrank under us, or failed: serve it by sendfile after all */
                free(f->data);
                f->data = NULL;
                break;
            }
            got += r;
        }
    }
    f->hdr = strdup(buf);
    if (!f->hdr) goto err;
    f->hdr_len = (size_t)n;
    f->fd = fd;
    f->size = st.st_size;
    return 0;
err:
    free(f->data);
    SYSCALL_TIMED(SC_CLOSE, close(fd));
    return -3;
}

int files_get(struct files *fs, const char *path, struct file **out)
{
    struct entry *e = slot(fs->tab, fs->size, path);
    if (e->path) {
        *out = &e->f;
        return 0;
    }
    struct file f;
    int r = load(fs, path, &f);
    if (r < 0) return r;
    if ((fs->used + 1) * 2 > fs->size) {
        if (grow(fs) < 0) goto nomem;
        e = slot(fs->tab, fs->size, path);
    }
    e->path = strdup(path);
    if (!e->path) goto nomem;
    e->f = f;
    fs->used++;
    *out = &e->f;
    return 0;
nomem:
    close(f.fd);
    free(f.hdr);
    free(f.data);
    errno = ENOMEM;
    return -3;
}
