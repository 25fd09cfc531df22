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
#include <hlbus/confschema.h>
#include <hlbus/paths.h>

/* NULL-terminated: the schema's enum rows read them too. */
static const char *const ftype_names[FL_NFTYPES + 1] = {
    "service_crash", "network_failure", "resource_exhaustion", "configuration_error", NULL};
static const char *const sev_names[FL_NSEVS + 1] = {"info", "warning", "critical", NULL};
static const char *const on_names[FL_NONS + 1] = {"unit-failed", "exit-status", "unit-config",
                                                  "unhealthy",   "threshold",   "uplink", NULL};

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

static const char *const service_actions[] = {"restart", "reset", "rebuild", NULL};
static const char *const healthy_on_names[] = {"auto", "health", "unit", NULL};

/* ---- the schema: what the file may say ---- */

/* The escalation ladder of a service policy: names from service_actions,
 * kept as the table's own literals, which outlive any config (a reload
 * frees the old one). FIELD is the policy. */
static int parse_actions(const hlb_conf_t *n, void *field, void *ctx, hlb_diag_t *d)
{
    fl_policy_cfg_t *p = field;
    size_t cnt = hlb_conf_count(n);
    if (hlb_conf_kind(n) != HLB_CONF_SEQ) {
        hlb_diag_add(d, n, "'actions' must be a list");
        return -EINVAL;
    }
    if (cnt == 0 || cnt > FL_MAX_RUNGS) {
        hlb_diag_add(d, n, "'actions' needs 1 to %d entries", FL_MAX_RUNGS);
        return -EINVAL;
    }
    int rc = 0;
    for (size_t i = 0; i < cnt; i++) {
        const char *a = hlb_conf_scalar(hlb_conf_at(n, i));
        const char *lit = NULL;
        for (size_t j = 0; a && service_actions[j]; j++)
            if (strcmp(a, service_actions[j]) == 0)
                lit = service_actions[j];
        if (!lit) {
            hlb_diag_add(d, hlb_conf_at(n, i),
                         "unknown recovery action '%s' (restart, reset, rebuild)", a ? a : "?");
            rc = -EINVAL;
        }
        p->actions[i] = lit ? lit : "restart";
    }
    p->nactions = cnt;
    return rc;
}

/* The network policy's only action is the configured command. */
static int refuse_actions(const hlb_conf_t *n, void *field, void *ctx, hlb_diag_t *d)
{
    hlb_diag_add(d, n, "'actions' cannot be set here: the action is the configured command");
    return -EINVAL;
}

/* A policy's rows, for a struct T whose policy is at BASE. */
#define POLICY_ROWS(T, base, actions_fn)                                                         \
    HLB_KEY("actions", HLB_KIND_CUSTOM, T, base, .parse = actions_fn),                         \
    HLB_KEY("max_attempts", HLB_KIND_INT, T, base.max_attempts, .min = 1,                      \
            .max = FL_MAX_ATTEMPTS),                                                           \
    HLB_KEY("backoff", HLB_KIND_DURATION, T, base.backoff_ms, .min = 0, .max = 3600000),       \
    HLB_KEY("backoff_max", HLB_KIND_DURATION, T, base.backoff_max_ms, .min = 0,                \
            .max = 86400000),                                                                  \
    HLB_KEY("verify_timeout", HLB_KIND_DURATION, T, base.verify_ms, .min = 100,                \
            .max = 3600000),                                                                   \
    HLB_KEY("stable_period", HLB_KIND_DURATION, T, base.stable_ms, .min = 0,                   \
            .max = 7 * 86400000LL),                                                            \
    HLB_KEY("flap_max", HLB_KIND_INT, T, base.flap_max, .min = 0, .max = FL_MAX_FLAP),         \
    HLB_KEY("flap_window", HLB_KIND_DURATION, T, base.flap_window_ms, .min = 1000,             \
            .max = 7 * 86400000LL),                                                            \
    HLB_KEY("credit_systemd", HLB_KIND_BOOL, T, base.credit_systemd)

typedef struct {
    fl_policy_cfg_t p;
} policy_box_t;

