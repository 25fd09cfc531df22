#include "busmetrics.h"
#include <czmq.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "buf.h"
#include <hlbus/topics.h>
#include "backup.pb-c.h"
#include "failure.pb-c.h"
#include "health.pb-c.h"
#include "logs.pb-c.h"
#include "orchestrator.pb-c.h"
#include "gitsync.pb-c.h"
#include "uplink.pb-c.h"
#include <hlbus/str.h>

typedef struct {
    size_t n;   /* label pairs */
    char **kv;  /* 2n strings */
    double v;
} series_t;

typedef struct {
    char *name, *help;
    hlm_mtype_t type;
    zhashx_t *series; /* label key -> series_t */
} family_t;

struct hlm_busm {
    zhashx_t *fams; /* name -> family_t */
    size_t nseries, max;
    uint64_t dropped, rejected, conflicts;
};

#define MAX_VALUE_LEN 256

/* ---- the series store ---- */

static void series_free(void **p)
{
    series_t *s = *p;
    if (!s)
        return;
    for (size_t i = 0; i < 2 * s->n; i++)
        free(s->kv[i]);
    free(s->kv);
    free(s);
    *p = NULL;
}

static void family_free(void **p)
{
    family_t *f = *p;
    if (!f)
        return;
    zhashx_destroy(&f->series);
    free(f->name);
    free(f->help);
    free(f);
    *p = NULL;
}

hlm_busm_t *hlm_busm_new(size_t max_series)
{
    hlm_busm_t *b = calloc(1, sizeof *b);
    if (!b)
        return NULL;
    b->fams = zhashx_new();
    if (!b->fams) {
        free(b);
        return NULL;
    }
    zhashx_set_destructor(b->fams, family_free);
    b->max = max_series ? max_series : 10000;
    return b;
}

void hlm_busm_destroy(hlm_busm_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    zhashx_destroy(&(*self_p)->fams);
    free(*self_p);
    *self_p = NULL;
}

/* Length-prefixed, so that no label value can make two label sets collide. */
static void series_key(hlm_buf_t *k, const char *const *kv, size_t n)
{
    hlm_buf_reset(k);
    hlm_buf_reserve(k, 0); /* "" rather than NULL for a series without labels */
    for (size_t i = 0; i < 2 * n; i++)
        hlm_buf_printf(k, "%zu:%s;", strlen(kv[i]), kv[i]);
}

static family_t *fam_get(hlm_busm_t *b, const char *name, const char *help, hlm_mtype_t type)
{
    family_t *f = zhashx_lookup(b->fams, name);
    if (f)
        return f->type == type ? f : NULL;
    f = calloc(1, sizeof *f);
    if (!f)
        abort();
    f->name = strdup(name);
    f->help = strdup(help ? help : "");
    f->series = zhashx_new();
    if (!f->name || !f->help || !f->series)
        abort();
    zhashx_set_destructor(f->series, series_free);
    f->type = type;
    zhashx_insert(b->fams, name, f);
    return f;
}

typedef enum { OP_SET, OP_ADD } op_t;

static void put(hlm_busm_t *b, family_t *f, const char *const *kv, size_t n, double v, op_t op)
{
    if (!f)
        return;
    hlm_buf_t k = {0};
    series_key(&k, kv, n);
    series_t *s = zhashx_lookup(f->series, k.data);
    if (!s) {
        if (b->nseries >= b->max) {
            b->dropped++;
            hlm_buf_free(&k);
            return;
        }
        s = calloc(1, sizeof *s);
        if (!s || !(s->kv = calloc(2 * n + 1, sizeof *s->kv)))
            abort();
        s->n = n;
        for (size_t i = 0; i < 2 * n; i++)
            if (!(s->kv[i] = strndup(kv[i], MAX_VALUE_LEN)))
                abort();
        zhashx_insert(f->series, k.data, s);
        b->nseries++;
    }
    s->v = op == OP_ADD ? s->v + v : v;
    hlm_buf_free(&k);
}

#define SET(b, name, help, type, v, ...) \
    put(b, fam_get(b, name, help, type), HLM_KV(__VA_ARGS__), v, OP_SET)
