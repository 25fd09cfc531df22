#include "busmetrics.h"
#include <ctype.h>
#include <czmq.h>
#include <hlbus/map.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "buf.h"
#include "metrics.pb-c.h"
#include <hlbus/str.h>

typedef struct {
    size_t n;   /* label pairs */
    char **kv;  /* 2n strings */
    double v;
} series_t;

typedef struct {
    char *name, *help;
    hlm_mtype_t type;
    bool report; /* from metrics.report.*: replaced per source */
    zhashx_t *series; /* label key -> series_t */
} family_t;

struct hlm_busm {
    zhashx_t *fams; /* name -> family_t */
    size_t nseries, max;
    uint64_t dropped, rejected, conflicts;
};

#define MAX_LABELS 16
#define MAX_REPORT_SAMPLES 2000
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

static family_t *fam_get(hlm_busm_t *b, const char *name, const char *help, hlm_mtype_t type,
                         bool report)
{
    family_t *f = zhashx_lookup(b->fams, name);
    if (f)
        return f->type == type && f->report == report ? f : NULL;
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
    f->report = report;
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
    put(b, fam_get(b, name, help, type, false), HLM_KV(__VA_ARGS__), v, OP_SET)
#define ADD(b, name, help, v, ...) \
    put(b, fam_get(b, name, help, HLM_COUNTER, false), HLM_KV(__VA_ARGS__), v, OP_ADD)

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

/* ---- reading bodies by field name ---- */

typedef struct {
    const ProtobufCMessage *m;
    hlb_mpview_t *mp;
} rec_t;

static const ProtobufCFieldDescriptor *pfield(const ProtobufCMessage *m, const char *name)
{
    const ProtobufCFieldDescriptor *f =
        protobuf_c_message_descriptor_get_field_by_name(m->descriptor, name);
    if (!f || f->label == PROTOBUF_C_LABEL_REPEATED)
        return NULL;
    if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
        uint32_t which = *(const uint32_t *)((const char *)m + f->quantifier_offset);
        if (which != f->id)
            return NULL;
    } else if (f->label == PROTOBUF_C_LABEL_OPTIONAL && f->quantifier_offset &&
               f->type != PROTOBUF_C_TYPE_STRING && f->type != PROTOBUF_C_TYPE_MESSAGE) {
        if (!*(const protobuf_c_boolean *)((const char *)m + f->quantifier_offset))
            return NULL;
    }
    return f;
}

/* A string or enum field (the enum's value name), as a copy. */
static char *rec_str(const rec_t *r, const char *const *names)
{
    if (!r->m && !r->mp)
        return NULL;
    for (; *names; names++) {
        if (r->mp) {
            char *s = hlb_mpview_str(r->mp, *names);
            if (s && *s)
                return s;
            free(s);
            continue;
        }
        const ProtobufCFieldDescriptor *f = pfield(r->m, *names);
        if (!f)
            continue;
        const void *at = (const char *)r->m + f->offset;
        if (f->type == PROTOBUF_C_TYPE_STRING) {
            const char *s = *(char *const *)at;
            if (s && *s)
                return strndup(s, MAX_VALUE_LEN);
        } else if (f->type == PROTOBUF_C_TYPE_ENUM) {
            const ProtobufCEnumValue *ev =
                protobuf_c_enum_descriptor_get_value(f->descriptor, *(const int *)at);
            if (ev)
                return strdup(ev->name);
        }
    }
    return NULL;
}

