/* The health engine: scheduling, retries, debounce, grace and the per-service
 * verdict. See hh_engine.h. */
#include "hh_engine.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct hh_engine {
    hlb_reactor_t *io;
    hh_curl_t *curl;
    hh_service_t **svcs;
    size_t nsvcs;
    hh_change_fn *on_change;
    void *on_change_arg;
    int64_t spread_ms;
    uint64_t slack_us;
    size_t nhttp;
    bool started;
    uint64_t started_mono;
    /* lifecycle, as the orchestrator reports it */
    bool lifecycle_seen;
    bool stopping;
    char *lifecycle_state;
    struct phase {
        uint32_t index;
        char *name;
        char *state;
    } phases[8];
    size_t nphases;
};

static void svc_eval(hh_service_t *s);

static char *xstrdup(const char *s) { return s ? strdup(s) : NULL; }

static void set_str(char **dst, const char *src)
{
    if (*dst && src && strcmp(*dst, src) == 0)
        return;
    free(*dst);
    *dst = xstrdup(src);
}

/* ---- the check state machine ----
 *
 * A finished run gives PASS, WARN or FAIL; its target state is HEALTHY,
 * DEGRADED or UNHEALTHY. Whether the check moves there now depends on where
 * it is: from UNKNOWN the first result counts at once (there is nothing to
 * flap from); leaving HEALTHY takes `failures` consecutive bad runs; getting
 * back to HEALTHY takes `successes` consecutive passing ones; moving between
 * the two bad states needs no debounce. */
typedef enum { T_STAY, T_NOW, T_AFTER_FAILURES, T_AFTER_SUCCESSES } trans_t;

static const trans_t check_table[HH_NSTATES][HH_NRESULTS] = {
    /*                  PASS               WARN              FAIL */
    [HH_UNKNOWN] =   {T_NOW,             T_NOW,            T_NOW},
    [HH_HEALTHY] =   {T_STAY,            T_AFTER_FAILURES, T_AFTER_FAILURES},
    [HH_DEGRADED] =  {T_AFTER_SUCCESSES, T_STAY,           T_NOW},
    [HH_UNHEALTHY] = {T_AFTER_SUCCESSES, T_NOW,            T_STAY},
};

static const hh_state_t result_target[HH_NRESULTS] = {HH_HEALTHY, HH_DEGRADED, HH_UNHEALTHY};

static bool check_in_grace(const hh_check_t *c, const char **why)
{
    if (c->passed_since_start)
        return false;
    return hh_service_in_grace(c->svc, why);
}

char *hh_check_why(const hh_check_t *c)
{
    char *w = NULL;
    const char *d = c->last_detail ? c->last_detail : "";
    const char *gw = NULL;
    bool grace = check_in_grace(c, &gw);
    if (!c->has_result) {
        w = hlb_strdupf("no result yet%s%s", grace ? "; in start-up grace: " : "",
                             grace ? gw : "");
    } else if (c->state == HH_UNKNOWN) {
        w = hlb_strdupf("in start-up grace (%s): %llu bad run(s) not counted; last: %s",
                             gw ? gw : "starting", (unsigned long long)c->ignored_in_grace, d);
    } else if (c->state == HH_HEALTHY) {
        if (c->bad_streak)
            w = hlb_strdupf("healthy; %u of %lld consecutive bad runs before it turns bad; "
                                 "last: %s",
                                 c->bad_streak, (long long)c->spec.failures, d);
        else
            w = hlb_strdupf("healthy; last: %s", d);
    } else {
        if (c->ok_streak)
            w = hlb_strdupf("%s; %u of %lld consecutive passing runs before healthy; "
                                 "last: %s",
                                 hh_state_name(c->state), c->ok_streak,
                                 (long long)c->spec.successes, d);
        else
            w = hlb_strdupf("%s after %u consecutive bad run(s) (threshold %lld); last: %s",
                                 hh_state_name(c->state), c->bad_streak,
                                 (long long)c->spec.failures, d);
    }
    return w;
}

