/* The STDIO relay core: see relay.h for what it does, docs/stdio.md for why.
 * This file is its data path (reading, fan-out, sending), its events and its
 * lifecycle; relay_int.h lists the others. */
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

/* The transitions there are; any other is a programming error. */
static const bool may_follow[C_STATES][C_STATES] = {
    /*            NEW  HELLO LIVE  DRAIN DEAD */
    [C_NEW] = {false, true, true, false, true},    /* attach socket / raw socket / refused */
    [C_HELLO] = {false, false, true, true, true},  /* good hello / bad one, told why / gone */
    [C_LIVE] = {false, false, false, true, true},  /* dropped and told why / gone */
    [C_DRAIN] = {false, false, false, false, true}, /* last words out, or out of time */
    [C_DEAD] = {false, false, false, false, false},
};

/* ---------------------------------------------------------------- helpers */

void relay_log(stdio_relay_t *r, int level, const char *fmt, ...)
{
    if (!r->hooks.log)
        return;
    va_list ap;
    va_start(ap, fmt);
    char *msg = NULL;
    int n = vasprintf(&msg, fmt, ap);
    va_end(ap);
    if (n >= 0) {
        r->hooks.log(r->arg, level, msg);
        free(msg);
    }
}

int relay_fail(char *err, size_t errlen, int rc, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return rc;
}

const char *relay_who(const client_t *c, char *buf, size_t len)
{
    if (c->cred_known)
        snprintf(buf, len, "client %llu (uid %u gid %u pid %ld%s%s)", (unsigned long long)c->id,
                 (unsigned)c->uid, (unsigned)c->gid, (long)c->pid, c->comm[0] ? " " : "",
                 c->comm);
    else
        snprintf(buf, len, "client %llu (credentials unknown)", (unsigned long long)c->id);
    return buf;
}

/* The detach reason for a socket error: a peer that went away with data
 * unread (ECONNRESET) or before we wrote (EPIPE) simply closed. */
static const char *errno_reason(int e, char *buf, size_t len)
{
    if (e == EPIPE || e == ECONNRESET)
        return "closed";
    snprintf(buf, len, "error: %s", strerror(e));
    return buf;
}

void relay_client_info(const client_t *c, const char *reason, stdio_client_info_t *ci)
{
    memset(ci, 0, sizeof *ci);
    ci->channel = c->ch ? c->ch->name : NULL;
    ci->stream = c->ch ? c->ch->stream : 0;
    ci->id = c->id;
    ci->cred_known = c->cred_known;
    ci->uid = c->uid;
    ci->gid = c->gid;
    ci->pid = c->pid;
    ci->comm = c->comm;
    ci->read_only = c->read_only;
    ci->framed = c->framed;
    ci->start = c->start;
    ci->missed = c->missed;
    ci->position = c->cursor + c->frame_left;
    if (c->ch) {
        uint64_t head = stdio_ring_head(c->ch->ring);
        ci->lag = head > c->cursor ? head - c->cursor : 0;
    }
    ci->bytes_in = c->bytes_in;
    ci->bytes_out = c->bytes_out;
    ci->reason = reason;
}

/* ---------------------------------------------------------------- epoll */

void relay_client_set_events(stdio_relay_t *r, client_t *c)
{
    bool paused = c->state == C_LIVE && c->ch && c->ch->paused;
    bool rd = c->reading && !paused;
    uint32_t m = (rd ? EPOLLIN : 0) | (c->blocked ? EPOLLOUT : 0);
    /* A hang-up is reported whatever the mask: while its channel is paused a
     * hung-up writer would make epoll spin, so it leaves the set until the
     * channel resumes (and reports the hang-up again). */
    bool park = c->hup && c->reading && paused && !c->blocked;
    if (park != c->parked) {
        struct epoll_event ev = {.events = m, .data.ptr = &c->po};
        if (epoll_ctl(r->epfd, park ? EPOLL_CTL_DEL : EPOLL_CTL_ADD, c->fd, &ev) == 0) {
            c->parked = park;
            c->ev_mask = m;
        }
        return;
    }
    if (park || m == c->ev_mask)
        return;
    struct epoll_event ev = {.events = m, .data.ptr = &c->po};
    if (epoll_ctl(r->epfd, EPOLL_CTL_MOD, c->fd, &ev) == 0)
        c->ev_mask = m;
}