static bool rec_num(const rec_t *r, const char *name, double *out)
{
    if (!r->m && !r->mp)
        return false;
    if (r->mp) {
        int64_t i;
        bool bl;
        if (hlb_mpview_double(r->mp, name, out) == 0)
            return true;
        if (hlb_mpview_int(r->mp, name, &i) == 0) {
            *out = (double)i;
            return true;
        }
        if (hlb_mpview_bool(r->mp, name, &bl) == 0) {
            *out = bl;
            return true;
        }
        return false;
    }
    const ProtobufCFieldDescriptor *f = pfield(r->m, name);
    if (!f)
        return false;
    const void *at = (const char *)r->m + f->offset;
    switch (f->type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32: *out = *(const int32_t *)at; return true;
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32: *out = *(const uint32_t *)at; return true;
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64: *out = (double)*(const int64_t *)at; return true;
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64: *out = (double)*(const uint64_t *)at; return true;
    case PROTOBUF_C_TYPE_FLOAT: *out = *(const float *)at; return true;
    case PROTOBUF_C_TYPE_DOUBLE: *out = *(const double *)at; return true;
    case PROTOBUF_C_TYPE_BOOL: *out = *(const protobuf_c_boolean *)at; return true;
    default: return false;
    }
}

/* The elements of repeated message field NAME. */
static size_t rec_msgs(const rec_t *r, const char *name, ProtobufCMessage *const **out)
{
    if (r->mp)
        return 0;
    const ProtobufCFieldDescriptor *f =
        protobuf_c_message_descriptor_get_field_by_name(r->m->descriptor, name);
    if (!f || f->label != PROTOBUF_C_LABEL_REPEATED || f->type != PROTOBUF_C_TYPE_MESSAGE)
        return 0;
    *out = *(ProtobufCMessage *const *const *)((const char *)r->m + f->offset);
    return *(const size_t *)((const char *)r->m + f->quantifier_offset);
}

/* ---- health ---- */

typedef enum { H_UNKNOWN, H_HEALTHY, H_DEGRADED, H_UNHEALTHY } health_t;

/* Reads a state word from any spelling: "healthy", "HEALTH_STATE_DEGRADED",
 * "Unhealthy", "ok", "failing"... by its words. */
static health_t parse_health(const char *s)
{
    static const struct {
        const char *word;
        health_t h;
    } words[] = {
        {"unhealthy", H_UNHEALTHY}, {"critical", H_UNHEALTHY}, {"failing", H_UNHEALTHY},
        {"failed", H_UNHEALTHY},    {"fail", H_UNHEALTHY},     {"down", H_UNHEALTHY},
        {"degraded", H_DEGRADED},   {"warning", H_DEGRADED},   {"warn", H_DEGRADED},
        {"healthy", H_HEALTHY},     {"ok", H_HEALTHY},         {"passing", H_HEALTHY},
        {"pass", H_HEALTHY},        {"up", H_HEALTHY},
    };
    health_t found = H_UNKNOWN;
    int rank = (int)(sizeof words / sizeof words[0]);
    for (const char *p = s; p && *p;) {
        while (*p && !isalnum((unsigned char)*p))
            p++;
        const char *w = p;
        while (isalnum((unsigned char)*p))
            p++;
        size_t wl = (size_t)(p - w);
        for (int i = 0; i < rank; i++)
            if (strlen(words[i].word) == wl && strncasecmp(words[i].word, w, wl) == 0) {
                found = words[i].h; /* the earliest entry wins: unhealthy over healthy */
                rank = i;
                break;
            }
    }
    return found;
}

static const char *const health_names[] = {"unknown", "healthy", "degraded", "unhealthy"};