#define ADD(b, name, help, v, ...) \
    put(b, fam_get(b, name, help, HLM_COUNTER), HLM_KV(__VA_ARGS__), v, OP_ADD)

static const char *label_of(const series_t *s, const char *label)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->kv[2 * i], label) == 0)
            return s->kv[2 * i + 1];
    return NULL;
}

/* Deletes the series of family NAME whose LABEL is VALUE (all if LABEL is
 * NULL), and the family when it becomes empty. */
static void drop_where(hlm_busm_t *b, const char *name, const char *label, const char *value)
{
    family_t *f = zhashx_lookup(b->fams, name);
    if (!f)
        return;
    zlistx_t *keys = zhashx_keys(f->series);
    for (const char *k = zlistx_first(keys); k; k = zlistx_next(keys)) {
        series_t *s = zhashx_lookup(f->series, k);
        const char *v = label ? label_of(s, label) : NULL;
        if (!label || (v && strcmp(v, value) == 0)) {
            zhashx_delete(f->series, k);
            b->nseries--;
        }
    }
    zlistx_destroy(&keys);
    if (zhashx_size(f->series) == 0)
        zhashx_delete(b->fams, name);
}

/* ---- health.<service>: hl.ServiceHealth ---- */

static double health_value(Hl__HealthState h)
{
    return h == HL__HEALTH_STATE__HEALTH_HEALTHY ? 1 : h == HL__HEALTH_STATE__HEALTH_DEGRADED ? 0.5 : 0;
}

static void on_check(hlm_busm_t *b, const char *service, const Hl__CheckHealth *c)
{
    if (!c->name || !*c->name) {
        b->rejected++;
        return;
    }
    if (c->state != HL__HEALTH_STATE__HEALTH_UNKNOWN)
        SET(b, "hl_check_up", "Whether the health check passes (1), degrades (0.5) or fails (0).",
            HLM_GAUGE, health_value(c->state), "check", c->name, "service", service);
    if (c->last_run_us)
        SET(b, "hl_check_duration_seconds", "Duration of the health check's last run.", HLM_GAUGE,
            (double)c->last_duration_us / 1e6, "check", c->name, "service", service);
    SET(b, "hl_check_consecutive_failures", "Consecutive failed runs of the health check.",
        HLM_GAUGE, c->bad_streak, "check", c->name, "service", service);
}

static void on_health(hlm_busm_t *b, const char *service, const Hl__ServiceHealth *h)
{
    if (h->state == HL__HEALTH_STATE__HEALTH_UNKNOWN)
        drop_where(b, "hl_service_health", "service", service);
    else
        SET(b, "hl_service_health",
            "Health of the service from hl-health: 1 healthy, 0.5 degraded, 0 unhealthy; "
            "absent while unknown.",
            HLM_GAUGE, health_value(h->state), "service", service);
    const ProtobufCEnumDescriptor *ed = &hl__health_state__descriptor;
    for (unsigned i = 0; i < ed->n_values; i++)
        SET(b, "hl_service_health_state", "The service's health state (one of four is 1).",
            HLM_GAUGE, ed->values[i].value == (int)h->state, "service", service, "state",
            hlb_pb_enum_word(ed, ed->values[i].value));
    for (size_t i = 0; i < h->n_checks; i++)
        on_check(b, service, h->checks[i]);
}

/* ---- the other topics ---- */

static void on_service(hlm_busm_t *b, const char *service, const Hl__ServiceState *u)
{
    if (*u->active_state)
        SET(b, "hl_service_active",
            "Whether systemd reports the unit active (1) or not (0), from hl-orchestrator.",
            HLM_GAUGE,
            strcmp(u->active_state, "active") == 0 || strcmp(u->active_state, "reloading") == 0,
            "service", service);
    SET(b, "hl_service_restarts",
        "Automatic restarts of the unit since its last manual start (systemd NRestarts).",
        HLM_GAUGE, u->n_restarts, "service", service);
}

/* "hl-daemon.service" -> "hl-daemon", into OUT. */
static const char *unit_service(const char *unit, char *out, size_t n)
{
    size_t l = strlen(unit);
    if (l > 8 && strcmp(unit + l - 8, ".service") == 0)
        l -= 8;
    snprintf(out, n, "%.*s", (int)l, unit);
    return out;
}