void relay_arm_timer(stdio_relay_t *r, uint64_t at_us)
{
    if (at_us == r->timer_armed_us)
        return;
    struct itimerspec its = {0};
    if (at_us) {
        its.it_value.tv_sec = (time_t)(at_us / 1000000u);
        its.it_value.tv_nsec = (long)(at_us % 1000000u) * 1000;
    }
    if (timerfd_settime(r->tfd, TFD_TIMER_ABSTIME, &its, NULL) == 0)
        r->timer_armed_us = at_us;
}

/* ---------------------------------------------------------------- lists */

void relay_client_set_state(client_t *c, cstate_t s)
{
    assert(may_follow[c->state][s]);
    (void)may_follow; /* without assertions */
    c->state = s;
}

void relay_pending_add(stdio_relay_t *r, client_t *c, uint64_t deadline)
{
    c->deadline_us = deadline;
    if (c->pprev || r->pending == c)
        return;
    c->pnext = r->pending;
    if (r->pending)
        r->pending->pprev = c;
    r->pending = c;
}

void relay_pending_del(stdio_relay_t *r, client_t *c)
{
    if (!c->pprev && r->pending != c)
        return;
    if (c->pprev)
        c->pprev->pnext = c->pnext;
    else
        r->pending = c->pnext;
    if (c->pnext)
        c->pnext->pprev = c->pprev;
    c->pprev = c->pnext = NULL;
}

void relay_chan_add(channel_t *ch, client_t *c)
{
    c->ch = ch;
    c->prev = ch->clients_last;
    c->next = NULL;
    if (ch->clients_last)
        ch->clients_last->next = c;
    else
        ch->clients = c;
    ch->clients_last = c;
    ch->n_clients++;
}

/* Takes C out of its channel's fan-out and reports the detach (once). */
static void chan_leave(stdio_relay_t *r, client_t *c, const char *reason)
{
    channel_t *ch = c->ch;
    if (!ch || c->state != C_LIVE)
        return;
    if (c->prev)
        c->prev->next = c->next;
    else
        ch->clients = c->next;
    if (c->next)
        c->next->prev = c->prev;
    else
        ch->clients_last = c->prev;
    c->prev = c->next = NULL;
    ch->n_clients--;
    relay_term_left(r, ch, c);
    if (c->attached) {
        c->attached = false;
        char w[160];
        relay_log(r, LOG_INFO, "%s: %s detached at %llu: %s", ch->name, relay_who(c, w, sizeof w),
             (unsigned long long)(c->cursor + c->frame_left), reason);
        if (r->hooks.detach) {
            stdio_client_info_t ci;
            relay_client_info(c, reason, &ci);
            r->hooks.detach(r->arg, &ci);
        }
    }
    c->ch = NULL; /* the channel may go before a draining client does */
}

/* Closes C now. Memory is released at the end of the dispatch round. */
void relay_client_kill(stdio_relay_t *r, client_t *c, const char *reason)
{
    if (c->state == C_DEAD)
        return;
    chan_leave(r, c, reason);
    relay_pending_del(r, c);
    if (c->state == C_HELLO)
        r->n_hello--;
    close(c->fd); /* also leaves the epoll set */
    c->fd = -1;
    if (r->reserve_fd < 0)
        r->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (r->accept_off)
        relay_listeners_set(r, true);
    relay_client_set_state(c, C_DEAD);
    c->dead_next = r->dead;
    r->dead = c;
    r->n_conns--;
}

static void client_free(client_t *c)
{
    free(c->fin);
    free(c->ctl);
    free(c->hello);
    free(c);
}

void relay_reap(stdio_relay_t *r)
{
    while (r->dead) {
        client_t *c = r->dead;
        r->dead = c->dead_next;
        client_free(c);
    }
}

/* Appends to the control bytes (framed clients); false when out of memory. */
static bool ctl_add(client_t *c, const void *data, size_t len);
bool relay_ctl_add(client_t *c, const void *data, size_t len) { return ctl_add(c, data, len); }

