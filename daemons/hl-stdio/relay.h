/* The STDIO relay core: named channels, each a byte stream with a scrollback
 * ring, fed by the bytes its clients write and fanned out to every other
 * client of the channel, in order and unchanged.
 *
 * It owns an epoll set (all its sockets and one timerfd) and is driven by
 * stdio_relay_dispatch() whenever stdio_relay_fd() is readable, so it can be
 * nested in any poller (the daemon registers it with its zloop) and tested on
 * its own. It needs no bus: what happens is reported through the hooks.
 *
 * Slow clients: a client's queue is its slice of the ring, from the next byte
 * it has not been sent to the head. It never costs memory of its own and it
 * is bounded by the ring, which keeps 1.25 x the scrollback (a late joiner
 * is replayed the scrollback and has the rest to catch up in). A client
 * whose next byte leaves the ring is dropped (attach-protocol clients are
 * told why).
 *
 * Backpressure, bounded: the writers are not read while that would push a
 * reader which is still taking data out of the ring, so that a reader that
 * was merely descheduled for a moment is not dropped at GB/s. A reader whose
 * socket has stayed full for the stall timeout (default 250 ms) stops holding
 * anyone back: the writers go on, it falls out of the ring and is dropped.
 * So a client that stops reading delays the others once, by at most the
 * stall timeout; with a stall timeout of 0 it never does (and readers that
 * cannot keep up with the writer are dropped at once). */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "rec.h"

typedef struct stdio_relay stdio_relay_t;

#define STDIO_NO_GID ((gid_t)-1)

typedef struct stdio_chan_conf {
    const char *name;     /* [a-z0-9-]{1,64} */
    const char *path;     /* raw read-write socket; absolute */
    const char *ro_path;  /* raw read-only socket, or NULL */
    gid_t gid;            /* group of its sockets and of who may attach; STDIO_NO_GID: ours */
    mode_t mode;          /* of its sockets: no permission bits for others */
    size_t scrollback;    /* bytes a late joiner is replayed; the ring keeps 1.25 x */
    unsigned max_clients; /* attached at once */
    bool publish;         /* report data through the data hook */
} stdio_chan_conf_t;

typedef struct stdio_relay_conf {
    const char *attach_path; /* the attach-protocol socket, or NULL for none */
    gid_t attach_gid;
    mode_t attach_mode;
    int hello_timeout_ms;    /* an attach client must send its hello within this */
    int drain_timeout_ms;    /* a dropped client gets this long to take its last words */
    int stall_timeout_ms;    /* a reader whose socket stays full this long stops holding
                                the writers back (0: never hold them back) */
    int event_interval_ms;   /* at most one data event per channel per interval */
    size_t event_max_bytes;  /* and at most this many bytes in it (newest kept) */
    int sndbuf;              /* SO_SNDBUF for clients; 0 keeps the kernel default */
    size_t read_chunk;       /* largest read from one client at a time */
    unsigned max_pending;    /* attach clients still before their hello, at most */
    const stdio_chan_conf_t *channels;
    size_t n_channels;
    /* Terminal channels' session recordings (rec.h); a changed one applies
     * to terminals that start after it. */
    stdio_rec_conf_t recording;
} stdio_relay_conf_t;

/* The defaults for everything but the channels. */
void stdio_relay_conf_defaults(stdio_relay_conf_t *c);
/* Checks a configuration without applying it: 0, or -EINVAL with the first
 * problem in ERR. */
int stdio_relay_conf_check(const stdio_relay_conf_t *c, char *err, size_t errlen);

/* What a client is, for hooks, logs and stats. Strings live as long as the call. */
typedef struct stdio_client_info {
    const char *channel; /* NULL before an attach client's hello */
    uint64_t stream;     /* the channel's stream id */
    uint64_t id;
    bool cred_known;
    uid_t uid;
    gid_t gid;
    pid_t pid;
    const char *comm;    /* the peer's process name (best effort, may be "") */
    bool read_only;
    bool framed;         /* came through the attach socket */
    uint64_t start;      /* first offset it was to be sent */
    uint64_t missed;     /* bytes it asked for that had left the ring */
    uint64_t position;   /* next offset it would be sent */
    uint64_t lag;        /* head - position */
    uint64_t bytes_in;   /* bytes it wrote into the channel */
    uint64_t bytes_out;  /* stream bytes it was sent */
    const char *reason;  /* detach: "closed", "slow: ...", "error: ...", "shutdown", ... */
} stdio_client_info_t;

