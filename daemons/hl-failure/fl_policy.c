/* The recovery policy: one transition table, guards and actions. */
#include "fl_policy.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct fl_policy {
    char *target;
    fl_policy_cfg_t cfg;
    fl_effect_fn *fn;
    void *arg;
    fl_state_t state;
    bool gated;
    int attempts;            /* actions started in this budget */
    uint64_t incident_start; /* first detection of the incident in progress; 0: none */
    uint64_t due_ms;         /* BACKOFF: when the next action runs */
    uint64_t verify_due;     /* VERIFYING: when the attempt counts as failed */
    uint64_t stable_due;     /* IDLE: when the budget is whole again */
    bool healthy_seen;       /* ACTING: healthy reported before the action's answer */
    uint64_t flap[FL_MAX_FLAP]; /* start times of recent recoveries (ring) */
    size_t nflap, flap_head;
};

typedef bool(guard_fn)(const fl_policy_t *p, const fl_input_t *in, uint64_t now);
typedef void(act_fn)(fl_policy_t *p, const fl_input_t *in, fl_event_t ev, uint64_t now);

#define SAME FL_NSTATES /* "stay in the current state" */

typedef struct row {
    fl_state_t state;
    fl_event_t event;
    guard_fn *guard; /* NULL: always */
    const char *guard_name;
    act_fn *act[3];
    fl_state_t next;
} row_t;

static const char *const state_names[FL_NSTATES] = {
    "idle", "backoff", "acting", "verifying", "gave-up", "held", "config-error"};
static const char *const event_names[FL_NEVENTS] = {
    "failure", "config-error", "config-ok", "healthy", "due", "action-ok",
    "action-failed", "verify-timeout", "stable", "rearm", "gate-close"};
static const char *const effect_names[FL_NEFFECTS] = {
    "state", "scheduled", "action", "systemd-restart", "attempt-failed", "recovered",
    "gave-up", "held", "config-error", "config-cleared", "suppressed", "abandoned",
    "budget-restored", "rearmed", "noted"};

const char *fl_state_name(fl_state_t s) { return s < FL_NSTATES ? state_names[s] : "?"; }
const char *fl_event_name(fl_event_t e) { return e < FL_NEVENTS ? event_names[e] : "?"; }
const char *fl_effect_name(fl_effect_kind_t k) { return k < FL_NEFFECTS ? effect_names[k] : "?"; }

void fl_policy_cfg_defaults(fl_policy_cfg_t *c)
{
    memset(c, 0, sizeof *c);
    c->actions[0] = "restart";
    c->actions[1] = "reset";
    c->actions[2] = "rebuild";
    c->nactions = 3;
    c->max_attempts = 3;
    c->backoff_ms = 10 * 1000;
    c->backoff_max_ms = 5 * 60 * 1000;
    c->verify_ms = 60 * 1000;
    c->stable_ms = 10 * 60 * 1000;
    c->flap_max = 6;
    c->flap_window_ms = 60 * 60 * 1000;
    c->credit_systemd = true;
}

int64_t fl_policy_delay_ms(const fl_policy_cfg_t *c, int attempt)
{
    if (attempt <= 1 || c->backoff_ms <= 0)
        return 0;
    int64_t d = (int64_t)(attempt - 1) * c->backoff_ms;
    return c->backoff_max_ms > 0 && d > c->backoff_max_ms ? c->backoff_max_ms : d;
}

/* The action of attempt N (1-based): the ladder's last rung repeats. */
static const char *rung(const fl_policy_t *p, int n)
{
    if (p->cfg.nactions == 0)
        return "restart";
    size_t i = n < 1 ? 0 : (size_t)(n - 1);
    return p->cfg.actions[i < p->cfg.nactions ? i : p->cfg.nactions - 1];
}

static void emit(fl_policy_t *p, fl_effect_t e)
{
    e.target = p->target;
    if (!e.max_attempts)
        e.max_attempts = p->cfg.max_attempts;
    if (p->fn)
        p->fn(&e, p->arg);
}

static const char *why(const fl_input_t *in, fl_event_t ev)
{
    return in && in->detail ? in->detail : fl_event_name(ev);
}

