#include "hl-metrics.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "busmetrics.h"
#include "startup_metrics.h"
#include "collect.h"
#include "expo.h"
#include "http.h"
#include "metrics.pb-c.h"
#include "process.h"
#include "snapshot.h"
#include "threshold.h"
#include "usage.h"
#include <hlbus/pbfield.h>

struct hlm_daemon {
    hlb_daemon_t *d;
    hlm_overrides_t ov;
    hlm_config_t cfg; /* applied */
    bool started;
    hlm_collect_t *col;
    hlm_expo_t *expo;
    hlm_latest_t *latest;
    hlm_http_t *http;
    hlm_busm_t *busm;
    hlm_startup_t *startup; /* lifecycle.* timing */
    hlb_sub_t *sub;
    hlb_acall_t *stats_call; /* hl-bus "stats" in flight */
    hlm_usage_t usage;
    hlm_threshold_t th[HLM_MAX_THRESHOLDS];
    size_t nth;
    int collect_timer, stats_timer;
    uint64_t collections, publish_failed;
    uint64_t stats_skipped; /* stats ticks that found the last call still out */
    double last_collect_s;
    size_t last_bytes, last_samples;
    char host[256];
};

static const char *const subscriptions[] = {"health.",         "service.",        "failure.",
                                            "recovery.",       "alert.",          "daemon.",
                                            "lifecycle.state", "lifecycle.phase", "logs.",
                                            "uplink.",         "backup.",         "git.",
                                            NULL};

hlm_daemon_t *hlm_daemon_new(const hlm_overrides_t *ov)
{
    hlm_daemon_t *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    if (ov)
        m->ov = *ov;
    m->collect_timer = m->stats_timer = -1;
    if (gethostname(m->host, sizeof m->host - 1) < 0)
        snprintf(m->host, sizeof m->host, "unknown");
    return m;
}

void hlm_daemon_destroy(hlm_daemon_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    hlm_daemon_t *m = *self_p;
    hlm_http_destroy(&m->http); /* first: joins the thread that reads the snapshot slot */
    hlm_latest_destroy(&m->latest);
    hlm_collect_destroy(&m->col);
    hlm_expo_destroy(&m->expo);
    hlm_busm_destroy(&m->busm);
    hlm_startup_destroy(&m->startup);
    for (size_t i = 0; i < m->nth; i++)
        hlm_threshold_fini(&m->th[i]);
    hlm_config_free(&m->cfg);
    free(m);
    *self_p = NULL;
}

static hlm_collect_t *make_collector(const hlm_config_t *c, char **err)
{
    hlm_collect_opts_t o = {
        .procfs = c->procfs,
        .sysfs = c->sysfs,
        .rootfs = c->rootfs,
        .mount_points_exclude = c->mount_points_exclude,
        .fs_types_exclude = c->fs_types_exclude,
        .disk_device_exclude = c->disk_device_exclude,
        .net_device_exclude = c->net_device_exclude,
        .cgroup_slices = c->slices[0] ? (const char *const *)c->slices : NULL,
        .textfile_dirs = (const char *const *)c->textfile_dirs,
        .disabled = c->disabled,
    };
    return hlm_collect_new(&o, err);
}

static hlm_http_t *make_http(hlm_daemon_t *m, const hlm_config_t *c, char **err)
{
    hlm_http_opts_t o = {.listen = c->listen, .path = c->metrics_path};
    return hlm_http_new(&o, m->latest, err);
}

/* ---- thresholds ---- */

