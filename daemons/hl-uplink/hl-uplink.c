/* hl-uplink on the bus: see hl-uplink.h. */
#include "hl-uplink.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "failure.pb-c.h"
#include "health.pb-c.h"
#include "hlbus.pb-c.h"
#include "metrics.pb-c.h"
#include "orchestrator.pb-c.h"
#include "uplink.pb-c.h"
#include <hlbus/json.h>
#include <hlbus/pbenum.h>
#include <hlbus/str.h>
#include <hlbus/strv.h>
#include <hlbus/tlscurl.h>

#include "ul_alertrecv.h"
#include "ul_netlink.h"

#define STATUS_TOPIC "uplink.status"
/* Without a token nothing is sent: the VM is not set up to report, which is
 * not a network failure (state unknown, which hl-failure does not act on). */
#define UL_NO_TOKEN "not configured: no API token (token_file or token_credential)"

static ul_daemon_t *the; /* for the methods, whose arg is the daemon too */

/* ---- uplink.status ---- */

static void fill_status(ul_daemon_t *u, Hl__UplinkStatus *m, ul_client_state_t *st)
{
    hl__uplink_status__init(m);
    ul_outbox_stats_t ob = {0};
    if (u->outbox)
        ul_outbox_stats(u->outbox, &ob);
    memset(st, 0, sizeof *st);
    if (u->client)
        ul_client_state(u->client, st);
    m->state = !u->client || !u->cfg.token ? HL__UPLINK_STATE__UPLINK_UNKNOWN
               : st->online && st->registered ? HL__UPLINK_STATE__UPLINK_ONLINE
               : st->requests || *st->last_error ? HL__UPLINK_STATE__UPLINK_OFFLINE
                                                 : HL__UPLINK_STATE__UPLINK_UNKNOWN;
    m->last_error = (char *)(!u->cfg.token ? UL_NO_TOKEN : st->last_error ? st->last_error : "");
    m->since_us = u->since_us;
    m->ts_us = hlb_now_us();
    m->registered = st->registered;
    m->last_heartbeat_us = st->last_heartbeat_us;
    m->outbox_depth = ob.depth;
    m->outbox_bytes = ob.bytes;
    m->outbox_dropped = ob.dropped;
    m->outbox_write_errors = ob.write_errors;
    m->instance_id = (char *)(st->instance_id ? st->instance_id : "");
    m->identity_source = (char *)(st->identity_source ? st->identity_source : "");
    m->region = (char *)(st->region ? st->region : "");
    m->endpoint = (char *)ul_config_endpoint(&u->cfg);
    m->clock_offset_ms = st->clock_offset_ms;
    uint64_t now = hlb_mono_ms();
    m->next_attempt_in_ms = st->next_attempt_ms > now ? st->next_attempt_ms - now : 0;
    m->backoff_window_ms = st->backoff_window_ms;
    m->requests = st->requests;
    m->failures = st->failures;
    m->events_sent = st->events_sent;
    m->events_rejected = st->events_rejected;
    m->auth_rereads = st->auth_rereads;
    m->heartbeats = st->heartbeats;
}

static void publish_status(ul_daemon_t *u, bool force)
{
    Hl__UplinkStatus m;
    ul_client_state_t st;
    fill_status(u, &m, &st);
    bool err_changed = strcmp(u->last_error ? u->last_error : "", m.last_error) != 0;
    bool changed = (int)m.state != u->last_state || m.registered != u->last_registered ||
                   m.last_heartbeat_us != u->last_hb || m.outbox_depth != u->last_depth ||
                   m.outbox_dropped != u->last_dropped || err_changed;
    if (!changed && !force)
        return;
    if ((int)m.state != u->last_state) {
        u->since_us = hlb_now_us();
        m.since_us = u->since_us;
    }
    u->last_state = (int)m.state;
    u->last_registered = m.registered;
    u->last_hb = m.last_heartbeat_us;
    u->last_depth = m.outbox_depth;
    u->last_dropped = m.outbox_dropped;
    free(u->last_error);
    u->last_error = strdup(m.last_error);
    (void)hlb_pub_send(hlb_daemon_pub(u->d), STATUS_TOPIC, &m.base);
    hlb_daemon_status(u->d, "%s%s%s; outbox %llu", hlb_pb_enum_word(&hl__uplink_state__descriptor,
                                                               m.state),
                      *m.last_error ? ": " : "", m.last_error,
                      (unsigned long long)m.outbox_depth);
}

