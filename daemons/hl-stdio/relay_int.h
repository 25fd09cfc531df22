/* The relay core's state, shared by its files (relay.h says what the relay
 * does): relay.c (the data path: reading, fan-out and sending, events and
 * lifecycle), relay_accept.c (listening sockets, new connections),
 * relay_hello.c (the attach protocol's hello), relay_configure.c (applying a
 * configuration). Not for the daemon around it. */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "listener.h"
#include "relay.h"
#include "ring.h"
#include "term.h"
#include "wire.h"

#define MAX_IOV 64             /* iovecs per sendmsg */
#define SEND_BUDGET (4u << 20) /* bytes offered per sendmsg */
#define MAX_EVENTS 64
#define ACCEPT_BATCH 32
#define MAX_RUNS 65536         /* author runs kept per channel */
/* Terminals (relay_term.c): the agent's bytes are marked in the ring by this
 * bit of their author, so that viewers get the program's output and not each
 * other's keystrokes. Client ids are counted from 1 and never reach it. */
#define AGENT_BIT (1ull << 63)

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
    /* Terminal (once an agent attached, relay_term.c): the screen, the
     * recording, the agent, the size applied to its terminal and when it
     * may change. */
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
    listener_t *attach;
    channel_t *channels;
    client_t *pending, *dead;
    unsigned n_hello, n_conns;
    uint64_t next_id, last_stream, activity;
    char *rec_dir; /* conf.recording.dir, ours */
    uint8_t scratch[MAX_IOV][STDIO_WIRE_HDR + 8]; /* frame headers of one sendmsg */
};

/* ---- relay.c: helpers ---- */
void relay_log(stdio_relay_t *r, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int relay_fail(char *err, size_t errlen, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
const char *relay_who(const client_t *c, char *buf, size_t len);
void relay_client_info(const client_t *c, const char *reason, stdio_client_info_t *ci);

/* ---- relay.c: epoll, lists and state ---- */
void relay_client_set_events(stdio_relay_t *r, client_t *c);
void relay_arm_timer(stdio_relay_t *r, uint64_t at_us);
void relay_client_set_state(client_t *c, cstate_t s);
void relay_pending_add(stdio_relay_t *r, client_t *c, uint64_t deadline);
void relay_pending_del(stdio_relay_t *r, client_t *c);
void relay_chan_add(channel_t *ch, client_t *c);
void relay_client_kill(stdio_relay_t *r, client_t *c, const char *reason);
void relay_reap(stdio_relay_t *r);
bool relay_ctl_frame(client_t *c, int type, uint64_t offset, const char *text);

/* ---- relay.c: sending and channels (the data path) ---- */
void relay_client_pump(stdio_relay_t *r, client_t *c);
void relay_client_drop(stdio_relay_t *r, client_t *c, const char *reason);
size_t relay_keep_for(size_t scrollback);
size_t relay_chunk_for(const stdio_relay_conf_t *conf, size_t scrollback);
uint64_t relay_chan_replay_start(const channel_t *ch);
channel_t *relay_chan_find(stdio_relay_t *r, const char *name);
void relay_chan_advanced(stdio_relay_t *r, channel_t *ch);

/* ---- relay.c: events and lifecycle ---- */
uint64_t relay_run_timers(stdio_relay_t *r);
void relay_chan_destroy(stdio_relay_t *r, channel_t **chp, const char *reason);

/* ---- relay_accept.c: listening sockets and new connections ---- */
void relay_listener_close(listener_t **lp);
int relay_listener_open(stdio_relay_t *r, const char *path, lkind_t kind, gid_t gid, mode_t mode, listener_t **out, char *err, size_t errlen);
void relay_client_attach(stdio_relay_t *r, client_t *c, channel_t *ch, uint64_t start, uint64_t missed);
void relay_listeners_set(stdio_relay_t *r, bool on);
void relay_listener_ready(stdio_relay_t *r, listener_t *l);

/* ---- relay_hello.c: the attach protocol's hello ---- */
void relay_client_hello(stdio_relay_t *r, client_t *c);
void relay_hello_reject(stdio_relay_t *r, client_t *c, const char *why);

/* relay.c: bytes to send a framed client before anything else. */
bool relay_ctl_add(client_t *c, const void *data, size_t len);

/* relay_term.c: terminal channels (docs/stdio.md, "Terminals"). */
bool relay_term_hides(const client_t *c, uint64_t author);
void relay_term_fed(stdio_relay_t *r, client_t *c, const struct iovec *iov, int cnt, size_t n);
int relay_term_read_frames(stdio_relay_t *r, client_t *c);
int relay_term_early_input(stdio_relay_t *r, client_t *c, const char *data, size_t len);
void relay_term_left(stdio_relay_t *r, channel_t *ch, client_t *c);
void relay_term_apply_size(stdio_relay_t *r, channel_t *ch, uint64_t now);
int relay_term_hello(stdio_relay_t *r, client_t *c, channel_t *ch, const stdio_hello_t *h,
                     uint64_t *start, char *why, size_t whylen);
bool relay_term_screen(stdio_relay_t *r, client_t *c, channel_t *ch);
