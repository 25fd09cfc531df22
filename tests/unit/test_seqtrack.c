/* Sequence tracking: gaps, duplicates, restarts, per-topic streams. */
#include <hlbus/hlbus.h>

#include "check.h"

static void count(const char *s, const char *tp, uint64_t e, uint64_t l, uint64_t m,
                  uint64_t g, void *arg)
{
    ++*(size_t *)arg;
}

int main(void)
{
    hlb_seqtrack_t *t = hlb_seqtrack_new();
    uint64_t missed;
    CHECK(hlb_seqtrack_see(t, "a", "x", 100, 1, &missed) == HLB_SEQ_FIRST);
    CHECK(hlb_seqtrack_see(t, "a", "x", 100, 2, &missed) == HLB_SEQ_NEXT && missed == 0);
    CHECK(hlb_seqtrack_see(t, "a", "x", 100, 6, &missed) == HLB_SEQ_GAP && missed == 3);
    CHECK(hlb_seqtrack_see(t, "a", "x", 100, 6, &missed) == HLB_SEQ_DUP);
    CHECK(hlb_seqtrack_see(t, "a", "x", 100, 4, &missed) == HLB_SEQ_DUP);
    /* another topic of the same source is its own stream: no false gap */
    CHECK(hlb_seqtrack_see(t, "a", "y", 100, 1, &missed) == HLB_SEQ_FIRST);
    CHECK(hlb_seqtrack_see(t, "a", "y", 100, 2, &missed) == HLB_SEQ_NEXT);
    /* a restart: newer epoch; messages of it before this one were lost */
    CHECK(hlb_seqtrack_see(t, "a", "x", 200, 3, &missed) == HLB_SEQ_RESTART && missed == 2);
    CHECK(hlb_seqtrack_see(t, "a", "x", 200, 4, &missed) == HLB_SEQ_NEXT);
    /* a replay from the old incarnation is stale */
    CHECK(hlb_seqtrack_see(t, "a", "x", 100, 9, &missed) == HLB_SEQ_STALE);
    CHECK(hlb_seqtrack_gaps(t) == 5);
    hlb_seqtrack_destroy(&t);
    CHECK(t == NULL);
    hlb_seqtrack_destroy(&t); /* NULL is fine */

    /* a flood of forged sources is bounded */
    t = hlb_seqtrack_new();
    char name[32];
    for (int i = 0; i < 40000; i++) {
        snprintf(name, sizeof name, "s%d", i);
        hlb_seqtrack_see(t, name, "t", 1, 1, &missed);
    }
    size_t n = 0;
    hlb_seqtrack_each(t, count, &n);
    CHECK(n <= 16384);
    hlb_seqtrack_destroy(&t);
    return check_done();
}
