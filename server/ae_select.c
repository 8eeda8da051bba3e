/*
 * ae_select.c - select(2) with bit arrays of our own, sized to the highest descriptor.
 *
 * glibc's fd_set holds FD_SETSIZE (1024) bits and its FD_SET aborts past that under
 * _FORTIFY_SOURCE, while the kernel takes any nfds: so, like libevent and libev, we keep
 * unsigned-long arrays that grow with the descriptors and hand them to select() cast to fd_set.
 */
#include "ae.h"
#include "stats.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>

#define WORD_BITS (8 * sizeof(unsigned long))

struct state {
    unsigned long *rset, *wset; /* interest */
    unsigned long *rout, *wout; /* the copies select() overwrites */
    size_t words;
};

static int sel_create(aeLoop *l, char *err, size_t errlen)
{
    struct state *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, errlen, "calloc: out of memory");
        return -1;
    }
    l->state = s;
    return 0;
}

static void sel_free(aeLoop *l)
{
    struct state *s = l->state;
    free(s->rset);
    free(s->wset);
    free(s->rout);
    free(s->wout);
    free(s);
}

/* Grows the arrays to hold bit fd. Returns 0, or -1 with errno ENOMEM. */
static int ensure(struct state *s, int fd)
{
    size_t need = (size_t)fd / WORD_BITS + 1;
    if (need <= s->words) return 0;
    size_t words = s->words ? s->words : 16;
    while (words < need) words *= 2;
    unsigned long **arrs[] = {&s->rset, &s->wset, &s->rout, &s->wout};
    for (int i = 0; i < 4; i++) {
        unsigned long *p = realloc(*arrs[i], words * sizeof **arrs[i]);
        if (!p) return -1;
        memset(p + s->words, 0, (words - s->words) * sizeof *p);
        *arrs[i] = p;
    }
    s->words = words;
    return 0;
}

static void set_bits(struct state *s, int fd, int mask)
{
    unsigned long bit = 1UL << ((unsigned)fd % WORD_BITS);
    size_t w = (size_t)fd / WORD_BITS;
    s->rset[w] = mask & AE_READABLE ? s->rset[w] | bit : s->rset[w] & ~bit;
    s->wset[w] = mask & AE_WRITABLE ? s->wset[w] | bit : s->wset[w] & ~bit;
}

static int sel_add(aeLoop *l, int fd, int mask)
{
    if (ensure(l->state, fd) < 0) return -1;
    set_bits(l->state, fd, mask);
    return 0;
}

static int sel_modify(aeLoop *l, int fd, int oldmask, int mask)
{
    (void)oldmask;
    set_bits(l->state, fd, mask);
    return 0;
}

static int sel_del(aeLoop *l, int fd, int oldmask)
{
    (void)oldmask;
    set_bits(l->state, fd, AE_NONE);
    return 0;
}

static int sel_wait(aeLoop *l, int timeout_ms)
{
    struct state *s = l->state;
    int nfds = l->maxfd + 1;
    size_t words = ((size_t)nfds + WORD_BITS - 1) / WORD_BITS;
    if (words) {
        memcpy(s->rout, s->rset, words * sizeof *s->rout);
        memcpy(s->wout, s->wset, words * sizeof *s->wout);
    }
    struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
    int r = SYSCALL_TIMED(SC_SELECT, select(nfds, (fd_set *)s->rout, (fd_set *)s->wout, NULL,
                                            timeout_ms < 0 ? NULL : &tv));
    if (r < 0) return errno == EINTR ? 0 : -1;
    int n = 0;
    for (size_t w = 0; w < words && n < r; w++) {
        unsigned long bits = s->rout[w] | s->wout[w];
        while (bits) {
            int b = __builtin_ctzl(bits);
            unsigned long bit = 1UL << b;
            bits &= bits - 1;
            l->fired[n].fd = (int)(w * WORD_BITS) + b;
            l->fired[n].mask =
                (s->rout[w] & bit ? AE_READABLE : 0) | (s->wout[w] & bit ? AE_WRITABLE : 0);
            n++;
        }
    }
    return n;
}

const aeBackend aeSelect = {
    .name = "select",
    .create = sel_create,
    .free = sel_free,
    .add = sel_add,
    .modify = sel_modify,
    .del = sel_del,
    .wait = sel_wait,
};
