/* The recovery policy state machine, driven through every row of its table
 * with a fake clock. No bus, no loop: events in, effects out. */
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "fl_policy.h"

#define MAXEFF 64

typedef struct {
    fl_effect_t e[MAXEFF];
    char actions[MAXEFF][16];
    int n;
} rec_t;

static void on_effect(const fl_effect_t *e, void *arg)
{
    rec_t *r = arg;
    if (r->n >= MAXEFF)
        return;
    r->e[r->n] = *e;
    snprintf(r->actions[r->n], sizeof r->actions[r->n], "%s", e->action ? e->action : "");
    r->e[r->n].detail = NULL; /* not kept */
    r->n++;
}

static void clear(rec_t *r) { r->n = 0; }

/* The index of the first effect of KIND, or -1. */
static int find(const rec_t *r, fl_effect_kind_t kind)
{
    for (int i = 0; i < r->n; i++)
        if (r->e[i].kind == kind)
            return i;
    return -1;
}

static int count(const rec_t *r, fl_effect_kind_t kind)
{
    int c = 0;
    for (int i = 0; i < r->n; i++)
        c += r->e[i].kind == kind;
    return c;
}

static fl_policy_cfg_t cfg(void)
{
    fl_policy_cfg_t c;
    fl_policy_cfg_defaults(&c);
    return c;
}

static const fl_input_t crash = {.detail = "killed"};
static const fl_input_t crash_sd = {.detail = "killed, auto-restart", .self_restarting = true};

/* The spec's ladder: restart, reset, rebuild, with attempt × 10 s between
 * them, then give up with a critical alert; rearm makes it whole again. */
