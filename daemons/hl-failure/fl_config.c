/* Parsing hl-failure's section of the config, with built-in defaults. */
#include "fl_config.h"

#include <errno.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <hlbus/buf.h>
#include <hlbus/str.h>
#include <hlbus/strv.h>
#include <hlbus/codec.h>
#include <hlbus/paths.h>

static const char *const ftype_names[FL_NFTYPES] = {"service_crash", "network_failure",
                                                    "resource_exhaustion", "configuration_error"};
static const char *const sev_names[FL_NSEVS] = {"info", "warning", "critical"};
static const char *const on_names[FL_NONS] = {"unit-failed", "exit-status", "unit-config",
                                              "unhealthy", "threshold", "uplink"};

const char *fl_ftype_name(fl_ftype_t t) { return hlb_enum_name(ftype_names, FL_NFTYPES, t, "?"); }
const char *fl_sev_name(fl_sev_t s) { return hlb_enum_name(sev_names, FL_NSEVS, s, "?"); }
const char *fl_on_name(fl_on_t o) { return hlb_enum_name(on_names, FL_NONS, o, "?"); }

bool fl_globs_match(char *const *globs, const char *s)
{
    if (!globs)
        return true;
    for (size_t i = 0; globs[i]; i++)
        if (fnmatch(globs[i], s ? s : "", 0) == 0)
            return true;
    return false;
}

/* KEY below NODE as a list of non-empty strings; absent leaves *OUT NULL. */
static int get_strv(const hlb_conf_t *node, const char *key, char ***out, hlb_diag_t *d)
{
    *out = NULL;
    const hlb_conf_t *l = hlb_conf_get(node, key);
    if (!l)
        return 0;
    if (hlb_conf_kind(l) != HLB_CONF_SEQ) {
        hlb_diag_add(d, l, "'%s' must be a list", key);
        return -EINVAL;
    }
    size_t n = hlb_conf_count(l);
    char **v = calloc(n + 1, sizeof *v);
    if (!v)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++) {
        const char *s = hlb_conf_scalar(hlb_conf_at(l, i));
        if (!s || !*s) {
            hlb_diag_add(d, hlb_conf_at(l, i), "'%s' entries must be non-empty strings", key);
            hlb_strv_free(v);
            return -EINVAL;
        }
        v[i] = strdup(s);
    }
    *out = v;
    return 0;
}

static char **strv_of(const char *const *src)
{
    size_t n = 0;
    while (src[n])
        n++;
    char **v = calloc(n + 1, sizeof *v);
    for (size_t i = 0; v && i < n; i++)
        v[i] = strdup(src[i]);
    return v;
}

static int get_enum(const hlb_conf_t *node, const char *key, const char *const *names, int n,
                    int def, int *out, hlb_diag_t *d)
{
    const char *s;
    *out = def;
    if (hlb_conf_str(node, key, NULL, &s, d) < 0)
        return -EINVAL;
    if (!s)
        return 0;
    int v = hlb_enum_parse(names, (size_t)n, s);
    if (v < 0) {
        hlb_buf_t b = {0};
        for (int i = 0; i < n; i++)
            hlb_buf_printf(&b, "%s%s", i ? ", " : "", names[i]);
        hlb_diag_add(d, hlb_conf_get(node, key), "'%s' must be one of %s, not '%s'", key, b.data,
                     s);
        hlb_buf_free(&b);
        return -EINVAL;
    }
    *out = v;
    return 0;
}

static const char *const service_actions[] = {"restart", "reset", "rebuild", NULL};

/* A policy block over BASE. ACTIONS_OK NULL: the ladder is fixed (network,
 * commands) and may not be set. */