/* The section's policy: over the built-in defaults (fl_policy_cfg_defaults). */
static void recovery_init(void *obj, void *ctx) { fl_policy_cfg_defaults(&((policy_box_t *)obj)->p); }
static const hlb_conf_key_t recovery_keys[] = {POLICY_ROWS(policy_box_t, p, parse_actions), {0}};
static const hlb_conf_table_t recovery_table = {.name = "recovery", .size = sizeof(policy_box_t),
                                                .keys = recovery_keys, .init = recovery_init};

/* The network policy: slower, and its one action is the command. */
static void netpolicy_init(void *obj, void *ctx)
{
    fl_policy_cfg_t *p = &((policy_box_t *)obj)->p;
    fl_policy_cfg_defaults(p);
    p->actions[0] = "command";
    p->nactions = 1;
    p->backoff_ms = 30000;
    p->verify_ms = 120000;
    p->credit_systemd = false;
}
static const hlb_conf_key_t netpolicy_keys[] = {POLICY_ROWS(policy_box_t, p, refuse_actions), {0}};
static const hlb_conf_table_t netpolicy_table = {.name = "recovery", .size = sizeof(policy_box_t),
                                                 .keys = netpolicy_keys, .init = netpolicy_init};

typedef struct {
    char **command;
    int64_t timeout_ms;
    policy_box_t recovery;
} network_raw_t;
static const hlb_conf_key_t network_keys[] = {
    HLB_KEY_STRV(network_raw_t, command, NULL, 0, 0), /* NULL: network failures reported only */
    HLB_KEY("timeout", HLB_KIND_DURATION, network_raw_t, timeout_ms, .def = "60s", .min = 100,
            .max = 3600000),
    HLB_KEY_TABLE(network_raw_t, recovery, &netpolicy_table, 0),
    {0}};
static const hlb_conf_table_t network_table = {.name = "network", .size = sizeof(network_raw_t),
                                               .keys = network_keys};

typedef struct {
    char *service, *health, *threshold, *uplink, *lifecycle;
} topics_raw_t;
static const hlb_conf_key_t topics_keys[] = {
    HLB_KEY_STR(topics_raw_t, service, "service.", 0),
    HLB_KEY_STR(topics_raw_t, health, "health.", 0),
    HLB_KEY_STR(topics_raw_t, threshold, "metrics.threshold.", 0),
    HLB_KEY_STR(topics_raw_t, uplink, "uplink.", 0),
    HLB_KEY_STR(topics_raw_t, lifecycle, "lifecycle.state", 0),
    {0}};
static const hlb_conf_table_t topics_table = {.name = "topics", .size = sizeof(topics_raw_t),
                                              .keys = topics_keys};

typedef struct fail_raw fail_raw_t;

/* A listed service's policy is the section's, as it overrides it. */
static void service_init(void *obj, void *ctx);
static const hlb_conf_key_t service_keys[] = {
    POLICY_ROWS(fl_service_cfg_t, policy, parse_actions),
    HLB_KEY_STR(fl_service_cfg_t, unit, NULL, 0), /* default <name>.service */
    HLB_KEY_BOOL(fl_service_cfg_t, recover, "true", 0),
    HLB_KEY_ENUM(fl_service_cfg_t, healthy_on, "auto", healthy_on_names, 0),
    {0}};
static const hlb_conf_table_t service_table = {
    .name = "service", .size = sizeof(fl_service_cfg_t), .keys = service_keys,
    .init = service_init, .name_offset = offsetof(fl_service_cfg_t, name), .has_name = true};