/* Records a result (of a run, or a unit event) and moves the state. */
static void check_apply(hh_check_t *c, hh_result_t r, const char *detail, const char *out,
                        size_t outlen)
{
    c->has_result = true;
    c->last_result = r;
    set_str(&c->last_detail, detail);
    hh_out_reset(&c->last_out);
    hh_out_add(&c->last_out, out, outlen);
    c->runs++;
    if (r == HH_PASS) {
        c->passes++;
        c->ok_streak++;
        c->bad_streak = 0;
        c->passed_since_start = true;
    } else {
        if (r == HH_WARN)
            c->warns++;
        else
            c->fails++;
        c->bad_streak++;
        c->ok_streak = 0;
    }
    bool move = false;
    if (r != HH_PASS && check_in_grace(c, NULL)) {
        c->ignored_in_grace++; /* a starting service is not counted as failing */
    } else {
        switch (check_table[c->state][r]) {
        case T_STAY: break;
        case T_NOW: move = true; break;
        case T_AFTER_FAILURES: move = c->bad_streak >= (uint64_t)c->spec.failures; break;
        case T_AFTER_SUCCESSES: move = c->ok_streak >= (uint64_t)c->spec.successes; break;
        }
    }
    if (move && c->state != result_target[r]) {
        c->state = result_target[r];
        c->state_since_us = hlb_now_us();
    }
}

/* ---- running checks ---- */

static void start_attempt(hh_check_t *c);

static void finish_run(hh_check_t *c, hh_result_t r, const char *detail, const char *out,
                       size_t outlen)
{
    c->running = false;
    c->last_duration_us = hlb_mono_us() - c->run_started_us;
    c->last_attempts = c->attempt;
    hh_state_t before = c->state;
    bool first = !c->has_result;
    bool same_detail = c->last_detail && strcmp(c->last_detail, detail) == 0;
    check_apply(c, r, detail, out, outlen);
    /* The service's verdict depends on this check only through its state,
     * and through its detail while it is bad (the reason quotes it): a
     * healthy check passing again changes nothing, and is the common case
     * that must stay cheap with hundreds of checks per service. */
    if (first || c->state != before || (c->state >= HH_DEGRADED && !same_detail))
        svc_eval(c->svc);
}

static void on_probe_done(hh_probe_t *p, hh_result_t r, const char *detail, const char *out,
                          size_t outlen, void *arg)
{
    hh_check_t *c = arg;
    uint64_t now = hlb_mono_us();
    /* Another attempt only if it can end before the next scheduled run: a run
     * never overruns its interval, so a hung endpoint delays nothing, not
     * even its own schedule. */
    uint64_t need = (uint64_t)(c->spec.retry_delay_ms + c->spec.timeout_ms) * 1000u;
    if (r != HH_PASS && c->attempt < c->spec.retries && now + need <= c->due_us) {
        hlb_timer_after_ms(c->eng->io, &c->retry_timer, c->spec.retry_delay_ms);
        return;
    }
    finish_run(c, r, detail, out, outlen);
}

static void on_retry(hlb_reactor_t *io, hlb_timer_t *t, void *arg) { start_attempt(arg); }

static void start_attempt(hh_check_t *c)
{
    c->attempt++;
    c->attempts_total++;
    int rc = hh_probe_start(c->probe, c->spec.timeout_ms);
    if (rc < 0) {
        char *d = hlb_strdupf("cannot start: %s", strerror(-rc));
        finish_run(c, HH_FAIL, d ? d : "cannot start", NULL, 0);
        free(d);
    }
}

/* Timer slack: run times are rounded up to a multiple of the engine's
 * slack, so checks due close together start in one wakeup of the loop.
 * Waking up costs more than a check (measured: about 130 us of CPU per
 * wakeup against 45 us per HTTP check), and health checks have no use for
 * millisecond precision. The nominal schedule stays exact; only the start
 * is rounded, by less than the slack, never accumulating. */
static uint64_t slot_of(const hh_engine_t *e, uint64_t t)
{
    uint64_t q = e->slack_us;
    return q ? (t + q - 1) / q * q : t;
}

static void on_run_timer(hlb_reactor_t *io, hlb_timer_t *t, void *arg)
{
    hh_check_t *c = arg;
    uint64_t now = hlb_mono_us();
    uint64_t due = c->due_us;
    uint64_t iv = (uint64_t)c->spec.interval_ms * 1000u;
    /* Fixed rate: the next run is due one interval after this one was
     * nominally due, not after it ran, so lateness never accumulates. */
    c->nominal_us += iv;
    while (c->nominal_us + iv <= now) { /* the loop itself was held up (SIGSTOP, swap) */
        c->nominal_us += iv;
        c->skipped++;
    }
    c->due_us = slot_of(c->eng, c->nominal_us);
    hlb_timer_at(io, &c->run_timer, c->due_us);
    if (c->running) {
        c->skipped++;
        return;
    }
    uint64_t late = now - due;
    if (late > c->late_max_us)
        c->late_max_us = late;
    c->late_sum_us += late;
    c->running = true;
    c->attempt = 0;
    c->run_started_us = now;
    c->last_run_us = hlb_now_us();
    start_attempt(c);
}

