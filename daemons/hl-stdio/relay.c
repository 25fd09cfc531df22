/* The STDIO relay core: see relay.h for what it does, docs/stdio.md for why. */
#include "relay.h"

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
#include "listener.h"
#include "ring.h"
#include "term.h"
#include "wire.h"

#define MAX_IOV 64             /* iovecs per sendmsg */
#define SEND_BUDGET (4u << 20) /* bytes offered per sendmsg */
#define MAX_EVENTS 64
#define ACCEPT_BATCH 32
#define MAX_RUNS 65536         /* author runs kept per channel */
/* Terminals: the agent's bytes are marked in the ring by this bit of their
 * author, so that viewers get the program's output and not each other's
 * keystrokes. Client ids are counted from 1 and never reach it. */
#define AGENT_BIT (1ull << 63)
#define RESIZE_GAP_US 20000    /* a size is applied at most every 20 ms (floods) */
#define TERM_DEFAULT_COLS 80
#define TERM_DEFAULT_ROWS 24

/* ---------------------------------------------------------------- types */

enum { PK_LISTENER, PK_CLIENT, PK_TIMER };
typedef struct pollobj {
    int kind;
} pollobj_t;

typedef enum { L_RAW, L_RAW_RO, L_ATTACH } lkind_t;

typedef struct channel channel_t;
typedef struct client client_t;

typedef struct listener {
    pollobj_t po;
    stdio_sock_t *sock;
    lkind_t kind;
    channel_t *ch; /* NULL for the attach socket */
} listener_t;

struct channel {
    char *name;
    uint64_t stream;
    stdio_ring_t *ring; /* keeps keep_for(scrollback) bytes */
    size_t scrollback;  /* what a late joiner is replayed */
    listener_t *raw, *ro;
    gid_t gid;
    mode_t mode;
    unsigned max_clients;
    bool publish;
    client_t *clients; /* attached, in attach order */
    client_t *clients_last;
    unsigned n_clients;
    /* data events: [ev_end, head) has not been reported yet */
    uint64_t ev_end, ev_last_us, ev_due_us;
    uint64_t attached, dropped, rejected, bytes_out, events, event_skipped;
    /* Backpressure: writers are not read while a reader that keeps reading
     * would be overrun; stall_due_us is when the first of those readers
     * counts as stalled and stops holding the writers back. */
    bool paused;
    uint64_t stall_due_us, pauses;
    bool keep; /* reconfigure: still wanted */
    /* Terminal (once an agent attached; see "terminals" below): the screen,
     * the agent, the size applied to its terminal and when it may change. */
    stdio_term_t *term;
    stdio_rec_t *rec;
    stdio_relay_t *relay; /* for the recorder's events */
    client_t *agent;
    unsigned cols, rows;
    uint64_t size_last_us, size_due_us, resizes;
    channel_t *next;
};

/* A connection's life: NEW (just accepted) -> HELLO (attach socket, before
 * its hello) -> LIVE
 * (attached to a channel) -> DRAIN (dropped, sending its last words) ->
 * DEAD (closed; freed at the end of the dispatch round, so that pointers
 * held during the round stay valid). Raw clients start LIVE; any state may
 * go straight to DEAD. */
typedef enum { C_NEW, C_HELLO, C_LIVE, C_DRAIN, C_DEAD, C_STATES } cstate_t;

/* The transitions there are; any other is a programming error. */
static const bool may_follow[C_STATES][C_STATES] = {
    /*            NEW  HELLO LIVE  DRAIN DEAD */
    [C_NEW] = {false, true, true, false, true},    /* attach socket / raw socket / refused */
    [C_HELLO] = {false, false, true, true, true},  /* good hello / bad one, told why / gone */
    [C_LIVE] = {false, false, false, true, true},  /* dropped and told why / gone */
    [C_DRAIN] = {false, false, false, false, true}, /* last words out, or out of time */
    [C_DEAD] = {false, false, false, false, false},
};

struct client {
    pollobj_t po;
    int fd;
    uint64_t id;
    cstate_t state;
    bool framed, read_only, eof_in, reading, blocked, attached;
    bool out_closed; /* cannot be written to any more, but is still read */
    bool hup;        /* hung up or failed; parked out of epoll while its channel is paused */
    bool parked;
    uint64_t blocked_since; /* its socket has been full since (0: it is not) */
    uint32_t ev_mask;
    channel_t *ch;
    client_t *prev, *next;   /* channel list (LIVE) */
    client_t *pprev, *pnext; /* pending list (HELLO, DRAIN) */
    client_t *dead_next;
    uint64_t cursor;         /* next stream byte neither sent nor skipped */
    uint32_t frame_left;     /* framed: payload of the current D frame still to send */
    uint8_t *ctl;            /* framed: bytes to send before anything else */
    size_t ctl_len, ctl_off, ctl_cap;
    char *hello;
    size_t hello_len;
    uint64_t deadline_us;
    bool cred_known;
    uid_t uid;
    gid_t gid;
    pid_t pid;
    char comm[17];
    uint64_t start, missed, bytes_in, bytes_out;
    unsigned bad_sizes;
    /* Terminals: the agent side or a viewer with a window of COLS x ROWS
     * (0: none told), last active at ACTIVE (a sequence number); framed
     * input not parsed yet in FIN. */
    bool agent, screen, framed_in;
    unsigned cols, rows;
    uint64_t active;
    uint8_t *fin;
    size_t fin_len;
};

struct stdio_relay {
    int epfd, tfd, reserve_fd;
    bool accept_off; /* out of descriptors and no reserve: listeners muted */
    pollobj_t timer_po;
    uint64_t timer_armed_us;
    stdio_hooks_t hooks;
    void *arg;
    stdio_relay_conf_t conf; /* scalars only: channels and paths are not kept */
    char *rec_dir;           /* conf.recording.dir, ours */
    listener_t *attach;
    channel_t *channels;
    client_t *pending, *dead;
    unsigned n_hello, n_conns;
    uint64_t next_id, last_stream, activity;
    uint8_t scratch[MAX_IOV][STDIO_WIRE_HDR + 8]; /* frame headers of one sendmsg */
};