int fl_policy_recoveries(const fl_policy_t *p, uint64_t now)
{
    int n = 0;
    for (size_t i = 0; i < p->nflap; i++) {
        uint64_t t = p->flap[(p->flap_head + FL_MAX_FLAP - 1 - i) % FL_MAX_FLAP];
        if (now >= t && now - t < (uint64_t)p->cfg.flap_window_ms)
            n++;
    }
    return n;
}

static void record_recovery(fl_policy_t *p, uint64_t now)
{
    p->flap[p->flap_head] = now;
    p->flap_head = (p->flap_head + 1) % FL_MAX_FLAP;
    if (p->nflap < FL_MAX_FLAP)
        p->nflap++;
}

/* ---- guards ---- */

static bool g_gated(const fl_policy_t *p, const fl_input_t *in, uint64_t now) { return p->gated; }

static bool g_exhausted(const fl_policy_t *p, const fl_input_t *in, uint64_t now)
{
    return p->attempts >= p->cfg.max_attempts;
}

static bool g_flapping(const fl_policy_t *p, const fl_input_t *in, uint64_t now)
{
    return p->cfg.flap_max > 0 && fl_policy_recoveries(p, now) >= p->cfg.flap_max;
}

static bool g_systemd(const fl_policy_t *p, const fl_input_t *in, uint64_t now)
{
    return p->cfg.credit_systemd && in && in->self_restarting &&
           strcmp(rung(p, p->attempts + 1), "restart") == 0;
}

static bool g_no_delay(const fl_policy_t *p, const fl_input_t *in, uint64_t now)
{
    return fl_policy_delay_ms(&p->cfg, p->attempts + 1) == 0;
}

static bool g_healthy_seen(const fl_policy_t *p, const fl_input_t *in, uint64_t now)
{
    return p->healthy_seen;
}

/* ---- actions ---- */

static void a_begin(fl_policy_t *p, const fl_input_t *in, fl_event_t ev, uint64_t now)
{
    if (!p->incident_start)
        p->incident_start = now ? now : 1;
    p->stable_due = FL_NEVER;
}

static void a_suppress(fl_policy_t *p, const fl_input_t *in, fl_event_t ev, uint64_t now)
{
    emit(p, (fl_effect_t){.kind = FL_EFF_SUPPRESSED, .detail = why(in, ev)});
}

static uint64_t since_incident(const fl_policy_t *p, uint64_t now)
{
    return p->incident_start && now >= p->incident_start ? now - p->incident_start : 0;
}

static void a_give_up(fl_policy_t *p, const fl_input_t *in, fl_event_t ev, uint64_t now)
{
    emit(p, (fl_effect_t){.kind = FL_EFF_GIVE_UP, .attempt = p->attempts,
                          .duration_ms = since_incident(p, now), .detail = why(in, ev)});
}

static void a_hold(fl_policy_t *p, const fl_input_t *in, fl_event_t ev, uint64_t now)
{
    emit(p, (fl_effect_t){.kind = FL_EFF_HOLD, .attempt = p->attempts,
                          .duration_ms = since_incident(p, now),
                          .recoveries = fl_policy_recoveries(p, now), .detail = why(in, ev)});
}

static void a_systemd(fl_policy_t *p, const fl_input_t *in, fl_event_t ev, uint64_t now)
{
    p->attempts++;
    record_recovery(p, now);
    p->verify_due = now + (uint64_t)p->cfg.verify_ms;
    emit(p, (fl_effect_t){.kind = FL_EFF_SYSTEMD, .action = "restart", .attempt = p->attempts,
                          .detail = why(in, ev)});
}

static void a_act(fl_policy_t *p, const fl_input_t *in, fl_event_t ev, uint64_t now)
{
    p->attempts++;
    record_recovery(p, now);
    p->healthy_seen = false;
    emit(p, (fl_effect_t){.kind = FL_EFF_ACTION, .action = rung(p, p->attempts),
                          .attempt = p->attempts, .detail = why(in, ev)});
}

static void a_schedule(fl_policy_t *p, const fl_input_t *in, fl_event_t ev, uint64_t now)
{
    int next = p->attempts + 1;
    p->due_ms = now + (uint64_t)fl_policy_delay_ms(&p->cfg, next);
    emit(p, (fl_effect_t){.kind = FL_EFF_SCHEDULE, .action = rung(p, next), .attempt = next,
                          .due_ms = p->due_ms, .detail = why(in, ev)});
}