static void shutdown_ack(ul_daemon_t *u, bool timed_out)
{
    if (!u->shutdown_pending)
        return;
    u->shutdown_pending = false;
    hlb_timer_stop(hlb_daemon_reactor(u->d), &u->shutdown_timer);
    size_t left = u->outbox ? ul_outbox_depth(u->outbox) : 0;
    char *detail = left ? hlb_strdupf("%zu events kept on disk for the next start%s", left,
                                      timed_out ? " (the API did not take them in time)" : "")
                        : strdup("outbox delivered");
    hlb_info("pre-shutdown: %s", detail ? detail : "done");
    hlb_daemon_shutdown_ack(u->d, true, detail);
    free(detail);
}

static void on_client_changed(void *arg)
{
    ul_daemon_t *u = arg;
    publish_status(u, false);
    if (u->shutdown_pending && u->outbox && ul_outbox_depth(u->outbox) == 0)
        shutdown_ack(u, false);
}

static void on_shutdown_deadline(hlb_reactor_t *io, hlb_timer_t *t, void *arg)
{
    (void)io;
    (void)t;
    shutdown_ack(arg, true);
}

void ul_daemon_prepare_shutdown(hlb_daemon_t *d, uint64_t deadline_us, void *arg)
{
    ul_daemon_t *u = arg;
    if (u->outbox)
        (void)ul_outbox_sync(u->outbox);
    u->shutdown_pending = true;
    if (!u->client || !u->cfg.token || !u->outbox || ul_outbox_depth(u->outbox) == 0) {
        shutdown_ack(u, false);
        return;
    }
    /* one attempt now; the ack comes when the outbox is empty, or a little
     * before the deadline (what is left stays on disk) */
    uint64_t now = hlb_now_us();
    int64_t ms = deadline_us > now ? (int64_t)((deadline_us - now) / 1000) : 0;
    ms = ms > 500 ? ms - 250 : ms / 2;
    hlb_timer_init(&u->shutdown_timer, on_shutdown_deadline, u);
    hlb_timer_after_ms(hlb_daemon_reactor(d), &u->shutdown_timer, ms);
    ul_client_flush(u->client);
}

static int on_status_timer(zloop_t *loop, int id, void *arg)
{
    (void)loop;
    (void)id;
    publish_status(arg, true); /* the next-attempt countdown and counters move */
    return 0;
}

/* ---- the token ---- */

/* The token again from where the config said (after a 401): the same
 * reader as the config's secret rows, so the same checks (one line, not
 * world-readable). Never logged. */
static int reread_token(ul_daemon_t *u, char **out)
{
    const char *key = u->cfg.token_file ? "token_file" : "token_credential";
    const char *val = u->cfg.token_file ? u->cfg.token_file : u->cfg.token_credential;
    if (!val)
        return -ENOENT;
    hlb_buf_t b = {0};
    hlb_buf_printf(&b, "%s: ", key);
    hlb_json_str(&b, val, strlen(val)); /* a JSON string is a YAML scalar */
    hlb_buf_puts(&b, "\n");
    hlb_diag_t diag = {0};
    hlb_conf_t *node = hlb_conf_parse("<token>", b.data, &diag);
    hlb_buf_free(&b);
    int rc = node ? hlb_conf_secret_read(node, "token", out, &diag) : -EINVAL;
    if (rc < 0 || !*out)
        hlb_warn("token re-read: %s", diag.text ? diag.text : "failed");
    hlb_diag_free(&diag);
    hlb_conf_destroy(&node);
    return rc < 0 ? rc : *out ? 0 : -ENOENT;
}

