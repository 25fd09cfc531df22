/* Who is on the other end of a unix socket. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* Whether user UID, whose primary group is GID, belongs to group WANT
 * (primary or supplementary, as the user database says). */
bool stdio_cred_in_group(uid_t uid, gid_t gid, gid_t want);
/* The peer's credentials (SO_PEERCRED): 0 or -errno. */
int stdio_cred_peer(int fd, uid_t *uid, gid_t *gid, pid_t *pid);
/* The process name of PID, printable ASCII only, into OUT (at least 17
 * bytes); "" when it cannot be read. Racy by nature: for logs only. */
void stdio_cred_comm(pid_t pid, char *out, size_t outlen);