static void on_failure(hlm_busm_t *b, const char *type, const Hl__Failure *f)
{
    if (f->reasserted)
        return; /* an ongoing failure reported again, not a new one */
    char svc[MAX_VALUE_LEN];
    unit_service(*f->service ? f->service : f->unit, svc, sizeof svc);
    ADD(b, "hl_failures_total", "Failures detected by hl-failure, by type and service.", 1,
        "service", svc, "type", type);
}

/* recovery.<target> carries two messages: hl-orchestrator's outcome of each
 * action it ran, and hl-failure's policy steps (scheduled, started,
 * recovered, gave-up, ...). */
static void on_outcome(hlm_busm_t *b, const char *service, const Hl__RecoveryOutcome *r)
{
    ADD(b, "hl_recoveries_total", "Recovery actions run, by service, action and outcome.", 1,
        "action", r->type, "outcome", r->outcome, "service", service);
    if (r->started_us && r->finished_us >= r->started_us)
        SET(b, "hl_recovery_last_duration_seconds", "Duration of the last recovery action.",
            HLM_GAUGE, (double)(r->finished_us - r->started_us) / 1e6, "service", service);
}

static void on_step(hlm_busm_t *b, const char *service, const Hl__RecoveryStep *r)
{
    ADD(b, "hl_recovery_steps_total",
        "Recovery policy steps from hl-failure, by target, step and action.", 1, "action",
        r->action, "service", service, "step", r->step);
    if (strcmp(r->step, "recovered") == 0)
        SET(b, "hl_recovery_time_seconds",
            "Time from detection to recovery of the last incident of the target.", HLM_GAUGE,
            (double)r->duration_ms / 1e3, "service", service);
}

/* alert.<target>: raised (active) or cleared; counted when raised. */
static void on_alert(hlm_busm_t *b, const char *target, const Hl__Alert *a, bool replay)
{
    if (a->active && !replay)
        ADD(b, "hl_alerts_total", "Alerts raised on the bus (alert.<target>), by target.", 1,
            "alert", target, "severity", a->severity);
    /* gave-up, flapping, configuration-error (raised), cleared, rearmed: what
     * the Prometheus rules (deploy/prometheus/alert_rules.yml) tell apart. */
    drop_where(b, "hl_alert_active", "alert", target);
    SET(b, "hl_alert_active",
        "Whether the alert on the target is raised (1) or cleared (0), and why.", HLM_GAUGE,
        a->active, "alert", target, "reason", a->reason, "severity", a->severity);
}

/* logs.sink.<sink> (hl-logs, state) and logs.dropped (counted drops). */
static void on_logs_sink(hlm_busm_t *b, const char *sink, const Hl__LogsSink *s)
{
    SET(b, "hl_logs_sink_up", "Whether hl-logs' sink (files, forward) works (1) or not (0).",
        HLM_GAUGE, s->up, "sink", sink);
    if (strcmp(sink, "forward") == 0)
        SET(b, "hl_logs_spool_bytes", "Bytes in hl-logs' forward spool, waiting for the collector.",
            HLM_GAUGE, (double)s->pending_bytes);
}

static void on_logs_dropped(hlm_busm_t *b, const Hl__LogsDropped *d)
{
    ADD(b, "hl_logs_dropped_total",
        "Log records hl-logs dropped, by sink (spool: its byte cap; files: write errors).",
        (double)d->count, "sink", d->sink);
}