uint64_t hh_check_next_due(const hh_check_t *c)
{
    return hlb_timer_pending(&c->run_timer) ? c->due_us : 0;
}

int hh_engine_run_now(hh_engine_t *e, const char *name)
{
    hh_check_t *c = hh_engine_check(e, name);
    if (!c)
        return -ENOENT;
    if (!c->probe)
        return -EINVAL;
    if (c->running)
        return -EBUSY;
    /* An extra run: the regular schedule is untouched. */
    c->running = true;
    c->attempt = 0;
    c->run_started_us = hlb_mono_us();
    c->last_run_us = hlb_now_us();
    start_attempt(c);
    return 0;
}

/* ---- services ---- */

hh_unit_class_t hh_unit_classify(const char *active, const char *sub)
{
    static const struct {
        const char *active;
        hh_unit_class_t cls;
    } map[] = {
        {"active", HH_UNIT_UP},          {"reloading", HH_UNIT_UP},
        {"activating", HH_UNIT_STARTING}, {"deactivating", HH_UNIT_DOWN},
        {"inactive", HH_UNIT_DOWN},      {"failed", HH_UNIT_DOWN},
        {"maintenance", HH_UNIT_DOWN},
    };
    if (!active)
        return HH_UNIT_UNKNOWN;
    for (size_t i = 0; i < sizeof map / sizeof *map; i++)
        if (strcmp(active, map[i].active) == 0) {
            /* Waiting to be restarted after a crash is down, not starting. */
            if (map[i].cls == HH_UNIT_STARTING && sub && strcmp(sub, "auto-restart") == 0)
                return HH_UNIT_DOWN;
            return map[i].cls;
        }
    return HH_UNIT_DOWN; /* a state we do not know is not "running" */
}

/* The phase hold: before the service's startup phase has started its units,
 * or while the system shuts down, a unit that is not up is expected. Once the
 * phase waits for health ("health", "checks") or ended, nothing is held: the
 * orchestrator gates its phases on our verdicts, so we must give them. */
static const struct phase *find_phase(const hh_engine_t *e, const char *want)
{
    if (!want || !*want)
        return NULL;
    char *end;
    unsigned long idx = strtoul(want, &end, 10);
    for (size_t i = 0; i < e->nphases; i++) {
        const struct phase *p = &e->phases[i];
        if ((*end == '\0' && end != want && p->index == idx) ||
            (p->name && strcmp(p->name, want) == 0))
            return p;
    }
    return NULL;
}

static bool svc_held(const hh_service_t *s, const char **why)
{
    static char buf[128];
    const hh_engine_t *e = s->eng;
    if (e->stopping) {
        if (why)
            *why = "the system is shutting down";
        return true;
    }
    const char *want = s->spec.phase ? s->spec.phase : s->unit_phase;
    if (!e->lifecycle_seen || !want || !*want)
        return false;
    const struct phase *p = find_phase(e, want);
    const char *st = p ? p->state : NULL;
    bool held = p ? (strcmp(st, "pending") == 0 || strcmp(st, "starting") == 0)
                  : (e->lifecycle_state && strcmp(e->lifecycle_state, "starting") == 0);
    if (held && why) {
        snprintf(buf, sizeof buf, "startup phase %s is %s", want, st ? st : "not started");
        *why = buf;
    }
    return held;
}

bool hh_service_in_grace(const hh_service_t *s, const char **why)
{
    static char buf[96];
    if (svc_held(s, why))
        return true;
    if (s->active_since_mono && s->spec.grace_ms > 0) {
        uint64_t end = s->active_since_mono + (uint64_t)s->spec.grace_ms * 1000u;
        uint64_t now = hlb_mono_us();
        if (now < end) {
            if (why) {
                snprintf(buf, sizeof buf, "start period, %lld ms left",
                         (long long)((end - now) / 1000u));
                *why = buf;
            }
            return true;
        }
    }
    return false;
}

static hh_check_t *svc_unit_check(const hh_service_t *s)
{
    for (size_t i = 0; i < s->nchecks; i++)
        if (s->checks[i]->spec.kind == HH_KIND_UNIT)
            return s->checks[i];
    return NULL;
}

