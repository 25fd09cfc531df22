/* Failure detection from normalised observations. */
#include "fl_detect.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <hlbus/buf.h>
#include <hlbus/str.h>
#include <hlbus/topics.h>

#define NEVER UINT64_MAX
#define CHECK_ON FL_NONS       /* a condition kept for one of our checks */
#define SETTLE_ON (FL_NONS + 1) /* a unit that failed: will systemd restart it? */

typedef struct svc {
    char *name;
    char *unit;
    /* unit, as last reported */
    bool unit_seen;
    bool up;        /* active or reloading */
    bool down_fail; /* failed, or being auto-restarted after a failure */
    bool bad_load;  /* the unit file cannot be loaded */
    int64_t n_restarts;
    char *active, *sub, *result, *load;
    int exit_code, exit_status;
    /* health */
    bool has_health; /* a definite health state has been seen */
    bool health_fresh; /* reported since the unit last came up: a verdict on the
                        * process before a restart says nothing of this one */
    fl_health_t health;
    char *health_reason;
    bool healthy; /* as last told through ops.healthy */
} svc_t;

typedef struct cond {
    int on; /* FL_ON_UNHEALTHY, FL_ON_THRESHOLD, FL_ON_UPLINK or CHECK_ON */
    char *key;
    char *pattern;
    uint64_t since_ms, due_ms;
    bool reported;
    char *detail;
    char *resource;
    double value, limit;
    char *vunit;
    uint64_t ts_us;
    int64_t fails;
    int exit_code, exit_status; /* SETTLE_ON: the failure's, as first seen */
} cond_t;

struct fl_detect {
    const fl_config_t *cfg;
    fl_detect_ops_t ops;
    void *arg;
    svc_t **svcs;
    size_t nsvcs;
    cond_t **conds;
    size_t nconds;
};

const char *fl_health_name(fl_health_t h) { return hlb_pb_enum_word(&hl__health_state__descriptor, h); }

static bool eq(const char *a, const char *b) { return a && b && strcmp(a, b) == 0; }

static void set_str(char **dst, const char *s)
{
    if (*dst && s && strcmp(*dst, s) == 0)
        return;
    free(*dst);
    *dst = s ? strdup(s) : NULL;
}

/* ---- services ---- */

static svc_t *svc_get(fl_detect_t *d, const char *name)
{
    for (size_t i = 0; i < d->nsvcs; i++)
        if (strcmp(d->svcs[i]->name, name) == 0)
            return d->svcs[i];
    svc_t **v = realloc(d->svcs, (d->nsvcs + 1) * sizeof *v);
    svc_t *s = calloc(1, sizeof *s);
    if (!v || !s || !(s->name = strdup(name))) {
        free(s);
        if (v)
            d->svcs = v;
        return NULL;
    }
    s->n_restarts = -1;
    d->svcs = v;
    d->svcs[d->nsvcs++] = s;
    return s;
}

static svc_t *svc_find(const fl_detect_t *d, const char *name)
{
    for (size_t i = 0; name && i < d->nsvcs; i++)
        if (strcmp(d->svcs[i]->name, name) == 0)
            return d->svcs[i];
    return NULL;
}

static void svc_free(svc_t *s)
{
    free(s->name);
    free(s->unit);
    free(s->active);
    free(s->sub);
    free(s->result);
    free(s->load);
    free(s->health_reason);
    free(s);
}

/* Whether S counts as healthy: by its health checks when it has them (or
 * when configured so), else by its unit running. */
static bool svc_is_healthy(const fl_detect_t *d, const svc_t *s)
{
    const fl_service_cfg_t *sc = fl_config_service(d->cfg, s->name);
    fl_healthy_on_t on = sc ? sc->healthy_on : FL_HEALTHY_AUTO;
    if (on == FL_HEALTHY_UNIT || (on == FL_HEALTHY_AUTO && !s->has_health))
        return s->up;
    return s->health == FL_H_HEALTHY && (!s->unit_seen || (s->up && s->health_fresh));
}