static int get_policy(const hlb_conf_t *node, const fl_policy_cfg_t *base,
                      const char *const *actions_ok, fl_policy_cfg_t *out, hlb_diag_t *d,
                      const char *const *extra_keys)
{
    static const char *const keys[] = {"actions",       "max_attempts", "backoff",
                                       "backoff_max",   "verify_timeout", "stable_period",
                                       "flap_max",      "flap_window",  "credit_systemd",
                                       NULL};
    *out = *base;
    if (!node)
        return 0;
    if (hlb_conf_kind(node) != HLB_CONF_MAP) {
        hlb_diag_add(d, node, "a recovery policy must be a map");
        return -EINVAL;
    }
    int rc = 0;
    /* unknown keys: those of neither the policy nor the caller */
    for (size_t i = 0; i < hlb_conf_count(node); i++) {
        const char *k = hlb_conf_key(hlb_conf_at(node, i));
        bool known = false;
        for (size_t j = 0; !known && keys[j]; j++)
            known = strcmp(k, keys[j]) == 0;
        for (size_t j = 0; !known && extra_keys && extra_keys[j]; j++)
            known = strcmp(k, extra_keys[j]) == 0;
        if (!known) {
            hlb_diag_add(d, hlb_conf_at(node, i), "unknown key '%s' in a recovery policy", k);
            rc = -EINVAL;
        }
    }
    char **acts = NULL;
    if (get_strv(node, "actions", &acts, d) < 0)
        rc = -EINVAL;
    if (acts && !actions_ok) {
        hlb_diag_add(d, hlb_conf_get(node, "actions"),
                     "'actions' cannot be set here: the action is the configured command");
        rc = -EINVAL;
    } else if (acts) {
        size_t n = 0;
        while (acts[n])
            n++;
        if (n == 0 || n > FL_MAX_RUNGS) {
            hlb_diag_add(d, hlb_conf_get(node, "actions"), "'actions' needs 1 to %d entries",
                         FL_MAX_RUNGS);
            rc = -EINVAL;
        }
        for (size_t i = 0; i < n && i < FL_MAX_RUNGS; i++) {
            /* the policy keeps the table's own literal, which outlives any
             * config (a reload frees the old one) */
            const char *lit = NULL;
            for (size_t j = 0; actions_ok[j]; j++)
                if (strcmp(acts[i], actions_ok[j]) == 0)
                    lit = actions_ok[j];
            if (!lit) {
                hlb_diag_add(d, hlb_conf_at(hlb_conf_get(node, "actions"), i),
                             "unknown recovery action '%s' (restart, reset, rebuild)", acts[i]);
                rc = -EINVAL;
            }
            out->actions[i] = lit ? lit : "restart";
        }
        if (n <= FL_MAX_RUNGS)
            out->nactions = n;
    }
    hlb_strv_free(acts);
    int64_t v;
    bool b;
    if (hlb_conf_int(node, "max_attempts", base->max_attempts, 1, FL_MAX_ATTEMPTS, &v, d) < 0)
        rc = -EINVAL;
    out->max_attempts = (int)v;
    if (hlb_conf_duration_ms(node, "backoff", base->backoff_ms, 0, 3600000, &v, d) < 0)
        rc = -EINVAL;
    out->backoff_ms = v;
    if (hlb_conf_duration_ms(node, "backoff_max", base->backoff_max_ms, 0, 86400000, &v, d) < 0)
        rc = -EINVAL;
    out->backoff_max_ms = v;
    if (hlb_conf_duration_ms(node, "verify_timeout", base->verify_ms, 100, 3600000, &v, d) < 0)
        rc = -EINVAL;
    out->verify_ms = v;
    if (hlb_conf_duration_ms(node, "stable_period", base->stable_ms, 0, 7 * 86400000LL, &v, d) < 0)
        rc = -EINVAL;
    out->stable_ms = v;
    if (hlb_conf_int(node, "flap_max", base->flap_max, 0, FL_MAX_FLAP, &v, d) < 0)
        rc = -EINVAL;
    out->flap_max = (int)v;
    if (hlb_conf_duration_ms(node, "flap_window", base->flap_window_ms, 1000, 7 * 86400000LL, &v,
                             d) < 0)
        rc = -EINVAL;
    out->flap_window_ms = v;
    if (hlb_conf_bool(node, "credit_systemd", base->credit_systemd, &b, d) < 0)
        rc = -EINVAL;
    out->credit_systemd = b;
    return rc;
}

/* ---- patterns ---- */

static void pattern_clear(fl_pattern_t *p)
{
    free(p->name);
    hlb_strv_free(p->services);
    hlb_strv_free(p->results);
    free(p->exit_status);
    hlb_strv_free(p->metrics);
    free(p->target);
    hlb_strv_free(p->command);
    memset(p, 0, sizeof *p);
}

static fl_ftype_t default_type(fl_on_t on)
{
    switch (on) {
    case FL_ON_EXIT_STATUS:
    case FL_ON_UNIT_CONFIG: return FL_FT_CONFIG;
    case FL_ON_THRESHOLD: return FL_FT_RESOURCE;
    case FL_ON_UPLINK: return FL_FT_NETWORK;
    default: return FL_FT_SERVICE_CRASH;
    }
}