static void a_verify(fl_policy_t *p, const fl_input_t *in, fl_event_t ev, uint64_t now)
{
    p->verify_due = now + (uint64_t)p->cfg.verify_ms;
}

static void a_fail(fl_policy_t *p, const fl_input_t *in, fl_event_t ev, uint64_t now)
{
    emit(p, (fl_effect_t){.kind = FL_EFF_ATTEMPT_FAILED, .action = rung(p, p->attempts),
                          .attempt = p->attempts, .detail = why(in, ev)});
}

static void a_recovered(fl_policy_t *p, const fl_input_t *in, fl_event_t ev, uint64_t now)
{
    emit(p, (fl_effect_t){.kind = FL_EFF_RECOVERED, .action = rung(p, p->attempts),
                          .attempt = p->attempts, .duration_ms = since_incident(p, now),
                          .detail = why(in, ev)});
    p->incident_start = 0;
    p->healthy_seen = false;
    p->stable_due = p->attempts > 0 ? now + (uint64_t)p->cfg.stable_ms : FL_NEVER;
}

static void a_config(fl_policy_t *p, const fl_input_t *in, fl_event_t ev, uint64_t now)
{
    if (!p->incident_start)
        p->incident_start = now ? now : 1;
    emit(p, (fl_effect_t){.kind = FL_EFF_CONFIG, .detail = why(in, ev)});
}

static void a_config_cleared(fl_policy_t *p, const fl_input_t *in, fl_event_t ev, uint64_t now)
{
    emit(p, (fl_effect_t){.kind = FL_EFF_CONFIG_CLEARED, .duration_ms = since_incident(p, now),
                          .detail = why(in, ev)});
    p->incident_start = 0;
    p->stable_due = p->attempts > 0 ? now + (uint64_t)p->cfg.stable_ms : FL_NEVER;
}

static void a_healthy_idle(fl_policy_t *p, const fl_input_t *in, fl_event_t ev, uint64_t now)
{
    if (p->attempts > 0 && p->stable_due == FL_NEVER)
        p->stable_due = now + (uint64_t)p->cfg.stable_ms;
}

static void a_budget(fl_policy_t *p, const fl_input_t *in, fl_event_t ev, uint64_t now)
{
    int used = p->attempts;
    p->attempts = 0;
    p->stable_due = FL_NEVER;
    emit(p, (fl_effect_t){.kind = FL_EFF_BUDGET_RESTORED, .attempt = used,
                          .detail = "stable period passed"});
}

/* Restores the attempts and forgets the flap history, keeping any incident
 * in progress (a rearm while an action runs lets it finish). */
static void a_rearm_budget(fl_policy_t *p, const fl_input_t *in, fl_event_t ev, uint64_t now)
{
    p->attempts = 0;
    p->nflap = p->flap_head = 0;
    emit(p, (fl_effect_t){.kind = FL_EFF_REARMED, .detail = why(in, ev)});
}

static void a_rearm(fl_policy_t *p, const fl_input_t *in, fl_event_t ev, uint64_t now)
{
    a_rearm_budget(p, in, ev, now);
    p->incident_start = 0;
    p->stable_due = FL_NEVER;
}

static void a_abandon(fl_policy_t *p, const fl_input_t *in, fl_event_t ev, uint64_t now)
{
    emit(p, (fl_effect_t){.kind = FL_EFF_ABANDONED, .attempt = p->attempts,
                          .detail = why(in, ev)});
    p->incident_start = 0;
}

static void a_note(fl_policy_t *p, const fl_input_t *in, fl_event_t ev, uint64_t now)
{
    emit(p, (fl_effect_t){.kind = FL_EFF_NOTED, .attempt = p->attempts, .detail = why(in, ev)});
}

static void a_seen_healthy(fl_policy_t *p, const fl_input_t *in, fl_event_t ev, uint64_t now)
{
    p->healthy_seen = true;
}

/* A failure after the health report makes that report stale. */
static void a_unseen(fl_policy_t *p, const fl_input_t *in, fl_event_t ev, uint64_t now)
{
    p->healthy_seen = false;
}