/* exit_status: a non-empty list of 0..255. FIELD is the pattern. */
static int parse_exit_status(const hlb_conf_t *n, void *field, void *ctx, hlb_diag_t *d)
{
    fl_pattern_t *p = field;
    if (hlb_conf_kind(n) != HLB_CONF_SEQ || hlb_conf_count(n) == 0) {
        hlb_diag_add(d, n, "'exit_status' must be a non-empty list of exit codes");
        return -EINVAL;
    }
    int rc = 0;
    free(p->exit_status);
    p->nexit = hlb_conf_count(n);
    p->exit_status = calloc(p->nexit, sizeof *p->exit_status);
    if (!p->exit_status)
        abort();
    for (size_t i = 0; i < p->nexit; i++) {
        int64_t v;
        const char *s = hlb_conf_scalar(hlb_conf_at(n, i));
        if (!s || hlb_parse_int(s, &v) < 0 || v < 0 || v > 255) {
            hlb_diag_add(d, hlb_conf_at(n, i), "an exit status is 0..255");
            rc = -EINVAL;
            v = -1;
        }
        p->exit_status[i] = (int)v;
    }
    return rc;
}
static void free_exit_status(void *field)
{
    fl_pattern_t *p = field;
    free(p->exit_status);
    p->exit_status = NULL;
    p->nexit = 0;
}

/* type, severity and sustain default by 'on' (see finish_pattern). */
static void pattern_init(void *obj, void *ctx)
{
    fl_pattern_t *p = obj;
    p->on = (fl_on_t)-1;
    p->type = (fl_ftype_t)-1;
    p->severity = (fl_sev_t)-1;
    p->sustain_ms = -1;
}
static const hlb_conf_key_t pattern_keys[] = {
    HLB_KEY_STR(fl_pattern_t, name, NULL, 0),
    HLB_KEY_ENUM(fl_pattern_t, on, NULL, on_names, 0),
    HLB_KEY_ENUM(fl_pattern_t, type, NULL, ftype_names, 0),
    HLB_KEY_ENUM(fl_pattern_t, severity, NULL, sev_names, 0),
    HLB_KEY_STRV(fl_pattern_t, services, NULL, 0, 0), /* fnmatch globs; absent: all */
    HLB_KEY_STRV(fl_pattern_t, results, NULL, 0, 0),
    {.key = "exit_status", .kind = HLB_KIND_CUSTOM, .offset = 0, .parse = parse_exit_status,
     .free = free_exit_status},
    HLB_KEY_STRV(fl_pattern_t, metrics, NULL, 0, 0),
    HLB_KEY("sustain", HLB_KIND_DURATION, fl_pattern_t, sustain_ms, .min = 0, .max = 86400000),
    HLB_KEY_BOOL(fl_pattern_t, recover, "true", 0),
    HLB_KEY_STR(fl_pattern_t, target, NULL, 0),
    HLB_KEY_STRV(fl_pattern_t, command, NULL, 0, 0),
    {0}};
static const hlb_conf_table_t pattern_table = {.name = "pattern", .size = sizeof(fl_pattern_t),
                                               .keys = pattern_keys, .init = pattern_init};

static const hlb_conf_key_t check_keys[] = {
    HLB_KEY_STR(fl_check_cfg_t, name, NULL, 0),
    HLB_KEY("command", HLB_KIND_STRV, fl_check_cfg_t, argv),
    HLB_KEY_ENUM(fl_check_cfg_t, type, "network_failure", ftype_names, 0),
    HLB_KEY_STR(fl_check_cfg_t, service, NULL, 0),
    HLB_KEY_ENUM(fl_check_cfg_t, severity, "critical", sev_names, 0),
    HLB_KEY("interval", HLB_KIND_DURATION, fl_check_cfg_t, interval_ms, .def = "30s", .min = 100,
            .max = 86400000),
    HLB_KEY("timeout", HLB_KIND_DURATION, fl_check_cfg_t, timeout_ms, .def = "10s", .min = 10,
            .max = 3600000),
    HLB_KEY_INT(fl_check_cfg_t, failures, "3", 1, 100, 0),
    {0}};
static const hlb_conf_table_t check_table = {.name = "check", .size = sizeof(fl_check_cfg_t),
                                             .keys = check_keys};

