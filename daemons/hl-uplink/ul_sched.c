/* One agent's schedule: see ul_sched.h. */
#include "ul_sched.h"

#include <string.h>

const char *ul_op_name(ul_op_t op)
{
    switch (op) {
    case UL_OP_NONE:
        return "none";
    case UL_OP_REGISTER:
        return "register";
    case UL_OP_HEARTBEAT:
        return "heartbeat";
    case UL_OP_EVENTS:
        return "events";
    }
    return "?";
}

ul_outcome_t ul_outcome_of_status(ul_op_t op, long status)
{
    if (status >= 200 && status < 300)
        return UL_OUT_OK;
    if (status == 429 || status == 503)
        return UL_OUT_THROTTLED;
    if (status == 404 && op != UL_OP_REGISTER)
        return UL_OUT_GONE;
    /* 408 is the server giving up on us: the link, not the request */
    if (status >= 400 && status < 500 && status != 401 && status != 408)
        return UL_OUT_REJECTED;
    return UL_OUT_FAILED;
}

static uint64_t jittered_interval(ul_sched_t *s)
{
    uint64_t iv = s->c.heartbeat_ms;
    uint64_t j = iv * s->c.heartbeat_jitter_pct / 100;
    return iv - j + ul_backoff_rand(&s->bo, 2 * j);
}

void ul_sched_init(ul_sched_t *s, const ul_sched_conf_t *c, uint64_t seed, uint64_t now_ms)
{
    memset(s, 0, sizeof *s);
    s->c = *c;
    if (!s->c.heartbeat_ms)
        s->c.heartbeat_ms = 30000;
    if (s->c.heartbeat_jitter_pct > 50)
        s->c.heartbeat_jitter_pct = 50;
    ul_backoff_init(&s->bo, c->policy, c->backoff_base_ms, c->backoff_cap_ms, seed);
    s->start_at = now_ms + ul_backoff_rand(&s->bo, c->start_jitter_ms);
}

ul_op_t ul_sched_next(const ul_sched_t *s, uint64_t now_ms, uint64_t *due_ms)
{
    (void)now_ms;
    if (s->in_flight) {
        *due_ms = UINT64_MAX;
        return UL_OP_NONE;
    }
    if (!s->registered || s->reconfirm) {
        *due_ms = s->retry_at ? s->retry_at : s->start_at;
        return UL_OP_REGISTER;
    }
    if (s->ev_due && s->ev_due <= s->hb_due) {
        *due_ms = s->ev_due;
        return UL_OP_EVENTS;
    }
    *due_ms = s->hb_due;
    return UL_OP_HEARTBEAT;
}

void ul_sched_begin(ul_sched_t *s, ul_op_t op)
{
    (void)op;
    s->in_flight = true;
    s->started = true;
    s->requests++;
}

void ul_sched_done(ul_sched_t *s, ul_op_t op, ul_outcome_t out, uint64_t retry_after_ms,
                   uint64_t interval_ms, uint64_t now_ms)
{
    s->in_flight = false;
    if (interval_ms >= 1000)
        s->c.heartbeat_ms = interval_ms;
    if (out == UL_OUT_REJECTED && op == UL_OP_REGISTER)
        out = UL_OUT_FAILED; /* we cannot go on without a registration */
    if (out == UL_OUT_GONE && s->gone_streak >= 1)
        out = UL_OUT_FAILED; /* registered and forgotten again: no tight loop */
    switch (out) {
    case UL_OUT_OK:
    case UL_OUT_REJECTED:
        ul_backoff_reset(&s->bo);
        s->retry_at = 0;
        s->online = true;
        if (op == UL_OP_REGISTER) {
            s->registered = true;
            s->reconfirm = false;
            s->registrations++;
            s->hb_due = now_ms + jittered_interval(s);
        } else if (op == UL_OP_HEARTBEAT) {
            s->gone_streak = 0;
            s->hb_due = now_ms + jittered_interval(s);
        } else if (op == UL_OP_EVENTS) {
            s->ev_due = 0; /* the owner says again if more wait */
        }
        break;
    case UL_OUT_GONE:
        s->gone_streak++;
        s->registered = false;
        s->retry_at = 0;
        s->start_at = now_ms;
        s->online = true;
        break;
    case UL_OUT_THROTTLED:
    case UL_OUT_FAILED:
        if (out == UL_OUT_THROTTLED)
            s->throttled++;
        s->failures++;
        s->online = false;
        s->reconfirm = true;
        s->retry_at = now_ms + ul_backoff_fail(&s->bo, retry_after_ms);
        if (s->retry_at == 0)
            s->retry_at = 1;
        break;
    }
}

void ul_sched_events(ul_sched_t *s, bool pending, uint64_t now_ms)
{
    if (!pending)
        s->ev_due = 0;
    else if (!s->ev_due)
        s->ev_due = now_ms + s->c.events_linger_ms;
}

void ul_sched_link_change(ul_sched_t *s, uint64_t now_ms)
{
    uint64_t soon = now_ms + s->c.link_retry_ms;
    if (s->retry_at && s->retry_at > soon) {
        ul_backoff_reset(&s->bo);
        s->retry_at = now_ms + ul_backoff_rand(&s->bo, s->c.link_retry_ms);
    }
    if ((!s->registered || s->reconfirm) && !s->retry_at && s->start_at > soon)
        s->start_at = now_ms;
}

void ul_sched_kick(ul_sched_t *s, uint64_t now_ms)
{
    if (s->ev_due)
        s->ev_due = now_ms;
    if (s->retry_at)
        s->retry_at = now_ms;
    if (!s->registered || s->reconfirm)
        s->start_at = now_ms;
}

void ul_sched_unregister(ul_sched_t *s)
{
    s->registered = false;
    s->gone_streak = 0;
}