/* The verdict, first matching rule wins:
 *   unit down                 → unhealthy (unknown while held by the phase)
 *   unit activating           → unhealthy (unknown while held)
 *   a critical check failing  → unhealthy
 *   any other check bad       → degraded
 *   unit state not known yet  → unknown
 *   a check without result    → unknown
 *   otherwise                 → healthy */
static void svc_eval(hh_service_t *s)
{
    hh_state_t st = HH_HEALTHY;
    char *reason = NULL;
    const char *hold = NULL;
    bool held = svc_held(s, &hold);
    const char *unit = s->spec.unit;

    if (unit && s->not_installed) {
        st = HH_NOT_APPLICABLE;
        reason = hlb_strdupf("unit %s is not installed (LoadState=%s): not applicable", unit,
                                  s->load_state ? s->load_state : "not-found");
        goto done;
    }
    if (unit && (s->unit == HH_UNIT_DOWN || s->unit == HH_UNIT_STARTING)) {
        st = held ? HH_UNKNOWN : HH_UNHEALTHY;
        reason = hlb_strdupf("unit %s is %s (%s)%s%s", unit, s->active_state,
                                  s->sub_state ? s->sub_state : "", held ? "; " : "",
                                  held ? hold : "");
        goto done;
    }
    hh_check_t *worst = NULL;
    for (size_t i = 0; i < s->nchecks; i++) {
        hh_check_t *c = s->checks[i];
        if (c->spec.kind == HH_KIND_UNIT || c->state < HH_DEGRADED)
            continue;
        if (!worst || c->state > worst->state ||
            (c->state == worst->state && c->spec.critical && !worst->spec.critical))
            worst = c;
    }
    if (worst) {
        bool crit = worst->state == HH_UNHEALTHY && worst->spec.critical;
        st = crit ? HH_UNHEALTHY : HH_DEGRADED;
        reason = hlb_strdupf("check %s %s: %s", worst->spec.name,
                                  worst->state == HH_UNHEALTHY ? "failing" : "degraded",
                                  worst->last_detail ? worst->last_detail : "");
        goto done;
    }
    if (unit && s->unit == HH_UNIT_UNKNOWN) {
        st = HH_UNKNOWN;
        reason = hlb_strdupf("no state of unit %s received yet", unit);
        goto done;
    }
    for (size_t i = 0; i < s->nchecks; i++) {
        hh_check_t *c = s->checks[i];
        if (c->spec.kind != HH_KIND_UNIT && c->state == HH_UNKNOWN) {
            const char *gw = NULL;
            bool g = check_in_grace(c, &gw);
            st = HH_UNKNOWN;
            reason = c->has_result && g
                         ? hlb_strdupf("check %s in start-up grace (%s)", c->spec.name, gw)
                     : c->has_result
                         ? hlb_strdupf("check %s has no result since the unit started",
                                            c->spec.name)
                         : hlb_strdupf("check %s has no result yet", c->spec.name);
            goto done;
        }
    }
    size_t n = s->nchecks - (svc_unit_check(s) ? 1 : 0);
    if (unit)
        reason = hlb_strdupf("unit %s is %s (%s), %zu check(s) passing", unit,
                                  s->active_state, s->sub_state ? s->sub_state : "", n);
    else
        reason = hlb_strdupf("%zu check(s) passing", n);
done:
    if (!reason)
        return; /* out of memory: keep the previous verdict */
    if (st != s->state || !s->reason || strcmp(reason, s->reason) != 0) {
        if (st != s->state) {
            s->state_since_us = hlb_now_us();
            s->changes++;
        }
        s->state = st;
        free(s->reason);
        s->reason = reason;
        if (s->eng->on_change)
            s->eng->on_change(s->eng, s, s->eng->on_change_arg);
    } else {
        free(reason);
    }
}

static void on_grace_end(hlb_reactor_t *io, hlb_timer_t *t, void *arg)
{
    hh_service_t *s = arg;
    svc_eval(s);
}

static void unit_name_norm(char *dst, size_t cap, const char *unit)
{
    snprintf(dst, cap, "%s", unit);
    size_t n = strlen(dst);
    if (n > 8 && strcmp(dst + n - 8, ".service") == 0)
        dst[n - 8] = '\0';
}