static void test_escalation(void)
{
    rec_t r = {0};
    fl_policy_cfg_t c = cfg();
    c.flap_max = 0;
    fl_policy_t *p = fl_policy_new("svc", &c, on_effect, &r);
    uint64_t t = 1000;

    /* attempt 1: restart at once */
    CHECK(fl_policy_feed(p, FL_EV_FAILURE, &crash, t) == FL_ST_ACTING);
    int i = find(&r, FL_EFF_ACTION);
    CHECK(i >= 0 && strcmp(r.actions[i], "restart") == 0 && r.e[i].attempt == 1);
    CHECK(fl_policy_next_due(p) == FL_NEVER);
    clear(&r);
    /* the restart job is done, but the service is not healthy in time */
    CHECK(fl_policy_feed(p, FL_EV_ACT_OK, NULL, t + 500) == FL_ST_VERIFYING);
    CHECK(fl_policy_next_due(p) == t + 500 + 60000);
    fl_policy_tick(p, t + 500 + 59999);
    CHECK(fl_policy_state(p) == FL_ST_VERIFYING);
    t += 500 + 60000;
    fl_policy_tick(p, t);
    CHECK(fl_policy_state(p) == FL_ST_BACKOFF);
    CHECK(find(&r, FL_EFF_ATTEMPT_FAILED) >= 0);
    i = find(&r, FL_EFF_SCHEDULE);
    CHECK(i >= 0 && strcmp(r.actions[i], "reset") == 0 && r.e[i].attempt == 2);
    CHECK(r.e[i].due_ms == t + 10000); /* (2 - 1) × 10 s */
    clear(&r);

    /* attempt 2: reset after 10 s; the job itself fails */
    fl_policy_tick(p, t + 9999);
    CHECK(fl_policy_state(p) == FL_ST_BACKOFF);
    t += 10000;
    fl_policy_tick(p, t);
    CHECK(fl_policy_state(p) == FL_ST_ACTING);
    i = find(&r, FL_EFF_ACTION);
    CHECK(i >= 0 && strcmp(r.actions[i], "reset") == 0 && r.e[i].attempt == 2);
    clear(&r);
    CHECK(fl_policy_feed(p, FL_EV_ACT_FAILED, &(fl_input_t){.detail = "job failed"}, t + 10) ==
          FL_ST_BACKOFF);
    i = find(&r, FL_EFF_SCHEDULE);
    CHECK(i >= 0 && strcmp(r.actions[i], "rebuild") == 0 && r.e[i].due_ms == t + 10 + 20000);
    clear(&r);

    /* attempt 3: rebuild after 20 s; it runs, then the service crashes again */
    t += 10 + 20000;
    fl_policy_tick(p, t);
    CHECK(fl_policy_state(p) == FL_ST_ACTING && fl_policy_attempts(p) == 3);
    CHECK(fl_policy_feed(p, FL_EV_ACT_OK, NULL, t + 100) == FL_ST_VERIFYING);
    clear(&r);
    CHECK(fl_policy_feed(p, FL_EV_FAILURE, &crash, t + 200) == FL_ST_GAVE_UP);
    i = find(&r, FL_EFF_GIVE_UP);
    CHECK(i >= 0 && r.e[i].attempt == 3 && r.e[i].duration_ms == t + 200 - 1000);
    clear(&r);

    /* given up: failures and health change nothing, no timer runs */
    CHECK(fl_policy_feed(p, FL_EV_FAILURE, &crash, t + 300) == FL_ST_GAVE_UP);
    CHECK(fl_policy_feed(p, FL_EV_HEALTHY, NULL, t + 400) == FL_ST_GAVE_UP);
    CHECK(fl_policy_feed(p, FL_EV_CONFIG_ERROR, NULL, t + 450) == FL_ST_GAVE_UP);
    CHECK(fl_policy_next_due(p) == FL_NEVER);
    CHECK(count(&r, FL_EFF_ACTION) == 0 && count(&r, FL_EFF_NOTED) == 2);

    /* rearm: a fresh budget, and the ladder starts over */
    CHECK(fl_policy_feed(p, FL_EV_REARM, NULL, t + 500) == FL_ST_IDLE);
    CHECK(fl_policy_attempts(p) == 0 && find(&r, FL_EFF_REARMED) >= 0);
    clear(&r);
    CHECK(fl_policy_feed(p, FL_EV_FAILURE, &crash, t + 600) == FL_ST_ACTING);
    i = find(&r, FL_EFF_ACTION);
    CHECK(i >= 0 && strcmp(r.actions[i], "restart") == 0);
    fl_policy_destroy(&p);
    CHECK(p == NULL);
    fl_policy_destroy(&p); /* NULL is fine */
}

/* A service killed repeatedly, healthy in between: each new crash within the
 * budget escalates; systemd's own restart is credited as the restart rung. */
