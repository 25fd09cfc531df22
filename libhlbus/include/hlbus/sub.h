/* Subscribing to the bus, with topic-prefix filters, strict decoding and
 * per-source sequence tracking (gaps counted, last-value-cache replays of
 * messages already seen dropped). */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include <czmq.h>
#include "hlbus.pb-c.h"

typedef struct hlb_sub hlb_sub_t;

typedef struct hlb_event {
    const char *topic;
    const Hl__Envelope *env;      /* source, epoch, seq, ts_us, type, body */
    const ProtobufCMessage *msg;  /* the body decoded, when its type is registered */
    bool replay;                  /* from the proxy's last-value cache */
} hlb_event_t;

typedef struct hlb_sub_stats {
    uint64_t received;   /* delivered to the caller */
    uint64_t gaps;       /* messages missed, summed over sources */
    uint64_t duplicates; /* replays already seen, and stale epochs */
    uint64_t malformed;  /* wrong frame count, bad topic, bad envelope or body */
} hlb_sub_stats_t;

/* PREFIXES is NULL-terminated; NULL or {NULL} subscribes to everything. */
hlb_sub_t *hlb_sub_new(const char *runtime_dir, const char *const *prefixes);
void hlb_sub_destroy(hlb_sub_t **self_p);
int hlb_sub_subscribe(hlb_sub_t *s, const char *prefix);
/* The socket, to register with a zloop or zpoller. */
zsock_t *hlb_sub_sock(hlb_sub_t *s);
/* Waits up to TIMEOUT_MS (-1 forever, 0 not at all) for one event.
 * Malformed messages and duplicates are counted and skipped.
 * 1: EV is filled and valid until the next call; -EAGAIN: nothing came in
 * time; -EINTR: interrupted by a signal. Note that a subscriber re-subscribes
 * after the proxy restarts only while its owner calls in (ZeroMQ processes
 * the reconnect on the owner's thread): keep it in a loop or poller. */
int hlb_sub_recv(hlb_sub_t *s, hlb_event_t *ev, int timeout_ms);
hlb_sub_stats_t hlb_sub_stats(const hlb_sub_t *s);
/* True while events of a replay bundle (hl-bus sends a new subscription's
 * replay as one message) are held but not handed out yet: a caller that
 * reads in batches keeps reading, the socket will not signal them. */
bool hlb_sub_pending(const hlb_sub_t *s);
/* Whether EV was published by a process running as USER (a name, or the
 * shared user "hl" while USER does not exist yet, as in the ACL), as hl-bus
 * stamped it from the kernel; root counts as every user. False for an
 * event hl-bus did not stamp. For subscribers that act on what they hear. */
bool hlb_event_sender_is(const hlb_event_t *ev, const char *user);
/* Whether EV comes from the user of its family's owner in the bus contract
 * (hlbus/topics.h): true for a free-form topic; for daemon.<name>,
 * log.<name>.* and lifecycle.ack.<name>, from <name>'s user. hl-bus drops
 * what breaks its ACL already; a subscriber that acts on an event checks it
 * too, in one line:  if (!hlb_event_from_owner(ev)) return;  (it logs why,
 * at most once a second). */
bool hlb_event_from_owner(const hlb_event_t *ev);