void hh_engine_unit_load(hh_engine_t *e, const char *unit, const char *load_state)
{
    if (!unit || !load_state || !*load_state)
        return;
    char want[256], have[256];
    unit_name_norm(want, sizeof want, unit);
    bool missing = !strcmp(load_state, "not-found") || !strcmp(load_state, "masked");
    for (size_t i = 0; i < e->nsvcs; i++) {
        hh_service_t *s = e->svcs[i];
        if (!s->spec.unit)
            continue;
        unit_name_norm(have, sizeof have, s->spec.unit);
        if (strcmp(want, have) != 0)
            continue;
        bool changed = s->not_installed != missing;
        s->not_installed = missing;
        set_str(&s->load_state, load_state);
        if (changed)
            svc_eval(s);
    }
}

void hh_engine_unit(hh_engine_t *e, const char *unit, const char *active, const char *sub,
                    const char *phase)
{
    if (!unit || !active)
        return;
    char want[256], have[256];
    unit_name_norm(want, sizeof want, unit);
    for (size_t i = 0; i < e->nsvcs; i++) {
        hh_service_t *s = e->svcs[i];
        if (!s->spec.unit)
            continue;
        unit_name_norm(have, sizeof have, s->spec.unit);
        if (strcmp(want, have) != 0)
            continue;
        hh_unit_class_t cls = hh_unit_classify(active, sub);
        bool changed = !s->active_state || strcmp(s->active_state, active) != 0 ||
                       (sub && (!s->sub_state || strcmp(s->sub_state, sub) != 0));
        bool restarted = cls == HH_UNIT_UP && s->unit != HH_UNIT_UP && s->unit != HH_UNIT_UNKNOWN;
        if (restarted) {
            /* (Re)started: its checks' verdicts were about the previous
             * process, so they are unknown again (results and counters stay
             * for --why), and the start period begins. A unit seen up at our
             * own start is not "starting": it has been up a while. */
            s->active_since_mono = hlb_mono_us();
            for (size_t j = 0; j < s->nchecks; j++) {
                hh_check_t *c = s->checks[j];
                c->passed_since_start = false;
                if (c->spec.kind == HH_KIND_UNIT)
                    continue;
                if (c->state != HH_UNKNOWN)
                    c->state_since_us = hlb_now_us();
                c->state = HH_UNKNOWN;
                c->ok_streak = c->bad_streak = 0;
            }
            if (s->spec.grace_ms > 0)
                hlb_timer_after_ms(e->io, &s->grace_timer, s->spec.grace_ms);
        }
        s->unit = cls;
        if (phase && *phase)
            set_str(&s->unit_phase, phase);
        set_str(&s->active_state, active);
        set_str(&s->sub_state, sub ? sub : "");
        if (changed)
            s->unit_since_us = hlb_now_us();
        hh_check_t *uc = svc_unit_check(s);
        if (uc && changed) {
            char *out = hlb_strdupf("ActiveState=%s SubState=%s", active, sub ? sub : "");
            char *det = hlb_strdupf("%s (%s)", active, sub ? sub : "");
            /* The unit check mirrors the unit without debounce: systemd's
             * state is a fact, not a sample. */
            hh_result_t r = cls == HH_UNIT_UP ? HH_PASS : HH_FAIL;
            uc->state = HH_UNKNOWN; /* T_NOW from UNKNOWN: applies at once */
            check_apply(uc, r, det ? det : active, out, out ? strlen(out) : 0);
            if (cls == HH_UNIT_STARTING)
                uc->state = HH_UNKNOWN;
            free(out);
            free(det);
        }
        svc_eval(s);
        /* ... and are run at once rather than at their next turn, so that a
         * restarted service is known healthy (or not) without waiting. */
        for (size_t j = 0; restarted && e->started && j < s->nchecks; j++)
            if (s->checks[j]->probe && !s->checks[j]->running)
                hh_engine_run_now(e, s->checks[j]->spec.name);
    }
}

static void reeval_all(hh_engine_t *e)
{
    for (size_t i = 0; i < e->nsvcs; i++) {
        svc_eval(e->svcs[i]);
    }
}

void hh_engine_phase(hh_engine_t *e, uint32_t index, const char *name, const char *state)
{
    if (!state)
        return;
    e->lifecycle_seen = true;
    struct phase *p = NULL;
    for (size_t i = 0; i < e->nphases && !p; i++)
        if (e->phases[i].index == index)
            p = &e->phases[i];
    if (!p) {
        if (e->nphases == sizeof e->phases / sizeof *e->phases)
            return; /* more phases than the spec's four, twice over: ignore */
        p = &e->phases[e->nphases++];
        p->index = index;
    }
    set_str(&p->name, name);
    set_str(&p->state, state);
    reeval_all(e);
}