static void on_check(hlm_busm_t *b, const char *service, const ProtobufCMessage *cm)
{
    rec_t r = {.m = cm};
    static const char *const name_keys[] = {"name", "check", "id", NULL};
    /* the debounced state first, the raw last result (pass/warn/fail) else */
    static const char *const state_keys[] = {"state", "status", "health", "last_result",
                                             "result", NULL};
    char *name = rec_str(&r, name_keys);
    if (!name) {
        b->rejected++;
        return;
    }
    char *st = rec_str(&r, state_keys);
    health_t h = st ? parse_health(st) : H_UNKNOWN;
    free(st);
    static const char *const ok_keys[] = {"ok", "healthy", "passing", "success", NULL};
    double v;
    for (int i = 0; h == H_UNKNOWN && ok_keys[i]; i++)
        if (rec_num(&r, ok_keys[i], &v))
            h = v != 0 ? H_HEALTHY : H_UNHEALTHY;
    if (h != H_UNKNOWN)
        SET(b, "hl_check_up", "Whether the health check passes (1), degrades (0.5) or fails (0).",
            HLM_GAUGE, h == H_HEALTHY ? 1 : h == H_DEGRADED ? 0.5 : 0, "check", name, "service",
            service);
    static const struct {
        const char *key;
        double scale;
    } durs[] = {{"duration_seconds", 1}, {"duration_s", 1},     {"duration_ms", 1e-3},
                {"duration_us", 1e-6},   {"latency_ms", 1e-3},  {"latency_us", 1e-6},
                {"last_duration_ms", 1e-3}};
    for (size_t i = 0; i < sizeof durs / sizeof durs[0]; i++)
        if (rec_num(&r, durs[i].key, &v)) {
            SET(b, "hl_check_duration_seconds", "Duration of the health check's last run.",
                HLM_GAUGE, v * durs[i].scale, "check", name, "service", service);
            break;
        }
    static const char *const fail_keys[] = {"bad_streak", "consecutive_failures",
                                            "failures_in_a_row", NULL};
    for (int i = 0; fail_keys[i]; i++)
        if (rec_num(&r, fail_keys[i], &v)) {
            SET(b, "hl_check_consecutive_failures",
                "Consecutive failed runs of the health check.", HLM_GAUGE, v, "check", name,
                "service", service);
            break;
        }
    free(name);
}

static void on_health(hlm_busm_t *b, const char *service, const rec_t *r)
{
    static const char *const keys[] = {"state", "status", "health", NULL};
    char *st = rec_str(r, keys);
    if (!st) {
        b->rejected++;
        return;
    }
    health_t h = parse_health(st);
    free(st);
    if (h == H_UNKNOWN)
        drop_where(b, "hl_service_health", "service", service);
    else
        SET(b, "hl_service_health",
            "Health of the service from hl-health: 1 healthy, 0.5 degraded, 0 unhealthy; "
            "absent while unknown.",
            HLM_GAUGE, h == H_HEALTHY ? 1 : h == H_DEGRADED ? 0.5 : 0, "service", service);
    for (int i = 0; i < 4; i++)
        SET(b, "hl_service_health_state", "The service's health state (one of four is 1).",
            HLM_GAUGE, (int)h == i, "service", service, "state", health_names[i]);
    ProtobufCMessage *const *checks;
    size_t n = r->m ? rec_msgs(r, "checks", &checks) : 0;
    for (size_t i = 0; i < n; i++)
        on_check(b, service, checks[i]);
}

/* ---- the other topics ---- */

static char *unit_service(char *s)
{
    size_t l = s ? strlen(s) : 0;
    if (l > 8 && strcmp(s + l - 8, ".service") == 0)
        s[l - 8] = '\0';
    return s;
}

static void on_service(hlm_busm_t *b, const char *service, const rec_t *r)
{
    static const char *const keys[] = {"active_state", NULL};
    char *as = rec_str(r, keys);
    if (as)
        SET(b, "hl_service_active",
            "Whether systemd reports the unit active (1) or not (0), from hl-orchestrator.",
            HLM_GAUGE, strcmp(as, "active") == 0 || strcmp(as, "reloading") == 0, "service",
            service);
    free(as);
    double v;
    if (rec_num(r, "n_restarts", &v))
        SET(b, "hl_service_restarts",
            "Automatic restarts of the unit since its last manual start (systemd NRestarts).",
            HLM_GAUGE, v, "service", service);
}