typedef struct stdio_hooks {
    void (*attach)(void *arg, const stdio_client_info_t *ci);
    void (*detach)(void *arg, const stdio_client_info_t *ci);
    /* Coalesced, rate-limited data: the bytes at OFFSET; SKIPPED bytes
     * before them were never reported (rate limit). */
    void (*data)(void *arg, const char *channel, uint64_t stream, uint64_t offset,
                 const struct iovec *iov, int iovcnt, uint64_t skipped);
    /* Diagnostics (LEVEL is a syslog priority). */
    void (*log)(void *arg, int level, const char *msg);
    /* A terminal channel's size changed: now the window of client CLIENT. */
    void (*resize)(void *arg, const char *channel, uint64_t stream, unsigned cols,
                   unsigned rows, uint64_t client);
    /* A session recording started, rotated, stopped or failed. */
    stdio_rec_event_fn *recording;
} stdio_hooks_t;

stdio_relay_t *stdio_relay_new(const stdio_hooks_t *hooks, void *arg);
/* Closes every socket at once (see stdio_relay_shutdown for a polite end)
 * and removes the socket files it created. */
void stdio_relay_destroy(stdio_relay_t **self_p);

/* Applies a configuration: creates, rebinds and removes sockets and channels
 * (clients of a removed channel are told so and dropped). All new sockets are
 * bound before anything changes, so on error (-errno, reason in ERR) the
 * relay runs on as it was. */
int stdio_relay_configure(stdio_relay_t *r, const stdio_relay_conf_t *conf, char *err,
                          size_t errlen);

/* The epoll descriptor: readable when dispatch has work. */
int stdio_relay_fd(const stdio_relay_t *r);
/* Waits up to TIMEOUT_MS (0: not at all, -1: forever) and handles what is
 * ready. Returns the number of events handled (0: none were ready), or
 * -errno if epoll itself fails. */
int stdio_relay_dispatch(stdio_relay_t *r, int timeout_ms);

/* Tells every attach client REASON and closes every client and socket,
 * waiting for nobody: a client whose socket is full is not told. */
void stdio_relay_shutdown(stdio_relay_t *r, const char *reason);

/* Counters and the clients of one channel. */
typedef struct stdio_chan_stats {
    const char *name;
    const char *path;
    uint64_t stream;     /* stream id: offsets are only meaningful within it */
    uint64_t head, tail; /* tail: the oldest offset a resume can reach */
    size_t scrollback;
    unsigned clients;
    uint64_t attached;   /* clients ever attached */
    uint64_t dropped;    /* of them dropped for being slow */
    uint64_t rejected;   /* connections refused (full, bad hello, not allowed) */
    uint64_t bytes_in;   /* == head */
    uint64_t bytes_out;  /* delivered, summed over clients */
    uint64_t events;     /* data events reported */
    uint64_t pauses;     /* times the writers were held back for a reader */
    uint64_t event_skipped; /* bytes left out of them by the rate limit */
} stdio_chan_stats_t;

typedef void (stdio_chan_fn)(const stdio_chan_stats_t *cs, void *arg);
typedef void (stdio_client_fn)(const stdio_client_info_t *ci, void *arg);
/* Calls CHAN_FN for each channel, then CLIENT_FN (may be NULL) for each of
 * its attached clients. */
void stdio_relay_each(stdio_relay_t *r, stdio_chan_fn *chan_fn, stdio_client_fn *client_fn,
                      void *arg);
/* Clients connected in any state (for leak checks). */
unsigned stdio_relay_connections(const stdio_relay_t *r);