struct fail_raw {
    char *orchestrator, *recover_method, *stop_method;
    int64_t action_timeout_ms;
    bool stop_config_loops, require_lifecycle, recover_unlisted;
    char **recover_in;
    int64_t restart_settle_ms;
    policy_box_t recovery;
    hlb_conf_vec_t services; /* fl_service_cfg_t */
    hlb_conf_vec_t patterns; /* fl_pattern_t */
    hlb_conf_vec_t checks;   /* fl_check_cfg_t */
    network_raw_t network;
    topics_raw_t topics;
    int64_t incidents;
};

static void service_init(void *obj, void *ctx)
{
    ((fl_service_cfg_t *)obj)->policy = ((const fail_raw_t *)ctx)->recovery.p;
}

static const hlb_conf_key_t fail_keys[] = {
    HLB_KEY_STR(fail_raw_t, orchestrator, "hl-orchestrator", 0), /* runs recovery actions */
    HLB_KEY_STR(fail_raw_t, recover_method, "recover", 0),
    HLB_KEY_STR(fail_raw_t, stop_method, "stop", 0),
    HLB_KEY("action_timeout", HLB_KIND_DURATION, fail_raw_t, action_timeout_ms, .def = "180s",
            .min = 1000, .max = 3600000),
    HLB_KEY_BOOL(fail_raw_t, stop_config_loops, "true", 0),
    HLB_KEY_BOOL(fail_raw_t, require_lifecycle, "true", 0),
    HLB_KEY_STRV(fail_raw_t, recover_in, "[ready]", 0, 0),
    HLB_KEY_BOOL(fail_raw_t, recover_unlisted, "false", 0),
    HLB_KEY("restart_settle", HLB_KIND_DURATION, fail_raw_t, restart_settle_ms, .def = "250ms",
            .min = 0, .max = 10000),
    HLB_KEY_TABLE(fail_raw_t, recovery, &recovery_table, 0), /* before services: they use it */
    HLB_KEY_DICT(fail_raw_t, services, &service_table, 0, 0),
    HLB_KEY_LIST(fail_raw_t, patterns, &pattern_table, 0, 0),
    HLB_KEY_LIST(fail_raw_t, checks, &check_table, 0, 0),
    HLB_KEY_TABLE(fail_raw_t, network, &network_table, 0),
    HLB_KEY_TABLE(fail_raw_t, topics, &topics_table, 0),
    HLB_KEY_INT(fail_raw_t, incidents, "200", 1, 100000, 0),
    {0}};
static const hlb_conf_table_t fail_table = {.name = "hl-failure", .size = sizeof(fail_raw_t),
                                            .keys = fail_keys};

/* ---- from what the file says to what the daemon runs ---- */

/* List entries are commands, globs and states: an empty one is a mistake. */
static int check_nonempty(char **v, const hlb_conf_t *node, const char *key, hlb_diag_t *d)
{
    const hlb_conf_t *l = hlb_conf_get(node, key);
    for (size_t i = 0; v && v[i]; i++)
        if (!*v[i]) {
            hlb_diag_add(d, hlb_conf_at(l, i), "'%s' entries must be non-empty strings", key);
            return -EINVAL;
        }
    return 0;
}

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

