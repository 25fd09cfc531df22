/* Terminal channels (docs/stdio.md, "Terminals"): a channel with an agent
 * (hl-pty) keeps the screen with libvterm and a recording, applies the
 * latest read-write viewer's window size, draws late joiners the screen,
 * and shows viewers the agent's bytes only. The relay's core calls in here
 * at its few terminal points (relay_int.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <syslog.h>
#include <hlbus/clock.h>

#include "relay_int.h"

#define RESIZE_GAP_US 20000 /* a size is applied at most every 20 ms (floods) */
#define TERM_DEFAULT_COLS 80
#define TERM_DEFAULT_ROWS 24

static const char *term_errno_reason(int e, char *buf, size_t len)
{
    if (e == EPIPE || e == ECONNRESET)
        return "closed";
    snprintf(buf, len, "error: %s", strerror(e));
    return buf;
}

/* ---------------------------------------------------------------- terminals */

/* A channel becomes a terminal when an agent (hl-pty) attaches: its bytes
 * feed the screen and are all that viewers see; the viewers' bytes go to
 * the agent only; the window of the most recently active read-write viewer
 * is the terminal's size (tmux's "latest"); late joiners that ask for the
 * screen are drawn it, then get the live stream. */

#define FIN_CAP (STDIO_WIRE_HDR + STDIO_WIRE_MAX_DATA)

bool relay_term_hides(const client_t *c, uint64_t author)
{
    return c->ch->term && !c->agent && !(author & AGENT_BIT);
}

/* C wrote N bytes (in IOV) into a terminal channel: the agent's onto the
 * screen and into the recording, a viewer's into the recording's input. */
void relay_term_fed(stdio_relay_t *r, client_t *c, const struct iovec *iov, int cnt, size_t n)
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
        relay_log(r, LOG_WARNING, "%s: recording %s failed (%s): the session goes on unrecorded, "
             "%llu bytes so far", channel, path, error ? error : "?", (unsigned long long)dropped);
    else
        relay_log(r, LOG_INFO, "%s: recording %s %s", channel, path,
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
    if (!relay_ctl_add(agent, f, sizeof f)) {
        relay_client_kill(r, agent, "out of memory");
        return;
    }
    if (!agent->blocked)
        relay_client_pump(r, agent);
}

/* Applies the window of the most recently active read-write viewer, at
 * most once per RESIZE_GAP_US (a flood of resizes costs the agent a few
 * SIGWINCH a second, not one per frame). */
void relay_term_apply_size(stdio_relay_t *r, channel_t *ch, uint64_t now)
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
    relay_log(r, LOG_INFO, "%s: window %ux%u, the size of %s", ch->name, ch->cols, ch->rows,
         relay_who(best, w, sizeof w));
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
            relay_log(r, LOG_WARNING,
                 "%s: %s sent the window size %ux%u (want %d..%d x %d..%d): ignored%s",
                 c->ch ? c->ch->name : "attach socket", relay_who(c, w, sizeof w), cols, rows,
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
int relay_term_hello(stdio_relay_t *r, client_t *c, channel_t *ch, const stdio_hello_t *h,
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
bool relay_term_screen(stdio_relay_t *r, client_t *c, channel_t *ch)
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
        ok = relay_ctl_add(c, hdr, sizeof hdr) && relay_ctl_add(c, draw + o, n);
    }
    free(draw);
    return ok;
}

void relay_term_left(stdio_relay_t *r, channel_t *ch, client_t *c)
{
    if (c == ch->agent) {
        ch->agent = NULL;
        return;
    }
    if (c->cols && ch->term)
        relay_term_apply_size(r, ch, hlb_mono_us());
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
        relay_term_fed(r, c, &one, 1, len);
        stdio_ring_append(ch->ring, pl, len, c->agent ? c->id | AGENT_BIT : c->id);
        c->bytes_in += len;
        if (!c->agent)
            c->active = ++r->activity;
        added++;
    }
    memmove(c->fin, c->fin + o, c->fin_len - o);
    c->fin_len -= o;
    if (ch->term && !c->agent)
        relay_term_apply_size(r, ch, hlb_mono_us());
    if (bad) {
        char w[160];
        relay_log(r, LOG_WARNING, "%s: %s sent a bad frame", ch->name, relay_who(c, w, sizeof w));
        relay_client_drop(r, c, "error: a bad frame (framed-input takes D and W frames)");
    }
    return added;
}

int relay_term_early_input(stdio_relay_t *r, client_t *c, const char *data, size_t len)
{
    if (!c->fin && !(c->fin = malloc(FIN_CAP))) {
        relay_client_kill(r, c, "out of memory");
        return 0;
    }
    if (len > FIN_CAP) /* cannot be: a hello buffer is smaller */
        len = FIN_CAP;
    memcpy(c->fin, data, len);
    c->fin_len = len;
    return term_parse(r, c);
}

/* Reads a framed-input client: one chunk, as client_read does for others. */
int relay_term_read_frames(stdio_relay_t *r, client_t *c)
{
    if (!c->fin && !(c->fin = malloc(FIN_CAP))) {
        relay_client_kill(r, c, "out of memory");
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
            relay_client_kill(r, c, "closed");
        else if (c->state == C_LIVE)
            relay_client_set_events(r, c);
        return 0;
    }
    if (n < 0) {
        if (errno != EAGAIN && errno != EWOULDBLOCK) {
            char reason[96];
            relay_client_kill(r, c, term_errno_reason(errno, reason, sizeof reason));
        }
        return 0;
    }
    c->fin_len += (size_t)n;
    return term_parse(r, c);
}