static bool ctl_add(client_t *c, const void *data, size_t len)
{
    if (c->ctl_off && c->ctl_off == c->ctl_len)
        c->ctl_off = c->ctl_len = 0;
    if (c->ctl_len + len > c->ctl_cap) {
        size_t cap = c->ctl_cap ? c->ctl_cap : 256;
        while (cap < c->ctl_len + len)
            cap *= 2;
        uint8_t *n = realloc(c->ctl, cap);
        if (!n)
            return false;
        c->ctl = n;
        c->ctl_cap = cap;
    }
    memcpy(c->ctl + c->ctl_len, data, len);
    c->ctl_len += len;
    return true;
}

bool relay_ctl_frame(client_t *c, int type, uint64_t offset, const char *text)
{
    size_t len = strlen(text);
    if (len > STDIO_WIRE_MAX_TEXT)
        len = STDIO_WIRE_MAX_TEXT;
    uint8_t hdr[STDIO_WIRE_HDR];
    stdio_wire_hdr(hdr, type, (uint32_t)len, offset);
    return ctl_add(c, hdr, sizeof hdr) && ctl_add(c, text, len);
}

/* ---------------------------------------------------------------- sending */

typedef enum { SEG_CTL, SEG_HDR, SEG_DATA, SEG_KFRAME, SEG_SKIP } segkind_t;
typedef struct seg {
    segkind_t kind;
    size_t len;       /* bytes in the iovec (0 for SEG_SKIP) */
    uint64_t arg;     /* HDR: its payload length; KFRAME, SKIP: bytes skipped */
    const uint8_t *p; /* HDR, KFRAME: the header bytes */
} seg_t;

/* Writes what C is owed, as far as its socket takes it. 0 (caught up or
 * blocked; c->blocked says which) or -errno when the peer is gone. */