static int token_hook(char **out, bool reread, void *arg)
{
    ul_daemon_t *u = arg;
    *out = NULL;
    if (reread) {
        char *t = NULL;
        if (reread_token(u, &t) == 0) {
            if (u->cfg.token)
                explicit_bzero(u->cfg.token, strlen(u->cfg.token));
            free(u->cfg.token);
            u->cfg.token = t;
        }
    }
    if (!u->cfg.token)
        return -ENOENT;
    *out = strdup(u->cfg.token);
    return *out ? 0 : -ENOMEM;
}

static char *status_hook(void *arg)
{
    ul_daemon_t *u = arg;
    char *s = ul_summary_json(&u->sum);
    if (!s || !u->outbox)
        return s;
    /* the outbox's figures inside the same object */
    ul_outbox_stats_t ob;
    ul_outbox_stats(u->outbox, &ob);
    size_t n = strlen(s);
    char *r = hlb_strdupf("%.*s,\"outbox\":{\"depth\":%zu,\"bytes\":%zu,\"dropped\":%llu}}",
                          (int)(n - 1), s, ob.depth, ob.bytes, (unsigned long long)ob.dropped);
    free(s);
    return r;
}

/* ---- the bus ---- */

static bool forwarded(const ul_daemon_t *u, const char *topic)
{
    for (char **p = u->cfg.forward; p && *p; p++)
        if (hlb_has_prefix(topic, *p))
            return true;
    return false;
}

/* An event upstream: the bus message as JSON, its id unique per publisher
 * incarnation and topic (source, epoch, topic, seq), so a redelivery carries
 * the same id. The topic is part of it because a publisher numbers each topic
 * on its own (seqtrack.h): hl-failure's first recovery.X and first alert.X
 * are both seq 1, and without the topic the API dropped the alert as a
 * duplicate of the recovery step. */
static void forward(ul_daemon_t *u, const hlb_event_t *ev)
{
    const Hl__Envelope *e = ev->env;
    hlb_buf_t body = {0};
    hlb_json_body(&body, e->type, e->body.data, e->body.len);
    char *id = hlb_strdupf("%s:%llu:%s:%llu", e->source, (unsigned long long)e->epoch,
                           ev->topic, (unsigned long long)e->seq);
    char *type = strndup(ev->topic, strcspn(ev->topic, "."));
    /* its time in server time: as long ago as it was by our clock */
    uint64_t local_now = hlb_now_us(), srv_now = ul_client_now_us(u->client);
    uint64_t age = local_now > e->ts_us ? local_now - e->ts_us : 0;
    ul_event_t ue = {.id = id,
                     .source = e->source,
                     .epoch = e->epoch,
                     .seq = e->seq,
                     .type = type,
                     .topic = ev->topic,
                     .ts_us = srv_now > age ? srv_now - age : srv_now,
                     .body = body.data ? body.data : "{}"};
    if (id && type && ul_client_push(u->client, &ue) == 0)
        u->forwarded++;
    else
        u->forward_errors++;
    free(id);
    free(type);
    hlb_buf_free(&body);
}

