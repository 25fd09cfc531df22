/* The forwarding spool: records waiting for the collector, on disk, in
 * order. Chunk files (<16 hex digits>.chunk) of msgpack records
 * [id, ts_us, priority, name, pid, line], appended and fdatasync'd per
 * batch; a hard cap on their total bytes, past which new records are
 * dropped and counted (never silently). The reader walks the chunks from
 * the confirmed position (the "acked" file); a chunk that does not decode
 * is moved to quarantine/ after its good records, counted, and reading
 * goes on with the next one. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct lg_spool lg_spool_t;

typedef struct lg_pos {
    uint64_t chunk, off;
} lg_pos_t;

typedef struct lg_spool_rec {
    const char *id;
    size_t id_len;
    uint64_t ts_us;
    uint64_t priority;
    const char *name;
    size_t name_len;
    uint64_t pid;
    const char *line;
    size_t line_len;
} lg_spool_rec_t;

typedef struct lg_spool_stats {
    uint64_t appended, dropped, dropped_bytes;
    uint64_t quarantined_chunks, quarantined_bytes;
    uint64_t bytes; /* on disk now */
    uint64_t chunks;
    uint64_t sync_errors;
} lg_spool_stats_t;

/* Opens (creating) DIR. A torn record at the end of the newest chunk (a
 * crash in the middle of a write) is cut off. 0 or -errno. */
int lg_spool_open(lg_spool_t **out, const char *dir, uint64_t max_bytes, uint64_t chunk_bytes);
void lg_spool_close(lg_spool_t **sp);

/* Encodes one record (msgpack) onto OUT; exposed for the fuzz seeds. */
struct hlb_buf;
void lg_spool_encode(struct hlb_buf *out, const lg_spool_rec_t *r);
/* Decodes one record at P (N bytes): 1 and *USED; 0 incomplete; -EINVAL. */
int lg_spool_decode(const uint8_t *p, size_t n, lg_spool_rec_t *r, size_t *used);

/* Queues R; -ENOSPC when the cap would be passed (the record is dropped and
 * counted). */
int lg_spool_append(lg_spool_t *sp, const lg_spool_rec_t *r);
/* Writes the queued records and fdatasyncs them. 0 or -errno (the records
 * stay queued and are tried again). */
int lg_spool_commit(lg_spool_t *sp);

/* The next record from the read position: 1 (R valid until the next call),
 * 0 nothing more now. */
int lg_spool_next(lg_spool_t *sp, lg_spool_rec_t *r);
/* The position after the last record lg_spool_next returned. */
lg_pos_t lg_spool_tell(const lg_spool_t *sp);
/* Reads again from POS (records sent but not confirmed). */
void lg_spool_rewind(lg_spool_t *sp, lg_pos_t pos);
/* Everything before POS reached the collector: whole chunks before it are
 * removed, and POS is saved when SAVE (callers throttle this). */
void lg_spool_confirm(lg_spool_t *sp, lg_pos_t pos, bool save);
lg_pos_t lg_spool_confirmed(const lg_spool_t *sp);
/* Whether records wait beyond the confirmed position. */
bool lg_spool_pending(const lg_spool_t *sp);
const lg_spool_stats_t *lg_spool_stats(const lg_spool_t *sp);