static int client_flush(stdio_relay_t *r, client_t *c)
{
    if ((c->state != C_LIVE && c->state != C_DRAIN) || c->out_closed)
        return 0;
    for (;;) {
        struct iovec iov[MAX_IOV];
        seg_t seg[2 * MAX_IOV + 4]; /* raw own-byte skips take no iovec */
        int ni = 0, ns = 0, nh = 0;
        size_t total = 0;
        if (c->ctl_off < c->ctl_len) {
            iov[ni++] = (struct iovec){c->ctl + c->ctl_off, c->ctl_len - c->ctl_off};
            seg[ns++] = (seg_t){.kind = SEG_CTL, .len = c->ctl_len - c->ctl_off};
            total += c->ctl_len - c->ctl_off;
        }
        if (c->state == C_LIVE) {
            stdio_ring_t *ring = c->ch->ring;
            uint64_t head = stdio_ring_head(ring);
            uint64_t pos = c->cursor;
            if (c->frame_left) {
                struct iovec d[2];
                int k = stdio_ring_iov(ring, pos, c->frame_left, d);
                for (int i = 0; i < k; i++) {
                    iov[ni++] = d[i];
                    seg[ns++] = (seg_t){.kind = SEG_DATA, .len = d[i].iov_len};
                }
                pos += c->frame_left;
                total += c->frame_left;
            }
            while (pos < head && ni + 3 <= MAX_IOV && ns + 3 <= 2 * MAX_IOV &&
                   total < SEND_BUDGET) {
                uint64_t author;
                uint64_t end = stdio_ring_run(ring, pos, &author);
                if ((author & ~AGENT_BIT) == c->id || relay_term_hides(c, author)) {
                    /* Its own bytes: skipped, and framed clients are told so. */
                    if (c->framed) {
                        uint8_t *h = r->scratch[nh++];
                        stdio_wire_hdr(h, STDIO_FRAME_SKIP, 8, pos);
                        stdio_wire_put64(h + STDIO_WIRE_HDR, end - pos);
                        iov[ni++] = (struct iovec){h, STDIO_WIRE_HDR + 8};
                        seg[ns++] = (seg_t){.kind = SEG_KFRAME, .len = STDIO_WIRE_HDR + 8,
                                            .arg = end - pos, .p = h};
                        total += STDIO_WIRE_HDR + 8;
                    } else {
                        seg[ns++] = (seg_t){.kind = SEG_SKIP, .arg = end - pos};
                    }
                    pos = end;
                    continue;
                }
                size_t len = (size_t)(end - pos);
                if (c->framed) {
                    if (len > STDIO_WIRE_MAX_DATA)
                        len = STDIO_WIRE_MAX_DATA;
                    uint8_t *h = r->scratch[nh++];
                    stdio_wire_hdr(h, STDIO_FRAME_DATA, (uint32_t)len, pos);
                    iov[ni++] = (struct iovec){h, STDIO_WIRE_HDR};
                    seg[ns++] = (seg_t){.kind = SEG_HDR, .len = STDIO_WIRE_HDR, .arg = len, .p = h};
                    total += STDIO_WIRE_HDR;
                }
                struct iovec d[2];
                int k = stdio_ring_iov(ring, pos, len, d);
                for (int i = 0; i < k; i++) {
                    iov[ni++] = d[i];
                    seg[ns++] = (seg_t){.kind = SEG_DATA, .len = d[i].iov_len};
                }
                pos += len;
                total += len;
            }
        }
        if (ns == 0) {
            c->blocked = false;
            c->blocked_since = 0;
            relay_client_set_events(r, c);
            return 0;
        }
        size_t sent = 0;
        if (ni > 0) {
            struct msghdr mh = {.msg_iov = iov, .msg_iovlen = (size_t)ni};
            ssize_t n = sendmsg(c->fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
            if (n < 0) {
                if (errno == EINTR)
                    continue;
                if (errno == EAGAIN || errno == EWOULDBLOCK) {
                    c->blocked = true;
                    if (!c->blocked_since)
                        c->blocked_since = hlb_mono_us();
                    relay_client_set_events(r, c);
                    return 0;
                }
                return -errno;
            }
            sent = (size_t)n;
        }
        /* Account for what went out, segment by segment; stop at the first
         * one not wholly sent. A frame header once started is committed: the
         * rest of it goes into ctl, ahead of its payload. */
        size_t left = sent;
        bool whole = true;
        for (int i = 0; i < ns && whole; i++) {
            seg_t *s = &seg[i];
            size_t k = left < s->len ? left : s->len;
            switch (s->kind) {
            case SEG_CTL:
                c->ctl_off += k;
                if (c->ctl_off == c->ctl_len)
                    c->ctl_off = c->ctl_len = 0;
                break;
            case SEG_HDR:
            case SEG_KFRAME:
                if (k == 0) {
                    whole = false;
                    break;
                }
                if (k < s->len && !ctl_add(c, s->p + k, s->len - k))
                    return -ENOMEM;
                if (s->kind == SEG_HDR)
                    c->frame_left = (uint32_t)s->arg;
                else
                    c->cursor += s->arg;
                k = s->len; /* committed: the rest is in ctl */
                break;
            case SEG_DATA:
                c->cursor += k;
                c->bytes_out += k;
                c->ch->bytes_out += k;
                if (c->framed)
                    c->frame_left -= (uint32_t)k;
                break;
            case SEG_SKIP:
                c->cursor += s->arg;
                break;
            }
            if (k < s->len)
                whole = false;
            left -= k;
        }
        if (sent < total) {
            /* It took something: a new episode of being full starts now. */
            c->blocked = true;
            c->blocked_since = hlb_mono_us();
            relay_client_set_events(r, c);
            return 0;
        }
    }
}

/* Flushes C and deals with the outcome; DRAIN clients are closed once
 * their last words are out. */
void relay_client_pump(stdio_relay_t *r, client_t *c)
{
    int rc = client_flush(r, c);
    if (rc < 0 && c->state == C_LIVE && c->reading) {
        /* It stopped reading (shut down or died) but what it wrote may still
         * be queued to us: keep reading it until its end. */
        c->out_closed = true;
        c->blocked = false;
        relay_client_set_events(r, c);
        return;
    }
    if (rc < 0) {
        char reason[96];
        relay_client_kill(r, c, errno_reason(-rc, reason, sizeof reason));
        return;
    }
    if (c->state == C_DRAIN && c->ctl_off == c->ctl_len)
        relay_client_kill(r, c, "dropped");
}

/* Stops C's fan-out with REASON. Attach clients get the rest of the frame
 * they are in, then an E frame, then the socket closes; raw clients are
 * closed at once (their stream has no room for a message). */
void relay_client_drop(stdio_relay_t *r, client_t *c, const char *reason)
{
    if (c->state == C_DEAD || c->state == C_DRAIN)
        return;
    if (!c->framed) {
        relay_client_kill(r, c, reason);
        return;
    }
    uint64_t position = c->cursor + c->frame_left;
    bool ok = true;
    if (c->state == C_LIVE && c->frame_left) {
        /* The ring has room to spare beyond the scrollback, so the rest of
         * this frame is still there even when the client just fell out. */
        uint8_t *tmp = malloc(c->frame_left);
        ok = tmp != NULL;
        if (tmp) {
            stdio_ring_copy(c->ch->ring, c->cursor, tmp, c->frame_left);
            ok = ctl_add(c, tmp, c->frame_left);
            c->bytes_out += c->frame_left;
            c->ch->bytes_out += c->frame_left;
            free(tmp);
        }
        c->cursor += c->frame_left;
        c->frame_left = 0;
    }
    char *line = NULL;
    if (asprintf(&line, "%s\n", reason) < 0)
        line = NULL;
    ok = ok && line && relay_ctl_frame(c, STDIO_FRAME_END, position, line);
    free(line);
    chan_leave(r, c, reason);
    if (c->state == C_HELLO)
        r->n_hello--;
    if (!ok) {
        relay_client_set_state(c, C_DRAIN); /* so that kill does not count the hello twice */
        relay_client_kill(r, c, reason);
        return;
    }
    relay_client_set_state(c, C_DRAIN);
    shutdown(c->fd, SHUT_RD);
    c->reading = false;
    relay_pending_add(r, c, hlb_mono_us() + (uint64_t)r->conf.drain_timeout_ms * 1000u);
    relay_client_pump(r, c);
}

/* ---------------------------------------------------------------- channels */

/* The ring keeps a quarter more than the scrollback: a late joiner is
 * replayed the scrollback and still has that much room to catch up before
 * it counts as slow. */
size_t relay_keep_for(size_t scrollback) { return scrollback + scrollback / 4; }

/* The largest read into a ring: at most a quarter of its scrollback, so that
 * one read cannot push a reader that keeps up out of the ring. */
size_t relay_chunk_for(const stdio_relay_conf_t *conf, size_t scrollback)
{
    size_t quarter = scrollback / 4;
    return conf->read_chunk < quarter ? conf->read_chunk : quarter;
}

/* Where a late joiner starts: the newest scrollback bytes. */
uint64_t relay_chan_replay_start(const channel_t *ch)
{
    uint64_t head = stdio_ring_head(ch->ring), tail = stdio_ring_tail(ch->ring);
    uint64_t from = head > ch->scrollback ? head - ch->scrollback : 0;
    return from > tail ? from : tail;
}

channel_t *relay_chan_find(stdio_relay_t *r, const char *name)
{
    for (channel_t *ch = r->channels; ch; ch = ch->next)
        if (strcmp(ch->name, name) == 0)
            return ch;
    return NULL;
}

/* Whether the writers of CH may be read: not while a client that is still
 * taking data would be pushed out of the ring by the next read. A client
 * whose socket has stayed full for the stall timeout stops counting (it will
 * be overrun and dropped), so nobody is held back for longer than that. *DUE
 * gets the earliest moment a client now holding the writers back stalls. */
static bool chan_may_read(stdio_relay_t *r, channel_t *ch, uint64_t now, uint64_t *due)
{
    if (r->conf.stall_timeout_ms <= 0)
        return true;
    uint64_t stall = (uint64_t)r->conf.stall_timeout_ms * 1000u;
    uint64_t head = stdio_ring_head(ch->ring);
    uint64_t room = stdio_ring_keep(ch->ring) - stdio_ring_slack(ch->ring);
    bool may = true;
    for (client_t *c = ch->clients; c; c = c->next) {
        if (c->out_closed || head - c->cursor <= room)
            continue;
        if (!c->blocked_since)
            c->blocked_since = now;
        if (now - c->blocked_since >= stall)
            continue;
        may = false;
        if (!*due || c->blocked_since + stall < *due)
            *due = c->blocked_since + stall;
    }
    return may;
}

/* Pauses or resumes reading CH's writers. */
static void chan_update_pause(stdio_relay_t *r, channel_t *ch)
{
    uint64_t due = 0;
    bool pause = !chan_may_read(r, ch, hlb_mono_us(), &due);
    ch->stall_due_us = due;
    if (pause == ch->paused)
        return;
    ch->paused = pause;
    ch->pauses += pause;
    for (client_t *c = ch->clients; c; c = c->next)
        if (c->reading)
            relay_client_set_events(r, c);
}

/* After the head moved: drops relay_who fell out of the ring, feeds the rest,
 * decides whether to read on, and schedules a data event. */
void relay_chan_advanced(stdio_relay_t *r, channel_t *ch)
{
    uint64_t tail = stdio_ring_tail(ch->ring);
    uint64_t head = stdio_ring_head(ch->ring);
    for (client_t *c = ch->clients, *next; c; c = next) {
        next = c->next;
        if (c->cursor < tail && !c->out_closed) {
            char reason[160];
            snprintf(reason, sizeof reason, "slow: %llu bytes behind, the limit is %zu",
                     (unsigned long long)(head - c->cursor), stdio_ring_keep(ch->ring));
            ch->dropped++;
            relay_client_drop(r, c, reason);
        }
    }
    for (client_t *c = ch->clients, *next; c; c = next) {
        next = c->next;
        if (!c->blocked)
            relay_client_pump(r, c);
    }
    chan_update_pause(r, ch);
    if (ch->publish && r->hooks.data && !ch->ev_due_us) {
        uint64_t due = ch->ev_last_us + (uint64_t)r->conf.event_interval_ms * 1000u;
        uint64_t now = hlb_mono_us();
        ch->ev_due_us = due > now ? due : now;
    }
}

static void chan_publish(stdio_relay_t *r, channel_t *ch, uint64_t now)
{
    ch->ev_due_us = 0;
    uint64_t head = stdio_ring_head(ch->ring);
    if (head == ch->ev_end)
        return;
    uint64_t start = ch->ev_end;
    uint64_t tail = stdio_ring_tail(ch->ring);
    if (start < tail)
        start = tail;
    if (head - start > r->conf.event_max_bytes)
        start = head - r->conf.event_max_bytes;
    struct iovec iov[2];
    int n = stdio_ring_iov(ch->ring, start, (size_t)(head - start), iov);
    uint64_t skipped = start - ch->ev_end;
    ch->events++;
    ch->event_skipped += skipped;
    ch->ev_end = head;
    ch->ev_last_us = now;
    r->hooks.data(r->arg, ch->name, ch->stream, start, iov, n, skipped);
}

/* Reads one chunk from C into its channel. */
static void client_read(stdio_relay_t *r, client_t *c)
{
    channel_t *ch = c->ch;
    if (c->framed_in) {
        if (relay_term_read_frames(r, c) > 0)
            relay_chan_advanced(r, ch);
        return;
    }
    struct iovec iov[2];
    int cnt = stdio_ring_reserve(ch->ring, stdio_ring_slack(ch->ring), iov);
    ssize_t n;
    do
        n = readv(c->fd, iov, cnt);
    while (n < 0 && errno == EINTR);
    if (n > 0) {
        relay_term_fed(r, c, iov, cnt, (size_t)n);
        stdio_ring_commit(ch->ring, (size_t)n, c->agent ? c->id | AGENT_BIT : c->id);
        c->bytes_in += (uint64_t)n;
        relay_chan_advanced(r, ch);
    } else if (n == 0) {
        /* Done writing; it may still be reading (a half-close). */
        c->eof_in = true;
        c->reading = false;
        if (c->out_closed)
            relay_client_kill(r, c, "closed");
        else if (c->state == C_LIVE)
            relay_client_set_events(r, c);
    } else if (errno != EAGAIN && errno != EWOULDBLOCK) {
        char reason[96];
        relay_client_kill(r, c, errno_reason(errno, reason, sizeof reason));
    }
}

/* ---------------------------------------------------------------- events */

static void client_ready(stdio_relay_t *r, client_t *c, uint32_t ev)
{
    if (c->state == C_DEAD)
        return;
    if (c->state == C_HELLO) {
        if (ev & (EPOLLIN | EPOLLHUP | EPOLLERR))
            relay_client_hello(r, c);
        return;
    }
    if (ev & EPOLLOUT) {
        c->blocked = false;
        relay_client_pump(r, c);
    }
    /* A peer that hung up or failed may have written before it went: read
     * that first (one chunk per round, as for anyone). */
    if ((ev & (EPOLLHUP | EPOLLERR)) && c->state == C_LIVE && c->reading && !c->hup) {
        c->hup = true;
        relay_client_set_events(r, c);
    }
    if ((ev & (EPOLLIN | EPOLLHUP | EPOLLERR)) && c->state == C_LIVE && c->reading &&
        !c->ch->paused)
        client_read(r, c);
    if ((ev & (EPOLLHUP | EPOLLERR)) && c->state != C_DEAD && !(c->state == C_LIVE && c->reading)) {
        int e = 0;
        socklen_t l = sizeof e;
        char reason[96];
        if (ev & EPOLLERR)
            getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &e, &l);
        relay_client_kill(r, c, e ? errno_reason(e, reason, sizeof reason)
                            : c->state == C_DRAIN ? "dropped" : "closed");
    }
}

