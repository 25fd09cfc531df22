/* hl-pty's side of the relay: one attach-protocol connection as the
 * channel's agent ("hl-stdio/1 attach CHANNEL agent size=CxR"), which
 * outlives nothing: when hl-stdio goes away it is closed and made again.
 *
 * Output waits in a bounded queue. Connected, a full queue holds the
 * program back (as a terminal would, and as the relay holds back writers
 * for a stalled reader, briefly); away, the program is never held back:
 * the queue is first the screen as it was (drawn from the terminal state),
 * then what came after, up to the bound; beyond it the queue is dropped,
 * counted, and replaced by the screen as it is when the relay is back. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "term.h"

typedef struct relay_link {
    int fd; /* -1: not connected */
    char *path;
    char channel[65];
    uint8_t *out;
    size_t out_len, out_cap;
    bool overflowed;    /* away, and more came than the queue holds */
    uint64_t lost;      /* bytes not kept, ever */
    uint64_t lost_now;  /* of them, in this absence */
    uint8_t *in;
    size_t in_len;
    uint64_t retry_at_us;
    unsigned backoff_ms;
    unsigned connects;
} relay_link_t;

/* Input and sizes from the relay. */
typedef struct link_ops {
    void (*input)(void *arg, const uint8_t *data, size_t len);
    void (*size)(void *arg, unsigned cols, unsigned rows);
} link_ops_t;

int link_init(relay_link_t *l, const char *path, const char *channel, size_t bound);
void link_fini(relay_link_t *l);
/* Tries to connect (when due) and says hello with our size; the queue
 * (the screen and what came since) goes first. 0 connected, -errno not. */
int link_connect(relay_link_t *l, unsigned cols, unsigned rows, stdio_term_t *term);
/* The program wrote: queued or, away and full, counted. */
void link_output(relay_link_t *l, const void *data, size_t len);
/* Whether the program may be read: not while connected with a full queue. */
bool link_may_take(const relay_link_t *l);
/* Sends what is queued, as far as the socket takes it; -1 when the
 * connection is gone (then it is closed and the screen queued). */
int link_flush(relay_link_t *l, stdio_term_t *term);
/* Reads what the relay sent; -1 when the connection is gone (closed as
 * above, with the reason logged). */
int link_read(relay_link_t *l, const link_ops_t *ops, void *arg, stdio_term_t *term);