static void on_daemon(hlm_busm_t *b, const char *topic_name, const Hl__DaemonStatus *st)
{
    const char *name = st->name && *st->name ? st->name : topic_name;
    /* The info series carries state and version: replace the old one. */
    drop_where(b, "hl_daemon_info", "daemon", name);
    SET(b, "hl_daemon_info", "An hl-freestyle daemon's last reported state and version.",
        HLM_GAUGE, 1, "daemon", name, "state", st->state ? st->state : "",
        "version", st->version ? st->version : "");
    SET(b, "hl_daemon_start_time_seconds", "When the daemon started, in unixtime.", HLM_GAUGE,
        (double)st->started_us / 1e6, "daemon", name);
    SET(b, "hl_daemon_published_total", "Messages the daemon had published when it last reported.",
        HLM_COUNTER, (double)st->published, "daemon", name);
    SET(b, "hl_daemon_dropped_total",
        "Messages the daemon's publisher dropped (queue full) when it last reported.",
        HLM_COUNTER, (double)st->dropped, "daemon", name);
    SET(b, "hl_daemon_notify_dropped_total",
        "sd_notify messages the daemon could not send (NOTIFY_SOCKET full or gone) when it last reported.",
        HLM_COUNTER, (double)st->notify_dropped, "daemon", name);
    SET(b, "hl_daemon_gaps_total", "Messages the daemon's subscribers had missed when it last reported.",
        HLM_COUNTER, (double)st->gaps, "daemon", name);
    /* which bus contract each daemon speaks (docs/contract.md): a fleet sees
     * VMs running an older one (recording rule hl:daemon_contract_version:min) */
    SET(b, "hl_daemon_contract_version", "The bus contract version the daemon speaks (hl.ContractVersion).",
        HLM_GAUGE, (double)st->contract, "daemon", name);
}

/* backup.<event> (hl-backup). backup.latest is a state topic: its time is
 * what the achieved RPO is measured from (time() - the timestamp; alert
 * BackupStale), also after a restart of hl-metrics (the cache replays it).
 * The other events are runs, counted once (never from a replay). */
static void on_backup(hlm_busm_t *b, const char *event, const Hl__BackupEvent *e, bool replay)
{
    if (strcmp(event, "latest") == 0) {
        SET(b, "hl_backup_latest_timestamp_seconds",
            "When the newest verified backup was taken, in unixtime (the achieved RPO is now minus this).",
            HLM_GAUGE, (double)e->ts_us / 1e6);
        SET(b, "hl_backup_latest_bytes", "The newest verified backup's archive, in bytes.", HLM_GAUGE,
            (double)e->archive_bytes);
        SET(b, "hl_backup_latest_files", "Entries of the newest verified backup's manifest.",
            HLM_GAUGE, (double)e->files);
        return;
    }
    if (replay || (strcmp(event, "created") != 0 && strcmp(event, "failed") != 0))
        return;
    const char *kind = e->kind && *e->kind ? e->kind : "unknown";
    const char *outcome = e->outcome && *e->outcome ? e->outcome : event;
    ADD(b, "hl_backup_runs_total", "Backup runs of hl-backup that ended, by kind and outcome.", 1,
        "kind", kind, "outcome", outcome);
    SET(b, "hl_backup_last_duration_seconds", "How long the last backup run took, by kind.",
        HLM_GAUGE, (double)e->duration_us / 1e6, "kind", kind);
}

/* uplink.<link> (hl-uplink, state): the link to the HL cloud API. A VM whose
 * uplink is down cannot tell the cloud so; a fleet's Prometheus can
 * (alert UplinkOffline). Counters are hl-uplink's since its start. */
static void on_uplink(hlm_busm_t *b, const char *link, const Hl__UplinkStatus *u)
{
    SET(b, "hl_uplink_up", "Whether hl-uplink is connected and registered with the HL API (1) or not (0).",
        HLM_GAUGE, u->state == HL__UPLINK_STATE__UPLINK_ONLINE, "link", link);
    SET(b, "hl_uplink_registered", "Whether the instance is registered with the HL API.", HLM_GAUGE,
        u->registered, "link", link);
    SET(b, "hl_uplink_outbox_events", "Events waiting in hl-uplink's on-disk outbox for the API.",
        HLM_GAUGE, (double)u->outbox_depth, "link", link);
    SET(b, "hl_uplink_outbox_bytes", "Bytes of hl-uplink's on-disk outbox.", HLM_GAUGE,
        (double)u->outbox_bytes, "link", link);
    SET(b, "hl_uplink_outbox_dropped_total",
        "Events hl-uplink's outbox dropped, oldest first, at its byte cap.", HLM_COUNTER,
        (double)u->outbox_dropped, "link", link);
    SET(b, "hl_uplink_requests_total", "Requests hl-uplink made to the HL API.", HLM_COUNTER,
        (double)u->requests, "link", link);
    SET(b, "hl_uplink_failures_total", "Requests to the HL API that failed (no answer, 5xx, 429).",
        HLM_COUNTER, (double)u->failures, "link", link);
    SET(b, "hl_uplink_events_sent_total", "Events the HL API accepted from hl-uplink.", HLM_COUNTER,
        (double)u->events_sent, "link", link);
    SET(b, "hl_uplink_events_rejected_total", "Events the HL API refused as malformed, dropped.",
        HLM_COUNTER, (double)u->events_rejected, "link", link);
    SET(b, "hl_uplink_last_heartbeat_seconds",
        "Server time of the last heartbeat the HL API accepted, in unixtime (0: none yet).",
        HLM_GAUGE, (double)u->last_heartbeat_us / 1e6, "link", link);
    SET(b, "hl_uplink_clock_offset_seconds", "The HL API's clock minus the VM's.", HLM_GAUGE,
        (double)u->clock_offset_ms / 1e3, "link", link);
}