/* Expired deadlines and due events; returns the next deadline (0: none). */
uint64_t relay_run_timers(stdio_relay_t *r)
{
    uint64_t now = hlb_mono_us(), next = 0;
    for (client_t *c = r->pending, *n; c; c = n) {
        n = c->pnext;
        if (c->deadline_us > now) {
            if (!next || c->deadline_us < next)
                next = c->deadline_us;
            continue;
        }
        if (c->state == C_HELLO) {
            char why[96];
            snprintf(why, sizeof why, "error: no hello within %d ms", r->conf.hello_timeout_ms);
            relay_hello_reject(r, c, why);
            /* relay_hello_reject made it a DRAIN client with a fresh deadline. */
            if (c->state == C_DRAIN && (!next || c->deadline_us < next))
                next = c->deadline_us;
        } else {
            relay_client_kill(r, c, "dropped");
        }
    }
    for (channel_t *ch = r->channels; ch; ch = ch->next) {
        /* Drains, detaches and stalls may all let the writers go on. */
        chan_update_pause(r, ch);
        if (ch->size_due_us && ch->size_due_us <= now)
            relay_term_apply_size(r, ch, now);
        if (ch->size_due_us && (!next || ch->size_due_us < next))
            next = ch->size_due_us;
        if (ch->stall_due_us && (!next || ch->stall_due_us < next))
            next = ch->stall_due_us;
        if (!ch->ev_due_us)
            continue;
        if (ch->ev_due_us <= now)
            chan_publish(r, ch, now);
        else if (!next || ch->ev_due_us < next)
            next = ch->ev_due_us;
    }
    return next;
}

