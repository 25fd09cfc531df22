/* Retry back-off for hl-uplink, and the two naive policies the fleet
 * simulation compares it with (tests/sim/uplink).
 *
 * The default is "full jitter" (a uniform delay in [0, min(cap, base * 2^n)]):
 * a fleet that failed together spreads its retries over the whole window
 * instead of coming back in the same second, and the cap (60 s by default)
 * bounds how long an agent stays dark after the API is back. DOUBLING is
 * SSM-agent style (base * 2^n, no jitter, no cap) and FIXED retries every
 * base; both exist only to be measured against.
 *
 * Pure: no clock, no I/O; the random state is the caller's (a seed per
 * agent), so the simulation is reproducible. */
#pragma once
#include <stdbool.h>
#include <stdint.h>

typedef enum ul_policy {
    UL_POLICY_JITTER = 0, /* full jitter, capped: what hl-uplink runs */
    UL_POLICY_DOUBLING,   /* SSM-style: uncapped doubling, no jitter */
    UL_POLICY_FIXED,      /* a fixed interval */
} ul_policy_t;

typedef struct ul_backoff {
    ul_policy_t policy;
    uint64_t base_ms;  /* the first window (JITTER, DOUBLING) or the interval (FIXED) */
    uint64_t cap_ms;   /* JITTER only */
    unsigned attempt;  /* failures since the last success or reset */
    uint64_t rng;      /* xorshift64* state, never 0 */
} ul_backoff_t;

void ul_backoff_init(ul_backoff_t *b, ul_policy_t policy, uint64_t base_ms, uint64_t cap_ms,
                     uint64_t seed);
/* The delay before the next attempt after one more failure (counts it).
 * RETRY_AFTER_MS (0: none) is the server's Retry-After: never retry before
 * it, and spread the fleet after it by the current window. */
uint64_t ul_backoff_fail(ul_backoff_t *b, uint64_t retry_after_ms);
/* A success, or the network changed: the next failure starts from base. */
void ul_backoff_reset(ul_backoff_t *b);
/* The current window (what the next failure's delay is drawn below). */
uint64_t ul_backoff_window(const ul_backoff_t *b);
/* A uniform value in [0, n] from B's random state (the scheduler's jitter). */
uint64_t ul_backoff_rand(ul_backoff_t *b, uint64_t n);
const char *ul_policy_name(ul_policy_t p);