/* The defaults that depend on 'on', and the checks across keys. */
static int finish_pattern(fl_pattern_t *p, const hlb_conf_t *node, hlb_diag_t *d)
{
    int rc = 0;
    if (!p->name || !*p->name) {
        hlb_diag_add(d, node, "a pattern needs a 'name'");
        free(p->name);
        p->name = strdup("?");
        rc = -EINVAL;
    }
    if (!hlb_conf_get(node, "on")) {
        hlb_diag_add(d, node, "pattern '%s' needs 'on' (one of unit-failed, exit-status, "
                              "unit-config, unhealthy, threshold, uplink)", p->name);
        rc = -EINVAL;
    }
    if ((int)p->on < 0)
        p->on = FL_ON_UNIT_FAILED;
    if ((int)p->type < 0)
        p->type = default_type(p->on);
    if ((int)p->severity < 0)
        p->severity = p->on == FL_ON_THRESHOLD ? FL_SEV_WARNING : FL_SEV_CRITICAL;
    if (p->sustain_ms < 0)
        p->sustain_ms = p->on == FL_ON_THRESHOLD ? 60000 : 0;
    if (check_nonempty(p->services, node, "services", d) < 0 ||
        check_nonempty(p->results, node, "results", d) < 0 ||
        check_nonempty(p->metrics, node, "metrics", d) < 0 ||
        check_nonempty(p->command, node, "command", d) < 0)
        rc = -EINVAL;
    if (p->on == FL_ON_EXIT_STATUS && !p->nexit) {
        hlb_diag_add(d, node, "pattern '%s' (on: exit-status) needs 'exit_status'", p->name);
        rc = -EINVAL;
    }
    if (p->target && !*p->target) {
        free(p->target);
        p->target = NULL;
    }
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

static int finish_check(fl_check_cfg_t *k, const hlb_conf_t *node, hlb_diag_t *d)
{
    int rc = 0;
    if (!k->name || !*k->name) {
        hlb_diag_add(d, node, "a check needs a 'name'");
        free(k->name);
        k->name = strdup("?");
        rc = -EINVAL;
    }
    if (check_nonempty(k->argv, node, "command", d) < 0)
        rc = -EINVAL;
    if (!k->argv || !k->argv[0] || k->argv[0][0] != '/') {
        hlb_diag_add(d, node, "check '%s' needs a 'command' list starting with an absolute path",
                     k->name);
        rc = -EINVAL;
    }
    if (k->type != FL_FT_NETWORK && k->type != FL_FT_CONFIG) {
        hlb_diag_add(d, hlb_conf_get(node, "type"),
                     "a check's type is network_failure or configuration_error");
        rc = -EINVAL;
    }
    if (k->service && !*k->service) {
        free(k->service);
        k->service = NULL;
    }
    if (k->type == FL_FT_CONFIG && !k->service) {
        hlb_diag_add(d, node, "check '%s' (configuration_error) needs 'service'", k->name);
        rc = -EINVAL;
    }
    return rc;
}

static int finish_service(fl_service_cfg_t *s, const hlb_conf_t *node, hlb_diag_t *d)
{
    /* The name is a topic part (service.<name>, alert.<name>). */
    if (!hlb_topic_valid(s->name, strlen(s->name))) {
        hlb_diag_add(d, node, "'%s' is not a valid service name", s->name);
        return -EINVAL;
    }
    if (!s->unit || !*s->unit) {
        free(s->unit);
        size_t n = strlen(s->name);
        s->unit = malloc(n + sizeof ".service");
        if (s->unit)
            snprintf(s->unit, n + sizeof ".service", "%s%s", s->name,
                     strchr(s->name, '.') ? "" : ".service");
    }
    return 0;
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

static char *take(char **s)
{
    char *v = *s;
    *s = NULL;
    return v;
}

static int check_topic(const hlb_conf_t *topics, const char *key, const char *v, hlb_diag_t *d)
{
    if (hlb_topic_valid(v, strlen(v)))
        return 0;
    hlb_diag_add(d, hlb_conf_get(topics, key), "'%s' is not a valid topic prefix", v);
    return -EINVAL;
}

fl_config_t *fl_config_parse(const hlb_conf_t *section, hlb_diag_t *d)
{
    fl_config_t *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    if (section && hlb_conf_kind(section) != HLB_CONF_MAP) {
        hlb_diag_add(d, section, "the hl-failure section must be a map");
        fl_config_destroy(&c);
        return NULL;
    }
    int errors = d->errors;
    fail_raw_t raw;
    /* The section is its own context: services start from its policy. */
    hlb_conf_schema_parse(&fail_table, section, &raw, &raw, d);

    c->orchestrator = take(&raw.orchestrator);
    if (!hlb_name_valid(c->orchestrator))
        hlb_diag_add(d, hlb_conf_get(section, "orchestrator"), "'%s' is not a daemon name",
                     c->orchestrator);
    c->recover_method = take(&raw.recover_method);
    c->stop_method = take(&raw.stop_method);
    c->action_timeout_ms = raw.action_timeout_ms;
    c->stop_config_loops = raw.stop_config_loops;
    c->require_lifecycle = raw.require_lifecycle;
    c->recover_unlisted = raw.recover_unlisted;
    c->max_incidents = raw.incidents;
    c->restart_settle_ms = raw.restart_settle_ms;
    check_nonempty(raw.recover_in, section, "recover_in", d);
    c->recover_in = raw.recover_in ? raw.recover_in : strv_of((const char *const[]){"ready", NULL});
    raw.recover_in = NULL;
    c->defaults = raw.recovery.p;

    const hlb_conf_t *svcs = hlb_conf_get(section, "services");
    if (svcs) {
        c->services = raw.services.items;
        c->nservices = raw.services.n;
        for (size_t i = 0; i < c->nservices; i++)
            finish_service(&c->services[i], hlb_conf_at(svcs, i), d);
    } else {
        free(raw.services.items);
        default_services(c);
    }
    raw.services.items = NULL;
    raw.services.n = 0;

    const hlb_conf_t *pats = hlb_conf_get(section, "patterns");
    if (pats) {
        c->patterns = raw.patterns.items;
        c->npatterns = raw.patterns.n;
        for (size_t i = 0; i < c->npatterns; i++) {
            finish_pattern(&c->patterns[i], hlb_conf_at(pats, i), d);
            for (size_t j = 0; j < i; j++)
                if (strcmp(c->patterns[j].name, c->patterns[i].name) == 0)
                    hlb_diag_add(d, hlb_conf_at(pats, i), "duplicate pattern name '%s'",
                                 c->patterns[i].name);
        }
    } else {
        free(raw.patterns.items);
        default_patterns(c);
    }
    raw.patterns.items = NULL;
    raw.patterns.n = 0;

    const hlb_conf_t *checks = hlb_conf_get(section, "checks");
    c->checks = raw.checks.items;
    c->nchecks = raw.checks.n;
    raw.checks.items = NULL;
    raw.checks.n = 0;
    for (size_t i = 0; i < c->nchecks; i++) {
        finish_check(&c->checks[i], hlb_conf_at(checks, i), d);
        for (size_t j = 0; j < i; j++)
            if (strcmp(c->checks[j].name, c->checks[i].name) == 0)
                hlb_diag_add(d, hlb_conf_at(checks, i), "duplicate check name '%s'",
                             c->checks[i].name);
    }

    /* network: the recovery command and its own, slower policy */
    const hlb_conf_t *net = hlb_conf_get(section, "network");
    c->network_command = raw.network.command;
    raw.network.command = NULL;
    check_nonempty(c->network_command, net, "command", d);
    if (c->network_command && (!c->network_command[0] || c->network_command[0][0] != '/'))
        hlb_diag_add(d, hlb_conf_get(net, "command"),
                     "'network.command' must start with an absolute path");
    c->command_timeout_ms = raw.network.timeout_ms;
    c->network_policy = raw.network.recovery.p;

    const hlb_conf_t *topics = hlb_conf_get(section, "topics");
    c->topic_service = take(&raw.topics.service);
    c->topic_health = take(&raw.topics.health);
    c->topic_threshold = take(&raw.topics.threshold);
    c->topic_uplink = take(&raw.topics.uplink);
    c->topic_lifecycle = take(&raw.topics.lifecycle);
    check_topic(topics, "service", c->topic_service, d);
    check_topic(topics, "health", c->topic_health, d);
    check_topic(topics, "threshold", c->topic_threshold, d);
    check_topic(topics, "uplink", c->topic_uplink, d);
    check_topic(topics, "lifecycle", c->topic_lifecycle, d);
    hlb_conf_schema_free(&fail_table, &raw);

    /* cross-checks: threshold targets must be recoverable services */
    for (size_t i = 0; i < c->npatterns; i++) {
        const fl_pattern_t *p = &c->patterns[i];
        if (p->target && !fl_config_policy_for(c, p->target))
            hlb_diag_add(d, hlb_conf_at(pats, i),
                         "pattern '%s' targets '%s', which is not a recovered service "
                         "(list it under 'services')", p->name, p->target);
    }
    if (d->errors > errors) {
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