static int get_pattern(const hlb_conf_t *node, fl_pattern_t *p, hlb_diag_t *d)
{
    static const char *const keys[] = {"name",    "on",      "type",     "severity", "services",
                                       "results", "exit_status", "metrics", "sustain",
                                       "recover", "target",  "command",  NULL};
    memset(p, 0, sizeof *p);
    if (hlb_conf_kind(node) != HLB_CONF_MAP) {
        hlb_diag_add(d, node, "a pattern must be a map with at least 'name' and 'on'");
        return -EINVAL;
    }
    int rc = hlb_conf_check_keys(node, keys, d);
    const char *name;
    hlb_conf_str(node, "name", NULL, &name, d);
    if (!name || !*name) {
        hlb_diag_add(d, node, "a pattern needs a 'name'");
        rc = -EINVAL;
    }
    p->name = strdup(name ? name : "?");
    int on, type, sev;
    if (!hlb_conf_get(node, "on")) {
        hlb_diag_add(d, node, "pattern '%s' needs 'on' (one of unit-failed, exit-status, "
                              "unit-config, unhealthy, threshold, uplink)", p->name);
        rc = -EINVAL;
    }
    if (get_enum(node, "on", on_names, FL_NONS, FL_ON_UNIT_FAILED, &on, d) < 0)
        rc = -EINVAL;
    p->on = (fl_on_t)on;
    if (get_enum(node, "type", ftype_names, FL_NFTYPES, default_type(p->on), &type, d) < 0)
        rc = -EINVAL;
    p->type = (fl_ftype_t)type;
    if (get_enum(node, "severity", sev_names, FL_NSEVS,
                 p->on == FL_ON_THRESHOLD ? FL_SEV_WARNING : FL_SEV_CRITICAL, &sev, d) < 0)
        rc = -EINVAL;
    p->severity = (fl_sev_t)sev;
    if (get_strv(node, "services", &p->services, d) < 0 ||
        get_strv(node, "results", &p->results, d) < 0 ||
        get_strv(node, "metrics", &p->metrics, d) < 0 ||
        get_strv(node, "command", &p->command, d) < 0)
        rc = -EINVAL;
    const hlb_conf_t *ex = hlb_conf_get(node, "exit_status");
    if (ex) {
        if (hlb_conf_kind(ex) != HLB_CONF_SEQ || hlb_conf_count(ex) == 0) {
            hlb_diag_add(d, ex, "'exit_status' must be a non-empty list of exit codes");
            rc = -EINVAL;
        } else {
            p->nexit = hlb_conf_count(ex);
            p->exit_status = calloc(p->nexit, sizeof *p->exit_status);
            for (size_t i = 0; p->exit_status && i < p->nexit; i++) {
                int64_t v;
                const char *s = hlb_conf_scalar(hlb_conf_at(ex, i));
                if (!s || hlb_parse_int(s, &v) < 0 || v < 0 || v > 255) {
                    hlb_diag_add(d, hlb_conf_at(ex, i), "an exit status is 0..255");
                    rc = -EINVAL;
                    v = -1;
                }
                p->exit_status[i] = (int)v;
            }
        }
    }
    if (p->on == FL_ON_EXIT_STATUS && !p->nexit) {
        hlb_diag_add(d, node, "pattern '%s' (on: exit-status) needs 'exit_status'", p->name);
        rc = -EINVAL;
    }
    int64_t v;
    if (hlb_conf_duration_ms(node, "sustain", p->on == FL_ON_THRESHOLD ? 60000 : 0, 0,
                             86400000, &v, d) < 0)
        rc = -EINVAL;
    p->sustain_ms = v;
    if (hlb_conf_bool(node, "recover", true, &p->recover, d) < 0)
        rc = -EINVAL;
    const char *target;
    hlb_conf_str(node, "target", NULL, &target, d);
    p->target = target && *target ? strdup(target) : NULL;
    if ((p->target || p->command) && p->on != FL_ON_THRESHOLD) {
        hlb_diag_add(d, node, "'target' and 'command' apply to threshold patterns only");
        rc = -EINVAL;
    }
    if (p->target && p->command) {
        hlb_diag_add(d, node, "pattern '%s': 'target' (recover a service) and 'command' "
                              "(run a command) exclude each other", p->name);
        rc = -EINVAL;
    }
    if (p->command && p->command[0] && p->command[0][0] != '/') {
        hlb_diag_add(d, hlb_conf_get(node, "command"),
                     "'command' must start with an absolute path (no shell, no PATH lookup)");
        rc = -EINVAL;
    }
    return rc;
}

