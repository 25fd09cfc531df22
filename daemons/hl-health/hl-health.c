/* hl-health on the bus. */
#include "hl-health.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "health.pb-c.h"
#include "orchestrator.pb-c.h"
#include <hlbus/str.h>
#include <hlbus/pbfield.h>

/* ---- the orchestrator's events, typed (libhlbus topics.h) ---- */

typedef struct hh_unit_seen {
    char *load_state, *active_state, *sub_state, *phase;
} hh_unit_seen_t;

static void unit_seen_free(void **p)
{
    hh_unit_seen_t *u = *p;
    if (!u)
        return;
    free(u->load_state);
    free(u->active_state);
    free(u->sub_state);
    free(u->phase);
    free(u);
    *p = NULL;
}

static void remember_unit(hh_daemon_t *h, const char *unit, const Hl__ServiceState *s)
{
    if (!h->units_seen) {
        h->units_seen = zhashx_new();
        if (!h->units_seen)
            return;
        zhashx_set_destructor(h->units_seen, unit_seen_free);
    }
    hh_unit_seen_t *u = calloc(1, sizeof *u);
    if (!u)
        return;
    u->load_state = strdup(s->load_state ? s->load_state : "");
    u->active_state = strdup(s->active_state);
    u->sub_state = strdup(s->sub_state ? s->sub_state : "");
    u->phase = strdup(s->phase ? s->phase : "");
    zhashx_update(h->units_seen, unit, u);
}

/* A new engine learns every unit state seen so far. */
static void replay_units(hh_daemon_t *h)
{
    if (!h->units_seen || !h->eng)
        return;
    for (hh_unit_seen_t *u = zhashx_first(h->units_seen); u; u = zhashx_next(h->units_seen)) {
        const char *unit = zhashx_cursor(h->units_seen);
        hh_engine_unit_load(h->eng, unit, u->load_state);
        hh_engine_unit(h->eng, unit, u->active_state, u->sub_state, u->phase);
    }
}

static void on_event(hlb_daemon_t *d, const hlb_event_t *ev, void *arg)
{
    hh_daemon_t *h = arg;
    if (!h->eng || !hlb_event_from_owner(ev)) /* service.* from the orchestrator only */
        return;
    const char *name = hlb_topic_suffix(ev->topic, "service.");
    if (name) {
        const Hl__ServiceState *u = hlb_event_as(ev, &hl__service_state__descriptor);
        if (!u || !*u->active_state)
            return; /* hlb_event_as said why; a state without active_state says nothing */
        /* The topic names the unit when the body does not. */
        remember_unit(h, *u->unit ? u->unit : name, u);
        hh_engine_unit_load(h->eng, *u->unit ? u->unit : name, u->load_state);
        hh_engine_unit(h->eng, *u->unit ? u->unit : name, u->active_state, u->sub_state,
                       u->phase);
    } else if (strcmp(ev->topic, "lifecycle.phase") == 0) {
        const Hl__PhaseStatus *p = hlb_event_as(ev, &hl__phase_status__descriptor);
        if (p)
            hh_engine_phase(h->eng, p->index, p->name,
                            hlb_pb_enum_word(&hl__phase_state__descriptor, p->state));
    } else if (strcmp(ev->topic, "lifecycle.state") == 0) {
        const Hl__LifecycleState *l = hlb_event_as(ev, &hl__lifecycle_state__descriptor);
        if (l)
            hh_engine_lifecycle(h->eng, hlb_pb_enum_word(&hl__lifecycle__descriptor, l->state));
    }
}

/* ---- building messages ---- */

static uint64_t mono_to_wall(uint64_t mono)
{
    if (!mono)
        return 0;
    uint64_t now_m = hlb_mono_us(), now_w = hlb_now_us();
    return mono >= now_m ? now_w + (mono - now_m) : now_w - (now_m - mono);
}

static const char *result_word(const hh_check_t *c)
{
    return c->has_result ? hh_result_name(c->last_result) : "";
}

