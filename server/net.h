/* net.h - listening sockets, after Redis's anet: errors name the failing call. */
#ifndef NET_H
#define NET_H

#include <stddef.h>

/*
 * Opens a TCP socket listening on addr:port (a numeric IPv4 or IPv6 address), close-on-exec,
 * with SO_REUSEADDR, non-blocking when nonblock is set; backlog is capped by the kernel at
 * net.core.somaxconn. Returns the descriptor, or -1 with a message naming the failing call
 * in err.
 */
int net_listen(const char *addr, int port, int nonblock, int backlog, char *err, size_t errlen);

#endif
