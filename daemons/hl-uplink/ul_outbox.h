/* The offline outbox: events that wait for the API, kept in memory and in an
 * append-only file on disk (msgpack records, each fdatasync'd), so a crash
 * or a reboot loses nothing that was accepted. Bounded by a byte cap: when
 * full, the oldest events are dropped and counted, never the daemon stalled;
 * a failed disk write is counted and the event kept in memory.
 *
 * The file is a sequence of [4-byte big-endian length][msgpack map] frames:
 * an event {k:"e", id, src, ep, seq, type, topic, ts, body} or a skip {k:"s", n}
 * (the n oldest events are gone: delivered or dropped). Loading replays it;
 * a torn last frame (a crash mid-write) is cut off and counted. When the
 * file holds mostly skipped events it is rewritten (tmp, fsync, rename). */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The strings are the outbox's own copies once queued (ul_event_clear frees
 * them); an event handed to ul_outbox_push is only read. */
typedef struct ul_event {
    const char *id;     /* unique: the API deduplicates by it */
    const char *source; /* the publisher; order is kept per source (and overall) */
    uint64_t epoch; /* the publisher's incarnation: seq counts within it */
    uint64_t seq;
    const char *type;   /* alert, failure, recovery, lifecycle */
    const char *topic;
    uint64_t ts_us; /* server time */
    const char *body;   /* a JSON object */
} ul_event_t;

typedef struct ul_outbox ul_outbox_t;

typedef struct ul_outbox_stats {
    size_t depth, bytes;
    uint64_t pushed, delivered, dropped, write_errors, loaded, torn, compactions;
} ul_outbox_stats_t;

/* Opens (creating DIR's file) and loads what a previous run left. DIR NULL:
 * memory only (tests). NULL on failure with *ERR. */
ul_outbox_t *ul_outbox_open(const char *dir, size_t max_bytes, char **err);
void ul_outbox_close(ul_outbox_t **o_p);
/* Appends a copy of EV; drops the oldest to stay under the cap. 0, or
 * -errno when the disk write failed (the event is still queued). */
int ul_outbox_push(ul_outbox_t *o, const ul_event_t *ev);
size_t ul_outbox_depth(const ul_outbox_t *o);
/* The I-th oldest queued event. */
const ul_event_t *ul_outbox_at(const ul_outbox_t *o, size_t i);
/* The N oldest were delivered: removed, and the file says so. */
int ul_outbox_ack(ul_outbox_t *o, size_t n);
/* Everything written is on disk (appends already are; this syncs the
 * directory too, for shutdown). */
int ul_outbox_sync(ul_outbox_t *o);
void ul_outbox_stats(const ul_outbox_t *o, ul_outbox_stats_t *s);
void ul_event_clear(ul_event_t *e);