/* Fills M from S; the strings point into the engine (valid until it runs again). */
static void fill_service(Hl__ServiceHealth *m, Hl__CheckHealth *cks, Hl__CheckHealth **ckp,
                         const hh_service_t *s, bool snapshot)
{
    hl__service_health__init(m);
    m->service = s->spec.name;
    m->state = s->state;
    m->reason = hlb_pb_str(s->reason);
    m->since_us = s->state_since_us;
    m->unit = hlb_pb_str(s->spec.unit);
    m->active_state = hlb_pb_str(s->active_state);
    m->sub_state = hlb_pb_str(s->sub_state);
    m->snapshot = snapshot;
    m->changes = s->changes;
    m->ts_us = hlb_now_us();
    for (size_t i = 0; i < s->nchecks; i++) {
        const hh_check_t *c = s->checks[i];
        Hl__CheckHealth *k = &cks[i];
        hl__check_health__init(k);
        k->name = c->spec.name;
        k->kind = (char *)hh_kind_name(c->spec.kind);
        k->state = c->state;
        k->last_duration_us = c->last_duration_us;
        k->last_result = (char *)result_word(c);
        k->detail = hlb_pb_str(c->last_detail);
        k->last_run_us = c->last_run_us;
        k->next_run_us = mono_to_wall(hh_check_next_due(c));
        k->ok_streak = c->ok_streak;
        k->bad_streak = c->bad_streak;
        k->critical = c->spec.critical;
        ckp[i] = k;
    }
    m->n_checks = s->nchecks;
    m->checks = ckp;
}

static void publish_service(hh_daemon_t *h, const hh_service_t *s, bool snapshot)
{
    Hl__ServiceHealth m;
    Hl__CheckHealth *cks = calloc(s->nchecks + 1, sizeof *cks);
    Hl__CheckHealth **ckp = calloc(s->nchecks + 1, sizeof *ckp);
    char *topic = hlb_strdupf("health.%s", s->spec.name);
    if (cks && ckp && topic) {
        fill_service(&m, cks, ckp, s, snapshot);
        int rc = hlb_pub_send(hlb_daemon_pub(h->d), topic, &m.base);
        if (rc == 0)
            h->published++;
        else
            h->publish_dropped++;
    }
    free(topic);
    free(cks);
    free(ckp);
}

static void on_change(hh_engine_t *e, hh_service_t *s, void *arg)
{
    hh_daemon_t *h = arg;
    publish_service(h, s, false);
    hlb_log(s->state == HH_UNHEALTHY ? LOG_WARNING : LOG_INFO, "%s: %s (%s)", s->spec.name,
            hh_state_name(s->state), s->reason);
}

static void status_line(hh_daemon_t *h)
{
    size_t n[HH_NSTATES] = {0};
    for (size_t i = 0; i < hh_engine_nservices(h->eng); i++)
        n[hh_engine_service_at(h->eng, i)->state]++;
    hlb_daemon_status(h->d, "%zu healthy, %zu degraded, %zu unhealthy, %zu unknown",
                      n[HH_HEALTHY], n[HH_DEGRADED], n[HH_UNHEALTHY], n[HH_UNKNOWN]);
}

static int on_snapshot(zloop_t *loop, int id, void *arg)
{
    hh_daemon_t *h = arg;
    for (size_t i = 0; h->eng && i < hh_engine_nservices(h->eng); i++)
        publish_service(h, hh_engine_service_at(h->eng, i), true);
    if (h->eng)
        status_line(h);
    return 0;
}

/* ---- configure, start, stop ---- */