static void publish_threshold(hlm_daemon_t *m, const hlm_threshold_t *t, hlm_th_action_t act,
                              uint64_t now_us)
{
    const hlm_threshold_cfg_t *c = &t->cfg;
    Hl__Threshold msg = HL__THRESHOLD__INIT;
    msg.name = (char *)c->name;
    msg.resource = (char *)hlm_resource_name(c->resource);
    msg.state = act == HLM_TH_FIRE ? HL__THRESHOLD_STATE__THRESHOLD_FIRING : HL__THRESHOLD_STATE__THRESHOLD_CLEARED;
    msg.value = t->value;
    msg.limit = c->above;
    msg.clear_below = c->clear_below;
    msg.unit = hlb_pb_str(c->resource == HLM_RES_LOAD ? "" : "percent");
    msg.window_ms = (uint64_t)(act == HLM_TH_FIRE ? c->for_ms : c->clear_for_ms);
    msg.since_us = t->window_us;
    msg.ts_us = now_us;
    msg.mountpoint = hlb_pb_str(c->mountpoint);
    msg.host = m->host;
    char topic[96];
    snprintf(topic, sizeof topic, "metrics.threshold.%s", c->name);
    int rc = hlb_pub_send(hlb_daemon_pub(m->d), topic, &msg.base);
    if (rc < 0) {
        m->publish_failed++;
        hlb_err("cannot publish %s: %s", topic, strerror(-rc));
    }
}

static void log_threshold(const hlm_threshold_t *t, hlm_th_action_t act)
{
    const hlm_threshold_cfg_t *c = &t->cfg;
    const char *what = c->resource == HLM_RES_DISK ? c->mountpoint : "";
    if (act == HLM_TH_FIRE)
        hlb_warn("threshold %s fired: %s%s%s %.2f > %.2f for %gs", c->name,
                 hlm_resource_name(c->resource), *what ? " " : "", what, t->value, c->above,
                 (double)c->for_ms / 1000);
    else
        hlb_info("threshold %s cleared: %s%s%s %.2f <= %.2f for %gs", c->name,
                 hlm_resource_name(c->resource), *what ? " " : "", what, t->value, c->clear_below,
                 (double)c->clear_for_ms / 1000);
}

static void evaluate_thresholds(hlm_daemon_t *m)
{
    uint64_t now_mono = hlb_mono_us(), now_us = hlb_now_us();
    for (size_t i = 0; i < m->nth; i++) {
        double v = 0;
        bool ok = hlm_usage_value(&m->usage, hlm_collect_rootfs(m->col), &m->th[i].cfg, &v);
        hlm_th_action_t act = hlm_threshold_feed(&m->th[i], ok, v, now_mono, now_us);
        if (act != HLM_TH_NONE) {
            log_threshold(&m->th[i], act);
            publish_threshold(m, &m->th[i], act, now_us);
        }
    }
}

/* ---- the collection cycle ---- */

