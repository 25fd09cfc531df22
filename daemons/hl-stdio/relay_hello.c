/* The relay core: an attach-protocol client's hello (which channel, from
 * where) and its refusal. */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>
#include <hlbus/clock.h>

#include "cred.h"
#include "relay_int.h"

/* ---------------------------------------------------------------- hello */

static bool may_attach(const stdio_relay_t *r, const client_t *c, const channel_t *ch)
{
    (void)r;
    if (!c->cred_known)
        return false;
    if (c->uid == 0 || c->uid == geteuid())
        return true;
    gid_t want = ch->gid == STDIO_NO_GID ? getegid() : ch->gid;
    return stdio_cred_in_group(c->uid, c->gid, want);
}

void relay_hello_reject(stdio_relay_t *r, client_t *c, const char *why)
{
    char w[160];
    relay_log(r, LOG_WARNING, "attach socket: %s refused: %s", relay_who(c, w, sizeof w), why);
    relay_client_drop(r, c, why);
}

void relay_client_hello(stdio_relay_t *r, client_t *c)
{
    if (!c->hello && !(c->hello = malloc(STDIO_WIRE_MAX_HELLO))) {
        relay_client_kill(r, c, "out of memory");
        return;
    }
    ssize_t n;
    do
        n = recv(c->fd, c->hello + c->hello_len, STDIO_WIRE_MAX_HELLO - c->hello_len, 0);
    while (n < 0 && errno == EINTR);
    if (n == 0) {
        relay_client_kill(r, c, "closed before its hello");
        return;
    }
    if (n < 0) {
        if (errno != EAGAIN && errno != EWOULDBLOCK)
            relay_client_kill(r, c, "error before its hello");
        return;
    }
    c->hello_len += (size_t)n;
    char *nl = memchr(c->hello, '\n', c->hello_len);
    if (!nl) {
        if (c->hello_len == STDIO_WIRE_MAX_HELLO)
            relay_hello_reject(r, c, "error: hello longer than 1024 bytes");
        return;
    }
    stdio_hello_t h;
    char perr[160], why[256];
    if (stdio_hello_parse(c->hello, (size_t)(nl - c->hello), &h, perr, sizeof perr) < 0) {
        snprintf(why, sizeof why, "error: %s", perr);
        relay_hello_reject(r, c, why);
        return;
    }
    channel_t *ch = relay_chan_find(r, h.channel);
    if (!ch) {
        snprintf(why, sizeof why, "error: no channel \"%s\"", h.channel);
        relay_hello_reject(r, c, why);
        return;
    }
    if (!may_attach(r, c, ch)) {
        ch->rejected++;
        snprintf(why, sizeof why, "error: not allowed to attach to \"%s\"", h.channel);
        relay_hello_reject(r, c, why);
        return;
    }
    if (ch->n_clients >= ch->max_clients) {
        ch->rejected++;
        snprintf(why, sizeof why, "error: channel \"%s\" has %u clients already", h.channel,
                 ch->n_clients);
        relay_hello_reject(r, c, why);
        return;
    }
    uint64_t head = stdio_ring_head(ch->ring), tail = stdio_ring_tail(ch->ring);
    uint64_t start = relay_chan_replay_start(ch), missed = 0;
    bool reset = h.has_stream && h.stream != ch->stream;
    if (relay_term_hello(r, c, ch, &h, &start, why, sizeof why) < 0) {
        relay_hello_reject(r, c, why);
        return;
    }
    if (h.from == STDIO_FROM_NOW) {
        start = head;
    } else if (h.from == STDIO_FROM_DEFAULT && c->screen) {
        /* The screen is drawn (relay_term_screen): the stream goes on from it. */
    } else if (h.from == STDIO_FROM_OFFSET && reset) {
        /* Another incarnation's offset: start as a late joiner does; all we
         * can say is how much of this stream it will not see. */
        missed = start;
    } else if (h.from == STDIO_FROM_OFFSET) {
        if (h.offset > head) {
            snprintf(why, sizeof why, "error: offset %llu is beyond the head (%llu)",
                     (unsigned long long)h.offset, (unsigned long long)head);
            relay_hello_reject(r, c, why);
            return;
        }
        /* A resume reaches as far back as the ring does. */
        if (h.offset < tail) {
            start = tail;
            missed = tail - h.offset;
        } else {
            start = h.offset;
        }
    }
    char *start_line = NULL;
    if (asprintf(&start_line,
                 "stream=%016llx channel=%s head=%llu tail=%llu missed=%llu read-only=%d "
                 "reset=%d\n",
                 (unsigned long long)ch->stream, ch->name, (unsigned long long)head,
                 (unsigned long long)tail, (unsigned long long)missed, h.read_only ? 1 : 0,
                 reset ? 1 : 0) < 0 ||
        !relay_ctl_frame(c, STDIO_FRAME_START, start, start_line) ||
        (c->screen && !relay_term_screen(r, c, ch))) {
        free(start_line);
        relay_client_kill(r, c, "out of memory");
        return;
    }
    free(start_line);
    /* What came after the hello line is the client's first input. */
    size_t used = (size_t)(nl - c->hello) + 1;
    size_t extra = c->hello_len - used;
    relay_pending_del(r, c);
    r->n_hello--;
    c->read_only = h.read_only;
    relay_client_attach(r, c, ch, start, missed);
    if (c->agent || c->cols)
        relay_term_apply_size(r, ch, hlb_mono_us());
    if (extra && !c->read_only && c->framed_in) {
        /* The start of its first frame: parsed with the rest. */
        extra = relay_term_early_input(r, c, c->hello + used, extra) > 0;
    } else if (extra && !c->read_only) {
        struct iovec one = {c->hello + used, extra};
        relay_term_fed(r, c, &one, 1, extra);
        stdio_ring_append(ch->ring, c->hello + used, extra, c->agent ? c->id | AGENT_BIT : c->id);
        c->bytes_in += extra;
    }
    free(c->hello);
    c->hello = NULL;
    c->hello_len = 0;
    if (extra && !c->read_only)
        relay_chan_advanced(r, ch);
    else
        relay_client_pump(r, c);
}