/* The built-in patterns, used when the config lists none. */
static int default_patterns(fl_config_t *c)
{
    static const struct {
        const char *name;
        fl_on_t on;
        fl_sev_t sev;
        int64_t sustain;
    } defs[] = {
        {"bad-config-exit", FL_ON_EXIT_STATUS, FL_SEV_CRITICAL, 0},
        {"bad-unit-file", FL_ON_UNIT_CONFIG, FL_SEV_CRITICAL, 0},
        {"unit-crash", FL_ON_UNIT_FAILED, FL_SEV_CRITICAL, 0},
        {"unhealthy", FL_ON_UNHEALTHY, FL_SEV_CRITICAL, 0},
        {"resource-exhaustion", FL_ON_THRESHOLD, FL_SEV_WARNING, 60000},
        {"uplink-down", FL_ON_UPLINK, FL_SEV_CRITICAL, 0},
    };
    size_t n = sizeof defs / sizeof defs[0];
    c->patterns = calloc(n, sizeof *c->patterns);
    if (!c->patterns)
        return -ENOMEM;
    c->npatterns = n;
    for (size_t i = 0; i < n; i++) {
        fl_pattern_t *p = &c->patterns[i];
        p->name = strdup(defs[i].name);
        p->on = defs[i].on;
        p->type = default_type(p->on);
        p->severity = defs[i].sev;
        p->sustain_ms = defs[i].sustain;
        p->recover = true;
        if (p->on == FL_ON_EXIT_STATUS) {
            p->exit_status = calloc(1, sizeof *p->exit_status);
            p->exit_status[0] = 78; /* EX_CONFIG */
            p->nexit = 1;
        }
    }
    return 0;
}

/* ---- checks ---- */

static int get_check(const hlb_conf_t *node, fl_check_cfg_t *k, hlb_diag_t *d)
{
    static const char *const keys[] = {"name",     "command", "type",    "service", "severity",
                                       "interval", "timeout", "failures", NULL};
    memset(k, 0, sizeof *k);
    if (hlb_conf_kind(node) != HLB_CONF_MAP) {
        hlb_diag_add(d, node, "a check must be a map with 'name', 'type' and 'command'");
        return -EINVAL;
    }
    int rc = hlb_conf_check_keys(node, keys, d);
    const char *s;
    hlb_conf_str(node, "name", NULL, &s, d);
    if (!s || !*s) {
        hlb_diag_add(d, node, "a check needs a 'name'");
        rc = -EINVAL;
    }
    k->name = strdup(s ? s : "?");
    if (get_strv(node, "command", &k->argv, d) < 0)
        rc = -EINVAL;
    if (!k->argv || !k->argv[0] || k->argv[0][0] != '/') {
        hlb_diag_add(d, node, "check '%s' needs a 'command' list starting with an absolute path",
                     k->name);
        rc = -EINVAL;
    }
    int type, sev;
    if (get_enum(node, "type", ftype_names, FL_NFTYPES, FL_FT_NETWORK, &type, d) < 0)
        rc = -EINVAL;
    k->type = (fl_ftype_t)type;
    if (k->type != FL_FT_NETWORK && k->type != FL_FT_CONFIG) {
        hlb_diag_add(d, hlb_conf_get(node, "type"),
                     "a check's type is network_failure or configuration_error");
        rc = -EINVAL;
    }
    hlb_conf_str(node, "service", NULL, &s, d);
    k->service = s && *s ? strdup(s) : NULL;
    if (k->type == FL_FT_CONFIG && !k->service) {
        hlb_diag_add(d, node, "check '%s' (configuration_error) needs 'service'", k->name);
        rc = -EINVAL;
    }
    if (get_enum(node, "severity", sev_names, FL_NSEVS, FL_SEV_CRITICAL, &sev, d) < 0)
        rc = -EINVAL;
    k->severity = (fl_sev_t)sev;
    if (hlb_conf_duration_ms(node, "interval", 30000, 100, 86400000, &k->interval_ms, d) < 0 ||
        hlb_conf_duration_ms(node, "timeout", 10000, 10, 3600000, &k->timeout_ms, d) < 0 ||
        hlb_conf_int(node, "failures", 3, 1, 100, &k->failures, d) < 0)
        rc = -EINVAL;
    return rc;
}