static void render_self(hlm_daemon_t *m, hlm_expo_t *e)
{
    static const char *const th_help =
        "1 while the threshold is firing (over its limit for its window), else 0.";
    hlm_family(e, "hl_threshold_firing", HLM_GAUGE, th_help);
    for (size_t i = 0; i < m->nth; i++) {
        hlm_th_state_t s = m->th[i].state;
        hlm_sample(e, HLM_KV("name", m->th[i].cfg.name, "resource",
                             hlm_resource_name(m->th[i].cfg.resource)),
                   s == HLM_TH_FIRING || s == HLM_TH_RESOLVING);
    }
    hlm_family(e, "hl_threshold_limit", HLM_GAUGE,
               "The value above which the threshold fires (percent, or load for load).");
    for (size_t i = 0; i < m->nth; i++)
        hlm_sample(e, HLM_KV("name", m->th[i].cfg.name, "resource",
                             hlm_resource_name(m->th[i].cfg.resource)),
                   m->th[i].cfg.above);
    hlm_family(e, "hl_threshold_value", HLM_GAUGE,
               "The value the threshold last compared (percent, or load for load).");
    for (size_t i = 0; i < m->nth; i++)
        if (m->th[i].have_value)
            hlm_sample(e, HLM_KV("name", m->th[i].cfg.name, "resource",
                                 hlm_resource_name(m->th[i].cfg.resource)),
                       m->th[i].value);
    hlm_family(e, "hl_threshold_events_total", HLM_COUNTER,
               "Threshold events published, by threshold and state.");
    for (size_t i = 0; i < m->nth; i++) {
        hlm_sample(e, HLM_KV("name", m->th[i].cfg.name, "state", "cleared"),
                   (double)m->th[i].cleared);
        hlm_sample(e, HLM_KV("name", m->th[i].cfg.name, "state", "firing"),
                   (double)m->th[i].fired);
    }

    hlm_family(e, "hl_metrics_build_info", HLM_GAUGE, "hl-metrics' version.");
    hlm_sample(e, HLM_KV("version", HL_VERSION), 1);
    hlm_family(e, "hl_metrics_collections_total", HLM_COUNTER, "Collection cycles run.");
    hlm_sample0(e, (double)m->collections);
    hlm_family(e, "hl_metrics_collect_duration_seconds", HLM_GAUGE,
               "Wall time of the previous collection cycle (collect, evaluate, render).");
    hlm_sample0(e, m->last_collect_s);
    hlm_family(e, "hl_metrics_snapshot_bytes", HLM_GAUGE,
               "Size of the previous rendered exposition.");
    hlm_sample0(e, (double)m->last_bytes);
    if (m->http) {
        hlm_http_stats_t hs = hlm_http_stats(m->http);
        hlm_family(e, "hl_metrics_http_requests_total", HLM_COUNTER,
                   "HTTP requests served by hl-metrics, by status code.");
        hlm_sample(e, HLM_KV("code", "200"), (double)hs.scrapes);
        hlm_sample(e, HLM_KV("code", "404"), (double)hs.not_found);
        hlm_sample(e, HLM_KV("code", "405"), (double)hs.bad_method);
        hlm_sample(e, HLM_KV("code", "503"), (double)hs.unavailable);
        hlm_family(e, "hl_metrics_http_refused_connections_total", HLM_COUNTER,
                   "Connections closed at once because their local user already held "
                   "max_conns_per_user (8) connections to /metrics.");
        hlm_sample0(e, (double)hs.refused_user);
    }
    hlm_family(e, "hl_metrics_bus_series", HLM_GAUGE, "Series derived from bus events.");
    hlm_sample0(e, (double)hlm_busm_series(m->busm));
    hlm_family(e, "hl_metrics_bus_series_dropped_total", HLM_COUNTER,
               "New bus-derived series refused because bus.max_series was reached.");
    hlm_sample0(e, (double)hlm_busm_dropped(m->busm));
    hlm_family(e, "hl_metrics_bus_rejected_total", HLM_COUNTER,
               "Bus events hl-metrics refused: a body of the wrong type on a typed topic.");
    hlm_sample0(e, (double)hlm_busm_rejected(m->busm));
    if (m->sub) {
        hlb_sub_stats_t ss = hlb_sub_stats(m->sub);
        hlm_family(e, "hl_metrics_bus_gaps_total", HLM_COUNTER,
                   "Bus messages hl-metrics' subscriber missed (sequence gaps).");
        hlm_sample0(e, (double)ss.gaps);
        hlm_family(e, "hl_metrics_bus_malformed_total", HLM_COUNTER,
                   "Malformed bus messages hl-metrics' subscriber dropped.");
        hlm_sample0(e, (double)ss.malformed);
    }
    hlm_family(e, "hl_metrics_threshold_publish_failures_total", HLM_COUNTER,
               "Threshold events the bus publisher refused.");
    hlm_sample0(e, (double)m->publish_failed);
    hlm_family(e, "hl_metrics_bus_stats_skipped_total", HLM_COUNTER,
               "hl-bus stats polls skipped because the previous call had not ended.");
    hlm_sample0(e, (double)m->stats_skipped);
}

static void log_collector_errors(hlm_daemon_t *m)
{
    for (int i = 0; i < HLM_COL_COUNT; i++) {
        bool changed;
        const char *msg = hlm_collect_error(m->col, (hlm_col_id_t)i, &changed);
        if (!changed)
            continue;
        if (*msg)
            hlb_warn("collector %s: %s", hlm_collect_name((hlm_col_id_t)i), msg);
        else
            hlb_info("collector %s: working again", hlm_collect_name((hlm_col_id_t)i));
    }
}

