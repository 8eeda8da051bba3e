/*
 * ae.h - the event loop, after Redis's ae: one small interface, one file per mechanism.
 *
 * The HTTP core registers descriptors with a handler and an interest mask and never sees an
 * epoll, fd_set or io_uring type. Each backend (ae_*.c) fills the loop's shared fired[] array
 * of {fd, mask} from its native events; the core dispatches them.
 *
 * Edge-triggered backends report readiness once per change, so the core remembers it per
 * descriptor ("ready") until the handler reports that a call hit EAGAIN (aeNotReady). A
 * descriptor still ready and interested after its handler ran - a listener stopped by the
 * accept-limit, a socket read only once - is queued and served in the next round, which then
 * polls without blocking.
 */
#ifndef AE_H
#define AE_H

#include <stddef.h>

#define AE_NONE     0
#define AE_READABLE 1
#define AE_WRITABLE 2
#define AE_ERROR    4 /* error or hang-up: the handler is called as if for all its interest */

typedef struct aeLoop aeLoop;

/* Called with the events (AE_READABLE|AE_WRITABLE) that are both fired and of interest, plus
 * AE_ERROR when the mechanism reported an error or hang-up for fd (or lost track of it). */
typedef void aeFileProc(aeLoop *l, int fd, void *data, int mask);

typedef struct aeFired {
    int fd;
    int mask;
} aeFired;

typedef struct aeFileEvent {
    int mask;       /* interest: AE_READABLE|AE_WRITABLE (may be AE_NONE while registered) */
    int ready;      /* edge backends: readiness seen and not yet used up */
    int flags;      /* AE_F_* below */
    unsigned round; /* the round in which the handler last ran */
    aeFileProc *proc;
    void *data;
} aeFileEvent;

#define AE_F_REGISTERED 1
#define AE_F_QUEUED     2

/*
 * A mechanism. Every function returns 0 on success or -1 with errno set (create: with a message
 * naming the failing call in err), except wait, which returns the number of entries it wrote to
 * l->fired (0 on timeout or EINTR) or -1 with errno set.
 */
typedef struct aeBackend {
    const char *name; /* as given to --mechanism; goes into logs and metrics */
    int edge;         /* readiness is edge-triggered: see above */
    int (*create)(aeLoop *l, char *err, size_t errlen); /* sets l->state */
    void (*free)(aeLoop *l);
    int (*add)(aeLoop *l, int fd, int mask);                 /* a new descriptor */
    int (*modify)(aeLoop *l, int fd, int oldmask, int mask); /* a change of interest */
    int (*del)(aeLoop *l, int fd, int oldmask);              /* called before close(fd) */
    int (*flush)(aeLoop *l); /* NULL, or submits queued interest changes (epoll-ctlv) */
    int (*wait)(aeLoop *l, int timeout_ms);
} aeBackend;

struct aeLoop {
    const aeBackend *be;
    void *state;            /* the backend's own */
    int setsize;            /* descriptors must be below this */
    int maxfd;              /* highest registered descriptor, -1 when none */
    unsigned round;         /* counts calls of aeProcessEvents */
    aeFileEvent *events;    /* [setsize], indexed by descriptor */
    aeFired *fired;         /* [setsize], written by the backend's wait */
    int *pending, npending; /* edge: descriptors to serve next round without a new event */
    int *work;              /* [setsize] scratch: last round's pending list being served */
};

/* The NULL-terminated list of mechanisms, and lookup by name (NULL when unknown). */
extern const aeBackend *const aeBackends[];
const aeBackend *aeBackendByName(const char *name);

/* Returns a loop for descriptors below setsize, or NULL with a message in err. */
aeLoop *aeCreate(const aeBackend *be, int setsize, char *err, size_t errlen);
void aeFree(aeLoop *l);

/* Registers fd with an interest mask and a handler. Returns 0, or -1 with errno (ERANGE when
 * fd >= setsize, EEXIST when already registered, or the backend's). */
int aeAdd(aeLoop *l, int fd, int mask, aeFileProc *proc, void *data);

/* Changes the interest of a registered fd; a no-op when unchanged. Returns 0 or -1 with errno. */
int aeSetMask(aeLoop *l, int fd, int mask);

/* Unregisters fd; call it before close(fd). Returns 0 or -1 with errno (the entry is cleared
 * either way). */
int aeDelete(aeLoop *l, int fd);

/* The handler's call on fd hit EAGAIN for these events: edge backends forget the readiness. */
void aeNotReady(aeLoop *l, int fd, int mask);

/* Interest mask of fd (AE_NONE when unregistered). */
int aeGetMask(aeLoop *l, int fd);

/*
 * One round: flushes queued interest changes, waits up to timeout_ms (-1: forever, 0: not at
 * all; forced to 0 while descriptors are queued) and calls the handlers. A handler that changes
 * its descriptor's interest is called again at once (at most twice more) for the new interest
 * when this round already showed the descriptor ready for it: what fired (level backends), or
 * the remembered readiness (edge backends). Returns the number of descriptors served, or -1
 * with errno when the mechanism failed.
 */
int aeProcessEvents(aeLoop *l, int timeout_ms);

#endif