static void svc_update_healthy(fl_detect_t *d, svc_t *s, const char *why)
{
    bool h = svc_is_healthy(d, s);
    if (h == s->healthy)
        return;
    s->healthy = h;
    if (h && d->ops.healthy)
        d->ops.healthy(s->name, why, d->arg);
}

/* ---- conditions ---- */

static cond_t *cond_find(const fl_detect_t *d, int on, const char *key)
{
    for (size_t i = 0; i < d->nconds; i++)
        if (d->conds[i]->on == on && strcmp(d->conds[i]->key, key) == 0)
            return d->conds[i];
    return NULL;
}

static cond_t *cond_add(fl_detect_t *d, int on, const char *key, const char *pattern,
                        uint64_t now, int64_t sustain)
{
    cond_t **v = realloc(d->conds, (d->nconds + 1) * sizeof *v);
    if (!v)
        return NULL;
    d->conds = v;
    cond_t *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->on = on;
    c->key = strdup(key);
    c->pattern = strdup(pattern);
    c->since_ms = now;
    c->due_ms = now + (uint64_t)(sustain > 0 ? sustain : 0);
    d->conds[d->nconds++] = c;
    return c;
}

static void cond_free(cond_t *c)
{
    free(c->key);
    free(c->pattern);
    free(c->detail);
    free(c->resource);
    free(c->vunit);
    free(c);
}

static void cond_remove(fl_detect_t *d, cond_t *c)
{
    for (size_t i = 0; i < d->nconds; i++)
        if (d->conds[i] == c) {
            memmove(&d->conds[i], &d->conds[i + 1], (d->nconds - i - 1) * sizeof *d->conds);
            d->nconds--;
            break;
        }
    cond_free(c);
}

static const fl_pattern_t *pattern_named(const fl_detect_t *d, const char *name)
{
    for (size_t i = 0; i < d->cfg->npatterns; i++)
        if (strcmp(d->cfg->patterns[i].name, name) == 0)
            return &d->cfg->patterns[i];
    return NULL;
}

static const fl_check_cfg_t *check_named(const fl_detect_t *d, const char *name)
{
    for (size_t i = 0; i < d->cfg->nchecks; i++)
        if (strcmp(d->cfg->checks[i].name, name) == 0)
            return &d->cfg->checks[i];
    return NULL;
}

static bool network_failing(const fl_detect_t *d)
{
    for (size_t i = 0; i < d->nconds; i++) {
        const cond_t *c = d->conds[i];
        if (!c->reported)
            continue;
        if (c->on == FL_ON_UPLINK)
            return true;
        const fl_check_cfg_t *k = c->on == CHECK_ON ? check_named(d, c->key) : NULL;
        if (k && k->type == FL_FT_NETWORK)
            return true;
    }
    return false;
}

/* ---- reporting ---- */

static void report(fl_detect_t *d, fl_failure_t *f)
{
    if (!f->service)
        f->service = "";
    if (d->ops.failure)
        d->ops.failure(f, d->arg);
}

static void describe_exit(hlb_buf_t *b, int code, int status)
{
    if (code == 1) {
        hlb_buf_printf(b, "exited with status %d", status);
    } else if (code == 2 || code == 3) {
        const char *abbr = status > 0 && status < NSIG ? sigabbrev_np(status) : NULL;
        hlb_buf_printf(b, "%s signal %d%s%s%s", code == 2 ? "killed by" : "dumped core on", status,
                       abbr ? " (SIG" : "", abbr ? abbr : "", abbr ? ")" : "");
    }
}

