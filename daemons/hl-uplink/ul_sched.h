/* When hl-uplink talks to the API, and what it says: one agent's schedule.
 *
 * A table-free little state machine with one request in flight at a time
 * (so events leave in order): register until registered, then events
 * (batched: a short linger after the first pending one) and heartbeats
 * every interval +- jitter. A failure puts the whole agent into back-off
 * (ul_backoff.h); the next attempt is whatever matters most then. A 404 on
 * a heartbeat means the server forgot us: register again at once (once; a
 * second 404 in a row backs off). After a failure the next attempt is a
 * register (idempotent: 200 when the server still knows us): an API that
 * was down may have lost its registry, and finding out through a 404 first
 * would double the fleet's requests just when the API comes back. A link or route change cuts a long
 * back-off short: the next attempt comes within link_retry.
 *
 * No clock, no I/O: times are the caller's monotonic milliseconds. The
 * daemon drives it with real HTTP (hl-uplink.c), the fleet simulation
 * (tests/sim/uplink) with 10,000 of them against a simulated API. */
#pragma once
#include <stdbool.h>
#include <stdint.h>

#include "ul_backoff.h"

typedef enum ul_op {
    UL_OP_NONE = 0,
    UL_OP_REGISTER,
    UL_OP_HEARTBEAT,
    UL_OP_EVENTS,
} ul_op_t;

/* What an exchange came to, from the scheduler's point of view. */
typedef enum ul_outcome {
    UL_OUT_OK = 0,    /* 2xx */
    UL_OUT_GONE,      /* 404 on a heartbeat or events: the server forgot the instance */
    UL_OUT_THROTTLED, /* 429 or 503: the API is there but says later */
    UL_OUT_FAILED,    /* no answer, a transport error, 5xx, a 401 after the token re-read,
                       * an answer we cannot use */
    UL_OUT_REJECTED,  /* another 4xx: this request is bad, the link is fine (events:
                       * the owner drops the batch, counted) */
} ul_outcome_t;

typedef struct ul_sched_conf {
    ul_policy_t policy;
    uint64_t backoff_base_ms;   /* 1000 */
    uint64_t backoff_cap_ms;    /* 60000 */
    uint64_t heartbeat_ms;      /* 30000 */
    unsigned heartbeat_jitter_pct; /* 10: each interval is heartbeat +- 10 % */
    uint64_t link_retry_ms;     /* 2000 */
    uint64_t events_linger_ms;  /* 200: events wait this long for company */
    uint64_t start_jitter_ms;   /* 0: the first register at once */
} ul_sched_conf_t;

typedef struct ul_sched {
    ul_sched_conf_t c;
    ul_backoff_t bo;
    bool started;
    bool registered;
    bool reconfirm;      /* after a failure: register (idempotently) before anything */
    bool online;         /* the last exchange was answered and accepted */
    bool in_flight;
    unsigned gone_streak;
    uint64_t retry_at;   /* in back-off: the next attempt; 0: not failing */
    uint64_t hb_due;
    uint64_t ev_due;     /* 0: no events pending */
    uint64_t start_at;
    /* counters */
    uint64_t requests, failures, throttled, registrations;
} ul_sched_t;

/* Classifies an HTTP status (0: no answer) for OP. 401 is FAILED here: the
 * daemon re-reads its token and retries once before it says so. */
ul_outcome_t ul_outcome_of_status(ul_op_t op, long status);
const char *ul_op_name(ul_op_t op);

void ul_sched_init(ul_sched_t *s, const ul_sched_conf_t *c, uint64_t seed, uint64_t now_ms);
/* The next request and when it is due (*DUE_MS; UINT64_MAX with NONE while
 * one is in flight). Due <= now: call ul_sched_begin and send it. */
ul_op_t ul_sched_next(const ul_sched_t *s, uint64_t now_ms, uint64_t *due_ms);
void ul_sched_begin(ul_sched_t *s, ul_op_t op);
/* The answer to the request begun. RETRY_AFTER_MS: the server's Retry-After
 * (0: none); INTERVAL_MS: a heartbeat interval the server asked for (0: keep). */
void ul_sched_done(ul_sched_t *s, ul_op_t op, ul_outcome_t out, uint64_t retry_after_ms,
                   uint64_t interval_ms, uint64_t now_ms);
/* Events are waiting (PENDING) or not; the first one starts the linger. */
void ul_sched_events(ul_sched_t *s, bool pending, uint64_t now_ms);
/* A link or route changed: a long back-off ends within link_retry. */
void ul_sched_link_change(ul_sched_t *s, uint64_t now_ms);
/* Everything due now (hlctl uplink flush): pending events and a back-off's
 * next attempt. */
void ul_sched_kick(ul_sched_t *s, uint64_t now_ms);
/* The identity changed (or the server wants it): register again. */
void ul_sched_unregister(ul_sched_t *s);