static void test_repeated_kills(void)
{
    rec_t r = {0};
    fl_policy_cfg_t c = cfg();
    c.flap_max = 0;
    fl_policy_t *p = fl_policy_new("svc", &c, on_effect, &r);
    uint64_t t = 5000;

    CHECK(fl_policy_feed(p, FL_EV_FAILURE, &crash_sd, t) == FL_ST_VERIFYING);
    CHECK(count(&r, FL_EFF_SYSTEMD) == 1 && count(&r, FL_EFF_ACTION) == 0);
    CHECK(fl_policy_feed(p, FL_EV_HEALTHY, NULL, t + 1200) == FL_ST_IDLE);
    int i = find(&r, FL_EFF_RECOVERED);
    CHECK(i >= 0 && r.e[i].duration_ms == 1200 && r.e[i].attempt == 1);
    /* the budget is still used: the stable timer runs */
    CHECK(fl_policy_next_due(p) == t + 1200 + 600000);
    clear(&r);

    /* second kill: not credited (the rung is reset), back-off 10 s */
    t += 5000;
    CHECK(fl_policy_feed(p, FL_EV_FAILURE, &crash_sd, t) == FL_ST_BACKOFF);
    i = find(&r, FL_EFF_SCHEDULE);
    CHECK(i >= 0 && strcmp(r.actions[i], "reset") == 0 && r.e[i].due_ms == t + 10000);
    /* healthy again meanwhile (systemd restarted it): the reset still runs */
    CHECK(fl_policy_feed(p, FL_EV_HEALTHY, NULL, t + 1000) == FL_ST_BACKOFF);
    CHECK(fl_policy_feed(p, FL_EV_FAILURE, &crash, t + 2000) == FL_ST_BACKOFF);
    clear(&r);
    t += 10000;
    fl_policy_tick(p, t);
    CHECK(fl_policy_state(p) == FL_ST_ACTING);
    /* healthy, then failing again before the job's answer: verify as usual */
    CHECK(fl_policy_feed(p, FL_EV_HEALTHY, NULL, t + 50) == FL_ST_ACTING);
    CHECK(fl_policy_feed(p, FL_EV_FAILURE, &crash, t + 60) == FL_ST_ACTING);
    CHECK(fl_policy_feed(p, FL_EV_ACT_OK, NULL, t + 80) == FL_ST_VERIFYING);
    CHECK(fl_policy_feed(p, FL_EV_HEALTHY, NULL, t + 90) == FL_ST_IDLE);
    CHECK(find(&r, FL_EFF_RECOVERED) >= 0);
    clear(&r);

    /* third kill: rebuild after 20 s; health arrives before the job's answer,
     * so the answer ends the incident at once */
    t += 1000;
    CHECK(fl_policy_feed(p, FL_EV_FAILURE, &crash_sd, t) == FL_ST_BACKOFF);
    t += 20000;
    fl_policy_tick(p, t);
    i = find(&r, FL_EFF_ACTION);
    CHECK(i >= 0 && strcmp(r.actions[i], "rebuild") == 0 && r.e[i].attempt == 3);
    CHECK(fl_policy_feed(p, FL_EV_HEALTHY, NULL, t + 50) == FL_ST_ACTING);
    CHECK(fl_policy_feed(p, FL_EV_ACT_OK, NULL, t + 80) == FL_ST_IDLE);
    i = find(&r, FL_EFF_RECOVERED);
    CHECK(i >= 0 && r.e[i].duration_ms == 20080);
    clear(&r);
    /* fourth kill: the budget is spent, give up */
    CHECK(fl_policy_feed(p, FL_EV_FAILURE, &crash_sd, t + 1000) == FL_ST_GAVE_UP);
    CHECK(find(&r, FL_EFF_GIVE_UP) >= 0 && count(&r, FL_EFF_SYSTEMD) == 0);
    fl_policy_destroy(&p);
}

/* After a stable period the budget is whole again. */
static void test_budget_recovers(void)
{
    rec_t r = {0};
    fl_policy_cfg_t c = cfg();
    c.stable_ms = 300000;
    fl_policy_t *p = fl_policy_new("svc", &c, on_effect, &r);
    uint64_t t = 100;
    fl_policy_feed(p, FL_EV_FAILURE, &crash, t);
    fl_policy_feed(p, FL_EV_ACT_OK, NULL, t + 10);
    fl_policy_feed(p, FL_EV_HEALTHY, NULL, t + 20);
    CHECK(fl_policy_attempts(p) == 1);
    /* a healthy report in idle does not push the stable deadline back */
    fl_policy_feed(p, FL_EV_HEALTHY, NULL, t + 1000);
    CHECK(fl_policy_next_due(p) == t + 20 + 300000);
    fl_policy_tick(p, t + 20 + 299999);
    CHECK(fl_policy_attempts(p) == 1);
    fl_policy_tick(p, t + 20 + 300000);
    CHECK(fl_policy_attempts(p) == 0 && find(&r, FL_EFF_BUDGET_RESTORED) >= 0);
    CHECK(fl_policy_next_due(p) == FL_NEVER);
    /* a failure in idle with a used budget cancels the stable timer */
    fl_policy_feed(p, FL_EV_FAILURE, &crash, t + 400000);
    fl_policy_feed(p, FL_EV_ACT_OK, NULL, t + 400010);
    fl_policy_feed(p, FL_EV_HEALTHY, NULL, t + 400020);
    CHECK(fl_policy_attempts(p) == 1);
    fl_policy_feed(p, FL_EV_FAILURE, &crash, t + 400030); /* back-off 10 s */
    CHECK(fl_policy_state(p) == FL_ST_BACKOFF && fl_policy_next_due(p) == t + 410030);
    fl_policy_destroy(&p);
}