/* ---------------------------------------------------------------- helpers */

static void rlog(stdio_relay_t *r, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void rlog(stdio_relay_t *r, int level, const char *fmt, ...)
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

static int fail(char *err, size_t errlen, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int fail(char *err, size_t errlen, int rc, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return rc;
}

static const char *who(const client_t *c, char *buf, size_t len)
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

static void client_info(const client_t *c, const char *reason, stdio_client_info_t *ci)
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

static void client_set_events(stdio_relay_t *r, client_t *c)
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

static void arm_timer(stdio_relay_t *r, uint64_t at_us)
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

static void client_set_state(client_t *c, cstate_t s)
{
    assert(may_follow[c->state][s]);
    (void)may_follow; /* without assertions */
    c->state = s;
}

static void pending_add(stdio_relay_t *r, client_t *c, uint64_t deadline)
{
    c->deadline_us = deadline;
    if (c->pprev || r->pending == c)
        return;
    c->pnext = r->pending;
    if (r->pending)
        r->pending->pprev = c;
    r->pending = c;
}

static void pending_del(stdio_relay_t *r, client_t *c)
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

static void chan_add(channel_t *ch, client_t *c)
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

static void term_left(stdio_relay_t *r, channel_t *ch, client_t *c);

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
    term_left(r, ch, c);
    if (c->attached) {
        c->attached = false;
        char w[160];
        rlog(r, LOG_INFO, "%s: %s detached at %llu: %s", ch->name, who(c, w, sizeof w),
             (unsigned long long)(c->cursor + c->frame_left), reason);
        if (r->hooks.detach) {
            stdio_client_info_t ci;
            client_info(c, reason, &ci);
            r->hooks.detach(r->arg, &ci);
        }
    }
    c->ch = NULL; /* the channel may go before a draining client does */
}

static void listeners_set(stdio_relay_t *r, bool on);

/* Closes C now. Memory is released at the end of the dispatch round. */
static void client_kill(stdio_relay_t *r, client_t *c, const char *reason)
{
    if (c->state == C_DEAD)
        return;
    chan_leave(r, c, reason);
    pending_del(r, c);
    if (c->state == C_HELLO)
        r->n_hello--;
    close(c->fd); /* also leaves the epoll set */
    c->fd = -1;
    if (r->reserve_fd < 0)
        r->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (r->accept_off)
        listeners_set(r, true);
    client_set_state(c, C_DEAD);
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

static void reap(stdio_relay_t *r)
{
    while (r->dead) {
        client_t *c = r->dead;
        r->dead = c->dead_next;
        client_free(c);
    }
}

/* Appends to the control bytes (framed clients); false when out of memory. */
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

static bool ctl_frame(client_t *c, int type, uint64_t offset, const char *text)
{
    size_t len = strlen(text);
    if (len > STDIO_WIRE_MAX_TEXT)
        len = STDIO_WIRE_MAX_TEXT;
    uint8_t hdr[STDIO_WIRE_HDR];
    stdio_wire_hdr(hdr, type, (uint32_t)len, offset);
    return ctl_add(c, hdr, sizeof hdr) && ctl_add(c, text, len);
}

/* ---------------------------------------------------------------- sending */

static bool term_hides(const client_t *c, uint64_t author);
static void term_fed(stdio_relay_t *r, client_t *c, const struct iovec *iov, int cnt, size_t n);
static int term_read_frames(stdio_relay_t *r, client_t *c);
static int term_early_input(stdio_relay_t *r, client_t *c, const char *data, size_t len);
static bool term_screen(stdio_relay_t *r, client_t *c, channel_t *ch);
static void term_apply_size(stdio_relay_t *r, channel_t *ch, uint64_t now);
static int term_hello(stdio_relay_t *r, client_t *c, channel_t *ch, const stdio_hello_t *h,
                      uint64_t *start, char *why, size_t whylen);

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
                if ((author & ~AGENT_BIT) == c->id || term_hides(c, author)) {
                    /* Its own bytes (or, on a terminal, another viewer's
                     * keystrokes): skipped, and framed clients are told so. */
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
            client_set_events(r, c);
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
                    client_set_events(r, c);
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
            client_set_events(r, c);
            return 0;
        }
    }
}

/* Flushes C and deals with the outcome; DRAIN clients are closed once
 * their last words are out. */
static void client_pump(stdio_relay_t *r, client_t *c)
{
    int rc = client_flush(r, c);
    if (rc < 0 && c->state == C_LIVE && c->reading) {
        /* It stopped reading (shut down or died) but what it wrote may still
         * be queued to us: keep reading it until its end. */
        c->out_closed = true;
        c->blocked = false;
        client_set_events(r, c);
        return;
    }
    if (rc < 0) {
        char reason[96];
        client_kill(r, c, errno_reason(-rc, reason, sizeof reason));
        return;
    }
    if (c->state == C_DRAIN && c->ctl_off == c->ctl_len)
        client_kill(r, c, "dropped");
}

/* Stops C's fan-out with REASON. Attach clients get the rest of the frame
 * they are in, then an E frame, then the socket closes; raw clients are
 * closed at once (their stream has no room for a message). */