/* The unit patterns, in config order: the first that matches classifies. */
static const fl_pattern_t *match_unit(const fl_detect_t *d, const svc_t *s, const char *result)
{
    for (size_t i = 0; i < d->cfg->npatterns; i++) {
        const fl_pattern_t *p = &d->cfg->patterns[i];
        if (!fl_globs_match(p->services, s->name))
            continue;
        if (p->on == FL_ON_EXIT_STATUS) {
            if (s->exit_code != 1)
                continue;
            for (size_t k = 0; k < p->nexit; k++)
                if (p->exit_status[k] == s->exit_status)
                    return p;
        } else if (p->on == FL_ON_UNIT_FAILED) {
            if (p->results ? fl_globs_match(p->results, result ? result : "")
                           : !eq(result, "success"))
                return p;
        }
    }
    return NULL;
}

static const fl_pattern_t *match_on(const fl_detect_t *d, fl_on_t on, const char *service,
                                    const char *metric, const char *resource)
{
    for (size_t i = 0; i < d->cfg->npatterns; i++) {
        const fl_pattern_t *p = &d->cfg->patterns[i];
        if (p->on != on)
            continue;
        if (on == FL_ON_THRESHOLD) {
            if (fl_globs_match(p->metrics, metric) ||
                (p->metrics && resource && fl_globs_match(p->metrics, resource)))
                return p;
        } else if (fl_globs_match(p->services, service)) {
            return p;
        }
    }
    return NULL;
}

static void report_unit(fl_detect_t *d, svc_t *s, const fl_pattern_t *p, const char *result,
                        int exit_code, int exit_status, const char *why, bool self_restarting,
                        bool reasserted, uint64_t ts_us)
{
    hlb_buf_t ev = {0};
    const char *unit = s->unit ? s->unit : s->name;
    if (p->on == FL_ON_UNIT_CONFIG) {
        hlb_buf_printf(&ev, "%s cannot be loaded (load state %s)", unit, why);
    } else {
        hlb_buf_printf(&ev, "%s %s", unit, why);
        if (exit_code) {
            hlb_buf_puts(&ev, ": ");
            describe_exit(&ev, exit_code, exit_status);
        }
        if (result && *result)
            hlb_buf_printf(&ev, ", result %s", result);
        if (s->n_restarts >= 0)
            hlb_buf_printf(&ev, ", %lld automatic restarts", (long long)s->n_restarts);
        if (self_restarting)
            hlb_buf_puts(&ev, "; systemd restarts it itself");
        if (p->type == FL_FT_CONFIG && p->on == FL_ON_EXIT_STATUS)
            hlb_buf_puts(&ev, " (configuration error: restarting cannot fix it)");
    }
    fl_failure_t f = {
        .type = p->type,
        .severity = p->severity,
        .signal = fl_on_name(p->on),
        .pattern = p->name,
        .target = s->name,
        .service = s->name,
        .evidence = ev.data,
        .config = p->type == FL_FT_CONFIG,
        .recover = p->recover,
        .self_restarting = self_restarting,
        .reasserted = reasserted,
        .source_ts_us = ts_us,
        .unit = unit,
        .result = result,
        .exit_code = exit_code,
        .exit_status = exit_status,
        .n_restarts = s->n_restarts,
    };
    report(d, &f);
    hlb_buf_free(&ev);
}

/* Reports the failure held in C (a unit that went "failed"): SELF_RESTARTING
 * says whether systemd took it into auto-restart meanwhile. */
static void settle_report(fl_detect_t *d, cond_t *c, bool self_restarting)
{
    svc_t *s = svc_find(d, c->key);
    const fl_pattern_t *p = pattern_named(d, c->pattern);
    char *result = c->resource ? strdup(c->resource) : NULL;
    int code = c->exit_code, status = c->exit_status;
    uint64_t ts = c->ts_us;
    cond_remove(d, c);
    if (s && p)
        report_unit(d, s, p, result, code, status, "failed", self_restarting, false, ts);
    free(result);
}