/* An idle service that was never failing gets no stable timer. */
static void test_healthy_idle(void)
{
    rec_t r = {0};
    fl_policy_cfg_t c = cfg();
    fl_policy_t *p = fl_policy_new("svc", &c, on_effect, &r);
    fl_policy_feed(p, FL_EV_HEALTHY, NULL, 10);
    CHECK(fl_policy_next_due(p) == FL_NEVER && r.n == 0);
    /* events that mean nothing in idle change nothing */
    fl_policy_feed(p, FL_EV_ACT_OK, NULL, 20);
    fl_policy_feed(p, FL_EV_DUE, NULL, 20);
    fl_policy_feed(p, FL_EV_CONFIG_OK, NULL, 20);
    CHECK(fl_policy_state(p) == FL_ST_IDLE && r.n == 0);
    CHECK(fl_policy_feed(p, FL_EV_REARM, NULL, 30) == FL_ST_IDLE);
    fl_policy_destroy(&p);
}

/* N recoveries within the window: stop, critical alert, wait for a rearm. */
static void test_flap_guard(void)
{
    rec_t r = {0};
    fl_policy_cfg_t c = cfg();
    c.flap_max = 3;
    c.flap_window_ms = 60000;
    c.stable_ms = 1000; /* budget recovers fast: only the flap guard can stop it */
    fl_policy_t *p = fl_policy_new("svc", &c, on_effect, &r);
    uint64_t t = 0;
    for (int k = 0; k < 3; k++) {
        t += 5000;
        CHECK(fl_policy_feed(p, FL_EV_FAILURE, &crash, t) == FL_ST_ACTING);
        fl_policy_feed(p, FL_EV_ACT_OK, NULL, t + 10);
        fl_policy_feed(p, FL_EV_HEALTHY, NULL, t + 20);
        fl_policy_tick(p, t + 20 + 1000); /* budget restored each time */
        CHECK(fl_policy_attempts(p) == 0);
    }
    CHECK(fl_policy_recoveries(p, t) == 3);
    clear(&r);
    t += 5000;
    CHECK(fl_policy_feed(p, FL_EV_FAILURE, &crash, t) == FL_ST_HELD);
    int i = find(&r, FL_EFF_HOLD);
    CHECK(i >= 0 && r.e[i].recoveries == 3);
    CHECK(fl_policy_feed(p, FL_EV_FAILURE, &crash, t + 1) == FL_ST_HELD);
    CHECK(fl_policy_feed(p, FL_EV_CONFIG_ERROR, NULL, t + 1) == FL_ST_HELD);
    CHECK(count(&r, FL_EFF_ACTION) == 0);
    /* the window passing does not release it: only a rearm does */
    fl_policy_tick(p, t + 120000);
    CHECK(fl_policy_state(p) == FL_ST_HELD);
    CHECK(fl_policy_feed(p, FL_EV_REARM, NULL, t + 120001) == FL_ST_IDLE);
    CHECK(fl_policy_recoveries(p, t + 120001) == 0);
    /* outside the window old recoveries do not count */
    fl_policy_destroy(&p);

    /* the guard also stops an escalation whose action failed, or that did not
     * verify */
    clear(&r);
    c = cfg();
    c.flap_max = 1;
    c.backoff_ms = 0;
    p = fl_policy_new("svc", &c, on_effect, &r);
    fl_policy_feed(p, FL_EV_FAILURE, &crash, 10);
    CHECK(fl_policy_feed(p, FL_EV_ACT_FAILED, NULL, 20) == FL_ST_HELD);
    fl_policy_destroy(&p);
    p = fl_policy_new("svc", &c, on_effect, &r);
    fl_policy_feed(p, FL_EV_FAILURE, &crash, 10);
    fl_policy_feed(p, FL_EV_ACT_OK, NULL, 20);
    CHECK(fl_policy_feed(p, FL_EV_FAILURE, &crash, 30) == FL_ST_HELD);
    fl_policy_destroy(&p);
    p = fl_policy_new("svc", &c, on_effect, &r);
    fl_policy_feed(p, FL_EV_FAILURE, &crash, 10);
    fl_policy_feed(p, FL_EV_ACT_OK, NULL, 20);
    fl_policy_tick(p, 20 + 60000);
    CHECK(fl_policy_state(p) == FL_ST_HELD);
    fl_policy_destroy(&p);
}

