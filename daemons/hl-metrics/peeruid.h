/* Who is on the other end of a local TCP connection: the uid that owns the
 * peer's socket, from the kernel's socket table (NETLINK_SOCK_DIAG, as
 * `ss -e` reads it; no privilege needed). /metrics uses it to cap the
 * connections of each local user, so that one user's idle connections
 * cannot take every slot from Prometheus (issue #12 item 3). */
#pragma once
#include <sys/types.h>

/* The uid owning the peer socket of connected TCP socket FD, when the peer
 * is on this host (in this network namespace). 0 or -errno (-ENOENT: the
 * peer is not a local socket). */
int hlm_tcp_peer_uid(int fd, uid_t *uid);