void hh_engine_lifecycle(hh_engine_t *e, const char *state)
{
    if (!state)
        return;
    e->lifecycle_seen = true;
    set_str(&e->lifecycle_state, state);
    e->stopping = strcmp(state, "shutting-down") == 0 || strcmp(state, "stopped") == 0;
    reeval_all(e);
}

/* ---- setup ---- */

hh_engine_t *hh_engine_new(hlb_reactor_t *io)
{
    if (!io)
        return NULL;
    hh_engine_t *e = calloc(1, sizeof *e);
    if (!e)
        return NULL;
    e->io = io;
    e->curl = hh_curl_new(e->io);
    if (!e->curl) {
        free(e);
        return NULL;
    }
    return e;
}

static void check_free(hh_engine_t *e, hh_check_t *c)
{
    hlb_timer_stop(e->io, &c->run_timer);
    hlb_timer_stop(e->io, &c->retry_timer);
    hh_probe_destroy(&c->probe);
    hh_check_spec_clear(&c->spec);
    free(c->last_detail);
    free(c);
}

void hh_engine_destroy(hh_engine_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    hh_engine_t *e = *self_p;
    for (size_t i = 0; i < e->nsvcs; i++) {
        hh_service_t *s = e->svcs[i];
        for (size_t j = 0; j < s->nchecks; j++)
            check_free(e, s->checks[j]);
        hlb_timer_stop(e->io, &s->grace_timer);
        free(s->checks);
        free(s->active_state);
        free(s->load_state);
        free(s->sub_state);
        free(s->unit_phase);
        free(s->reason);
        hh_service_spec_clear(&s->spec);
        free(s);
    }
    free(e->svcs);
    for (size_t i = 0; i < e->nphases; i++) {
        free(e->phases[i].name);
        free(e->phases[i].state);
    }
    free(e->lifecycle_state);
    hh_curl_destroy(&e->curl); /* the reactor is the daemon's: not ours to destroy */
    free(e);
    *self_p = NULL;
}

void hh_engine_on_change(hh_engine_t *e, hh_change_fn *fn, void *arg)
{
    e->on_change = fn;
    e->on_change_arg = arg;
}

void hh_engine_set_spread(hh_engine_t *e, int64_t spread_ms) { e->spread_ms = spread_ms; }
void hh_engine_set_tls(hh_engine_t *e, hlb_tlspolicy_t *p) { hh_curl_set_tls(e->curl, p); }
void hh_engine_set_slack(hh_engine_t *e, int64_t slack_ms)
{
    e->slack_us = slack_ms > 0 ? (uint64_t)slack_ms * 1000u : 0;
}

static int svc_add_check(hh_service_t *s, hh_check_t *c)
{
    hh_check_t **v = realloc(s->checks, (s->nchecks + 1) * sizeof *v);
    if (!v)
        return -ENOMEM;
    s->checks = v;
    s->checks[s->nchecks++] = c;
    c->svc = s;
    return 0;
}

static hh_check_t *check_alloc(hh_engine_t *e)
{
    hh_check_t *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->eng = e;
    c->state_since_us = hlb_now_us();
    hlb_timer_init(&c->run_timer, on_run_timer, c);
    hlb_timer_init(&c->retry_timer, on_retry, c);
    return c;
}