void fl_detect_unit(fl_detect_t *d, const fl_unit_obs_t *u, uint64_t now)
{
    if (!u->service || !*u->service)
        return;
    svc_t *s = svc_get(d, u->service);
    if (!s)
        return;
    bool was_seen = s->unit_seen, was_down = s->down_fail, was_bad = s->bad_load;
    int64_t prev_restarts = s->n_restarts;
    s->unit_seen = true;
    if (u->unit)
        set_str(&s->unit, u->unit);
    set_str(&s->active, u->active_state);
    set_str(&s->sub, u->sub_state);
    set_str(&s->result, u->result);
    set_str(&s->load, u->load_state);
    s->exit_code = u->exit_code;
    s->exit_status = u->exit_status;
    if (u->n_restarts >= 0)
        s->n_restarts = u->n_restarts;
    s->up = eq(u->active_state, "active") || eq(u->active_state, "reloading");
    if (!s->up)
        s->health_fresh = false;
    s->down_fail = eq(u->active_state, "failed") || eq(u->sub_state, "auto-restart");
    s->bad_load = eq(u->load_state, "bad-setting") || eq(u->load_state, "error");
    bool restarting = eq(u->sub_state, "auto-restart");

    /* A failure held to see whether systemd restarts the unit: it has left
     * "failed" now. Only systemd's own auto-restart (or a restart count that
     * rose) counts as "restarting itself": a unit someone started again by
     * hand is not in a restart loop (and must not be stopped as one). */
    cond_t *held = cond_find(d, SETTLE_ON, s->name);
    if (held && !eq(u->active_state, "failed"))
        settle_report(d, held,
                      restarting || (prev_restarts >= 0 && s->n_restarts > prev_restarts));

    if (s->bad_load && !was_bad) {
        const fl_pattern_t *p = match_on(d, FL_ON_UNIT_CONFIG, s->name, NULL, NULL);
        if (p)
            report_unit(d, s, p, u->result, 0, 0, u->load_state, false, false, u->ts_us);
    } else if (s->down_fail && !was_down) {
        const fl_pattern_t *p = match_unit(d, s, u->result);
        if (p && !restarting && d->cfg->restart_settle_ms > 0) {
            /* systemd reports "failed" first, then "auto-restart" when the
             * unit's Restart= applies, back to back: whether systemd restarts
             * it is known a moment later, and decides what recovery does */
            cond_t *c = cond_add(d, SETTLE_ON, s->name, p->name, now, d->cfg->restart_settle_ms);
            if (c) {
                set_str(&c->resource, u->result);
                c->exit_code = u->exit_code;
                c->exit_status = u->exit_status;
                c->ts_us = u->ts_us;
            }
        } else if (p) {
            report_unit(d, s, p, u->result, u->exit_code, u->exit_status,
                        restarting ? "died" : "failed", restarting, false, u->ts_us);
        }
    } else if (was_seen && !was_down && prev_restarts >= 0 && s->n_restarts > prev_restarts) {
        /* systemd restarted it between two reports: the failure itself was
         * not seen (coalesced or lost), the restart count says it happened */
        char why[96];
        snprintf(why, sizeof why, "was restarted by systemd (restart count %lld -> %lld)",
                 (long long)prev_restarts, (long long)s->n_restarts);
        const fl_pattern_t *p = match_unit(d, s, "");
        if (p) /* systemd has already restarted it: that is the restart rung */
            report_unit(d, s, p, "", u->exit_code, u->exit_status, why, true, false, u->ts_us);
    }
    /* a unit that is down cannot be hanging: its health will follow */
    if (!s->up) {
        cond_t *c = cond_find(d, FL_ON_UNHEALTHY, s->name);
        if (c)
            cond_remove(d, c);
    }
    svc_update_healthy(d, s, s->up ? "unit active" : "unit down");
}