static void client_drop(stdio_relay_t *r, client_t *c, const char *reason)
{
    if (c->state == C_DEAD || c->state == C_DRAIN)
        return;
    if (!c->framed) {
        client_kill(r, c, reason);
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
    ok = ok && line && ctl_frame(c, STDIO_FRAME_END, position, line);
    free(line);
    chan_leave(r, c, reason);
    if (c->state == C_HELLO)
        r->n_hello--;
    if (!ok) {
        client_set_state(c, C_DRAIN); /* so that kill does not count the hello twice */
        client_kill(r, c, reason);
        return;
    }
    client_set_state(c, C_DRAIN);
    shutdown(c->fd, SHUT_RD);
    c->reading = false;
    pending_add(r, c, hlb_mono_us() + (uint64_t)r->conf.drain_timeout_ms * 1000u);
    client_pump(r, c);
}

/* ---------------------------------------------------------------- channels */

/* The ring keeps a quarter more than the scrollback: a late joiner is
 * replayed the scrollback and still has that much room to catch up before
 * it counts as slow. */
static size_t keep_for(size_t scrollback) { return scrollback + scrollback / 4; }

/* The largest read into a ring: at most a quarter of its scrollback, so that
 * one read cannot push a reader that keeps up out of the ring. */
static size_t chunk_for(const stdio_relay_conf_t *conf, size_t scrollback)
{
    size_t quarter = scrollback / 4;
    return conf->read_chunk < quarter ? conf->read_chunk : quarter;
}

/* Where a late joiner starts: the newest scrollback bytes. */
static uint64_t chan_replay_start(const channel_t *ch)
{
    uint64_t head = stdio_ring_head(ch->ring), tail = stdio_ring_tail(ch->ring);
    uint64_t from = head > ch->scrollback ? head - ch->scrollback : 0;
    return from > tail ? from : tail;
}

static channel_t *chan_find(stdio_relay_t *r, const char *name)
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
            client_set_events(r, c);
}

/* After the head moved: drops who fell out of the ring, feeds the rest,
 * decides whether to read on, and schedules a data event. */
static void chan_advanced(stdio_relay_t *r, channel_t *ch)
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
            client_drop(r, c, reason);
        }
    }
    for (client_t *c = ch->clients, *next; c; c = next) {
        next = c->next;
        if (!c->blocked)
            client_pump(r, c);
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
        if (term_read_frames(r, c) > 0)
            chan_advanced(r, ch);
        return;
    }
    struct iovec iov[2];
    int cnt = stdio_ring_reserve(ch->ring, stdio_ring_slack(ch->ring), iov);
    ssize_t n;
    do
        n = readv(c->fd, iov, cnt);
    while (n < 0 && errno == EINTR);
    if (n > 0) {
        term_fed(r, c, iov, cnt, (size_t)n);
        stdio_ring_commit(ch->ring, (size_t)n, c->agent ? c->id | AGENT_BIT : c->id);
        c->bytes_in += (uint64_t)n;
        chan_advanced(r, ch);
    } else if (n == 0) {
        /* Done writing; it may still be reading (a half-close). */
        c->eof_in = true;
        c->reading = false;
        if (c->out_closed)
            client_kill(r, c, "closed");
        else if (c->state == C_LIVE)
            client_set_events(r, c);
    } else if (errno != EAGAIN && errno != EWOULDBLOCK) {
        char reason[96];
        client_kill(r, c, errno_reason(errno, reason, sizeof reason));
    }
}

/* ---------------------------------------------------------------- sockets */

static void listener_close(listener_t **lp)
{
    listener_t *l = *lp;
    if (!l)
        return;
    stdio_sock_close(&l->sock); /* also leaves the epoll set */
    free(l);
    *lp = NULL;
}

static int listener_open(stdio_relay_t *r, const char *path, lkind_t kind, gid_t gid,
                         mode_t mode, listener_t **out, char *err, size_t errlen)
{
    listener_t *l = calloc(1, sizeof *l);
    if (!l)
        return fail(err, errlen, -ENOMEM, "out of memory");
    int rc = stdio_sock_listen(path, gid, mode, &l->sock, err, errlen);
    if (rc < 0) {
        free(l);
        return rc;
    }
    l->po.kind = PK_LISTENER;
    l->kind = kind;
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &l->po};
    if (epoll_ctl(r->epfd, EPOLL_CTL_ADD, l->sock->fd, &ev) < 0) {
        rc = fail(err, errlen, -errno, "epoll: %s", strerror(errno));
        listener_close(&l);
        return rc;
    }
    *out = l;
    return 0;
}

static client_t *client_new(stdio_relay_t *r, int fd, bool framed, bool read_only)
{
    client_t *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->po.kind = PK_CLIENT;
    c->fd = fd;
    c->id = ++r->next_id;
    c->framed = framed;
    c->read_only = read_only;
    if (stdio_cred_peer(fd, &c->uid, &c->gid, &c->pid) == 0) {
        c->cred_known = true;
        stdio_cred_comm(c->pid, c->comm, sizeof c->comm);
    }
    if (r->conf.sndbuf > 0) {
        /* FORCE passes net.core.wmem_max when we may (CAP_NET_ADMIN). */
        if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &r->conf.sndbuf, sizeof(int)) < 0)
            setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &r->conf.sndbuf, sizeof(int));
    }
    return c;
}

/* Puts C (connected, state not yet set) into CH from offset START. */
static void client_attach(stdio_relay_t *r, client_t *c, channel_t *ch, uint64_t start,
                          uint64_t missed)
{
    client_set_state(c, C_LIVE);
    c->cursor = c->start = start;
    c->missed = missed;
    chan_add(ch, c);
    ch->attached++;
    c->attached = true;
    if (c->read_only) {
        /* The kernel then refuses its writes (EPIPE) instead of us reading
         * and discarding them. */
        shutdown(c->fd, SHUT_RD);
        c->reading = false;
    } else {
        c->reading = !c->eof_in;
    }
    client_set_events(r, c);
    char w[160];
    rlog(r, LOG_INFO, "%s: %s attached %s%s from %llu (missed %llu)", ch->name,
         who(c, w, sizeof w), c->read_only ? "read-only" : "read-write",
         c->framed ? " via the attach socket" : "", (unsigned long long)start,
         (unsigned long long)missed);
    if (r->hooks.attach) {
        stdio_client_info_t ci;
        client_info(c, NULL, &ci);
        r->hooks.attach(r->arg, &ci);
    }
}