int hh_daemon_configure(hlb_daemon_t *d, const hlb_conf_t *conf, const hlb_conf_t *section,
                        bool check_only, hlb_diag_t *diag, void *arg)
{
    hh_daemon_t *h = arg;
    hh_config_t cfg;
    if (hh_config_parse(section, &cfg, diag) < 0) {
        hh_config_clear(&cfg);
        return -EINVAL;
    }
    /* the TLS policy of the HTTPS checks, checked with the rest: the engine
     * built below applies it to every check (a check's min_version above
     * its max_version is refused there) */
    cfg.tls = hlb_tlspolicy_load(NULL, diag);
    if (!cfg.tls) {
        hh_config_clear(&cfg);
        return -EINVAL;
    }
    if (!check_only && hlb_tlspolicy_warning(cfg.tls))
        hlb_warn("%s", hlb_tlspolicy_warning(cfg.tls));
    if (check_only) {
        /* Build it for real (regexes compile, argv paths are absolute, ...)
         * on a loop of its own, so that what passes here also starts. */
        zloop_t *loop = zloop_new();
        hlb_reactor_t *io = loop ? hlb_reactor_new(loop) : NULL;
        hh_engine_t *e = io ? hh_config_build(&cfg, io, diag) : NULL;
        int rc = e ? 0 : -EINVAL;
        hh_engine_destroy(&e);
        hlb_reactor_destroy(&io);
        zloop_destroy(&loop);
        hh_config_clear(&cfg);
        return rc;
    }
    free(cfg.check_nodes); /* the conf tree is not ours to point into later */
    cfg.check_nodes = NULL;
    if (h->have_cfg)
        hh_config_clear(&h->cfg);
    h->cfg = cfg;
    h->have_cfg = true;
    if (!h->eng)
        return 0; /* the first load: start() builds the engine */
    /* A reload: a new engine takes over the states of checks that kept their
     * name and kind, so nothing flips to unknown. */
    hlb_diag_t d2 = {0};
    hh_engine_t *e = hh_config_build(&h->cfg, hlb_daemon_reactor(d), &d2);
    if (!e) {
        hlb_err("reload: %s", d2.text ? d2.text : "cannot build the checks");
        hlb_diag_free(&d2);
        return -EINVAL;
    }
    hlb_diag_free(&d2);
    hh_engine_adopt(e, h->eng);
    hh_engine_destroy(&h->eng);
    h->eng = e;
    hh_engine_on_change(e, on_change, h);
    replay_units(h);
    hh_engine_start(e);
    if (h->snapshot_timer > 0)
        zloop_timer_end(hlb_daemon_loop(d), h->snapshot_timer);
    h->snapshot_timer = h->cfg.snapshot_ms > 0
                            ? zloop_timer(hlb_daemon_loop(d), (size_t)h->cfg.snapshot_ms, 0,
                                          on_snapshot, h)
                            : 0;
    on_snapshot(NULL, 0, h); /* services may have come or gone: say so now */
    hlb_info("reloaded: %zu services", hh_engine_nservices(e));
    return 0;
}

int hh_daemon_start(hlb_daemon_t *d, void *arg)
{
    hh_daemon_t *h = arg;
    h->d = d;
    if (!h->have_cfg && hh_config_parse(NULL, &h->cfg, NULL) == 0)
        h->have_cfg = true;
    hlb_diag_t diag = {0};
    h->eng = hh_config_build(&h->cfg, hlb_daemon_reactor(d), &diag);
    if (!h->eng) {
        hlb_err("cannot set up the checks: %s", diag.text ? diag.text : "");
        hlb_diag_free(&diag);
        return -1;
    }
    hlb_diag_free(&diag);
    hh_engine_on_change(h->eng, on_change, h);
    static const char *const prefixes[] = {"service.", "lifecycle.phase", "lifecycle.state", NULL};
    h->sub = hlb_daemon_subscribe(d, prefixes, on_event, h);
    if (!h->sub) {
        hlb_err("cannot subscribe to the bus");
        return -1;
    }
    hh_engine_start(h->eng);
    if (h->cfg.snapshot_ms > 0)
        h->snapshot_timer =
            zloop_timer(hlb_daemon_loop(d), (size_t)h->cfg.snapshot_ms, 0, on_snapshot, h);
    on_snapshot(NULL, 0, h); /* every service, unknown for now: late joiners see them */
    return 0;
}

void hh_daemon_stop(hlb_daemon_t *d, void *arg)
{
    hh_daemon_t *h = arg;
    /* Checks in flight are cancelled: exec process groups are killed. */
    hh_engine_destroy(&h->eng);
    zhashx_destroy(&h->units_seen);
    if (h->have_cfg)
        hh_config_clear(&h->cfg);
    h->have_cfg = false;
}