int hh_engine_add_service(hh_engine_t *e, const hh_service_spec_t *spec)
{
    if (!spec->name || !*spec->name)
        return -EINVAL;
    if (hh_engine_service(e, spec->name))
        return -EEXIST;
    hh_service_t *s = calloc(1, sizeof *s);
    hh_service_t **v = realloc(e->svcs, (e->nsvcs + 1) * sizeof *v);
    if (!s || !v) {
        free(s);
        if (v)
            e->svcs = v;
        return -ENOMEM;
    }
    e->svcs = v;
    s->eng = e;
    s->spec = *spec;
    s->spec.name = strdup(spec->name);
    s->spec.unit = xstrdup(spec->unit);
    s->spec.phase = xstrdup(spec->phase);
    s->state_since_us = hlb_now_us();
    s->reason = strdup("no result yet");
    hlb_timer_init(&s->grace_timer, on_grace_end, s);
    if (!s->spec.name || (spec->unit && !s->spec.unit) || (spec->phase && !s->spec.phase) ||
        !s->reason)
        goto oom;
    if (spec->unit) {
        /* The unit's state is shown as a check of its own ("<service>-unit"),
         * so that hlctl health --why explains it like any other. */
        hh_check_t *c = check_alloc(e);
        if (!c)
            goto oom;
        hh_check_spec_defaults(&c->spec, HH_KIND_UNIT);
        c->spec.name = hlb_strdupf("%s-unit", spec->name);
        c->spec.service = strdup(spec->name);
        c->spec.critical = true;
        if (!c->spec.name || !c->spec.service || svc_add_check(s, c) < 0) {
            check_free(e, c);
            goto oom;
        }
    }
    e->svcs[e->nsvcs++] = s;
    return 0;
oom:
    for (size_t j = 0; j < s->nchecks; j++)
        check_free(e, s->checks[j]);
    free(s->checks);
    free(s->reason);
    hh_service_spec_clear(&s->spec);
    free(s);
    return -ENOMEM;
}

int hh_engine_add_check(hh_engine_t *e, hh_check_spec_t *spec, char **err)
{
    if (!spec->name || !spec->service) {
        if (err)
            *err = strdup("a check needs a name and a service");
        return -EINVAL;
    }
    hh_service_t *s = hh_engine_service(e, spec->service);
    if (!s) {
        if (err)
            *err = hlb_strdupf("check %s: no service %s", spec->name, spec->service);
        return -ENOENT;
    }
    if (hh_engine_check(e, spec->name)) {
        if (err)
            *err = hlb_strdupf("check %s: name used twice", spec->name);
        return -EEXIST;
    }
    if (spec->kind == HH_KIND_UNIT || spec->interval_ms <= 0 || spec->timeout_ms <= 0 ||
        spec->retries < 1 || spec->failures < 1 || spec->successes < 1 ||
        spec->retry_delay_ms < 0) {
        if (err)
            *err = hlb_strdupf("check %s: bad kind or timing", spec->name);
        return -EINVAL;
    }
    hh_check_t *c = check_alloc(e);
    if (!c)
        return -ENOMEM;
    c->spec = *spec;
    hh_probe_env_t env = {.io = e->io, .curl = e->curl};
    c->probe = hh_probe_new(&env, &c->spec, on_probe_done, c, err);
    if (!c->probe || svc_add_check(s, c) < 0) {
        hh_probe_destroy(&c->probe);
        memset(&c->spec, 0, sizeof c->spec);
        free(c);
        return -EINVAL;
    }
    memset(spec, 0, sizeof *spec); /* taken */
    if (c->spec.kind == HH_KIND_HTTP)
        hh_curl_set_maxconnects(e->curl, (long)++e->nhttp + 4);
    if (e->started) {
        c->nominal_us = hlb_mono_us();
        c->due_us = slot_of(e, c->nominal_us);
        hlb_timer_at(e->io, &c->run_timer, c->due_us);
    }
    return 0;
}