static void accept_one(stdio_relay_t *r, listener_t *l, int fd)
{
    struct epoll_event ev = {.events = 0};
    bool framed = l->kind == L_ATTACH;
    client_t *c = client_new(r, fd, framed, l->kind == L_RAW_RO);
    if (!c) {
        close(fd);
        return;
    }
    ev.data.ptr = &c->po;
    if (epoll_ctl(r->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
        close(fd);
        free(c);
        return;
    }
    r->n_conns++;
    char w[160];
    if (framed) {
        if (r->n_hello >= r->conf.max_pending) {
            rlog(r, LOG_WARNING, "attach socket: %s refused: %u connections await their hello",
                 who(c, w, sizeof w), r->n_hello);
            client_kill(r, c, "refused");
            return;
        }
        client_set_state(c, C_HELLO);
        r->n_hello++;
        c->reading = true;
        client_set_events(r, c);
        pending_add(r, c, hlb_mono_us() + (uint64_t)r->conf.hello_timeout_ms * 1000u);
        return;
    }
    channel_t *ch = l->ch;
    if (ch->n_clients >= ch->max_clients) {
        ch->rejected++;
        rlog(r, LOG_WARNING, "%s: %s refused: %u clients attached already", ch->name,
             who(c, w, sizeof w), ch->n_clients);
        client_kill(r, c, "refused");
        return;
    }
    client_attach(r, c, ch, chan_replay_start(ch), 0);
    client_pump(r, c);
}

/* Mutes or unmutes every listener (while out of descriptors). */
static void listeners_set(stdio_relay_t *r, bool on)
{
    listener_t *ls[1 + 64];
    size_t n = 0;
    if (r->attach)
        ls[n++] = r->attach;
    for (channel_t *ch = r->channels; ch; ch = ch->next) {
        if (ch->raw && n < sizeof ls / sizeof *ls)
            ls[n++] = ch->raw;
        if (ch->ro && n < sizeof ls / sizeof *ls)
            ls[n++] = ch->ro;
    }
    for (size_t i = 0; i < n; i++) {
        struct epoll_event ev = {.events = on ? EPOLLIN : 0, .data.ptr = &ls[i]->po};
        epoll_ctl(r->epfd, EPOLL_CTL_MOD, ls[i]->sock->fd, &ev);
    }
    r->accept_off = !on;
}

static void listener_ready(stdio_relay_t *r, listener_t *l)
{
    for (int i = 0; i < ACCEPT_BATCH; i++) {
        int fd = accept4(l->sock->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd >= 0) {
            accept_one(r, l, fd);
            continue;
        }
        if (errno == EINTR || errno == ECONNABORTED)
            continue;
        if ((errno == EMFILE || errno == ENFILE) && r->reserve_fd >= 0) {
            /* Out of descriptors: the pending connection would keep the
             * listener readable forever. Use the reserve to take it and
             * hang up, so that the loop does not spin. */
            close(r->reserve_fd);
            fd = accept4(l->sock->fd, NULL, NULL, SOCK_CLOEXEC);
            if (fd >= 0)
                close(fd);
            r->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
            rlog(r, LOG_WARNING, "%s: out of file descriptors: a connection was refused",
                 l->sock->path);
            continue;
        }
        if (errno == EMFILE || errno == ENFILE) {
            /* No reserve either (another thread took the descriptor): stop
             * accepting until a client leaves, rather than spin. */
            rlog(r, LOG_WARNING, "out of file descriptors: not accepting until a client leaves");
            listeners_set(r, false);
            return;
        }
        if (errno != EAGAIN && errno != EWOULDBLOCK)
            rlog(r, LOG_WARNING, "%s: accept: %s", l->sock->path, strerror(errno));
        return;
    }
}

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

static void hello_reject(stdio_relay_t *r, client_t *c, const char *why)
{
    char w[160];
    rlog(r, LOG_WARNING, "attach socket: %s refused: %s", who(c, w, sizeof w), why);
    client_drop(r, c, why);
}

static void client_hello(stdio_relay_t *r, client_t *c)
{
    if (!c->hello && !(c->hello = malloc(STDIO_WIRE_MAX_HELLO))) {
        client_kill(r, c, "out of memory");
        return;
    }
    ssize_t n;
    do
        n = recv(c->fd, c->hello + c->hello_len, STDIO_WIRE_MAX_HELLO - c->hello_len, 0);
    while (n < 0 && errno == EINTR);
    if (n == 0) {
        client_kill(r, c, "closed before its hello");
        return;
    }
    if (n < 0) {
        if (errno != EAGAIN && errno != EWOULDBLOCK)
            client_kill(r, c, "error before its hello");
        return;
    }
    c->hello_len += (size_t)n;
    char *nl = memchr(c->hello, '\n', c->hello_len);
    if (!nl) {
        if (c->hello_len == STDIO_WIRE_MAX_HELLO)
            hello_reject(r, c, "error: hello longer than 1024 bytes");
        return;
    }
    stdio_hello_t h;
    char perr[160], why[256];
    if (stdio_hello_parse(c->hello, (size_t)(nl - c->hello), &h, perr, sizeof perr) < 0) {
        snprintf(why, sizeof why, "error: %s", perr);
        hello_reject(r, c, why);
        return;
    }
    channel_t *ch = chan_find(r, h.channel);
    if (!ch) {
        snprintf(why, sizeof why, "error: no channel \"%s\"", h.channel);
        hello_reject(r, c, why);
        return;
    }
    if (!may_attach(r, c, ch)) {
        ch->rejected++;
        snprintf(why, sizeof why, "error: not allowed to attach to \"%s\"", h.channel);
        hello_reject(r, c, why);
        return;
    }
    if (ch->n_clients >= ch->max_clients) {
        ch->rejected++;
        snprintf(why, sizeof why, "error: channel \"%s\" has %u clients already", h.channel,
                 ch->n_clients);
        hello_reject(r, c, why);
        return;
    }
    uint64_t head = stdio_ring_head(ch->ring), tail = stdio_ring_tail(ch->ring);
    uint64_t start = chan_replay_start(ch), missed = 0;
    bool reset = h.has_stream && h.stream != ch->stream;
    if (term_hello(r, c, ch, &h, &start, why, sizeof why) < 0) {
        hello_reject(r, c, why);
        return;
    }
    if (h.from == STDIO_FROM_NOW) {
        start = head;
    } else if (h.from == STDIO_FROM_DEFAULT && c->screen) {
        /* The screen was drawn (term_hello): the stream goes on from it. */
    } else if (h.from == STDIO_FROM_OFFSET && reset) {
        /* Another incarnation's offset: start as a late joiner does; all we
         * can say is how much of this stream it will not see. */
        missed = start;
    } else if (h.from == STDIO_FROM_OFFSET) {
        if (h.offset > head) {
            snprintf(why, sizeof why, "error: offset %llu is beyond the head (%llu)",
                     (unsigned long long)h.offset, (unsigned long long)head);
            hello_reject(r, c, why);
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
        !ctl_frame(c, STDIO_FRAME_START, start, start_line) || (c->screen && !term_screen(r, c, ch))) {
        free(start_line);
        client_kill(r, c, "out of memory");
        return;
    }
    free(start_line);
    /* What came after the hello line is the client's first input. */
    size_t used = (size_t)(nl - c->hello) + 1;
    size_t extra = c->hello_len - used;
    pending_del(r, c);
    r->n_hello--;
    c->read_only = h.read_only;
    client_attach(r, c, ch, start, missed);
    if (c->agent || c->cols)
        term_apply_size(r, ch, hlb_mono_us());
    if (extra && !c->read_only && c->framed_in) {
        /* The start of its first frame: parsed with the rest. */
        extra = term_early_input(r, c, c->hello + used, extra) > 0;
    } else if (extra && !c->read_only) {
        struct iovec one = {c->hello + used, extra};
        term_fed(r, c, &one, 1, extra);
        stdio_ring_append(ch->ring, c->hello + used, extra, c->agent ? c->id | AGENT_BIT : c->id);
        c->bytes_in += extra;
    }
    free(c->hello);
    c->hello = NULL;
    c->hello_len = 0;
    if (extra && !c->read_only)
        chan_advanced(r, ch);
    else
        client_pump(r, c);
}

/* ---------------------------------------------------------------- terminals */

/* A channel becomes a terminal when an agent (hl-pty) attaches: its bytes
 * feed the screen and are all that viewers see; the viewers' bytes go to
 * the agent only; the window of the most recently active read-write viewer
 * is the terminal's size (tmux's "latest"); late joiners that ask for the
 * screen are drawn it, then get the live stream. */

#define FIN_CAP (STDIO_WIRE_HDR + STDIO_WIRE_MAX_DATA)

static bool term_hides(const client_t *c, uint64_t author)
{
    return c->ch->term && !c->agent && !(author & AGENT_BIT);
}

/* C wrote N bytes (in IOV) into a terminal channel: the agent's onto the
 * screen and into the recording, a viewer's into the recording's input. */
static void term_fed(stdio_relay_t *r, client_t *c, const struct iovec *iov, int cnt, size_t n)
{
    (void)r;
    channel_t *ch = c->ch;
    if (!ch->term)
        return;
    for (int i = 0; i < cnt && n; i++) {
        size_t k = iov[i].iov_len < n ? iov[i].iov_len : n;
        if (c->agent) {
            stdio_term_feed(ch->term, iov[i].iov_base, k);
            stdio_rec_output(ch->rec, iov[i].iov_base, k, ch->cols, ch->rows);
        } else {
            stdio_rec_input(ch->rec, iov[i].iov_base, k);
        }
        n -= k;
    }
}

static int term_rec_screen(void *arg, char **out, size_t *len)
{
    channel_t *ch = arg;
    return stdio_term_redraw(ch->term, out, len);
}

/* The recorder's events (ARG: the channel) to the log and the hook. */
static void term_rec_event(void *arg, const char *channel, uint64_t stream, const char *path,
                           stdio_rec_state_t state, uint64_t bytes, uint64_t dropped,
                           const char *error)
{
    stdio_relay_t *r = ((channel_t *)arg)->relay;
    if (state == STDIO_REC_ERROR)
        rlog(r, LOG_WARNING, "%s: recording %s failed (%s): the session goes on unrecorded, "
             "%llu bytes so far", channel, path, error ? error : "?", (unsigned long long)dropped);
    else
        rlog(r, LOG_INFO, "%s: recording %s %s", channel, path,
             state == STDIO_REC_STARTED ? "started" : state == STDIO_REC_ROTATED ? "rotated"
                                                                                 : "stopped");
    if (r->hooks.recording)
        r->hooks.recording(r->arg, channel, stream, path, state, bytes, dropped, error);
}

static void term_send_size(stdio_relay_t *r, client_t *agent, unsigned cols, unsigned rows)
{
    uint8_t f[STDIO_WIRE_HDR + 4];
    stdio_wire_hdr(f, STDIO_FRAME_WINSIZE, 4, stdio_ring_head(agent->ch->ring));
    stdio_wire_put_size(f + STDIO_WIRE_HDR, cols, rows);
    if (!ctl_add(agent, f, sizeof f)) {
        client_kill(r, agent, "out of memory");
        return;
    }
    if (!agent->blocked)
        client_pump(r, agent);
}

/* Applies the window of the most recently active read-write viewer, at
 * most once per RESIZE_GAP_US (a flood of resizes costs the agent a few
 * SIGWINCH a second, not one per frame). */
static void term_apply_size(stdio_relay_t *r, channel_t *ch, uint64_t now)
{
    ch->size_due_us = 0;
    if (!ch->term)
        return;
    client_t *best = NULL;
    for (client_t *c = ch->clients; c; c = c->next)
        if (!c->agent && !c->read_only && c->cols && (!best || c->active > best->active))
            best = c;
    if (!best || (best->cols == ch->cols && best->rows == ch->rows))
        return;
    if (ch->size_last_us && now < ch->size_last_us + RESIZE_GAP_US) {
        ch->size_due_us = ch->size_last_us + RESIZE_GAP_US;
        return;
    }
    ch->size_last_us = now;
    ch->cols = best->cols;
    ch->rows = best->rows;
    ch->resizes++;
    stdio_term_resize(ch->term, ch->cols, ch->rows);
    stdio_rec_resize(ch->rec, ch->cols, ch->rows);
    char w[160];
    rlog(r, LOG_INFO, "%s: window %ux%u, the size of %s", ch->name, ch->cols, ch->rows,
         who(best, w, sizeof w));
    if (r->hooks.resize)
        r->hooks.resize(r->arg, ch->name, ch->stream, ch->cols, ch->rows, best->id);
    if (ch->agent)
        term_send_size(r, ch->agent, ch->cols, ch->rows);
}

static void term_client_size(stdio_relay_t *r, client_t *c, unsigned cols, unsigned rows)
{
    if (!stdio_term_size_ok(cols, rows)) {
        if (c->bad_sizes++ == 0) {
            char w[160];
            rlog(r, LOG_WARNING,
                 "%s: %s sent the window size %ux%u (want %d..%d x %d..%d): ignored%s",
                 c->ch ? c->ch->name : "attach socket", who(c, w, sizeof w), cols, rows,
                 STDIO_TERM_MIN, STDIO_TERM_MAX_COLS, STDIO_TERM_MIN, STDIO_TERM_MAX_ROWS,
                 ", and so are its next ones, unlogged");
        }
        return;
    }
    c->cols = cols;
    c->rows = rows;
    c->active = ++r->activity;
}

/* The hello's terminal options: 0, or -1 with WHY. */
static int term_hello(stdio_relay_t *r, client_t *c, channel_t *ch, const stdio_hello_t *h,
                      uint64_t *start, char *why, size_t whylen)
{
    c->framed_in = h->framed_input && !h->read_only;
    if (h->has_size)
        term_client_size(r, c, h->cols, h->rows);
    if (h->agent) {
        if (h->read_only) {
            snprintf(why, whylen, "error: an agent reads and writes (read-only given)");
            return -1;
        }
        if (ch->agent) {
            snprintf(why, whylen, "error: channel \"%s\" has an agent already (client %llu)",
                     ch->name, (unsigned long long)ch->agent->id);
            return -1;
        }
        unsigned cols = c->cols ? c->cols : TERM_DEFAULT_COLS;
        unsigned rows = c->cols ? c->rows : TERM_DEFAULT_ROWS;
        if (!ch->term && !(ch->term = stdio_term_new(cols, rows))) {
            snprintf(why, whylen, "error: out of memory for a terminal");
            return -1;
        }
        if (!ch->rec && r->conf.recording.dir) {
            ch->relay = r;
            ch->rec = stdio_rec_new(&r->conf.recording, ch->name, ch->stream, term_rec_event,
                                    term_rec_screen, ch);
        }
        stdio_term_resize(ch->term, cols, rows);
        ch->cols = cols;
        ch->rows = rows;
        c->agent = true;
        c->cols = c->rows = 0; /* its size is applied, not a viewer's window */
        ch->agent = c;
        /* Old keystrokes are not typed into a program that came later. */
        *start = stdio_ring_head(ch->ring);
        return 0;
    }
    if (h->screen && ch->term && h->from == STDIO_FROM_DEFAULT) {
        c->screen = true;
        *start = stdio_ring_head(ch->ring);
    }
    return 0;
}

/* The current screen, as R frames after C's S frame. */
static bool term_screen(stdio_relay_t *r, client_t *c, channel_t *ch)
{
    (void)r;
    char *draw = NULL;
    size_t len = 0;
    if (stdio_term_redraw(ch->term, &draw, &len) < 0)
        return false;
    uint64_t head = stdio_ring_head(ch->ring);
    bool ok = true;
    for (size_t o = 0; o < len && ok; o += STDIO_WIRE_MAX_DATA) {
        size_t n = len - o < STDIO_WIRE_MAX_DATA ? len - o : STDIO_WIRE_MAX_DATA;
        uint8_t hdr[STDIO_WIRE_HDR];
        stdio_wire_hdr(hdr, STDIO_FRAME_REDRAW, (uint32_t)n, head);
        ok = ctl_add(c, hdr, sizeof hdr) && ctl_add(c, draw + o, n);
    }
    free(draw);
    return ok;
}

static void term_left(stdio_relay_t *r, channel_t *ch, client_t *c)
{
    if (c == ch->agent) {
        ch->agent = NULL;
        return;
    }
    if (c->cols && ch->term)
        term_apply_size(r, ch, hlb_mono_us());
}

/* Parses C's frames in c->fin: input into the ring, sizes noted. Returns
 * the number of input frames taken; a bad frame drops C. */
static int term_parse(stdio_relay_t *r, client_t *c)
{
    channel_t *ch = c->ch;
    size_t o = 0;
    int added = 0;
    bool bad = false;
    while (c->fin_len - o >= STDIO_WIRE_HDR) {
        int type;
        uint32_t len;
        uint64_t off;
        if (stdio_wire_hdr_parse(c->fin + o, &type, &len, &off) < 0 ||
            (type != STDIO_FRAME_DATA && type != STDIO_FRAME_WINSIZE)) {
            bad = true;
            break;
        }
        if (c->fin_len - o < STDIO_WIRE_HDR + len)
            break;
        uint8_t *pl = c->fin + o + STDIO_WIRE_HDR;
        o += STDIO_WIRE_HDR + len;
        if (type == STDIO_FRAME_WINSIZE) {
            unsigned cols, rows;
            stdio_wire_get_size(pl, &cols, &rows);
            if (!c->agent)
                term_client_size(r, c, cols, rows);
            continue;
        }
        struct iovec one = {pl, len};
        term_fed(r, c, &one, 1, len);
        stdio_ring_append(ch->ring, pl, len, c->agent ? c->id | AGENT_BIT : c->id);
        c->bytes_in += len;
        if (!c->agent)
            c->active = ++r->activity;
        added++;
    }
    memmove(c->fin, c->fin + o, c->fin_len - o);
    c->fin_len -= o;
    if (ch->term && !c->agent)
        term_apply_size(r, ch, hlb_mono_us());
    if (bad) {
        char w[160];
        rlog(r, LOG_WARNING, "%s: %s sent a bad frame", ch->name, who(c, w, sizeof w));
        client_drop(r, c, "error: a bad frame (framed-input takes D and W frames)");
    }
    return added;
}

static int term_early_input(stdio_relay_t *r, client_t *c, const char *data, size_t len)
{
    if (!c->fin && !(c->fin = malloc(FIN_CAP))) {
        client_kill(r, c, "out of memory");
        return 0;
    }
    if (len > FIN_CAP) /* cannot be: a hello buffer is smaller */
        len = FIN_CAP;
    memcpy(c->fin, data, len);
    c->fin_len = len;
    return term_parse(r, c);
}

/* Reads a framed-input client: one chunk, as client_read does for others. */
static int term_read_frames(stdio_relay_t *r, client_t *c)
{
    if (!c->fin && !(c->fin = malloc(FIN_CAP))) {
        client_kill(r, c, "out of memory");
        return 0;
    }
    size_t room = FIN_CAP - c->fin_len;
    size_t slack = stdio_ring_slack(c->ch->ring);
    if (room > slack)
        room = slack;
    ssize_t n;
    do
        n = recv(c->fd, c->fin + c->fin_len, room, 0);
    while (n < 0 && errno == EINTR);
    if (n == 0) {
        c->eof_in = true;
        c->reading = false;
        if (c->out_closed)
            client_kill(r, c, "closed");
        else if (c->state == C_LIVE)
            client_set_events(r, c);
        return 0;
    }
    if (n < 0) {
        if (errno != EAGAIN && errno != EWOULDBLOCK) {
            char reason[96];
            client_kill(r, c, errno_reason(errno, reason, sizeof reason));
        }
        return 0;
    }
    c->fin_len += (size_t)n;
    return term_parse(r, c);
}

/* ---------------------------------------------------------------- events */

static void client_ready(stdio_relay_t *r, client_t *c, uint32_t ev)
{
    if (c->state == C_DEAD)
        return;
    if (c->state == C_HELLO) {
        if (ev & (EPOLLIN | EPOLLHUP | EPOLLERR))
            client_hello(r, c);
        return;
    }
    if (ev & EPOLLOUT) {
        c->blocked = false;
        client_pump(r, c);
    }
    /* A peer that hung up or failed may have written before it went: read
     * that first (one chunk per round, as for anyone). */
    if ((ev & (EPOLLHUP | EPOLLERR)) && c->state == C_LIVE && c->reading && !c->hup) {
        c->hup = true;
        client_set_events(r, c);
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
        client_kill(r, c, e ? errno_reason(e, reason, sizeof reason)
                            : c->state == C_DRAIN ? "dropped" : "closed");
    }
}

/* Expired deadlines and due events; returns the next deadline (0: none). */
static uint64_t run_timers(stdio_relay_t *r)
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
            hello_reject(r, c, why);
            /* hello_reject made it a DRAIN client with a fresh deadline. */
            if (c->state == C_DRAIN && (!next || c->deadline_us < next))
                next = c->deadline_us;
        } else {
            client_kill(r, c, "dropped");
        }
    }
    for (channel_t *ch = r->channels; ch; ch = ch->next) {
        /* Drains, detaches and stalls may all let the writers go on. */
        chan_update_pause(r, ch);
        if (ch->size_due_us && ch->size_due_us <= now)
            term_apply_size(r, ch, now);
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
            listener_ready(r, (listener_t *)po);
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
    arm_timer(r, run_timers(r));
    reap(r);
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

static void chan_destroy(stdio_relay_t *r, channel_t **chp, const char *reason)
{
    channel_t *ch = *chp;
    while (ch->clients) {
        client_t *c = ch->clients;
        if (reason)
            client_drop(r, c, reason);
        else
            client_kill(r, c, "shutdown");
        /* client_drop took it out of the list (or killed it). */
    }
    listener_close(&ch->raw);
    listener_close(&ch->ro);
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
        chan_destroy(r, &ch, NULL);
    }
    while (r->pending)
        client_kill(r, r->pending, "shutdown");
    reap(r);
    listener_close(&r->attach);
    free(r->rec_dir);
    if (r->reserve_fd >= 0)
        close(r->reserve_fd);
    if (r->tfd >= 0)
        close(r->tfd);
    if (r->epfd >= 0)
        close(r->epfd);
    free(r);
    *self_p = NULL;
}