static void on_failure(hlm_busm_t *b, const char *type, const rec_t *r)
{
    double again;
    if (rec_num(r, "reasserted", &again) && again != 0)
        return; /* an ongoing failure reported again, not a new one */
    static const char *const keys[] = {"service", "unit", NULL};
    char *svc = unit_service(rec_str(r, keys));
    ADD(b, "hl_failures_total", "Failures detected by hl-failure, by type and service.", 1,
        "service", svc ? svc : "", "type", type);
    free(svc);
}

/* recovery.<target> carries two kinds of message: hl-orchestrator's outcome
 * of each action it ran (an "outcome" field), and hl-failure's policy steps
 * (a "step" field: scheduled, started, recovered, gave-up, ...). */
static void on_recovery(hlm_busm_t *b, const char *service, const rec_t *r)
{
    static const char *const act_keys[] = {"type", "action", NULL};
    static const char *const out_keys[] = {"outcome", "result", NULL};
    static const char *const step_keys[] = {"step", NULL};
    char *act = rec_str(r, act_keys), *out = rec_str(r, out_keys), *step = NULL;
    if (!out && (step = rec_str(r, step_keys)))
        ADD(b, "hl_recovery_steps_total",
            "Recovery policy steps from hl-failure, by target, step and action.", 1, "action",
            act ? act : "", "service", service, "step", step);
    else
        ADD(b, "hl_recoveries_total", "Recovery actions run, by service, action and outcome.", 1,
            "action", act ? act : "", "outcome", out ? out : "", "service", service);
    double s, f, ms;
    if (rec_num(r, "started_us", &s) && rec_num(r, "finished_us", &f) && f >= s && s > 0)
        SET(b, "hl_recovery_last_duration_seconds", "Duration of the last recovery action.",
            HLM_GAUGE, (f - s) / 1e6, "service", service);
    else if (step && strcmp(step, "recovered") == 0 && rec_num(r, "duration_ms", &ms))
        SET(b, "hl_recovery_time_seconds",
            "Time from detection to recovery of the last incident of the target.", HLM_GAUGE,
            ms / 1e3, "service", service);
    free(act);
    free(out);
    free(step);
}

/* alert.<target>: raised (active) or cleared; counted when raised. */
static void on_alert(hlm_busm_t *b, const char *target, const rec_t *r, bool replay)
{
    static const char *const sev_keys[] = {"severity", NULL};
    static const char *const reason_keys[] = {"reason", NULL};
    char *sev = rec_str(r, sev_keys);
    /* gave-up, flapping, configuration-error (raised), cleared, rearmed: what
     * the Prometheus rules (deploy/prometheus/alert_rules.yml) tell apart. */
    char *reason = rec_str(r, reason_keys);
    double active = 1;
    bool has_active = rec_num(r, "active", &active);
    if (active != 0 && !replay)
        ADD(b, "hl_alerts_total", "Alerts raised on the bus (alert.<target>), by target.", 1,
            "alert", target, "severity", sev ? sev : "");
    if (has_active) {
        drop_where(b, "hl_alert_active", "alert", target);
        SET(b, "hl_alert_active",
            "Whether the alert on the target is raised (1) or cleared (0), and why.", HLM_GAUGE,
            active != 0, "alert", target, "reason", reason ? reason : "", "severity",
            sev ? sev : "");
    }
    free(reason);
    free(sev);
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
}

/* Families hl-metrics owns: a report may not use these names. */
static bool reserved(const char *name)
{
    static const char *const prefixes[] = {"hl_service_", "hl_check_", "hl_failures_",
                                           "hl_recover", "hl_alerts_", "hl_daemon_", "hl_bus_",
                                           "hl_metrics_", "hl_threshold_", NULL};
    for (int i = 0; prefixes[i]; i++)
        if (strncmp(name, prefixes[i], strlen(prefixes[i])) == 0)
            return true;
    return false;
}