/* ---- the table: the first row whose state, event and guard match wins ---- */

#define G(fn) fn, #fn
#define ANY NULL, ""
static const row_t rows[] = {
    /* idle: a failure starts an incident, unless the gate is shut, the
     * budget is spent, or the target is flapping */
    {FL_ST_IDLE, FL_EV_FAILURE, G(g_gated), {a_suppress}, SAME},
    {FL_ST_IDLE, FL_EV_FAILURE, G(g_exhausted), {a_begin, a_give_up}, FL_ST_GAVE_UP},
    {FL_ST_IDLE, FL_EV_FAILURE, G(g_flapping), {a_begin, a_hold}, FL_ST_HELD},
    {FL_ST_IDLE, FL_EV_FAILURE, G(g_systemd), {a_begin, a_systemd}, FL_ST_VERIFYING},
    {FL_ST_IDLE, FL_EV_FAILURE, G(g_no_delay), {a_begin, a_act}, FL_ST_ACTING},
    {FL_ST_IDLE, FL_EV_FAILURE, ANY, {a_begin, a_schedule}, FL_ST_BACKOFF},
    {FL_ST_IDLE, FL_EV_CONFIG_ERROR, ANY, {a_config}, FL_ST_CONFIG},
    {FL_ST_IDLE, FL_EV_HEALTHY, ANY, {a_healthy_idle}, SAME},
    {FL_ST_IDLE, FL_EV_STABLE, ANY, {a_budget}, SAME},
    {FL_ST_IDLE, FL_EV_REARM, ANY, {a_rearm}, SAME},

    /* backoff: the action waits; the service may heal meanwhile, but a
     * repeated failure is what escalation is for, so it still runs */
    {FL_ST_BACKOFF, FL_EV_DUE, ANY, {a_act}, FL_ST_ACTING},
    {FL_ST_BACKOFF, FL_EV_FAILURE, ANY, {a_note}, SAME},
    {FL_ST_BACKOFF, FL_EV_CONFIG_ERROR, ANY, {a_config}, FL_ST_CONFIG},
    {FL_ST_BACKOFF, FL_EV_GATE_CLOSE, ANY, {a_abandon}, FL_ST_IDLE},
    {FL_ST_BACKOFF, FL_EV_REARM, ANY, {a_rearm}, FL_ST_IDLE},

    /* acting: the outcome decides; health seen before the answer counts */
    {FL_ST_ACTING, FL_EV_ACT_OK, G(g_gated), {a_abandon}, FL_ST_IDLE},
    {FL_ST_ACTING, FL_EV_ACT_OK, G(g_healthy_seen), {a_recovered}, FL_ST_IDLE},
    {FL_ST_ACTING, FL_EV_ACT_OK, ANY, {a_verify}, FL_ST_VERIFYING},
    {FL_ST_ACTING, FL_EV_ACT_FAILED, G(g_gated), {a_fail, a_abandon}, FL_ST_IDLE},
    {FL_ST_ACTING, FL_EV_ACT_FAILED, G(g_exhausted), {a_fail, a_give_up}, FL_ST_GAVE_UP},
    {FL_ST_ACTING, FL_EV_ACT_FAILED, G(g_flapping), {a_fail, a_hold}, FL_ST_HELD},
    {FL_ST_ACTING, FL_EV_ACT_FAILED, ANY, {a_fail, a_schedule}, FL_ST_BACKOFF},
    {FL_ST_ACTING, FL_EV_HEALTHY, ANY, {a_seen_healthy}, SAME},
    {FL_ST_ACTING, FL_EV_FAILURE, ANY, {a_note, a_unseen}, SAME},
    {FL_ST_ACTING, FL_EV_CONFIG_ERROR, ANY, {a_config}, FL_ST_CONFIG},
    {FL_ST_ACTING, FL_EV_REARM, ANY, {a_rearm_budget}, SAME},

    /* verifying: healthy ends the incident; a failure or the timeout is a
     * failed attempt and escalates */
    {FL_ST_VERIFYING, FL_EV_HEALTHY, ANY, {a_recovered}, FL_ST_IDLE},
    {FL_ST_VERIFYING, FL_EV_FAILURE, G(g_exhausted), {a_fail, a_give_up}, FL_ST_GAVE_UP},
    {FL_ST_VERIFYING, FL_EV_FAILURE, G(g_flapping), {a_fail, a_hold}, FL_ST_HELD},
    {FL_ST_VERIFYING, FL_EV_FAILURE, G(g_systemd), {a_fail, a_systemd}, SAME},
    {FL_ST_VERIFYING, FL_EV_FAILURE, ANY, {a_fail, a_schedule}, FL_ST_BACKOFF},
    {FL_ST_VERIFYING, FL_EV_VERIFY_TIMEOUT, G(g_exhausted), {a_fail, a_give_up}, FL_ST_GAVE_UP},
    {FL_ST_VERIFYING, FL_EV_VERIFY_TIMEOUT, G(g_flapping), {a_fail, a_hold}, FL_ST_HELD},
    {FL_ST_VERIFYING, FL_EV_VERIFY_TIMEOUT, ANY, {a_fail, a_schedule}, FL_ST_BACKOFF},
    {FL_ST_VERIFYING, FL_EV_CONFIG_ERROR, ANY, {a_config}, FL_ST_CONFIG},
    {FL_ST_VERIFYING, FL_EV_GATE_CLOSE, ANY, {a_abandon}, FL_ST_IDLE},
    {FL_ST_VERIFYING, FL_EV_REARM, ANY, {a_rearm_budget}, SAME},

    /* gave up / held: nothing but a rearm moves them */
    {FL_ST_GAVE_UP, FL_EV_REARM, ANY, {a_rearm}, FL_ST_IDLE},
    {FL_ST_GAVE_UP, FL_EV_FAILURE, ANY, {a_note}, SAME},
    {FL_ST_GAVE_UP, FL_EV_CONFIG_ERROR, ANY, {a_note}, SAME},
    {FL_ST_HELD, FL_EV_REARM, ANY, {a_rearm}, FL_ST_IDLE},
    {FL_ST_HELD, FL_EV_FAILURE, ANY, {a_note}, SAME},
    {FL_ST_HELD, FL_EV_CONFIG_ERROR, ANY, {a_note}, SAME},

    /* configuration error: reported once, never restarted; cleared when the
     * service runs healthy again (someone fixed it) or a check passes */
    {FL_ST_CONFIG, FL_EV_HEALTHY, ANY, {a_config_cleared}, FL_ST_IDLE},
    {FL_ST_CONFIG, FL_EV_CONFIG_OK, ANY, {a_config_cleared}, FL_ST_IDLE},
    {FL_ST_CONFIG, FL_EV_CONFIG_ERROR, ANY, {a_note}, SAME},
    {FL_ST_CONFIG, FL_EV_FAILURE, ANY, {a_note}, SAME},
    {FL_ST_CONFIG, FL_EV_REARM, ANY, {a_rearm}, FL_ST_IDLE},
};
#undef G
#undef ANY
#define NROWS (sizeof rows / sizeof rows[0])

