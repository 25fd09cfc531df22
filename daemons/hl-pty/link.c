/* hl-pty's side of the relay: see link.h. */
#include "link.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <hlbus/clock.h>

#include "wire.h"

#define IN_CAP (2 * (STDIO_WIRE_HDR + STDIO_WIRE_MAX_DATA))
#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 2000

int link_init(relay_link_t *l, const char *path, const char *channel, size_t bound)
{
    memset(l, 0, sizeof *l);
    l->fd = -1;
    snprintf(l->channel, sizeof l->channel, "%s", channel);
    l->path = strdup(path);
    l->out_cap = bound;
    l->out = malloc(bound);
    l->in = malloc(IN_CAP);
    l->backoff_ms = BACKOFF_MIN_MS;
    return l->path && l->out && l->in ? 0 : -ENOMEM;
}

void link_fini(relay_link_t *l)
{
    if (l->fd >= 0)
        close(l->fd);
    free(l->path);
    free(l->out);
    free(l->in);
    memset(l, 0, sizeof *l);
    l->fd = -1;
}

/* The queue becomes the screen as it is now. */
static void queue_screen(relay_link_t *l, stdio_term_t *term)
{
    l->out_len = 0;
    char *draw = NULL;
    size_t len = 0;
    if (term && stdio_term_redraw(term, &draw, &len) == 0) {
        if (len <= l->out_cap) {
            memcpy(l->out, draw, len);
            l->out_len = len;
        }
        free(draw);
    }
}

static void disconnect(relay_link_t *l, stdio_term_t *term, const char *why)
{
    fprintf(stderr, "hl-pty: lost the relay (%s): the program goes on; reconnecting\n", why);
    close(l->fd);
    l->fd = -1;
    l->in_len = 0;
    l->overflowed = false;
    l->lost_now = 0;
    /* What was queued and not sent is on the screen already: the screen
     * goes first when the relay is back, then what comes after. */
    queue_screen(l, term);
    l->retry_at_us = hlb_mono_us() + BACKOFF_MIN_MS * 1000u;
    l->backoff_ms = BACKOFF_MIN_MS;
}

int link_connect(relay_link_t *l, unsigned cols, unsigned rows, stdio_term_t *term)
{
    if (l->fd >= 0)
        return 0;
    uint64_t now = hlb_mono_us();
    if (now < l->retry_at_us)
        return -EAGAIN;
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (strlen(l->path) >= sizeof sa.sun_path)
        return -ENAMETOOLONG;
    memcpy(sa.sun_path, l->path, strlen(l->path) + 1);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
        int e = errno;
        close(fd);
        l->retry_at_us = now + (uint64_t)l->backoff_ms * 1000u;
        l->backoff_ms = l->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : l->backoff_ms * 2;
        return -e;
    }
    char hello[160];
    int n = snprintf(hello, sizeof hello, STDIO_WIRE_VERSION " attach %s agent size=%ux%u\n",
                     l->channel, cols, rows);
    if (send(fd, hello, (size_t)n, MSG_NOSIGNAL) != n) {
        int e = errno;
        close(fd);
        l->retry_at_us = now + (uint64_t)l->backoff_ms * 1000u;
        return -e;
    }
    l->fd = fd;
    l->connects++;
    l->backoff_ms = BACKOFF_MIN_MS;
    if (l->overflowed) {
        fprintf(stderr,
                "hl-pty: %llu bytes of output came while the relay was away and were not "
                "kept; the screen is drawn as it is\n",
                (unsigned long long)l->lost_now);
        queue_screen(l, term);
        l->overflowed = false;
    }
    fprintf(stderr, "hl-pty: joined channel %s at %s as the agent (%ux%u)\n", l->channel,
            l->path, cols, rows);
    return 0;
}

void link_output(relay_link_t *l, const void *data, size_t len)
{
    if (l->overflowed) {
        l->lost += len;
        l->lost_now += len;
        return;
    }
    if (len > l->out_cap - l->out_len) {
        /* Only away (connected, the program is not read while full). */
        l->lost += l->out_len + len;
        l->lost_now += l->out_len + len;
        l->out_len = 0;
        l->overflowed = true;
        return;
    }
    memcpy(l->out + l->out_len, data, len);
    l->out_len += len;
}

bool link_may_take(const relay_link_t *l)
{
    /* A read is at most 4 KiB (main.c): room for it, or away. */
    return l->fd < 0 || l->out_cap - l->out_len >= 4096;
}

int link_flush(relay_link_t *l, stdio_term_t *term)
{
    while (l->fd >= 0 && l->out_len) {
        ssize_t n = send(l->fd, l->out, l->out_len, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return 0;
        if (n <= 0) {
            disconnect(l, term, strerror(errno));
            return -1;
        }
        memmove(l->out, l->out + n, l->out_len - (size_t)n);
        l->out_len -= (size_t)n;
    }
    return 0;
}

int link_read(relay_link_t *l, const link_ops_t *ops, void *arg, stdio_term_t *term)
{
    ssize_t n;
    do
        n = recv(l->fd, l->in + l->in_len, IN_CAP - l->in_len, MSG_DONTWAIT);
    while (n < 0 && errno == EINTR);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        return 0;
    if (n <= 0) {
        disconnect(l, term, n == 0 ? "hl-stdio closed the connection" : strerror(errno));
        return -1;
    }
    l->in_len += (size_t)n;
    size_t o = 0;
    while (l->in_len - o >= STDIO_WIRE_HDR) {
        int type;
        uint32_t len;
        uint64_t off;
        if (stdio_wire_hdr_parse(l->in + o, &type, &len, &off) < 0) {
            disconnect(l, term, "protocol error: a bad frame header");
            return -1;
        }
        if (l->in_len - o < STDIO_WIRE_HDR + len)
            break;
        const uint8_t *pl = l->in + o + STDIO_WIRE_HDR;
        o += STDIO_WIRE_HDR + len;
        switch (type) {
        case STDIO_FRAME_DATA:
            ops->input(arg, pl, len);
            break;
        case STDIO_FRAME_WINSIZE: {
            unsigned cols, rows;
            stdio_wire_get_size(pl, &cols, &rows);
            ops->size(arg, cols, rows);
            break;
        }
        case STDIO_FRAME_END: {
            char why[256];
            int wl = (int)(len && pl[len - 1] == '\n' ? len - 1 : len);
            snprintf(why, sizeof why, "hl-stdio: %.*s", wl, (const char *)pl);
            for (char *p = why; *p; p++)
                if ((unsigned char)*p < 0x20 || (unsigned char)*p == 0x7f)
                    *p = '?';
            disconnect(l, term, why);
            return -1;
        }
        default: /* S, K: nothing to do */
            break;
        }
    }
    memmove(l->in, l->in + o, l->in_len - o);
    l->in_len -= o;
    return 0;
}
