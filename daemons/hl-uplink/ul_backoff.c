/* Back-off policies: see ul_backoff.h. */
#include "ul_backoff.h"

/* Windows above this are the same: 2^40 ms is 35 years, and shifting
 * further would overflow. DOUBLING is "uncapped" in every sense that
 * matters (the SSM agent's 10h17m sleep is 2^25 ms). */
#define UL_SHIFT_MAX 40

static uint64_t next_rand(ul_backoff_t *b)
{
    /* xorshift64*: fast, good enough for jitter, reproducible per seed */
    uint64_t x = b->rng;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    b->rng = x;
    return x * 0x2545F4914F6CDD1DULL;
}

void ul_backoff_init(ul_backoff_t *b, ul_policy_t policy, uint64_t base_ms, uint64_t cap_ms,
                     uint64_t seed)
{
    b->policy = policy;
    b->base_ms = base_ms ? base_ms : 1;
    b->cap_ms = cap_ms < b->base_ms ? b->base_ms : cap_ms;
    b->attempt = 0;
    /* splitmix the seed so neighbouring seeds (agent 1, 2, 3) diverge at once */
    uint64_t z = seed + 0x9E3779B97F4A7C15ULL;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    b->rng = (z ^ (z >> 31)) | 1;
}

uint64_t ul_backoff_rand(ul_backoff_t *b, uint64_t n)
{
    if (n == 0)
        return 0;
    if (n == UINT64_MAX)
        return next_rand(b);
    return next_rand(b) % (n + 1);
}

uint64_t ul_backoff_window(const ul_backoff_t *b)
{
    unsigned sh = b->attempt < UL_SHIFT_MAX ? b->attempt : UL_SHIFT_MAX;
    uint64_t w = b->base_ms << sh;
    switch (b->policy) {
    case UL_POLICY_JITTER:
        return w < b->cap_ms ? w : b->cap_ms;
    case UL_POLICY_DOUBLING:
        return w;
    case UL_POLICY_FIXED:
        return b->base_ms;
    }
    return b->base_ms;
}

uint64_t ul_backoff_fail(ul_backoff_t *b, uint64_t retry_after_ms)
{
    uint64_t w = ul_backoff_window(b);
    uint64_t d = b->policy == UL_POLICY_JITTER ? ul_backoff_rand(b, w) : w;
    if (b->attempt < UL_SHIFT_MAX)
        b->attempt++;
    if (retry_after_ms) {
        /* Not before the server said; and a fleet told the same Retry-After
         * must not come back in the same second: spread it by the window
         * (jitter policy only: the others are measured as they are). */
        uint64_t spread = b->policy == UL_POLICY_JITTER ? ul_backoff_rand(b, w) : 0;
        uint64_t at_least = retry_after_ms + spread;
        if (d < at_least)
            d = at_least;
    }
    return d;
}

void ul_backoff_reset(ul_backoff_t *b) { b->attempt = 0; }

const char *ul_policy_name(ul_policy_t p)
{
    switch (p) {
    case UL_POLICY_JITTER:
        return "full-jitter-capped";
    case UL_POLICY_DOUBLING:
        return "ssm-doubling";
    case UL_POLICY_FIXED:
        return "fixed-interval";
    }
    return "?";
}