/* FNV-1a: a stable spread of first runs across restarts. */
static uint64_t name_hash(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

int hh_engine_start(hh_engine_t *e)
{
    uint64_t now = hlb_mono_us();
    e->started = true;
    e->started_mono = now;
    for (size_t i = 0; i < e->nsvcs; i++) {
        hh_service_t *s = e->svcs[i];
        if (!s->spec.unit && s->spec.grace_ms > 0) {
            /* No unit to tell when it started: the start period runs from the
             * machine's boot (CLOCK_MONOTONIC's zero), not from ours, so that
             * a restart of hl-health alone hides no failure behind a grace
             * (#11: "3 unknown" for 30 s after a restart). */
            s->active_since_mono = 1;
            uint64_t end = (uint64_t)s->spec.grace_ms * 1000u;
            if (now < end)
                hlb_timer_after_ms(e->io, &s->grace_timer, (int64_t)((end - now) / 1000u) + 1);
        }
        for (size_t j = 0; j < s->nchecks; j++) {
            hh_check_t *c = s->checks[j];
            if (!c->probe)
                continue;
            /* Every check runs once at start, spread (not all at once) over
             * at most a second: health is known within one check timeout of
             * a (re)start, whatever the intervals. */
            int64_t span = e->spread_ms < c->spec.interval_ms ? e->spread_ms : c->spec.interval_ms;
            if (span > HH_START_SPREAD_MAX_MS)
                span = HH_START_SPREAD_MAX_MS;
            uint64_t off = span > 0 ? name_hash(c->spec.name) % ((uint64_t)span * 1000u) : 0;
            c->nominal_us = now + off;
            c->due_us = slot_of(e, c->nominal_us);
            hlb_timer_at(e->io, &c->run_timer, c->due_us);
        }
        svc_eval(s);
    }
    return 0;
}

void hh_engine_adopt(hh_engine_t *e, const hh_engine_t *old)
{
    e->lifecycle_seen = old->lifecycle_seen;
    e->stopping = old->stopping;
    set_str(&e->lifecycle_state, old->lifecycle_state);
    for (size_t i = 0; i < old->nphases; i++) {
        e->phases[i].index = old->phases[i].index;
        set_str(&e->phases[i].name, old->phases[i].name);
        set_str(&e->phases[i].state, old->phases[i].state);
    }
    e->nphases = old->nphases;
    for (size_t i = 0; i < e->nsvcs; i++) {
        hh_service_t *s = e->svcs[i];
        hh_service_t *o = hh_engine_service(old, s->spec.name);
        if (!o)
            continue;
        if (o->active_state && s->spec.unit && o->spec.unit &&
            strcmp(s->spec.unit, o->spec.unit) == 0) {
            s->unit = o->unit;
            set_str(&s->active_state, o->active_state);
            set_str(&s->sub_state, o->sub_state);
            s->unit_since_us = o->unit_since_us;
            set_str(&s->unit_phase, o->unit_phase);
            s->active_since_mono = o->active_since_mono;
            /* and whether it is installed: the orchestrator says so only
             * when the load state changes, not again after our reload */
            s->not_installed = o->not_installed;
            set_str(&s->load_state, o->load_state);
        }
        s->state = o->state;
        s->state_since_us = o->state_since_us;
        set_str(&s->reason, o->reason);
        for (size_t j = 0; j < s->nchecks; j++) {
            hh_check_t *c = s->checks[j];
            hh_check_t *oc = hh_engine_check(old, c->spec.name);
            if (!oc || oc->spec.kind != c->spec.kind || oc->svc != o)
                continue;
            c->state = oc->state;
            c->state_since_us = oc->state_since_us;
            c->ok_streak = oc->ok_streak;
            c->bad_streak = oc->bad_streak;
            c->passed_since_start = oc->passed_since_start;
            c->runs = oc->runs;
            c->passes = oc->passes;
            c->warns = oc->warns;
            c->fails = oc->fails;
            c->attempts_total = oc->attempts_total;
            c->skipped = oc->skipped;
            c->ignored_in_grace = oc->ignored_in_grace;
            c->has_result = oc->has_result;
            c->last_result = oc->last_result;
            set_str(&c->last_detail, oc->last_detail);
            c->last_out = oc->last_out;
            c->last_run_us = oc->last_run_us;
            c->last_duration_us = oc->last_duration_us;
            c->last_attempts = oc->last_attempts;
            }
    }
}

size_t hh_engine_nservices(const hh_engine_t *e) { return e->nsvcs; }
hh_service_t *hh_engine_service_at(const hh_engine_t *e, size_t i)
{
    return i < e->nsvcs ? e->svcs[i] : NULL;
}

hh_service_t *hh_engine_service(const hh_engine_t *e, const char *name)
{
    for (size_t i = 0; i < e->nsvcs; i++)
        if (strcmp(e->svcs[i]->spec.name, name) == 0)
            return e->svcs[i];
    return NULL;
}

hh_check_t *hh_engine_check(const hh_engine_t *e, const char *name)
{
    for (size_t i = 0; i < e->nsvcs; i++)
        for (size_t j = 0; j < e->svcs[i]->nchecks; j++)
            if (strcmp(e->svcs[i]->checks[j]->spec.name, name) == 0)
                return e->svcs[i]->checks[j];
    return NULL;
}

hlb_reactor_t *hh_engine_io(const hh_engine_t *e) { return e->io; }

hh_state_t hh_engine_overall(const hh_engine_t *e)
{
    hh_state_t w = HH_HEALTHY;
    for (size_t i = 0; i < e->nsvcs; i++) {
        if (e->svcs[i]->state == HH_NOT_APPLICABLE)
            continue;
        hh_state_t s = e->svcs[i]->state == HH_UNKNOWN ? HH_DEGRADED : e->svcs[i]->state;
        if (s > w)
            w = s;
    }
    return w;
}