static uint64_t row_hits[NROWS];

size_t fl_policy_nrows(void) { return NROWS; }
uint64_t fl_policy_row_hits(size_t i) { return i < NROWS ? row_hits[i] : 0; }

const char *fl_policy_row_text(size_t i, char *buf, size_t n)
{
    if (i >= NROWS)
        return NULL;
    const row_t *r = &rows[i];
    snprintf(buf, n, "%s --%s%s%s%s--> %s", fl_state_name(r->state), fl_event_name(r->event),
             r->guard ? " [" : "", r->guard ? r->guard_name + 2 : "", r->guard ? "]" : "",
             r->next == SAME ? fl_state_name(r->state) : fl_state_name(r->next));
    return buf;
}

/* Timers belong to one state each; leaving the state drops them. */
static void enter(fl_policy_t *p, fl_state_t to)
{
    if (to != FL_ST_BACKOFF)
        p->due_ms = FL_NEVER;
    if (to != FL_ST_VERIFYING)
        p->verify_due = FL_NEVER;
    if (to != FL_ST_IDLE)
        p->stable_due = FL_NEVER;
    if (to == p->state)
        return;
    fl_state_t from = p->state;
    p->state = to;
    emit(p, (fl_effect_t){.kind = FL_EFF_STATE, .from = from, .to = to,
                          .attempt = p->attempts});
}