/* git.<repo> (hl-git-sync, state): the workspace repository. A conflict
 * pauses syncing until the agent resolves it; failures are retried with
 * back-off (alerts GitSyncConflict, GitSyncFailing). Counters are
 * hl-git-sync's since its start. */
static void on_git(hlm_busm_t *b, const char *repo, const Hl__GitStatus *g)
{
    SET(b, "hl_git_synced", "Whether the last sync cycle brought the branch up to date (1) or not (0).",
        HLM_GAUGE, g->state == HL__GIT_STATE__GIT_SYNCED, "repo", repo);
    SET(b, "hl_git_paused", "Whether syncing is paused by a conflict (hlctl git resume).", HLM_GAUGE,
        g->paused, "repo", repo);
    SET(b, "hl_git_cloned", "Whether the workspace holds a usable checkout.", HLM_GAUGE, g->cloned,
        "repo", repo);
    SET(b, "hl_git_ahead_commits", "Local commits not on the upstream branch.", HLM_GAUGE,
        (double)g->ahead, "repo", repo);
    SET(b, "hl_git_behind_commits", "Upstream commits not on the local branch.", HLM_GAUGE,
        (double)g->behind, "repo", repo);
    SET(b, "hl_git_dirty_files", "Files with uncommitted changes in the workspace.", HLM_GAUGE,
        (double)g->dirty_files, "repo", repo);
    SET(b, "hl_git_syncs_total", "Sync cycles that succeeded.", HLM_COUNTER, (double)g->syncs,
        "repo", repo);
    SET(b, "hl_git_failures_total", "Sync cycles that failed (git's message in hlctl git status).",
        HLM_COUNTER, (double)g->failures, "repo", repo);
    SET(b, "hl_git_updates_total", "Sync cycles that moved the working tree.", HLM_COUNTER,
        (double)g->updates, "repo", repo);
    SET(b, "hl_git_conflicts_total", "Conflicts that paused syncing.", HLM_COUNTER,
        (double)g->conflicts, "repo", repo);
    SET(b, "hl_git_last_sync_timestamp_seconds",
        "Wall-clock time of the last successful sync cycle, in unixtime (0: none yet).", HLM_GAUGE,
        (double)g->last_sync_us / 1e6, "repo", repo);
    SET(b, "hl_git_last_duration_seconds", "How long the last sync cycle took.", HLM_GAUGE,
        (double)g->last_duration_us / 1e6, "repo", repo);
}