int stdio_relay_dispatch(stdio_relay_t *r, int timeout_ms)
{
    struct epoll_event evs[MAX_EVENTS];
    int n = epoll_wait(r->epfd, evs, MAX_EVENTS, timeout_ms);
    if (n < 0)
        return errno == EINTR ? 0 : -errno;
    int handled = n;
    for (int i = 0; i < n; i++) {
        pollobj_t *po = evs[i].data.ptr;
        switch (po->kind) {
        case PK_LISTENER:
            relay_listener_ready(r, (listener_t *)po);
            break;
        case PK_CLIENT:
            client_ready(r, (client_t *)po, evs[i].events);
            break;
        case PK_TIMER: {
            uint64_t expirations;
            if (read(r->tfd, &expirations, sizeof expirations) < 0) {
                /* EAGAIN: re-armed meanwhile; nothing to consume. */
            }
            r->timer_armed_us = 0;
            break;
        }
        }
    }
    relay_arm_timer(r, relay_run_timers(r));
    relay_reap(r);
    return handled;
}

/* ---------------------------------------------------------------- lifecycle */

stdio_relay_t *stdio_relay_new(const stdio_hooks_t *hooks, void *arg)
{
    stdio_relay_t *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->epfd = epoll_create1(EPOLL_CLOEXEC);
    r->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    r->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (hooks)
        r->hooks = *hooks;
    r->arg = arg;
    stdio_relay_conf_defaults(&r->conf);
    r->timer_po.kind = PK_TIMER;
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &r->timer_po};
    if (r->epfd < 0 || r->tfd < 0 || epoll_ctl(r->epfd, EPOLL_CTL_ADD, r->tfd, &ev) < 0) {
        stdio_relay_destroy(&r);
        return NULL;
    }
    return r;
}