/* ---- services ---- */

static const char *const healthy_on_names[] = {"auto", "health", "unit"};

static int get_service(fl_config_t *c, const hlb_conf_t *node, fl_service_cfg_t *s, hlb_diag_t *d)
{
    static const char *const extra[] = {"unit", "recover", "healthy_on", NULL};
    memset(s, 0, sizeof *s);
    s->name = strdup(hlb_conf_key(node));
    /* The name is a topic part (service.<name>, alert.<name>). */
    if (!hlb_topic_valid(s->name, strlen(s->name))) {
        hlb_diag_add(d, node, "'%s' is not a valid service name", s->name);
        return -EINVAL;
    }
    const char *v = hlb_conf_scalar(node);
    if (v && (!*v || strcmp(v, "~") == 0 || strcmp(v, "null") == 0)) {
        /* "hl-daemon:" with nothing: all defaults */
    } else if (hlb_conf_kind(node) != HLB_CONF_MAP) {
        hlb_diag_add(d, node, "service '%s' must be a map (or empty for the defaults)", s->name);
        return -EINVAL;
    }
    int rc = 0;
    const hlb_conf_t *m = hlb_conf_kind(node) == HLB_CONF_MAP ? node : NULL;
    if (get_policy(m, &c->defaults, service_actions, &s->policy, d, extra) < 0)
        rc = -EINVAL;
    const char *unit;
    hlb_conf_str(m, "unit", NULL, &unit, d);
    if (unit && *unit) {
        s->unit = strdup(unit);
    } else {
        size_t n = strlen(s->name);
        s->unit = malloc(n + sizeof ".service");
        if (s->unit)
            snprintf(s->unit, n + sizeof ".service", "%s%s", s->name,
                     strchr(s->name, '.') ? "" : ".service");
    }
    if (hlb_conf_bool(m, "recover", true, &s->recover, d) < 0)
        rc = -EINVAL;
    int ho;
    if (get_enum(m, "healthy_on", healthy_on_names, 3, FL_HEALTHY_AUTO, &ho, d) < 0)
        rc = -EINVAL;
    s->healthy_on = (fl_healthy_on_t)ho;
    return rc;
}

static int default_services(fl_config_t *c)
{
    /* The spec's critical services (5.1.1, 5.2.1). */
    static const char *const names[] = {"hl-daemon", "claude-code"};
    c->services = calloc(2, sizeof *c->services);
    if (!c->services)
        return -ENOMEM;
    c->nservices = 2;
    for (size_t i = 0; i < 2; i++) {
        fl_service_cfg_t *s = &c->services[i];
        s->name = strdup(names[i]);
        s->unit = malloc(strlen(names[i]) + sizeof ".service");
        if (s->unit)
            sprintf(s->unit, "%s.service", names[i]);
        s->recover = true;
        s->policy = c->defaults;
    }
    return 0;
}

/* ---- the section ---- */

static int get_topic(const hlb_conf_t *topics, const char *key, const char *def, char **out,
                     hlb_diag_t *d)
{
    const char *s;
    int rc = hlb_conf_str(topics, key, def, &s, d);
    if (s && !hlb_topic_valid(s, strlen(s))) {
        hlb_diag_add(d, hlb_conf_get(topics, key), "'%s' is not a valid topic prefix", s);
        rc = -EINVAL;
    }
    *out = strdup(s ? s : def);
    return rc;
}