static void collect(hlm_daemon_t *m)
{
    uint64_t t0 = hlb_mono_us();
    hlm_expo_reset(m->expo);
    hlm_expo_reserve(m->expo, m->last_bytes + m->last_bytes / 8);
    hlm_collect_run(m->col, m->expo);
    log_collector_errors(m);
    hlm_usage_update(&m->usage, hlm_collect_sysinfo(m->col));
    evaluate_thresholds(m);
    hlm_process_metrics(m->expo);
    m->collections++;
    render_self(m, m->expo);
    hlm_busm_render(m->busm, m->expo);
    hlm_startup_render(m->startup, m->expo);
    m->last_samples = hlm_expo_samples(m->expo);
    size_t len;
    char *text = hlm_expo_steal(m->expo, &len);
    m->last_bytes = len;
    hlm_snapshot_t *snap = hlm_snapshot_new(&text, len, hlb_now_us());
    if (snap)
        hlm_latest_publish(m->latest, &snap);
    m->last_collect_s = (double)(hlb_mono_us() - t0) / 1e6;
}

static int on_collect(zloop_t *loop, int timer_id, void *arg)
{
    collect(arg);
    return 0;
}

static void on_bus_stats(int rc, const Hl__Reply *r, void *arg)
{
    hlm_daemon_t *m = arg;
    m->stats_call = NULL; /* finished: freed after this returns */
    ProtobufCMessage *st = rc == 0 && r->status == 0 ? hlb_reply_decode(r, &hl__bus_stats__descriptor)
                                                     : NULL;
    hlm_busm_bus_stats(m->busm, (const Hl__BusStats *)st);
    if (st)
        protobuf_c_message_free_unpacked(st, NULL);
}

/* Asks hl-bus for its stats without waiting in the loop: a slow or hung
 * hl-bus costs a late sample, never a late event or ctl answer. One call at
 * a time; a tick that finds the last one still out skips. */
static void poll_bus_stats(hlm_daemon_t *m)
{
    if (m->stats_call) {
        m->stats_skipped++;
        return;
    }
    hlb_acall_opts_t o = {.timeout_ms = (int)m->cfg.stats_timeout_ms, .attempts = 1};
    m->stats_call = hlb_daemon_call(m->d, "hl-bus", "stats", NULL, NULL, 0, &o, on_bus_stats, m);
    if (!m->stats_call)
        hlm_busm_bus_stats(m->busm, NULL);
}

static int on_stats(zloop_t *loop, int timer_id, void *arg)
{
    poll_bus_stats(arg);
    return 0;
}

static void on_event(hlb_daemon_t *d, const hlb_event_t *ev, void *arg)
{
    hlm_daemon_t *m = arg;
    hlm_busm_event(m->busm, ev->topic, ev->env->source, ev->env->type, ev->msg, ev->env->body.data,
                   ev->env->body.len, ev->replay);
    if (!strncmp(ev->topic, "lifecycle.", 10))
        hlm_startup_event(m->startup, ev->topic, ev->msg);
}

static void set_timers(hlm_daemon_t *m)
{
    zloop_t *loop = hlb_daemon_loop(m->d);
    if (m->collect_timer >= 0)
        zloop_timer_end(loop, m->collect_timer);
    if (m->stats_timer >= 0)
        zloop_timer_end(loop, m->stats_timer);
    m->collect_timer = zloop_timer(loop, (size_t)m->cfg.interval_ms, 0, on_collect, m);
    m->stats_timer = m->cfg.stats_interval_ms > 0
                         ? zloop_timer(loop, (size_t)m->cfg.stats_interval_ms, 0, on_stats, m)
                         : -1;
}

static void announce(hlm_daemon_t *m)
{
    hlb_daemon_status(m->d, "serving %s (port %u) %s every %gs; %zu thresholds", m->cfg.listen,
                      (unsigned)hlm_http_port(m->http), m->cfg.metrics_path,
                      (double)m->cfg.interval_ms / 1000, m->nth);
    hlb_info("serving http://%s%s (bound port %u), collecting every %lldms", m->cfg.listen,
             m->cfg.metrics_path, (unsigned)hlm_http_port(m->http),
             (long long)m->cfg.interval_ms);
}

/* ---- config ---- */

/* Moves the thresholds of C in. A threshold configured exactly as before
 * keeps its state (a reload neither re-fires nor forgets a firing one). One
 * that was firing and is removed or changed publishes CLEARED: it starts
 * over under its new settings, and fires again if it still should. */
