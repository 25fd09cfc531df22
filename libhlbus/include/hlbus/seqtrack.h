/* Sequence tracking. Each publisher numbers its messages per topic: the
 * stream (source, topic, epoch) counts 1, 2, 3... Per topic rather than per
 * source, because a subscriber sees only the topics it subscribed to, and a
 * gap must mean a lost message, not one filtered out. A receiver sees gaps
 * (lost messages), duplicates (last-value-cache replays it already had) and
 * publisher restarts (a new epoch). */
#pragma once
#include <stdint.h>

typedef enum {
    HLB_SEQ_FIRST,    /* first message seen of this stream */
    HLB_SEQ_NEXT,     /* the expected next one */
    HLB_SEQ_GAP,      /* newer than expected: *missed messages were lost */
    HLB_SEQ_RESTART,  /* a newer epoch: the publisher restarted */
    HLB_SEQ_DUP,      /* already seen (seq not above the last one) */
    HLB_SEQ_STALE,    /* from an older epoch than the current one */
} hlb_seq_verdict_t;

typedef struct hlb_seqtrack hlb_seqtrack_t;

hlb_seqtrack_t *hlb_seqtrack_new(void);
void hlb_seqtrack_destroy(hlb_seqtrack_t **self_p);
/* Records a message and classifies it. *missed gets the number of messages
 * lost before it (GAP, and RESTART when the new epoch did not start at 1). */
hlb_seq_verdict_t hlb_seqtrack_see(hlb_seqtrack_t *t, const char *source, const char *topic,
                                   uint64_t epoch, uint64_t seq, uint64_t *missed);
uint64_t hlb_seqtrack_gaps(const hlb_seqtrack_t *t);   /* messages missed in total */
/* Calls FN for each stream; for stats. */
typedef void (hlb_seqtrack_fn)(const char *source, const char *topic, uint64_t epoch,
                               uint64_t last_seq, uint64_t messages, uint64_t gaps, void *arg);
void hlb_seqtrack_each(const hlb_seqtrack_t *t, hlb_seqtrack_fn *fn, void *arg);