fl_config_t *fl_config_parse(const hlb_conf_t *section, hlb_diag_t *d)
{
    static const char *const keys[] = {
        "orchestrator", "recover_method", "stop_method",   "action_timeout",
        "stop_config_loops", "require_lifecycle", "recover_in", "recover_unlisted",
        "restart_settle", "recovery",   "services",      "patterns",      "checks",
        "network",      "topics",         "incidents",     NULL};
    fl_config_t *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    int rc = 0;
    if (section && hlb_conf_kind(section) != HLB_CONF_MAP) {
        hlb_diag_add(d, section, "the hl-failure section must be a map");
        fl_config_destroy(&c);
        return NULL;
    }
    if (section && hlb_conf_check_keys(section, keys, d) < 0)
        rc = -EINVAL;

    const char *s;
    hlb_conf_str(section, "orchestrator", "hl-orchestrator", &s, d);
    c->orchestrator = strdup(s);
    if (!hlb_name_valid(s)) {
        hlb_diag_add(d, hlb_conf_get(section, "orchestrator"), "'%s' is not a daemon name", s);
        rc = -EINVAL;
    }
    hlb_conf_str(section, "recover_method", "recover", &s, d);
    c->recover_method = strdup(s);
    hlb_conf_str(section, "stop_method", "stop", &s, d);
    c->stop_method = strdup(s);
    if (hlb_conf_duration_ms(section, "action_timeout", 180000, 1000, 3600000,
                             &c->action_timeout_ms, d) < 0 ||
        hlb_conf_bool(section, "stop_config_loops", true, &c->stop_config_loops, d) < 0 ||
        hlb_conf_bool(section, "require_lifecycle", true, &c->require_lifecycle, d) < 0 ||
        hlb_conf_bool(section, "recover_unlisted", false, &c->recover_unlisted, d) < 0 ||
        hlb_conf_int(section, "incidents", 200, 1, 100000, &c->max_incidents, d) < 0 ||
        hlb_conf_duration_ms(section, "restart_settle", 250, 0, 10000, &c->restart_settle_ms,
                             d) < 0)
        rc = -EINVAL;
    if (get_strv(section, "recover_in", &c->recover_in, d) < 0)
        rc = -EINVAL;
    if (!c->recover_in)
        c->recover_in = strv_of((const char *const[]){"ready", NULL});

    fl_policy_cfg_t builtin;
    fl_policy_cfg_defaults(&builtin);
    if (get_policy(hlb_conf_get(section, "recovery"), &builtin, service_actions, &c->defaults,
                   d, NULL) < 0)
        rc = -EINVAL;

    const hlb_conf_t *svcs = hlb_conf_get(section, "services");
    if (svcs && hlb_conf_kind(svcs) != HLB_CONF_MAP) {
        hlb_diag_add(d, svcs, "'services' must be a map of service name to its policy");
        rc = -EINVAL;
    } else if (svcs) {
        c->nservices = hlb_conf_count(svcs);
        c->services = calloc(c->nservices ? c->nservices : 1, sizeof *c->services);
        for (size_t i = 0; c->services && i < c->nservices; i++)
            if (get_service(c, hlb_conf_at(svcs, i), &c->services[i], d) < 0)
                rc = -EINVAL;
    } else if (default_services(c) < 0) {
        rc = -ENOMEM;
    }

    const hlb_conf_t *pats = hlb_conf_get(section, "patterns");
    if (pats && hlb_conf_kind(pats) != HLB_CONF_SEQ) {
        hlb_diag_add(d, pats, "'patterns' must be a list");
        rc = -EINVAL;
    } else if (pats) {
        c->npatterns = hlb_conf_count(pats);
        c->patterns = calloc(c->npatterns ? c->npatterns : 1, sizeof *c->patterns);
        for (size_t i = 0; c->patterns && i < c->npatterns; i++) {
            if (get_pattern(hlb_conf_at(pats, i), &c->patterns[i], d) < 0)
                rc = -EINVAL;
            for (size_t j = 0; j < i; j++)
                if (strcmp(c->patterns[j].name, c->patterns[i].name) == 0) {
                    hlb_diag_add(d, hlb_conf_at(pats, i), "duplicate pattern name '%s'",
                                 c->patterns[i].name);
                    rc = -EINVAL;
                }
        }
    } else if (default_patterns(c) < 0) {
        rc = -ENOMEM;
    }

    const hlb_conf_t *checks = hlb_conf_get(section, "checks");
    if (checks && hlb_conf_kind(checks) != HLB_CONF_SEQ) {
        hlb_diag_add(d, checks, "'checks' must be a list");
        rc = -EINVAL;
    } else if (checks) {
        c->nchecks = hlb_conf_count(checks);
        c->checks = calloc(c->nchecks ? c->nchecks : 1, sizeof *c->checks);
        for (size_t i = 0; c->checks && i < c->nchecks; i++) {
            if (get_check(hlb_conf_at(checks, i), &c->checks[i], d) < 0)
                rc = -EINVAL;
            for (size_t j = 0; j < i; j++)
                if (strcmp(c->checks[j].name, c->checks[i].name) == 0) {
                    hlb_diag_add(d, hlb_conf_at(checks, i), "duplicate check name '%s'",
                                 c->checks[i].name);
                    rc = -EINVAL;
                }
        }
    }

    /* network: the recovery command and its own, slower policy */
    const hlb_conf_t *net = hlb_conf_get(section, "network");
    static const char *const net_keys[] = {"command", "timeout", "recovery", NULL};
    if (net && hlb_conf_check_keys(net, net_keys, d) < 0)
        rc = -EINVAL;
    if (get_strv(net, "command", &c->network_command, d) < 0)
        rc = -EINVAL;
    if (c->network_command && (!c->network_command[0] || c->network_command[0][0] != '/')) {
        hlb_diag_add(d, hlb_conf_get(net, "command"),
                     "'network.command' must start with an absolute path");
        rc = -EINVAL;
    }
    if (hlb_conf_duration_ms(net, "timeout", 60000, 100, 3600000, &c->command_timeout_ms, d) < 0)
        rc = -EINVAL;
    fl_policy_cfg_t netbase = builtin;
    netbase.actions[0] = "command";
    netbase.nactions = 1;
    netbase.backoff_ms = 30000;
    netbase.verify_ms = 120000;
    netbase.credit_systemd = false;
    if (get_policy(hlb_conf_get(net, "recovery"), &netbase, NULL, &c->network_policy, d,
                   NULL) < 0)
        rc = -EINVAL;

    const hlb_conf_t *topics = hlb_conf_get(section, "topics");
    static const char *const topic_keys[] = {"service", "health", "threshold", "uplink",
                                             "lifecycle", NULL};
    if (topics && hlb_conf_check_keys(topics, topic_keys, d) < 0)
        rc = -EINVAL;
    if (get_topic(topics, "service", "service.", &c->topic_service, d) < 0 ||
        get_topic(topics, "health", "health.", &c->topic_health, d) < 0 ||
        get_topic(topics, "threshold", "metrics.threshold.", &c->topic_threshold, d) < 0 ||
        get_topic(topics, "uplink", "uplink.", &c->topic_uplink, d) < 0 ||
        get_topic(topics, "lifecycle", "lifecycle.state", &c->topic_lifecycle, d) < 0)
        rc = -EINVAL;

    /* cross-checks: threshold targets must be recoverable services */
    for (size_t i = 0; i < c->npatterns; i++) {
        const fl_pattern_t *p = &c->patterns[i];
        if (p->target && !fl_config_policy_for(c, p->target)) {
            hlb_diag_add(d, hlb_conf_at(pats, i),
                         "pattern '%s' targets '%s', which is not a recovered service "
                         "(list it under 'services')", p->name, p->target);
            rc = -EINVAL;
        }
    }
    if (rc < 0 || d->errors) {
        fl_config_destroy(&c);
        return NULL;
    }
    return c;
}