void hlm_busm_event(hlm_busm_t *b, const char *topic, const char *source, const char *type,
                    const ProtobufCMessage *msg, const void *body, size_t len, bool replay)
{
    char prefix[33];
    size_t pl = strcspn(topic, ".");
    snprintf(prefix, sizeof prefix, "%.*s", (int)(pl < 32 ? pl : 32), topic);
    if (!replay)
        ADD(b, "hl_metrics_bus_events_total",
            "Bus events hl-metrics received, by the first part of the topic.", 1, "prefix",
            prefix);
    const char *rest = topic[pl] == '.' ? topic + pl + 1 : "";
    if (!*rest)
        return; /* every topic we act on names something after its prefix */
    /* Bodies are typed (libhlbus topics.h): anything else on these topics
     * is refused and counted, never read by field name. */
    Hl__Envelope env = HL__ENVELOPE__INIT;
    env.source = (char *)(source ? source : "");
    env.type = (char *)(type ? type : "");
    env.body.data = (uint8_t *)body;
    env.body.len = len;
    hlb_event_t ev = {.topic = topic, .env = &env, .msg = msg, .replay = replay};
    const void *m = NULL;
#define AS(T, desc) (m = hlb_event_as(&ev, &desc)) != NULL ? (const T *)m : NULL
    if (strcmp(prefix, "health") == 0) {
        const Hl__ServiceHealth *h = AS(Hl__ServiceHealth, hl__service_health__descriptor);
        if (h)
            on_health(b, rest, h);
    } else if (strcmp(prefix, "service") == 0) {
        const Hl__ServiceState *u = AS(Hl__ServiceState, hl__service_state__descriptor);
        if (u)
            on_service(b, rest, u);
    } else if (strcmp(prefix, "failure") == 0) {
        const Hl__Failure *f = AS(Hl__Failure, hl__failure__descriptor);
        if (f && !replay)
            on_failure(b, rest, f);
    } else if (strcmp(prefix, "recovery") == 0) {
        if (msg && msg->descriptor == &hl__recovery_outcome__descriptor) {
            m = msg;
            if (!replay)
                on_outcome(b, rest, (const Hl__RecoveryOutcome *)msg);
        } else {
            const Hl__RecoveryStep *r = AS(Hl__RecoveryStep, hl__recovery_step__descriptor);
            if (r && !replay)
                on_step(b, rest, r);
        }
    } else if (strcmp(prefix, "alert") == 0) {
        const Hl__Alert *a = AS(Hl__Alert, hl__alert__descriptor);
        if (a)
            on_alert(b, rest, a, replay);
    } else if (strcmp(prefix, "logs") == 0) {
        if (strncmp(rest, "sink.", 5) == 0 && rest[5]) {
            const Hl__LogsSink *s = AS(Hl__LogsSink, hl__logs_sink__descriptor);
            if (s)
                on_logs_sink(b, rest + 5, s);
        } else if (strcmp(rest, "dropped") == 0) {
            const Hl__LogsDropped *d = AS(Hl__LogsDropped, hl__logs_dropped__descriptor);
            if (d && !replay)
                on_logs_dropped(b, d);
        } else {
            m = &ev;
        }
    } else if (strcmp(prefix, "backup") == 0) {
        const Hl__BackupEvent *be = AS(Hl__BackupEvent, hl__backup_event__descriptor);
        if (be)
            on_backup(b, rest, be, replay);
    } else if (strcmp(prefix, "uplink") == 0) {
        const Hl__UplinkStatus *u = AS(Hl__UplinkStatus, hl__uplink_status__descriptor);
        if (u)
            on_uplink(b, rest, u);
    } else if (strcmp(prefix, "git") == 0) {
        if (!strchr(rest, '.')) { /* git.<repo>; git.<repo>.<event> carry a GitEvent */
            const Hl__GitStatus *g = AS(Hl__GitStatus, hl__git_status__descriptor);
            if (g)
                on_git(b, rest, g);
        } else {
            m = &ev;
        }
    } else if (strcmp(prefix, "daemon") == 0) {
        const Hl__DaemonStatus *st = AS(Hl__DaemonStatus, hl__daemon_status__descriptor);
        if (st)
            on_daemon(b, rest, st);
    } else {
        m = &ev; /* not ours to read */
    }
#undef AS
    if (!m)
        b->rejected++; /* a typed topic with another body: hlb_event_as said why */
}