void fl_detect_health(fl_detect_t *d, const fl_health_obs_t *h, uint64_t now)
{
    if (!h->service || !*h->service)
        return;
    svc_t *s = svc_get(d, h->service);
    if (!s)
        return;
    fl_health_t prev = s->health;
    s->health = h->state;
    if (s->up || !s->unit_seen)
        s->health_fresh = true;
    if (h->state != FL_H_UNKNOWN)
        s->has_health = true;
    set_str(&s->health_reason, h->reason);
    cond_t *c = cond_find(d, FL_ON_UNHEALTHY, s->name);
    if (h->state == FL_H_UNHEALTHY && prev != FL_H_UNHEALTHY && !c && (s->up || !s->unit_seen)) {
        /* a hang: unhealthy while the unit runs. Held for the pattern's
         * sustain, then checked again, so that health lagging behind a
         * restart is not taken for a hang. */
        const fl_pattern_t *p = match_on(d, FL_ON_UNHEALTHY, s->name, NULL, NULL);
        if (p && (c = cond_add(d, FL_ON_UNHEALTHY, s->name, p->name, now, p->sustain_ms))) {
            c->ts_us = h->ts_us;
            set_str(&c->detail, h->reason);
        }
    } else if (h->state != FL_H_UNHEALTHY && c) {
        cond_remove(d, c);
    }
    svc_update_healthy(d, s, "health checks pass");
    fl_detect_tick(d, now);
}

static void report_cond(fl_detect_t *d, cond_t *c, bool reasserted)
{
    hlb_buf_t ev = {0};
    fl_failure_t f = {.reasserted = reasserted, .source_ts_us = c->ts_us, .n_restarts = -1};
    double secs = 0;
    if (c->on == CHECK_ON) {
        const fl_check_cfg_t *k = check_named(d, c->key);
        if (!k)
            return;
        hlb_buf_printf(&ev, "check %s failed %lld time%s in a row: %s", k->name,
                       (long long)c->fails, c->fails == 1 ? "" : "s",
                       c->detail ? c->detail : "no detail");
        f.type = k->type;
        f.severity = k->severity;
        f.signal = "check";
        f.pattern = k->name;
        f.config = k->type == FL_FT_CONFIG;
        f.recover = true;
        f.target = k->type == FL_FT_CONFIG ? k->service : "network";
        f.service = k->type == FL_FT_CONFIG ? k->service : "";
        f.evidence = ev.data;
        report(d, &f);
        hlb_buf_free(&ev);
        return;
    }
    const fl_pattern_t *p = pattern_named(d, c->pattern);
    if (!p)
        return;
    f.type = p->type;
    f.severity = p->severity;
    f.signal = fl_on_name(p->on);
    f.pattern = p->name;
    f.recover = p->recover;
    f.config = p->type == FL_FT_CONFIG;
    char target[160];
    switch (c->on) {
    case FL_ON_UNHEALTHY: {
        svc_t *s = svc_find(d, c->key);
        hlb_buf_printf(&ev, "%s unhealthy while its unit is active: %s",
                       s && s->unit ? s->unit : c->key, c->detail ? c->detail : "checks failing");
        f.target = f.service = c->key;
        f.unit = s ? s->unit : NULL;
        break;
    }
    case FL_ON_THRESHOLD:
        secs = (double)(c->due_ms - c->since_ms) / 1000.0;
        hlb_buf_printf(&ev, "%s at %.1f%s, over its limit %.1f%s", c->key, c->value,
                       eq(c->vunit, "percent") ? " %" : "", c->limit,
                       eq(c->vunit, "percent") ? " %" : "");
        if (secs > 0)
            hlb_buf_printf(&ev, ", firing for %.0f s", secs);
        if (p->target) {
            f.target = f.service = p->target;
        } else {
            snprintf(target, sizeof target, "resource:%s", c->key);
            f.target = target;
            f.recover = p->recover && p->command != NULL;
        }
        f.metric = c->key;
        f.value = c->value;
        f.limit = c->limit;
        f.command = p->command;
        break;
    case FL_ON_UPLINK:
        hlb_buf_printf(&ev, "no connectivity to the HL API (%s: %s)", c->key,
                       c->detail ? c->detail : "down");
        f.target = "network";
        break;
    default:
        hlb_buf_free(&ev);
        return;
    }
    f.evidence = ev.data;
    report(d, &f);
    hlb_buf_free(&ev);
}