/* Exhaustion found at a failed action, at a verify timeout, and at a new
 * failure in idle before the budget recovered. */
static void test_exhaustion_paths(void)
{
    rec_t r = {0};
    fl_policy_cfg_t c = cfg();
    c.max_attempts = 1;
    c.flap_max = 0;
    fl_policy_t *p = fl_policy_new("svc", &c, on_effect, &r);
    fl_policy_feed(p, FL_EV_FAILURE, &crash, 10);
    CHECK(fl_policy_feed(p, FL_EV_ACT_FAILED, NULL, 20) == FL_ST_GAVE_UP);
    fl_policy_destroy(&p);

    p = fl_policy_new("svc", &c, on_effect, &r);
    fl_policy_feed(p, FL_EV_FAILURE, &crash, 10);
    fl_policy_feed(p, FL_EV_ACT_OK, NULL, 20);
    fl_policy_tick(p, 20 + 60000);
    CHECK(fl_policy_state(p) == FL_ST_GAVE_UP);
    fl_policy_destroy(&p);

    p = fl_policy_new("svc", &c, on_effect, &r);
    fl_policy_feed(p, FL_EV_FAILURE, &crash, 10);
    fl_policy_feed(p, FL_EV_ACT_OK, NULL, 20);
    fl_policy_feed(p, FL_EV_HEALTHY, NULL, 30);
    clear(&r);
    CHECK(fl_policy_feed(p, FL_EV_FAILURE, &crash, 40) == FL_ST_GAVE_UP);
    CHECK(find(&r, FL_EFF_GIVE_UP) >= 0 && count(&r, FL_EFF_ACTION) == 0);
    fl_policy_destroy(&p);
}

/* A configuration error is reported, never acted on, from any active state;
 * it clears when the service is healthy or a check passes. */