static void on_event(hlb_daemon_t *d, const hlb_event_t *ev, void *arg)
{
    (void)d;
    ul_daemon_t *u = arg;
    const char *t = ev->topic, *name;
    if (!hlb_event_from_owner(ev))
        return;
    if ((name = hlb_topic_suffix(t, "health."))) {
        const Hl__ServiceHealth *m = hlb_event_as(ev, &hl__service_health__descriptor);
        if (m)
            ul_dict_set(&u->sum.services, *m->service ? m->service : name,
                        hlb_pb_enum_word(&hl__health_state__descriptor, m->state));
    } else if (strcmp(t, "lifecycle.state") == 0) {
        const Hl__LifecycleState *m = hlb_event_as(ev, &hl__lifecycle_state__descriptor);
        if (m)
            ul_summary_lifecycle(&u->sum, hlb_pb_enum_word(&hl__lifecycle__descriptor, m->state));
    } else if ((name = hlb_topic_suffix(t, "metrics.threshold."))) {
        const Hl__Threshold *m = hlb_event_as(ev, &hl__threshold__descriptor);
        if (m)
            ul_dict_set(&u->sum.thresholds, name,
                        hlb_pb_enum_word(&hl__threshold_state__descriptor, m->state));
    } else if ((name = hlb_topic_suffix(t, "alert."))) {
        const Hl__Alert *m = hlb_event_as(ev, &hl__alert__descriptor);
        if (m)
            ul_dict_set(&u->sum.alerts, name, m->active ? m->reason : NULL);
    } else if ((name = hlb_topic_suffix(t, "failure."))) {
        const Hl__Failure *m = hlb_event_as(ev, &hl__failure__descriptor);
        if (m)
            ul_summary_incident(&u->sum, m->incident, 1);
    } else if ((name = hlb_topic_suffix(t, "recovery."))) {
        if (strcmp(ev->env->type, "hl.RecoveryStep") == 0) {
            const Hl__RecoveryStep *m = hlb_event_as(ev, &hl__recovery_step__descriptor);
            if (m && (strcmp(m->step, "recovered") == 0 || strcmp(m->step, "config-cleared") == 0))
                ul_summary_incident(&u->sum, m->incident, 0);
        }
    } else if ((name = hlb_topic_suffix(t, "daemon."))) {
        const Hl__DaemonStatus *m = hlb_event_as(ev, &hl__daemon_status__descriptor);
        if (m && *m->version)
            ul_dict_set(&u->sum.versions, name, m->version);
    }
    /* what happened goes upstream; a replayed state is old news, not an event */
    if (!ev->replay && forwarded(u, t) && u->client)
        forward(u, ev);
}

/* ---- events from Alertmanager (ul_alertrecv.h) ---- */

static void on_alert(const ul_event_t *ev, void *arg)
{
    ul_daemon_t *u = arg;
    ul_event_t e = *ev;
    e.ts_us = ul_client_now_us(u->client);
    if (ul_client_push(u->client, &e) == 0)
        u->forwarded++;
    else
        u->forward_errors++;
}

static void on_link(void *arg)
{
    ul_daemon_t *u = arg;
    hlb_debug("link or route changed: retrying soon if in back-off");
    ul_client_link_change(u->client);
}

/* ---- configure, start, stop ---- */

static void client_conf(const ul_config_t *cfg, hlb_tlspolicy_t *tls, ul_client_conf_t *c)
{
    memset(c, 0, sizeof *c);
    c->endpoint = ul_config_endpoint(cfg);
    c->agent_version = HL_UPLINK_VERSION;
    c->sched = (ul_sched_conf_t){
        .policy = UL_POLICY_JITTER,
        .backoff_base_ms = (uint64_t)cfg->backoff_base_ms,
        .backoff_cap_ms = (uint64_t)cfg->backoff_cap_ms,
        .heartbeat_ms = (uint64_t)cfg->heartbeat_interval_ms,
        .heartbeat_jitter_pct = (unsigned)cfg->heartbeat_jitter_pct,
        .link_retry_ms = (uint64_t)cfg->link_retry_ms,
        .events_linger_ms = (uint64_t)cfg->batch_linger_ms,
    };
    c->request_timeout_ms = cfg->request_timeout_ms;
    c->connect_timeout_ms = cfg->connect_timeout_ms;
    c->max_response = cfg->max_response;
    c->tls.ca_file = *cfg->ca_file ? cfg->ca_file : NULL;
    c->tls.verify = cfg->tls_verify;
    c->tls.policy = tls;
    c->identity_sources = (const char *const *)cfg->identity_sources;
    c->instance_id = cfg->instance_id;
    c->cloud_init_path = cfg->cloud_init_path;
    c->machine_id_path = cfg->machine_id_path;
    c->imds_url = cfg->imds_url;
    c->imds_timeout_ms = cfg->imds_timeout_ms;
    c->identity_retry_ms = cfg->identity_retry_ms;
    c->batch_max = (size_t)cfg->batch_max;
    c->batch_bytes = cfg->batch_bytes;
}