void fl_detect_threshold(fl_detect_t *d, const fl_threshold_obs_t *t, uint64_t now)
{
    if (!t->name || !*t->name)
        return;
    cond_t *c = cond_find(d, FL_ON_THRESHOLD, t->name);
    if (t->firing) {
        if (!c) {
            const fl_pattern_t *p = match_on(d, FL_ON_THRESHOLD, NULL, t->name, t->resource);
            if (!p || !(c = cond_add(d, FL_ON_THRESHOLD, t->name, p->name, now, p->sustain_ms)))
                return;
        }
        /* FIRING is a state: a repeat refreshes the figures, not the clock */
        set_str(&c->resource, t->resource);
        set_str(&c->vunit, t->unit);
        c->value = t->value;
        c->limit = t->limit;
        c->ts_us = t->ts_us;
        fl_detect_tick(d, now);
        return;
    }
    if (!c)
        return;
    bool reported = c->reported;
    const fl_pattern_t *p = pattern_named(d, c->pattern);
    char target[160];
    snprintf(target, sizeof target, "resource:%s", c->key);
    cond_remove(d, c);
    if (reported && p && !p->target && d->ops.healthy)
        d->ops.healthy(target, "threshold cleared", d->arg);
}

static void network_maybe_healthy(fl_detect_t *d, bool was_failing, const char *why)
{
    if (was_failing && !network_failing(d) && d->ops.healthy)
        d->ops.healthy("network", why, d->arg);
}

void fl_detect_uplink(fl_detect_t *d, const fl_uplink_obs_t *u, uint64_t now)
{
    const char *key = u->topic ? u->topic : "uplink";
    cond_t *c = cond_find(d, FL_ON_UPLINK, key);
    if (!u->up) {
        if (!c) {
            const fl_pattern_t *p = match_on(d, FL_ON_UPLINK, key, NULL, NULL);
            if (!p || !(c = cond_add(d, FL_ON_UPLINK, key, p->name, now, p->sustain_ms)))
                return;
            c->ts_us = u->ts_us;
        }
        set_str(&c->detail, u->detail);
        fl_detect_tick(d, now);
        return;
    }
    if (!c)
        return;
    bool was = network_failing(d);
    cond_remove(d, c);
    network_maybe_healthy(d, was, "uplink connected");
}

void fl_detect_check(fl_detect_t *d, const fl_check_cfg_t *k, bool ok, const char *detail,
                     uint64_t now)
{
    cond_t *c = cond_find(d, CHECK_ON, k->name);
    if (ok) {
        if (!c)
            return;
        bool reported = c->reported, was = network_failing(d);
        cond_remove(d, c);
        if (!reported)
            return;
        if (k->type == FL_FT_CONFIG) {
            if (d->ops.config_ok)
                d->ops.config_ok(k->service, "configuration check passes", d->arg);
        } else {
            network_maybe_healthy(d, was, "reachability check passes");
        }
        return;
    }
    if (!c && !(c = cond_add(d, CHECK_ON, k->name, k->name, now, 0)))
        return;
    c->fails++;
    c->ts_us = 0;
    set_str(&c->detail, detail);
    if (!c->reported && c->fails >= k->failures) {
        c->reported = true;
        report_cond(d, c, false);
    }
}

uint64_t fl_detect_next_due(const fl_detect_t *d)
{
    uint64_t t = NEVER;
    for (size_t i = 0; i < d->nconds; i++)
        if (!d->conds[i]->reported && d->conds[i]->on != CHECK_ON && d->conds[i]->due_ms < t)
            t = d->conds[i]->due_ms;
    return t;
}