static void test_config_error(void)
{
    rec_t r = {0};
    fl_policy_cfg_t c = cfg();
    fl_policy_t *p = fl_policy_new("svc", &c, on_effect, &r);
    CHECK(fl_policy_feed(p, FL_EV_CONFIG_ERROR, &(fl_input_t){.detail = "exit 78"}, 10) ==
          FL_ST_CONFIG);
    CHECK(count(&r, FL_EFF_CONFIG) == 1);
    /* systemd does not restart exit 78; if it comes again, or crashes, no action */
    for (int k = 0; k < 5; k++) {
        CHECK(fl_policy_feed(p, FL_EV_CONFIG_ERROR, NULL, 20 + k) == FL_ST_CONFIG);
        CHECK(fl_policy_feed(p, FL_EV_FAILURE, &crash_sd, 30 + k) == FL_ST_CONFIG);
    }
    CHECK(count(&r, FL_EFF_ACTION) == 0 && count(&r, FL_EFF_SYSTEMD) == 0);
    CHECK(count(&r, FL_EFF_CONFIG) == 1 && fl_policy_next_due(p) == FL_NEVER);
    CHECK(fl_policy_feed(p, FL_EV_HEALTHY, NULL, 100) == FL_ST_IDLE);
    int i = find(&r, FL_EFF_CONFIG_CLEARED);
    CHECK(i >= 0 && r.e[i].duration_ms == 90);
    /* from a check: cleared by the check passing */
    CHECK(fl_policy_feed(p, FL_EV_CONFIG_ERROR, NULL, 200) == FL_ST_CONFIG);
    CHECK(fl_policy_feed(p, FL_EV_CONFIG_OK, NULL, 300) == FL_ST_IDLE);
    CHECK(fl_policy_feed(p, FL_EV_CONFIG_ERROR, NULL, 400) == FL_ST_CONFIG);
    CHECK(fl_policy_feed(p, FL_EV_REARM, NULL, 500) == FL_ST_IDLE);

    /* a configuration error in the middle of an escalation stops it */
    fl_policy_feed(p, FL_EV_FAILURE, &crash, 1000); /* acting */
    CHECK(fl_policy_feed(p, FL_EV_CONFIG_ERROR, NULL, 1001) == FL_ST_CONFIG);
    CHECK(fl_policy_feed(p, FL_EV_ACT_OK, NULL, 1002) == FL_ST_CONFIG); /* late answer */
    fl_policy_feed(p, FL_EV_REARM, NULL, 1003);
    fl_policy_feed(p, FL_EV_FAILURE, &crash, 2000);
    fl_policy_feed(p, FL_EV_ACT_OK, NULL, 2001); /* verifying */
    CHECK(fl_policy_feed(p, FL_EV_CONFIG_ERROR, NULL, 2002) == FL_ST_CONFIG);
    fl_policy_feed(p, FL_EV_REARM, NULL, 2003);
    fl_policy_feed(p, FL_EV_FAILURE, &crash, 3000);
    fl_policy_feed(p, FL_EV_ACT_FAILED, NULL, 3001); /* backoff */
    CHECK(fl_policy_state(p) == FL_ST_BACKOFF);
    CHECK(fl_policy_feed(p, FL_EV_CONFIG_ERROR, NULL, 3002) == FL_ST_CONFIG);
    CHECK(fl_policy_next_due(p) == FL_NEVER);
    fl_policy_destroy(&p);
}

/* No recovery while the orchestrator starts up or shuts down: failures are
 * noted, pending work is abandoned, answers that come late are dropped. */