fl_state_t fl_policy_feed(fl_policy_t *p, fl_event_t ev, const fl_input_t *in, uint64_t now)
{
    assert(p && ev < FL_NEVENTS);
    for (size_t i = 0; i < NROWS; i++) {
        const row_t *r = &rows[i];
        if (r->state != p->state || r->event != ev || (r->guard && !r->guard(p, in, now)))
            continue;
        row_hits[i]++;
        for (int k = 0; k < 3 && r->act[k]; k++)
            r->act[k](p, in, ev, now);
        enter(p, r->next == SAME ? p->state : r->next);
        return p->state;
    }
    return p->state; /* no row: the event means nothing in this state */
}

void fl_policy_gate(fl_policy_t *p, bool open, uint64_t now)
{
    bool was = p->gated;
    p->gated = !open;
    if (!was && p->gated)
        fl_policy_feed(p, FL_EV_GATE_CLOSE, NULL, now);
}

uint64_t fl_policy_next_due(const fl_policy_t *p)
{
    uint64_t t = FL_NEVER;
    if (p->state == FL_ST_BACKOFF && p->due_ms < t)
        t = p->due_ms;
    if (p->state == FL_ST_VERIFYING && p->verify_due < t)
        t = p->verify_due;
    if (p->state == FL_ST_IDLE && p->stable_due < t)
        t = p->stable_due;
    return t;
}

void fl_policy_tick(fl_policy_t *p, uint64_t now)
{
    /* Bounded: each round either fires one timer (which moves the state on
     * or clears it) or stops. */
    for (int round = 0; round < 16; round++) {
        if (p->state == FL_ST_BACKOFF && p->due_ms <= now)
            fl_policy_feed(p, FL_EV_DUE, NULL, now);
        else if (p->state == FL_ST_VERIFYING && p->verify_due <= now)
            fl_policy_feed(p, FL_EV_VERIFY_TIMEOUT,
                           &(fl_input_t){.detail = "not healthy within the verify timeout"}, now);
        else if (p->state == FL_ST_IDLE && p->stable_due <= now)
            fl_policy_feed(p, FL_EV_STABLE, NULL, now);
        else
            return;
    }
}

static void copy_cfg(fl_policy_t *p, const fl_policy_cfg_t *cfg)
{
    p->cfg = *cfg;
    if (p->cfg.nactions > FL_MAX_RUNGS)
        p->cfg.nactions = FL_MAX_RUNGS;
    if (p->cfg.max_attempts < 1)
        p->cfg.max_attempts = 1;
    if (p->cfg.max_attempts > FL_MAX_ATTEMPTS)
        p->cfg.max_attempts = FL_MAX_ATTEMPTS;
    if (p->cfg.flap_max > FL_MAX_FLAP)
        p->cfg.flap_max = FL_MAX_FLAP;
}

fl_policy_t *fl_policy_new(const char *target, const fl_policy_cfg_t *cfg, fl_effect_fn *fn,
                           void *arg)
{
    fl_policy_t *p = calloc(1, sizeof *p);
    if (!p || !(p->target = strdup(target))) {
        free(p);
        return NULL;
    }
    copy_cfg(p, cfg);
    p->fn = fn;
    p->arg = arg;
    p->state = FL_ST_IDLE;
    p->due_ms = p->verify_due = p->stable_due = FL_NEVER;
    return p;
}

void fl_policy_destroy(fl_policy_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    free((*self_p)->target);
    free(*self_p);
    *self_p = NULL;
}

void fl_policy_set_cfg(fl_policy_t *p, const fl_policy_cfg_t *cfg) { copy_cfg(p, cfg); }
fl_state_t fl_policy_state(const fl_policy_t *p) { return p->state; }
const char *fl_policy_target(const fl_policy_t *p) { return p->target; }
int fl_policy_attempts(const fl_policy_t *p) { return p->attempts; }
const fl_policy_cfg_t *fl_policy_cfg(const fl_policy_t *p) { return &p->cfg; }
const char *fl_policy_next_action(const fl_policy_t *p) { return rung(p, p->attempts + 1); }
uint64_t fl_policy_due_ms(const fl_policy_t *p)
{
    return p->state == FL_ST_BACKOFF ? p->due_ms : FL_NEVER;
}