void relay_chan_destroy(stdio_relay_t *r, channel_t **chp, const char *reason)
{
    channel_t *ch = *chp;
    while (ch->clients) {
        client_t *c = ch->clients;
        if (reason)
            relay_client_drop(r, c, reason);
        else
            relay_client_kill(r, c, "shutdown");
        /* relay_client_drop took it out of the list (or killed it). */
    }
    relay_listener_close(&ch->raw);
    relay_listener_close(&ch->ro);
    stdio_ring_destroy(&ch->ring);
    stdio_rec_free(&ch->rec);
    stdio_term_free(&ch->term);
    free(ch->name);
    free(ch);
    *chp = NULL;
}

void stdio_relay_destroy(stdio_relay_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    stdio_relay_t *r = *self_p;
    while (r->channels) {
        channel_t *ch = r->channels;
        r->channels = ch->next;
        relay_chan_destroy(r, &ch, NULL);
    }
    while (r->pending)
        relay_client_kill(r, r->pending, "shutdown");
    relay_reap(r);
    relay_listener_close(&r->attach);
    if (r->reserve_fd >= 0)
        close(r->reserve_fd);
    if (r->tfd >= 0)
        close(r->tfd);
    if (r->epfd >= 0)
        close(r->epfd);
    free(r->rec_dir);
    free(r);
    *self_p = NULL;
}