static void test_gate(void)
{
    rec_t r = {0};
    fl_policy_cfg_t c = cfg();
    fl_policy_t *p = fl_policy_new("svc", &c, on_effect, &r);
    fl_policy_gate(p, false, 0);
    CHECK(fl_policy_feed(p, FL_EV_FAILURE, &crash_sd, 10) == FL_ST_IDLE);
    CHECK(count(&r, FL_EFF_SUPPRESSED) == 1 && count(&r, FL_EFF_ACTION) == 0 &&
          count(&r, FL_EFF_SYSTEMD) == 0 && fl_policy_attempts(p) == 0);
    /* configuration errors are still reported while closed */
    CHECK(fl_policy_feed(p, FL_EV_CONFIG_ERROR, NULL, 11) == FL_ST_CONFIG);
    CHECK(fl_policy_feed(p, FL_EV_REARM, NULL, 12) == FL_ST_IDLE);
    fl_policy_gate(p, true, 20);
    CHECK(fl_policy_feed(p, FL_EV_FAILURE, &crash, 30) == FL_ST_ACTING);

    /* closing while acting: the answer is dropped, whichever it is */
    fl_policy_gate(p, false, 40);
    CHECK(fl_policy_state(p) == FL_ST_ACTING);
    clear(&r);
    CHECK(fl_policy_feed(p, FL_EV_ACT_OK, NULL, 50) == FL_ST_IDLE);
    CHECK(find(&r, FL_EFF_ABANDONED) >= 0);
    fl_policy_gate(p, true, 60);
    fl_policy_feed(p, FL_EV_FAILURE, &crash, 70); /* attempt 2: backoff */
    CHECK(fl_policy_state(p) == FL_ST_BACKOFF);
    fl_policy_feed(p, FL_EV_DUE, NULL, 70 + 10000);
    CHECK(fl_policy_state(p) == FL_ST_ACTING);
    fl_policy_gate(p, false, 80 + 10000);
    CHECK(fl_policy_feed(p, FL_EV_ACT_FAILED, NULL, 90 + 10000) == FL_ST_IDLE);

    /* closing while waiting: the pending action is abandoned */
    fl_policy_gate(p, true, 20000);
    fl_policy_feed(p, FL_EV_REARM, NULL, 20000);
    fl_policy_feed(p, FL_EV_FAILURE, &crash, 20001);
    fl_policy_feed(p, FL_EV_ACT_FAILED, NULL, 20002);
    CHECK(fl_policy_state(p) == FL_ST_BACKOFF);
    fl_policy_gate(p, false, 20003);
    CHECK(fl_policy_state(p) == FL_ST_IDLE && fl_policy_next_due(p) == FL_NEVER);
    fl_policy_gate(p, false, 20004); /* closing twice is closing once */
    fl_policy_gate(p, true, 20005);
    fl_policy_feed(p, FL_EV_FAILURE, &crash_sd, 20006);
    CHECK(fl_policy_state(p) == FL_ST_BACKOFF); /* attempt 2 is a reset */
    fl_policy_destroy(&p);

    /* closing while verifying */
    p = fl_policy_new("svc", &c, on_effect, &r);
    fl_policy_feed(p, FL_EV_FAILURE, &crash_sd, 10);
    CHECK(fl_policy_state(p) == FL_ST_VERIFYING);
    fl_policy_gate(p, false, 20);
    CHECK(fl_policy_state(p) == FL_ST_IDLE && fl_policy_next_due(p) == FL_NEVER);
    fl_policy_destroy(&p);
}

/* Rearm in the middle: the budget is whole, the running attempt goes on. */
static void test_rearm_midway(void)
{
    rec_t r = {0};
    fl_policy_cfg_t c = cfg();
    fl_policy_t *p = fl_policy_new("svc", &c, on_effect, &r);
    fl_policy_feed(p, FL_EV_FAILURE, &crash, 10);
    CHECK(fl_policy_feed(p, FL_EV_REARM, NULL, 11) == FL_ST_ACTING && fl_policy_attempts(p) == 0);
    fl_policy_feed(p, FL_EV_ACT_OK, NULL, 12);
    CHECK(fl_policy_feed(p, FL_EV_REARM, NULL, 13) == FL_ST_VERIFYING);
    CHECK(fl_policy_feed(p, FL_EV_HEALTHY, NULL, 14) == FL_ST_IDLE);
    fl_policy_feed(p, FL_EV_FAILURE, &crash, 20);
    fl_policy_feed(p, FL_EV_ACT_FAILED, NULL, 21);
    CHECK(fl_policy_feed(p, FL_EV_REARM, NULL, 22) == FL_ST_IDLE);
    CHECK(fl_policy_next_due(p) == FL_NEVER);
    fl_policy_destroy(&p);
}

/* A ladder longer than its rungs repeats the last; a crash in verifying that
 * systemd restarts again is credited again when the rung is a restart. */