void stdio_relay_shutdown(stdio_relay_t *r, const char *reason)
{
    listener_close(&r->attach);
    for (channel_t *ch = r->channels; ch; ch = ch->next) {
        listener_close(&ch->raw);
        listener_close(&ch->ro);
        while (ch->clients)
            client_drop(r, ch->clients, reason);
    }
    /* One attempt each at the last words; nobody is waited for. */
    while (r->pending) {
        client_t *c = r->pending;
        if (c->state == C_HELLO) {
            client_kill(r, c, reason);
            continue;
        }
        client_pump(r, c);
        if (c->state != C_DEAD)
            client_kill(r, c, reason);
    }
    reap(r);
}


static uint64_t new_stream_id(stdio_relay_t *r)
{
    uint64_t s = hlb_now_us();
    if (s <= r->last_stream)
        s = r->last_stream + 1;
    r->last_stream = s;
    return s;
}

/* A listener wanted at PATH (NULL: none) with GID and MODE, given the one we
 * have: reuses it (retuned), or opens a new one into *FRESH. */
static int plan_listener(stdio_relay_t *r, listener_t *have, const char *path, lkind_t kind,
                         gid_t gid, mode_t mode, listener_t **fresh, char *err, size_t errlen)
{
    *fresh = NULL;
    if (!path || (have && strcmp(have->sock->path, path) == 0))
        return 0;
    return listener_open(r, path, kind, gid, mode, fresh, err, errlen);
}