static void install_thresholds(hlm_daemon_t *m, const hlm_config_t *c)
{
    hlm_threshold_t next[HLM_MAX_THRESHOLDS];
    bool kept[HLM_MAX_THRESHOLDS] = {0};
    for (size_t i = 0; i < c->nth; i++) {
        size_t j = 0;
        while (j < m->nth && (kept[j] || !hlm_threshold_cfg_equal(&m->th[j].cfg, &c->th[i])))
            j++;
        if (j < m->nth) {
            next[i] = m->th[j];
            kept[j] = true;
        } else if (hlm_threshold_init(&next[i], &c->th[i]) < 0) {
            abort(); /* out of memory */
        }
    }
    for (size_t j = 0; j < m->nth; j++) {
        if (kept[j])
            continue;
        hlm_threshold_t *t = &m->th[j];
        if (m->started && (t->state == HLM_TH_FIRING || t->state == HLM_TH_RESOLVING)) {
            uint64_t now = hlb_now_us();
            t->window_us = now;
            t->cleared++;
            hlb_info("threshold %s reconfigured while firing: cleared", t->cfg.name);
            publish_threshold(m, t, HLM_TH_CLEAR, now);
        }
        hlm_threshold_fini(t);
    }
    memcpy(m->th, next, c->nth * sizeof *next);
    m->nth = c->nth;
}

static int apply_live(hlm_daemon_t *m, hlm_config_t *c, hlb_diag_t *diag)
{
    char *err = NULL;
    hlm_collect_t *col = make_collector(c, &err);
    if (!col) {
        hlb_diag_add(diag, NULL, "%s", err ? err : "cannot set up the collectors");
        free(err);
        return -EINVAL;
    }
    bool listen_changed = strcmp(c->listen, m->cfg.listen) != 0;
    if (listen_changed || strcmp(c->metrics_path, m->cfg.metrics_path) != 0) {
        /* Same address: the old server must let go of the port first. */
        if (!listen_changed)
            hlm_http_destroy(&m->http);
        hlm_http_t *h = make_http(m, c, &err);
        if (!h) {
            hlb_diag_add(diag, NULL, "%s", err ? err : "cannot start the HTTP server");
            free(err);
            hlm_collect_destroy(&col);
            if (!m->http && !(m->http = make_http(m, &m->cfg, &err))) {
                hlb_err("cannot restore the HTTP server: %s", err ? err : "?");
                free(err);
            }
            return -EINVAL;
        }
        hlm_http_destroy(&m->http);
        m->http = h;
    }
    hlm_collect_destroy(&m->col);
    m->col = col;
    install_thresholds(m, c);
    hlm_busm_set_max(m->busm, (size_t)c->max_series);
    bool timers = c->interval_ms != m->cfg.interval_ms ||
                  c->stats_interval_ms != m->cfg.stats_interval_ms;
    hlm_config_free(&m->cfg);
    m->cfg = *c;
    memset(c, 0, sizeof *c);
    if (timers)
        set_timers(m);
    announce(m);
    return 0;
}

int hlm_daemon_configure(hlb_daemon_t *d, const hlb_conf_t *conf, const hlb_conf_t *section,
                         bool check_only, hlb_diag_t *diag, void *arg)
{
    hlm_daemon_t *m = arg;
    m->d = d;
    hlm_config_t c;
    int rc = hlm_config_parse(section, &m->ov, &c, diag);
    if (rc < 0 || check_only) {
        hlm_config_free(&c);
        return rc;
    }
    if (m->started) {
        rc = apply_live(m, &c, diag);
        hlm_config_free(&c);
        return rc;
    }
    hlm_config_free(&m->cfg);
    m->cfg = c;
    return 0;
}

