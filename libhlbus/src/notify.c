/* Non-blocking sd_notify: see notify.h. */
#include "hlbus/notify.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "hlbus/str.h"

static struct {
    bool opened;
    int fd;
    struct sockaddr_un sa;
    socklen_t salen;
    uint64_t dropped;
    char *pending; /* the last state change that could not be sent */
} N = {.fd = -1};

/* The socket is opened once; the address is resolved at every send (a
 * sendto, not a connect), so a reader that re-creates its socket at the
 * same path is found again. */
static void notify_open(void)
{
    N.opened = true;
    const char *e = getenv("NOTIFY_SOCKET");
    if (!e || !*e)
        return;
    size_t n = strlen(e);
    if ((e[0] != '/' && e[0] != '@') || n >= sizeof N.sa.sun_path) {
        N.fd = -2; /* an address we cannot use: every message counts as dropped */
        return;
    }
    N.sa.sun_family = AF_UNIX;
    memcpy(N.sa.sun_path, e, n);
    if (e[0] == '@')
        N.sa.sun_path[0] = '\0'; /* abstract namespace */
    N.salen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + (e[0] == '/'));
    N.fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (N.fd < 0)
        N.fd = -2;
}

static int send_now(const char *msg)
{
    if (!N.opened)
        notify_open();
    if (N.fd == -1)
        return 0; /* not under systemd */
    if (N.fd < 0)
        return -EAFNOSUPPORT;
    ssize_t rc = sendto(N.fd, msg, strlen(msg), MSG_DONTWAIT | MSG_NOSIGNAL,
                        (struct sockaddr *)&N.sa, N.salen);
    return rc < 0 ? -errno : 0;
}

static bool is_state_change(const char *msg)
{
    static const char *const states[] = {"READY=1", "RELOADING=1", "STOPPING=1"};
    for (const char *line = msg; line && *line;) {
        for (size_t i = 0; i < HLB_NELEMS(states); i++)
            if (hlb_has_prefix(line, states[i]))
                return true;
        line = strchr(line, '\n');
        line = line ? line + 1 : NULL;
    }
    return false;
}

int hlb_notify(const char *msg)
{
    /* An older state change goes first, so that systemd sees them in order;
     * a newer one supersedes it if it cannot be sent either. */
    if (N.pending && hlb_notify_flush() < 0 && is_state_change(msg)) {
        free(N.pending);
        N.pending = strdup(msg);
        N.dropped++;
        return -EAGAIN;
    }
    int rc = send_now(msg);
    if (rc < 0) {
        N.dropped++;
        if (is_state_change(msg)) {
            free(N.pending);
            N.pending = strdup(msg);
        }
    }
    return rc;
}

int hlb_notifyf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *msg = hlb_vstrdupf(fmt, ap);
    va_end(ap);
    if (!msg) {
        N.dropped++;
        return -ENOMEM;
    }
    int rc = hlb_notify(msg);
    free(msg);
    return rc;
}

bool hlb_notify_pending(void) { return N.pending != NULL; }

int hlb_notify_flush(void)
{
    if (!N.pending)
        return 0;
    int rc = send_now(N.pending);
    if (rc == 0) {
        free(N.pending);
        N.pending = NULL;
    }
    return rc;
}

uint64_t hlb_notify_dropped(void) { return N.dropped; }