void fl_config_destroy(fl_config_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    fl_config_t *c = *self_p;
    free(c->orchestrator);
    free(c->recover_method);
    free(c->stop_method);
    hlb_strv_free(c->recover_in);
    for (size_t i = 0; c->services && i < c->nservices; i++) {
        free(c->services[i].name);
        free(c->services[i].unit);
    }
    free(c->services);
    for (size_t i = 0; c->patterns && i < c->npatterns; i++)
        pattern_clear(&c->patterns[i]);
    free(c->patterns);
    for (size_t i = 0; c->checks && i < c->nchecks; i++) {
        free(c->checks[i].name);
        hlb_strv_free(c->checks[i].argv);
        free(c->checks[i].service);
    }
    free(c->checks);
    hlb_strv_free(c->network_command);
    free(c->topic_service);
    free(c->topic_health);
    free(c->topic_threshold);
    free(c->topic_uplink);
    free(c->topic_lifecycle);
    free(c);
    *self_p = NULL;
}

const fl_service_cfg_t *fl_config_service(const fl_config_t *c, const char *name)
{
    for (size_t i = 0; name && i < c->nservices; i++)
        if (strcmp(c->services[i].name, name) == 0)
            return &c->services[i];
    return NULL;
}

const fl_policy_cfg_t *fl_config_policy_for(const fl_config_t *c, const char *name)
{
    const fl_service_cfg_t *s = fl_config_service(c, name);
    if (s)
        return s->recover ? &s->policy : NULL;
    return c->recover_unlisted ? &c->defaults : NULL;
}