int hlm_daemon_start(hlb_daemon_t *d, void *arg)
{
    hlm_daemon_t *m = arg;
    m->d = d;
    char *err = NULL;
    m->latest = hlm_latest_new();
    m->expo = hlm_expo_new();
    m->busm = hlm_busm_new((size_t)m->cfg.max_series);
    m->startup = hlm_startup_new();
    m->col = make_collector(&m->cfg, &err);
    if (!m->latest || !m->expo || !m->busm || !m->startup || !m->col) {
        hlb_err("cannot set up: %s", err ? err : strerror(ENOMEM));
        free(err);
        return -1;
    }
    install_thresholds(m, &m->cfg);
    m->sub = hlb_daemon_subscribe(d, subscriptions, on_event, m);
    if (!m->sub) {
        hlb_err("cannot subscribe to the bus under %s", hlb_daemon_runtime_dir(d));
        return -1;
    }
    if (m->cfg.stats_interval_ms > 0)
        poll_bus_stats(m);
    /* The first snapshot exists before the first request can arrive. */
    collect(m);
    m->http = make_http(m, &m->cfg, &err);
    if (!m->http) {
        hlb_err("%s", err ? err : "cannot start the HTTP server");
        free(err);
        return -1;
    }
    set_timers(m);
    m->started = true;
    announce(m);
    return 0;
}

void hlm_daemon_stop(hlb_daemon_t *d, void *arg)
{
    hlm_daemon_t *m = arg;
    hlm_http_destroy(&m->http);
    hlb_acall_cancel(&m->stats_call);
    m->started = false;
}

/* ---- ctl methods ---- */

static void m_thresholds(hlb_request_t *req, hlb_reply_t *reply, void *arg)
{
    hlm_daemon_t *m = arg;
    hlb_map_t *out = hlb_map_new();
    for (size_t i = 0; i < m->nth; i++) {
        const hlm_threshold_t *t = &m->th[i];
        hlb_map_t *one = hlb_map_new();
        hlb_map_str(one, "resource", hlm_resource_name(t->cfg.resource));
        if (t->cfg.mountpoint)
            hlb_map_str(one, "mountpoint", t->cfg.mountpoint);
        hlb_map_str(one, "state", hlm_th_state_name(t->state));
        if (t->have_value)
            hlb_map_double(one, "value", t->value);
        hlb_map_double(one, "above", t->cfg.above);
        hlb_map_double(one, "clear_below", t->cfg.clear_below);
        hlb_map_int(one, "for_ms", t->cfg.for_ms);
        hlb_map_int(one, "clear_for_ms", t->cfg.clear_for_ms);
        hlb_map_uint(one, "fired", t->fired);
        hlb_map_uint(one, "cleared", t->cleared);
        hlb_map_map(out, t->cfg.name, &one);
    }
    hlb_reply_map(reply, out);
    hlb_map_destroy(&out);
}

static void m_info(hlb_request_t *req, hlb_reply_t *reply, void *arg)
{
    hlm_daemon_t *m = arg;
    hlb_map_t *out = hlb_map_new();
    hlb_map_str(out, "listen", m->cfg.listen);
    hlb_map_uint(out, "port", m->http ? hlm_http_port(m->http) : 0);
    hlb_map_str(out, "metrics_path", m->cfg.metrics_path);
    hlb_map_int(out, "interval_ms", m->cfg.interval_ms);
    hlb_map_uint(out, "collections", m->collections);
    hlb_map_uint(out, "samples", m->last_samples);
    hlb_map_uint(out, "bytes", m->last_bytes);
    hlb_map_double(out, "collect_seconds", m->last_collect_s);
    hlb_map_uint(out, "bus_series", hlm_busm_series(m->busm));
    hlb_reply_map(reply, out);
    hlb_map_destroy(&out);
}

static void m_collect(hlb_request_t *req, hlb_reply_t *reply, void *arg)
{
    hlm_daemon_t *m = arg;
    collect(m);
    hlb_map_t *out = hlb_map_new();
    hlb_map_uint(out, "collections", m->collections);
    hlb_reply_map(reply, out);
    hlb_map_destroy(&out);
}

const hlb_method_t hlm_daemon_methods[] = {
    {"info", m_info, 0, "listen address, bound port, collection figures"},
    {"thresholds", m_thresholds, 0, "each threshold's state, value and limits"},
    {"collect", m_collect, HLB_METHOD_ADMIN, "run a collection cycle now"},
    {NULL, NULL, 0, NULL},
};
