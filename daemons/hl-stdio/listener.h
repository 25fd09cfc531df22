/* A listening unix socket whose file never has looser permissions than
 * asked for, and which is removed only while it is still ours. */
#pragma once
#include <stddef.h>
#include <sys/types.h>

typedef struct stdio_sock {
    int fd;     /* listening, non-blocking, close-on-exec */
    char *path;  /* as configured: what clients connect to */
    char *bound; /* where it is bound: PATH, or its link's target */
    dev_t dev;  /* the file we created, to recognise it later */
    ino_t ino;
    gid_t gid;  /* (gid_t)-1: left as created */
    mode_t mode;
} stdio_sock_t;

/* Binds PATH with MODE and GID: bound under a temporary name, given its
 * group and mode, then renamed into place (which also replaces a stale
 * socket file atomically). Refuses to replace anything but a socket, and a
 * socket someone is listening on. 0, or -errno with the reason in ERR. */
int stdio_sock_listen(const char *path, gid_t gid, mode_t mode, stdio_sock_t **out, char *err,
                      size_t errlen);
/* Gives an open socket's file GID and MODE (a reload changed them). */
int stdio_sock_retune(stdio_sock_t *s, gid_t gid, mode_t mode, char *err, size_t errlen);
/* Closes it, and removes the file if it is still the one we made. */
void stdio_sock_close(stdio_sock_t **self_p);