int ul_daemon_configure(hlb_daemon_t *d, const hlb_conf_t *conf, const hlb_conf_t *section,
                        bool check_only, hlb_diag_t *diag, void *arg)
{
    (void)conf;
    ul_daemon_t *u = arg;
    ul_config_t cfg;
    if (ul_config_parse(section, &cfg, diag) < 0) {
        ul_config_free(&cfg);
        return -EINVAL;
    }
    /* the TLS policy is part of the config: --check-config and a reload
     * refuse a bad one like a bad key */
    hlb_tlspolicy_t *tls = hlb_tlspolicy_load(NULL, diag);
    if (!tls || hlb_tlspolicy_curl_check(tls, diag) < 0) {
        hlb_tlspolicy_destroy(&tls);
        ul_config_free(&cfg);
        return -EINVAL;
    }
    if (check_only) {
        hlb_tlspolicy_destroy(&tls);
        ul_config_free(&cfg);
        return 0;
    }
    if (hlb_tlspolicy_warning(tls))
        hlb_warn("%s", hlb_tlspolicy_warning(tls));
    if (!u->tls || !hlb_tlspolicy_equal(u->tls, tls)) {
        char *what = hlb_tlspolicy_describe(tls);
        hlb_info("TLS policy: %s", what ? what : "?");
        free(what);
    }
    /* the running client keeps its own reference until it is replaced */
    hlb_tlspolicy_destroy(&u->tls);
    u->tls = tls;
    if (u->have_cfg) {
        char **restart = NULL;
        if (strcmp(u->cfg.outbox_dir, cfg.outbox_dir) != 0)
            hlb_daemon_restart_needed(d, "hl-uplink.outbox_dir");
        if (u->cfg.outbox_max != cfg.outbox_max)
            hlb_daemon_restart_needed(d, "hl-uplink.outbox_max");
        if (strcmp(u->cfg.alert_listen, cfg.alert_listen) != 0)
            hlb_daemon_restart_needed(d, "hl-uplink.alert_listen");
        hlb_strv_free(restart);
        /* the running outbox and receiver keep their settings */
        free(cfg.outbox_dir);
        cfg.outbox_dir = strdup(u->cfg.outbox_dir);
        cfg.outbox_max = u->cfg.outbox_max;
        free(cfg.alert_listen);
        cfg.alert_listen = strdup(u->cfg.alert_listen);
        ul_config_free(&u->cfg);
    }
    u->cfg = cfg;
    u->have_cfg = true;
    if (u->client) {
        /* a reload: a new engine with the new settings; the outbox stays */
        ul_client_destroy(&u->client);
        ul_client_conf_t cc;
        client_conf(&u->cfg, u->tls, &cc);
        ul_client_hooks_t hooks = {status_hook, token_hook, on_client_changed, u};
        u->client = ul_client_new(hlb_daemon_reactor(d), &cc, u->outbox, &hooks);
        if (!u->client)
            return -ENOMEM;
        if (u->cfg.token)
            ul_client_start(u->client);
        publish_status(u, true);
    }
    return 0;
}