void fl_detect_tick(fl_detect_t *d, uint64_t now)
{
    /* Reporting may feed back into us (the callback is the daemon); walk by
     * index and re-check the bound. */
    for (size_t i = 0; i < d->nconds; i++) {
        cond_t *c = d->conds[i];
        if (c->reported || c->on == CHECK_ON || c->due_ms > now)
            continue;
        if (c->on == SETTLE_ON) { /* still failed: systemd does not restart it */
            settle_report(d, c, false);
            i--;
            continue;
        }
        if (c->on == FL_ON_UNHEALTHY) {
            svc_t *s = svc_find(d, c->key);
            if (s && s->unit_seen && !s->up) { /* went down meanwhile: not a hang */
                cond_remove(d, c);
                i--;
                continue;
            }
        }
        c->reported = true;
        report_cond(d, c, false);
    }
}

void fl_detect_reassert(fl_detect_t *d, const char *target, uint64_t now)
{
    for (size_t i = 0; i < d->nsvcs; i++) {
        svc_t *s = d->svcs[i];
        if (target && strcmp(target, s->name) != 0)
            continue;
        const fl_pattern_t *p = NULL;
        if (s->bad_load)
            p = match_on(d, FL_ON_UNIT_CONFIG, s->name, NULL, NULL);
        else if (s->down_fail)
            p = match_unit(d, s, s->result);
        if (p && !cond_find(d, SETTLE_ON, s->name)) /* a held one is reported anyway */
            report_unit(d, s, p, s->result, s->exit_code, s->exit_status,
                        s->bad_load ? s->load : "is still down", eq(s->sub, "auto-restart"),
                        true, 0);
    }
    for (size_t i = 0; i < d->nconds; i++) {
        cond_t *c = d->conds[i];
        if (!c->reported)
            continue;
        const char *t = c->key;
        char buf[160];
        if (c->on == FL_ON_UPLINK) {
            t = "network";
        } else if (c->on == CHECK_ON) {
            const fl_check_cfg_t *k = check_named(d, c->key);
            t = k && k->type == FL_FT_CONFIG ? k->service : "network";
        } else if (c->on == FL_ON_THRESHOLD) {
            const fl_pattern_t *p = pattern_named(d, c->pattern);
            snprintf(buf, sizeof buf, "resource:%s", c->key);
            t = p && p->target ? p->target : buf;
        }
        if (!target || eq(target, t))
            report_cond(d, c, true);
    }
}

bool fl_detect_is_healthy(const fl_detect_t *d, const char *target)
{
    if (eq(target, "network"))
        return !network_failing(d);
    if (target && hlb_has_prefix(target, "resource:")) {
        const cond_t *c = cond_find(d, FL_ON_THRESHOLD, target + 9);
        return !c || !c->reported;
    }
    const svc_t *s = svc_find(d, target);
    return s && svc_is_healthy(d, s);
}

fl_detect_t *fl_detect_new(const fl_config_t *cfg, const fl_detect_ops_t *ops, void *arg)
{
    fl_detect_t *d = calloc(1, sizeof *d);
    if (!d)
        return NULL;
    d->cfg = cfg;
    if (ops)
        d->ops = *ops;
    d->arg = arg;
    return d;
}

void fl_detect_set_config(fl_detect_t *d, const fl_config_t *cfg)
{
    d->cfg = cfg;
    for (size_t i = 0; i < d->nconds; i++) {
        cond_t *c = d->conds[i];
        bool gone = c->on == CHECK_ON ? !check_named(d, c->key) : !pattern_named(d, c->pattern);
        if (gone) {
            cond_remove(d, c);
            i--;
        }
    }
}

void fl_detect_destroy(fl_detect_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    fl_detect_t *d = *self_p;
    for (size_t i = 0; i < d->nsvcs; i++)
        svc_free(d->svcs[i]);
    free(d->svcs);
    for (size_t i = 0; i < d->nconds; i++)
        cond_free(d->conds[i]);
    free(d->conds);
    free(d);
    *self_p = NULL;
}