static void test_ladder(void)
{
    rec_t r = {0};
    fl_policy_cfg_t c = cfg();
    c.actions[0] = "restart";
    c.nactions = 1;
    c.max_attempts = 4;
    c.backoff_ms = 10000;
    c.backoff_max_ms = 15000;
    c.flap_max = 0;
    CHECK(fl_policy_delay_ms(&c, 1) == 0 && fl_policy_delay_ms(&c, 2) == 10000 &&
          fl_policy_delay_ms(&c, 3) == 15000 && fl_policy_delay_ms(&c, 4) == 15000);
    fl_policy_t *p = fl_policy_new("svc", &c, on_effect, &r);
    fl_policy_feed(p, FL_EV_FAILURE, &crash_sd, 10);
    CHECK(fl_policy_state(p) == FL_ST_VERIFYING && count(&r, FL_EFF_SYSTEMD) == 1);
    fl_policy_feed(p, FL_EV_FAILURE, &crash_sd, 20);
    CHECK(fl_policy_state(p) == FL_ST_VERIFYING && count(&r, FL_EFF_SYSTEMD) == 2);
    CHECK(fl_policy_next_due(p) == 20 + 60000);
    CHECK(strcmp(fl_policy_next_action(p), "restart") == 0);
    /* not credited when the caller says systemd is not restarting it */
    fl_policy_feed(p, FL_EV_FAILURE, &crash, 30);
    CHECK(fl_policy_state(p) == FL_ST_BACKOFF && fl_policy_due_ms(p) == 30 + 15000);
    fl_policy_destroy(&p);

    /* credit off: systemd's restart is not counted, ours runs */
    c = cfg();
    c.credit_systemd = false;
    p = fl_policy_new("svc", &c, on_effect, &r);
    CHECK(fl_policy_feed(p, FL_EV_FAILURE, &crash_sd, 10) == FL_ST_ACTING);
    fl_policy_destroy(&p);

    /* an out-of-range config is clamped */
    c = cfg();
    c.max_attempts = 0;
    c.nactions = 0;
    p = fl_policy_new("svc", &c, on_effect, &r);
    CHECK(fl_policy_cfg(p)->max_attempts == 1 && strcmp(fl_policy_next_action(p), "restart") == 0);
    c.max_attempts = 99;
    fl_policy_set_cfg(p, &c);
    CHECK(fl_policy_cfg(p)->max_attempts == FL_MAX_ATTEMPTS);
    CHECK(strcmp(fl_policy_target(p), "svc") == 0);
    fl_policy_destroy(&p);
}

/* Every effect reports its state changes, in order. */
static void test_state_effects(void)
{
    rec_t r = {0};
    fl_policy_cfg_t c = cfg();
    fl_policy_t *p = fl_policy_new("svc", &c, on_effect, &r);
    fl_policy_feed(p, FL_EV_FAILURE, &crash, 10);
    int i = find(&r, FL_EFF_STATE);
    CHECK(i >= 0 && r.e[i].from == FL_ST_IDLE && r.e[i].to == FL_ST_ACTING);
    CHECK(find(&r, FL_EFF_ACTION) < i); /* the action is announced before the state */
    CHECK(strcmp(fl_state_name(FL_ST_GAVE_UP), "gave-up") == 0);
    CHECK(strcmp(fl_event_name(FL_EV_VERIFY_TIMEOUT), "verify-timeout") == 0);
    CHECK(strcmp(fl_effect_name(FL_EFF_SYSTEMD), "systemd-restart") == 0);
    CHECK(strcmp(fl_state_name(FL_NSTATES), "?") == 0);
    fl_policy_destroy(&p);
}

int main(void)
{
    test_escalation();
    test_repeated_kills();
    test_budget_recovers();
    test_healthy_idle();
    test_flap_guard();
    test_exhaustion_paths();
    test_config_error();
    test_gate();
    test_rearm_midway();
    test_ladder();
    test_state_effects();

    /* Every row of the table was driven at least once. */
    char buf[128];
    size_t missed = 0;
    for (size_t i = 0; i < fl_policy_nrows(); i++)
        if (fl_policy_row_hits(i) == 0) {
            fprintf(stderr, "row never driven: %s\n", fl_policy_row_text(i, buf, sizeof buf));
            missed++;
        }
    CHECK(missed == 0);
    CHECK(fl_policy_row_text(fl_policy_nrows(), buf, sizeof buf) == NULL);
    return check_done();
}