void stdio_relay_shutdown(stdio_relay_t *r, const char *reason)
{
    relay_listener_close(&r->attach);
    for (channel_t *ch = r->channels; ch; ch = ch->next) {
        relay_listener_close(&ch->raw);
        relay_listener_close(&ch->ro);
        while (ch->clients)
            relay_client_drop(r, ch->clients, reason);
    }
    /* One attempt each at the last words; nobody is waited for. */
    while (r->pending) {
        client_t *c = r->pending;
        if (c->state == C_HELLO) {
            relay_client_kill(r, c, reason);
            continue;
        }
        relay_client_pump(r, c);
        if (c->state != C_DEAD)
            relay_client_kill(r, c, reason);
    }
    relay_reap(r);
}

int stdio_relay_fd(const stdio_relay_t *r) { return r->epfd; }

unsigned stdio_relay_connections(const stdio_relay_t *r) { return r->n_conns; }

void stdio_relay_each(stdio_relay_t *r, stdio_chan_fn *chan_fn, stdio_client_fn *client_fn,
                      void *arg)
{
    for (channel_t *ch = r->channels; ch; ch = ch->next) {
        stdio_chan_stats_t cs = {
            .name = ch->name,
            .path = ch->raw ? ch->raw->sock->path : "",
            .stream = ch->stream,
            .head = stdio_ring_head(ch->ring),
            .tail = stdio_ring_tail(ch->ring),
            .scrollback = ch->scrollback,
            .clients = ch->n_clients,
            .attached = ch->attached,
            .dropped = ch->dropped,
            .rejected = ch->rejected,
            .bytes_in = stdio_ring_head(ch->ring),
            .bytes_out = ch->bytes_out,
            .events = ch->events,
            .event_skipped = ch->event_skipped,
            .pauses = ch->pauses,
        };
        if (chan_fn)
            chan_fn(&cs, arg);
        if (!client_fn)
            continue;
        for (client_t *c = ch->clients; c; c = c->next) {
            stdio_client_info_t ci;
            relay_client_info(c, NULL, &ci);
            client_fn(&ci, arg);
        }
    }
}