int stdio_relay_configure(stdio_relay_t *r, const stdio_relay_conf_t *conf, char *err,
                          size_t errlen)
{
    int rc = stdio_relay_conf_check(conf, err, errlen);
    if (rc < 0)
        return rc;
    size_t n = conf->n_channels;
    /* Phase 1: everything that can fail. */
    listener_t *new_attach = NULL;
    listener_t **new_raw = calloc(n, sizeof *new_raw);
    listener_t **new_ro = calloc(n, sizeof *new_ro);
    stdio_ring_t **new_ring = calloc(n, sizeof *new_ring);
    if (!new_raw || !new_ro || !new_ring) {
        rc = fail(err, errlen, -ENOMEM, "out of memory");
        goto undo;
    }
    rc = plan_listener(r, r->attach, conf->attach_path, L_ATTACH, conf->attach_gid,
                       conf->attach_mode, &new_attach, err, errlen);
    for (size_t i = 0; i < n && rc == 0; i++) {
        const stdio_chan_conf_t *cc = &conf->channels[i];
        channel_t *ch = chan_find(r, cc->name);
        rc = plan_listener(r, ch ? ch->raw : NULL, cc->path, L_RAW, cc->gid, cc->mode,
                           &new_raw[i], err, errlen);
        if (rc == 0)
            rc = plan_listener(r, ch ? ch->ro : NULL, cc->ro_path, L_RAW_RO, cc->gid, cc->mode,
                               &new_ro[i], err, errlen);
        if (rc == 0 && !ch) {
            new_ring[i] = stdio_ring_new(keep_for(cc->scrollback), chunk_for(conf, cc->scrollback),
                                         MAX_RUNS);
            if (!new_ring[i])
                rc = fail(err, errlen, -ENOMEM, "channel \"%s\": out of memory for %zu bytes",
                          cc->name, cc->scrollback);
        }
    }
    if (rc < 0)
        goto undo;

    /* Phase 2: commit; nothing below fails except chmod/chown of kept
     * sockets and ring resizes, which are reported and leave the old
     * setting in place. */
    r->conf = *conf;
    r->conf.channels = NULL;
    r->conf.n_channels = 0;
    r->conf.attach_path = NULL;
    free(r->rec_dir);
    r->rec_dir = conf->recording.dir && *conf->recording.dir ? strdup(conf->recording.dir) : NULL;
    r->conf.recording.dir = r->rec_dir;
    if (new_attach || !conf->attach_path) {
        listener_close(&r->attach);
        r->attach = new_attach;
        new_attach = NULL;
    } else if (stdio_sock_retune(r->attach->sock, conf->attach_gid, conf->attach_mode, err, errlen) < 0) {
        rlog(r, LOG_WARNING, "%s", err);
    }
    for (channel_t *ch = r->channels; ch; ch = ch->next)
        ch->keep = false;
    for (size_t i = 0; i < n; i++) {
        const stdio_chan_conf_t *cc = &conf->channels[i];
        channel_t *ch = chan_find(r, cc->name);
        if (!ch) {
            ch = calloc(1, sizeof *ch);
            if (!ch || !(ch->name = strdup(cc->name))) {
                free(ch);
                rlog(r, LOG_ERR, "channel \"%s\": out of memory", cc->name);
                continue;
            }
            ch->stream = new_stream_id(r);
            ch->ring = new_ring[i];
            new_ring[i] = NULL;
            ch->next = r->channels;
            r->channels = ch;
            rlog(r, LOG_INFO, "%s: channel open at %s (mode %04o, group %ld), stream %016llx",
                 ch->name, cc->path, (unsigned)cc->mode,
                 cc->gid == STDIO_NO_GID ? (long)getegid() : (long)cc->gid,
                 (unsigned long long)ch->stream);
        } else if (stdio_ring_keep(ch->ring) != keep_for(cc->scrollback) ||
                   stdio_ring_slack(ch->ring) != chunk_for(conf, cc->scrollback)) {
            uint64_t head = stdio_ring_head(ch->ring);
            size_t keep = keep_for(cc->scrollback);
            uint64_t new_tail = head > keep ? head - keep : 0;
            for (client_t *c = ch->clients, *nx; c; c = nx) {
                nx = c->next;
                if (c->cursor < new_tail)
                    client_drop(r, c, "slow: behind the new, smaller scrollback");
            }
            if (stdio_ring_resize(ch->ring, keep, chunk_for(conf, cc->scrollback)) < 0)
                rlog(r, LOG_ERR, "%s: out of memory resizing the scrollback; kept %zu bytes",
                     ch->name, stdio_ring_keep(ch->ring));
        }
        ch->keep = true;
        if (new_raw[i] || !cc->path) {
            listener_close(&ch->raw);
            ch->raw = new_raw[i];
            new_raw[i] = NULL;
        } else if (stdio_sock_retune(ch->raw->sock, cc->gid, cc->mode, err, errlen) < 0) {
            rlog(r, LOG_WARNING, "%s", err);
        }
        if (new_ro[i] || !cc->ro_path) {
            listener_close(&ch->ro);
            ch->ro = new_ro[i];
            new_ro[i] = NULL;
        } else if (stdio_sock_retune(ch->ro->sock, cc->gid, cc->mode, err, errlen) < 0) {
            rlog(r, LOG_WARNING, "%s", err);
        }
        if (ch->raw)
            ch->raw->ch = ch;
        if (ch->ro)
            ch->ro->ch = ch;
        ch->scrollback = cc->scrollback;
        ch->gid = cc->gid;
        ch->mode = cc->mode;
        ch->max_clients = cc->max_clients;
        ch->publish = cc->publish;
        if (!ch->publish)
            ch->ev_due_us = 0;
    }
    for (channel_t **pp = &r->channels; *pp;) {
        channel_t *ch = *pp;
        if (ch->keep) {
            pp = &ch->next;
            continue;
        }
        *pp = ch->next;
        rlog(r, LOG_INFO, "%s: channel removed", ch->name);
        chan_destroy(r, &ch, "error: channel removed");
    }
    if (err && errlen)
        err[0] = 0;
    rc = 0;
undo:
    listener_close(&new_attach);
    for (size_t i = 0; i < n; i++) {
        if (new_raw)
            listener_close(&new_raw[i]);
        if (new_ro)
            listener_close(&new_ro[i]);
        if (new_ring)
            stdio_ring_destroy(&new_ring[i]);
    }
    free(new_raw);
    free(new_ro);
    free(new_ring);
    arm_timer(r, run_timers(r));
    reap(r);
    return rc;
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
            client_info(c, NULL, &ci);
            client_fn(&ci, arg);
        }
    }
}