static void on_report(hlm_busm_t *b, const char *source, const Hl__MetricsReport *rep)
{
    /* A report replaces everything this source reported before. */
    zlistx_t *names = zhashx_keys(b->fams);
    for (const char *n = zlistx_first(names); n; n = zlistx_next(names)) {
        family_t *f = zhashx_lookup(b->fams, n);
        if (f && f->report)
            drop_where(b, n, "source", source);
    }
    zlistx_destroy(&names);
    if (rep->n_samples > MAX_REPORT_SAMPLES) {
        b->rejected += rep->n_samples;
        return;
    }
    for (size_t i = 0; i < rep->n_samples; i++) {
        const Hl__MetricsReport__Sample *s = rep->samples[i];
        hlm_mtype_t type = !s->type || !*s->type || strcmp(s->type, "gauge") == 0 ? HLM_GAUGE
                           : strcmp(s->type, "counter") == 0                      ? HLM_COUNTER
                                                                                  : HLM_UNTYPED;
        bool ok = type != HLM_UNTYPED && hlm_metric_name_valid(s->name) &&
                  hlb_has_prefix(s->name, "hl_") && !reserved(s->name) &&
                  s->n_labels < MAX_LABELS && !isnan(s->value);
        const char *kv[2 * MAX_LABELS + 2];
        size_t n = 0;
        for (size_t j = 0; ok && j < s->n_labels; j++) {
            const char *k = s->labels[j]->key, *v = s->labels[j]->value;
            ok = hlm_label_name_valid(k) && strcmp(k, "source") != 0 && v;
            for (size_t m = 0; ok && m < n; m++)
                ok = strcmp(kv[2 * m], k) != 0; /* no label twice */
            kv[2 * n] = k;
            kv[2 * n + 1] = v;
            n++;
        }
        family_t *f = ok ? fam_get(b, s->name, s->help, type, true) : NULL;
        if (!f) {
            b->rejected++;
            continue;
        }
        kv[2 * n] = "source";
        kv[2 * n + 1] = source;
        put(b, f, kv, n + 1, s->value, OP_SET);
    }
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
    rec_t r = {.m = msg};
    if (!msg && type && strcmp(type, HLB_TYPE_MSGPACK) == 0)
        r.mp = hlb_mpview_new(body, len);
    bool readable = r.m || r.mp;
    bool state_topic = strcmp(prefix, "health") == 0 || strcmp(prefix, "service") == 0;
    if (!*rest) {
        /* every topic we act on names something after its prefix */
    } else if (state_topic && !readable) {
        b->rejected++; /* a state we cannot read: an unregistered type or bad msgpack */
    } else if (strcmp(prefix, "health") == 0) {
        on_health(b, rest, &r);
    } else if (strcmp(prefix, "service") == 0) {
        on_service(b, rest, &r);
    } else if (strcmp(prefix, "failure") == 0 && !replay) {
        rec_t none = {0};
        on_failure(b, rest, readable ? &r : &none);
    } else if (strcmp(prefix, "recovery") == 0 && !replay) {
        rec_t none = {0};
        on_recovery(b, rest, readable ? &r : &none);
    } else if (strcmp(prefix, "alert") == 0) {
        rec_t none = {0};
        on_alert(b, rest, readable ? &r : &none, replay);
    } else if (strcmp(prefix, "daemon") == 0 && msg &&
               msg->descriptor == &hl__daemon_status__descriptor) {
        on_daemon(b, rest, (const Hl__DaemonStatus *)msg);
    } else if (hlb_has_prefix(topic, "metrics.report.") && msg &&
               msg->descriptor == &hl__metrics_report__descriptor) {
        on_report(b, source, (const Hl__MetricsReport *)msg);
    }
    hlb_mpview_destroy(&r.mp);
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
    put(b, fam_get(b, "hl_bus_up", "Whether hl-bus answered the last stats request.", HLM_GAUGE,
                   false),
        NULL, 0, st != NULL, OP_SET);
    if (!st)
        return;
    family_t *f;
#define ONE(name, help, type, v)                                  \
    if ((f = fam_get(b, name, help, type, false)))                \
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