int ul_daemon_start(hlb_daemon_t *d, void *arg)
{
    ul_daemon_t *u = arg;
    u->d = d;
    the = u;
    u->last_state = -1;
    if (!u->have_cfg) {
        if (ul_config_parse(NULL, &u->cfg, NULL) < 0)
            return -EINVAL;
        u->have_cfg = true;
    }
    if (!u->tls)
        u->tls = hlb_tlspolicy_default();
    if (!u->cfg.tls_verify)
        hlb_warn("tls_verify is off: the API's certificate is not checked");
    if (!u->cfg.token)
        hlb_warn("%s: nothing is sent; events wait in the outbox", UL_NO_TOKEN);
    char *err = NULL;
    u->outbox = ul_outbox_open(u->cfg.outbox_dir, u->cfg.outbox_max, &err);
    if (!u->outbox) {
        hlb_err("outbox: %s", err ? err : "cannot open");
        free(err);
        return -EIO;
    }
    ul_outbox_stats_t ob;
    ul_outbox_stats(u->outbox, &ob);
    if (ob.loaded || ob.torn)
        hlb_info("outbox: %zu events waiting from before%s", ob.depth,
                 ob.torn ? " (a torn last record was cut off)" : "");
    ul_client_conf_t cc;
    client_conf(&u->cfg, u->tls, &cc);
    ul_client_hooks_t hooks = {status_hook, token_hook, on_client_changed, u};
    u->client = ul_client_new(hlb_daemon_reactor(d), &cc, u->outbox, &hooks);
    if (!u->client)
        return -ENOMEM;
    u->netlink = ul_netlink_new(hlb_daemon_reactor(d), on_link, u);
    if (!u->netlink)
        hlb_warn("netlink: %s: link changes do not cut a back-off short", strerror(errno));
    if (*u->cfg.alert_listen) {
        u->alerts = ul_alertrecv_new(hlb_daemon_reactor(d), u->cfg.alert_listen, on_alert, u,
                                     &err);
        if (!u->alerts) {
            hlb_err("alert_listen %s: %s", u->cfg.alert_listen, err ? err : "cannot listen");
            free(err);
            return -EIO;
        }
    }
    /* the summary's sources, and what goes upstream */
    const char *base[] = {"health.", "lifecycle.state", "metrics.threshold.", "alert.",
                          "failure.", "recovery.", "daemon.", NULL};
    char **prefixes = hlb_strv_dup((char **)base);
    for (char **p = u->cfg.forward; p && *p; p++) {
        bool covered = false;
        for (char **q = prefixes; q && *q && !covered; q++)
            covered = hlb_has_prefix(*p, *q);
        if (!covered)
            hlb_strv_push(&prefixes, *p);
    }
    u->sub = hlb_daemon_subscribe(d, (const char *const *)prefixes, on_event, u);
    hlb_strv_free(prefixes);
    if (!u->sub)
        return -EIO;
    u->status_timer = zloop_timer(hlb_daemon_loop(d), (size_t)u->cfg.status_interval_ms, 0,
                                  on_status_timer, u);
    if (u->cfg.token)
        ul_client_start(u->client);
    publish_status(u, true);
    return 0;
}

void ul_daemon_stop(hlb_daemon_t *d, void *arg)
{
    ul_daemon_t *u = arg;
    if (u->shutdown_pending)
        shutdown_ack(u, true);
    if (u->status_timer > 0)
        zloop_timer_end(hlb_daemon_loop(d), u->status_timer);
    u->status_timer = 0;
    ul_alertrecv_destroy(&u->alerts);
    ul_netlink_destroy(&u->netlink);
    ul_client_destroy(&u->client);
    if (u->outbox)
        (void)ul_outbox_sync(u->outbox); /* every append is already fdatasync'd */
    ul_outbox_close(&u->outbox);
    ul_summary_free(&u->sum);
    free(u->last_error);
    u->last_error = NULL;
    if (u->have_cfg)
        ul_config_free(&u->cfg);
    u->have_cfg = false;
    hlb_tlspolicy_destroy(&u->tls);
}

/* ---- methods ---- */

static void m_status(hlb_request_t *req, hlb_reply_t *reply, void *arg)
{
    (void)req;
    ul_daemon_t *u = arg ? arg : the;
    Hl__UplinkStatus m;
    ul_client_state_t st;
    fill_status(u, &m, &st);
    hlb_reply_msg(reply, &m.base);
}

static void m_flush(hlb_request_t *req, hlb_reply_t *reply, void *arg)
{
    (void)req;
    ul_daemon_t *u = arg ? arg : the;
    if (!u->client) {
        hlb_reply_error(reply, EAGAIN, "not started");
        return;
    }
    (void)ul_outbox_sync(u->outbox);
    ul_client_flush(u->client);
    Hl__UplinkStatus m;
    ul_client_state_t st;
    fill_status(u, &m, &st);
    hlb_reply_msg(reply, &m.base);
}

const hlb_method_t ul_methods[] = {
    {"uplink-status", m_status, 0, "the connection to the HL API (hl.UplinkStatus)"},
    {"flush", m_flush, HLB_METHOD_ADMIN,
     "deliver the outbox now and end a back-off (the outbox is synced to disk first)"},
    {NULL, NULL, 0, NULL}};