/* ---- methods ---- */

static void m_health(hlb_request_t *req, hlb_reply_t *reply, void *arg)
{
    hh_daemon_t *h = arg;
    char *want = req->map ? hlb_mpview_str(req->map, "service") : NULL;
    if (want && !*want) {
        free(want);
        want = NULL;
    }
    size_t n = hh_engine_nservices(h->eng);
    Hl__HealthReport rep = HL__HEALTH_REPORT__INIT;
    Hl__ServiceHealth *svs = calloc(n + 1, sizeof *svs);
    Hl__ServiceHealth **svp = calloc(n + 1, sizeof *svp);
    Hl__CheckHealth **cks = calloc(n + 1, sizeof *cks);
    Hl__CheckHealth ***ckp = calloc(n + 1, sizeof *ckp);
    hh_state_t worst = HH_HEALTHY;
    if (!svs || !svp || !cks || !ckp) {
        hlb_reply_error(reply, ENOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        hh_service_t *s = hh_engine_service_at(h->eng, i);
        if (want && strcmp(want, s->spec.name) != 0)
            continue;
        size_t k = rep.n_services;
        cks[k] = calloc(s->nchecks + 1, sizeof **cks);
        ckp[k] = calloc(s->nchecks + 1, sizeof **ckp);
        if (!cks[k] || !ckp[k]) {
            hlb_reply_error(reply, ENOMEM, "out of memory");
            goto out;
        }
        fill_service(&svs[k], cks[k], ckp[k], s, false);
        svp[k] = &svs[k];
        rep.n_services++;
        if (s->state == HH_NOT_APPLICABLE)
            continue; /* its unit is not installed: not part of the verdict */
        hh_state_t st = s->state == HH_UNKNOWN ? HH_DEGRADED : s->state;
        if (st > worst)
            worst = st;
    }
    if (want && rep.n_services == 0) {
        hlb_reply_error(reply, ENOENT, "no service '%s'", want);
        goto out;
    }
    rep.state = worst;
    rep.services = svp;
    hlb_reply_msg(reply, &rep.base);
out:
    for (size_t i = 0; cks && ckp && i <= n; i++) {
        free(cks[i]);
        free(ckp[i]);
    }
    free(cks);
    free(ckp);
    free(svs);
    free(svp);
    free(want);
}

static char *target_text(const hh_check_t *c)
{
    const hh_check_spec_t *s = &c->spec;
    switch (s->kind) {
    case HH_KIND_HTTP:
        return hlb_strdupf("%s %s (expect %ld-%ld%s%s)", s->u.http.method ? s->u.http.method : "GET",
                                s->u.http.url, s->u.http.status_min, s->u.http.status_max,
                                s->u.http.body_match ? ", body contains " : "",
                                s->u.http.body_match ? s->u.http.body_match : "");
    case HH_KIND_TCP:
        return hlb_strdupf("connect %s:%s", s->u.tcp.host, s->u.tcp.port);
    case HH_KIND_EXEC: {
        hlb_buf_t b = {0};
        for (char **a = s->u.exec.argv; a && *a; a++)
            hlb_buf_printf(&b, "%s%s", a == s->u.exec.argv ? "" : " ", *a);
        return hlb_buf_steal(&b);
    }
    case HH_KIND_DISK:
        return hlb_strdupf("free space on %s (warn below %.1f%%, critical below %.1f%%)",
                                s->u.disk.path, s->u.disk.warn_free_pct, s->u.disk.crit_free_pct);
    case HH_KIND_UNIT:
        return hlb_strdupf("unit %s (from service.* events)",
                                c->svc->spec.unit ? c->svc->spec.unit : "");
    }
    return strdup("");
}

static void m_why(hlb_request_t *req, hlb_reply_t *reply, void *arg)
{
    hh_daemon_t *h = arg;
    char *name = req->map ? hlb_mpview_str(req->map, "check") : NULL;
    hh_check_t *c = name ? hh_engine_check(h->eng, name) : NULL;
    if (!c) {
        hlb_buf_t b = {0};
        for (size_t i = 0; i < hh_engine_nservices(h->eng); i++) {
            hh_service_t *s = hh_engine_service_at(h->eng, i);
            for (size_t j = 0; j < s->nchecks; j++)
                hlb_buf_printf(&b, "%s%s", b.len ? ", " : "", s->checks[j]->spec.name);
        }
        hlb_reply_error(reply, name ? ENOENT : EINVAL, "%s%s%s; checks: %s",
                        name ? "no check '" : "give check=NAME", name ? name : "",
                        name ? "'" : "", b.data ? b.data : "none");
        hlb_buf_free(&b);
        free(name);
        return;
    }
    free(name);
    char *target = target_text(c);
    Hl__CheckDetail m = HL__CHECK_DETAIL__INIT;
    m.name = c->spec.name;
    m.service = c->svc->spec.name;
    m.kind = (char *)hh_kind_name(c->spec.kind);
    m.target = hlb_pb_str(target);
    m.state = c->state;
    char *why = hh_check_why(c);
    m.why = hlb_pb_str(why);
    m.state_since_us = c->state_since_us;
    m.critical = c->spec.critical;
    if (c->spec.kind != HH_KIND_UNIT) {
        m.interval_ms = (uint64_t)c->spec.interval_ms;
        m.timeout_ms = (uint64_t)c->spec.timeout_ms;
        m.retries = (uint32_t)c->spec.retries;
        m.failures = (uint32_t)c->spec.failures;
        m.successes = (uint32_t)c->spec.successes;
    }
    m.runs = c->runs;
    m.passes = c->passes;
    m.warns = c->warns;
    m.fails = c->fails;
    m.attempts = c->attempts_total;
    m.skipped = c->skipped;
    m.ignored_in_grace = c->ignored_in_grace;
    m.ok_streak = c->ok_streak;
    m.bad_streak = c->bad_streak;
    m.last_result = (char *)result_word(c);
    m.last_detail = hlb_pb_str(c->last_detail);
    m.last_output.data = (uint8_t *)c->last_out.data;
    m.last_output.len = c->last_out.len;
    m.last_output_dropped = c->last_out.dropped;
    m.last_run_us = c->last_run_us;
    m.last_duration_us = c->last_duration_us;
    m.last_attempts = (uint32_t)c->last_attempts;
    m.next_run_us = mono_to_wall(hh_check_next_due(c));
    m.late_max_us = c->late_max_us;
    m.service_state = c->svc->state;
    m.service_reason = hlb_pb_str(c->svc->reason);
    hlb_reply_msg(reply, &m.base);
    free(target);
    free(why);
}

static void m_run(hlb_request_t *req, hlb_reply_t *reply, void *arg)
{
    hh_daemon_t *h = arg;
    char *name = req->map ? hlb_mpview_str(req->map, "check") : NULL;
    int rc = name ? hh_engine_run_now(h->eng, name) : -EINVAL;
    if (rc == -ENOENT)
        hlb_reply_error(reply, ENOENT, "no check '%s'", name);
    else if (rc == -EINVAL)
        hlb_reply_error(reply, EINVAL, "give check=NAME of a probed (not unit) check");
    else if (rc == -EBUSY)
        hlb_reply_error(reply, EBUSY, "check '%s' is running", name);
    else {
        hlb_map_t *m = hlb_map_new();
        hlb_map_str(m, "started", name);
        hlb_reply_map(reply, m);
        hlb_map_destroy(&m);
    }
    free(name);
}

const hlb_method_t hh_methods[] = {
    {"health", m_health, 0, "services' health (args: service=NAME to pick one)"},
    {"why", m_why, 0, "one check's counters, last output and why (args: check=NAME)"},
    {"run", m_run, HLB_METHOD_ADMIN, "run a check now, off its schedule (args: check=NAME)"},
    {NULL, NULL, 0, NULL},
};
