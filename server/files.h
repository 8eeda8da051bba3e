/*
 * files.h - the docroot: request targets to paths, and a cache of open files with their
 * prepared header lines.
 *
 * A file is opened and fstat'ed (and, when small, read into memory) once, on its first request,
 * with openat2(RESOLVE_BENEATH), so that no path, ".." or symbolic link can leave the docroot;
 * later requests cost no system call.
 * The workloads' file sets are static during a run and fit in memory, so entries are never
 * evicted or revalidated (a file changed on disk keeps its first size: a documented shortcut).
 */
#ifndef FILES_H
#define FILES_H

#include <stddef.h>
#include <sys/types.h>

struct file {
    int fd;
    off_t size;
    char *hdr; /* "Content-Type: ...\r\nContent-Length: ...\r\nLast-Modified: ...\r\n" */
    size_t hdr_len;
    char *data; /* the whole body when size <= FILE_INLINE_MAX (read once, on first use), else
                 * NULL: a small reply goes out in one sendmsg, a large one by sendfile */
};

#define FILE_INLINE_MAX 16384

struct files;

/*
 * Turns a request target into a docroot-relative path in out[0, outsize): strips an
 * absolute-form "http://authority", the query and the fragment, percent-decodes, collapses "//"
 * and ".", resolves "..", and maps a directory (empty path or trailing slash) to its index.html.
 * The result has no leading slash and never a ".." segment.
 *
 * Returns the result's length, -1 when the target is malformed (not starting with '/', a NUL
 * byte, a bad or NUL escape), -2 when ".." would climb above the docroot, -3 when out is too small.
 */
int path_normalize(const char *target, size_t len, char *out, size_t outsize);

/* Opens the docroot. Returns the cache, or NULL with a message naming the call in err. */
struct files *files_open(const char *docroot, char *err, size_t errlen);

void files_close(struct files *fs);

/*
 * Looks up a normalized path (from path_normalize), opening and caching it on first use.
 *
 * Returns 0 and sets *out for a regular file under the docroot; -1 when there is none (missing,
 * a directory or special file, or a link out of the docroot); -2 when the process is out of
 * descriptors (EMFILE/ENFILE: worth a 503, the next try may succeed); -3 on another error,
 * errno set.
 */
int files_get(struct files *fs, const char *path, struct file **out);

#endif