void hlm_busm_bus_stats(hlm_busm_t *b, const Hl__BusStats *st)
{
    static const char *const fams[] = {"hl_bus_messages_total", "hl_bus_bytes_total",
                                       "hl_bus_malformed_total", "hl_bus_lvc_topics",
                                       "hl_bus_lvc_replays_total", "hl_bus_subscriptions",
                                       "hl_bus_source_messages_total", "hl_bus_source_gaps_total",
                                       "hl_bus_start_time_seconds", NULL};
    /* Values from a poll that failed would be stale: drop them. */
    for (int i = 0; fams[i]; i++)
        drop_where(b, fams[i], NULL, NULL);
    put(b, fam_get(b, "hl_bus_up", "Whether hl-bus answered the last stats request.", HLM_GAUGE),
        NULL, 0, st != NULL, OP_SET);
    if (!st)
        return;
    family_t *f;
#define ONE(name, help, type, v)                                  \
    if ((f = fam_get(b, name, help, type)))                \
        put(b, f, NULL, 0, (double)(v), OP_SET);
    ONE("hl_bus_malformed_total", "Malformed messages hl-bus refused.", HLM_COUNTER, st->malformed)
    ONE("hl_bus_lvc_topics", "Topics in hl-bus's last-value cache.", HLM_GAUGE, st->lvc_topics)
    ONE("hl_bus_lvc_replays_total", "Messages hl-bus replayed from its last-value cache.",
        HLM_COUNTER, st->lvc_replays)
    ONE("hl_bus_subscriptions", "Active topic subscriptions on hl-bus.", HLM_GAUGE,
        st->subscriptions)
    if (st->started_us)
        ONE("hl_bus_start_time_seconds", "When hl-bus started, in unixtime.", HLM_GAUGE,
            (double)st->started_us / 1e6)
#undef ONE
    for (size_t i = 0; i < st->n_prefixes; i++) {
        const Hl__BusStats__Prefix *p = st->prefixes[i];
        SET(b, "hl_bus_messages_total", "Messages through hl-bus, by topic prefix.", HLM_COUNTER,
            (double)p->messages, "prefix", p->prefix ? p->prefix : "");
        SET(b, "hl_bus_bytes_total", "Bytes through hl-bus, by topic prefix.", HLM_COUNTER,
            (double)p->bytes, "prefix", p->prefix ? p->prefix : "");
    }
    for (size_t i = 0; i < st->n_sources; i++) {
        const Hl__BusStats__Source *s = st->sources[i];
        SET(b, "hl_bus_source_messages_total", "Messages hl-bus received, by publisher.",
            HLM_COUNTER, (double)s->messages, "source", s->source ? s->source : "");
        SET(b, "hl_bus_source_gaps_total",
            "Messages lost between a publisher and hl-bus (sequence gaps).", HLM_COUNTER,
            (double)s->gaps, "source", s->source ? s->source : "");
    }
}

static int cmp_series(const void *a, const void *b)
{
    const series_t *x = *(series_t *const *)a, *y = *(series_t *const *)b;
    for (size_t i = 0; i < 2 * x->n && i < 2 * y->n; i++) {
        int c = strcmp(x->kv[i], y->kv[i]);
        if (c)
            return c;
    }
    return (x->n > y->n) - (x->n < y->n);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(a, b);
}

void hlm_busm_render(hlm_busm_t *b, hlm_expo_t *e)
{
    zlistx_t *names = zhashx_keys(b->fams);
    zlistx_set_comparator(names, cmp_str);
    zlistx_sort(names);
    series_t **arr = NULL;
    size_t cap = 0;
    for (const char *n = zlistx_first(names); n; n = zlistx_next(names)) {
        family_t *f = zhashx_lookup(b->fams, n);
        if (!f || hlm_family(e, f->name, f->type, f->help) < 0) {
            b->conflicts++;
            continue;
        }
        size_t ns = zhashx_size(f->series), i = 0;
        if (ns > cap) {
            cap = ns;
            series_t **p = realloc(arr, cap * sizeof *p);
            if (!p)
                abort();
            arr = p;
        }
        for (series_t *s = zhashx_first(f->series); s; s = zhashx_next(f->series))
            arr[i++] = s;
        if (ns) /* qsort wants a valid base even for no elements */
            qsort(arr, ns, sizeof *arr, cmp_series);
        for (i = 0; i < ns; i++)
            hlm_sample(e, (const char *const *)arr[i]->kv, arr[i]->n, arr[i]->v);
    }
    free(arr);
    zlistx_destroy(&names);
}

void hlm_busm_set_max(hlm_busm_t *b, size_t max_series)
{
    b->max = max_series ? max_series : 10000;
}

size_t hlm_busm_series(const hlm_busm_t *b)
{
    return b->nseries;
}

uint64_t hlm_busm_dropped(const hlm_busm_t *b)
{
    return b->dropped;
}

uint64_t hlm_busm_rejected(const hlm_busm_t *b)
{
    return b->rejected;
}
