/* hl-health's config section. See deploy/config/hl-health.yaml.example. */
#include "hh_config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <hlbus/str.h>

/* The spec's hl-health-check (1.3.2): hl-daemon and claude-code with their
 * HTTP endpoints, docker by unit state alone. */
static const struct {
    const char *name, *unit, *url;
} builtin[] = {
    {"hl-daemon", "hl-daemon.service", "http://localhost:8080/health"},
    {"claude-code", "claude-code.service", "http://localhost:3000/health"},
    {"docker", "docker.service", NULL},
};

typedef struct {
    int64_t interval, timeout, retries, retry_delay, failures, successes;
} timing_t;

static char *xdup(const char *s) { return s ? strdup(s) : NULL; }

static int parse_timing(const hlb_conf_t *n, const timing_t *def, timing_t *t, hlb_diag_t *d)
{
    hlb_conf_duration_ms(n, "interval", def->interval, 100, 86400000, &t->interval, d);
    hlb_conf_duration_ms(n, "timeout", def->timeout, 10, 3600000, &t->timeout, d);
    hlb_conf_int(n, "retries", def->retries, 1, 100, &t->retries, d);
    hlb_conf_duration_ms(n, "retry_delay", def->retry_delay, 0, 3600000, &t->retry_delay, d);
    hlb_conf_int(n, "failures", def->failures, 1, 1000, &t->failures, d);
    hlb_conf_int(n, "successes", def->successes, 1, 1000, &t->successes, d);
    return 0;
}

/* A list of strings, or NULL (with a diagnostic when it is not one). */
static char **strv(const hlb_conf_t *n, const char *key, hlb_diag_t *d)
{
    const hlb_conf_t *l = hlb_conf_get(n, key);
    if (!l)
        return NULL;
    if (hlb_conf_kind(l) != HLB_CONF_SEQ) {
        hlb_diag_add(d, l, "'%s' must be a list of strings", key);
        return NULL;
    }
    size_t cnt = hlb_conf_count(l);
    char **v = calloc(cnt + 1, sizeof *v);
    for (size_t i = 0; v && i < cnt; i++) {
        const char *s = hlb_conf_scalar(hlb_conf_at(l, i));
        if (!s) {
            hlb_diag_add(d, hlb_conf_at(l, i), "'%s' must be a list of strings", key);
            s = "";
        }
        v[i] = strdup(s);
    }
    return v;
}

/* "10%" → percent; "1GiB", "500MB", "123" → bytes. */
static int parse_space(const hlb_conf_t *n, const char *key, double *pct, uint64_t *bytes,
                       hlb_diag_t *d)
{
    const char *s = NULL;
    if (hlb_conf_str(n, key, NULL, &s, d) < 0 || !s)
        return 0;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || errno || v < 0)
        goto bad;
    static const struct {
        const char *suffix;
        double mult;
    } units[] = {{"%", -1},       {"", 1},          {"B", 1},         {"KiB", 1024.0},
                 {"MiB", 1048576.0}, {"GiB", 1073741824.0}, {"TiB", 1099511627776.0},
                 {"KB", 1e3},     {"MB", 1e6},      {"GB", 1e9},      {"TB", 1e12}};
    for (size_t i = 0; i < sizeof units / sizeof *units; i++) {
        if (strcmp(end, units[i].suffix) != 0)
            continue;
        if (units[i].mult < 0) {
            if (v > 100)
                goto bad;
            *pct = v;
        } else {
            *bytes = (uint64_t)(v * units[i].mult);
        }
        return 0;
    }
bad:
    hlb_diag_add(d, hlb_conf_get(n, key),
                 "'%s' must be a percentage (\"10%%\") or a size (\"2GiB\", \"500MB\"), not '%s'",
                 key, s);
    return -EINVAL;
}

static int parse_status(const hlb_conf_t *n, hh_http_spec_t *h, hlb_diag_t *d)
{
    const char *s = NULL;
    if (hlb_conf_str(n, "status", NULL, &s, d) < 0 || !s)
        return 0;
    char *a = strdup(s);
    char *dash = strchr(a, '-');
    int64_t lo, hi;
    int rc = 0;
    if (dash) {
        *dash = '\0';
        rc = hlb_parse_int(a, &lo) | hlb_parse_int(dash + 1, &hi);
    } else {
        rc = hlb_parse_int(a, &lo);
        hi = lo;
    }
    free(a);
    if (rc != 0 || lo < 100 || hi > 599 || lo > hi) {
        hlb_diag_add(d, hlb_conf_get(n, "status"),
                     "'status' must be a status (200) or a range (200-299) within 100-599, "
                     "not '%s'",
                     s);
        return -EINVAL;
    }
    h->status_min = lo;
    h->status_max = hi;
    return 0;
}

static const char *const check_keys[] = {
    "name", "type", "interval", "timeout", "retries", "retry_delay", "failures", "successes",
    "critical",
    /* http */
    "url", "method", "body", "headers", "status", "body_match", "body_regex", "max_body",
    "follow_redirects", "max_redirects", "tls", "reuse",
    /* tcp */
    "host", "port",
    /* exec */
    "argv", "env",
    /* disk */
    "path", "warn_free", "crit_free", "crit_free_inodes", NULL};

static int parse_check(const hlb_conf_t *n, const char *svc, size_t idx, const timing_t *def,
                       hh_check_spec_t *c, hlb_diag_t *d)
{
    int errs = d->errors;
    if (hlb_conf_kind(n) != HLB_CONF_MAP) {
        hlb_diag_add(d, n, "a check must be a map with at least 'type'");
        return -EINVAL;
    }
    hlb_conf_check_keys(n, check_keys, d);
    const char *type = NULL;
    hlb_conf_str(n, "type", NULL, &type, d);
    static const struct {
        const char *name;
        hh_kind_t kind;
    } kinds[] = {{"http", HH_KIND_HTTP}, {"tcp", HH_KIND_TCP}, {"exec", HH_KIND_EXEC},
                 {"disk", HH_KIND_DISK}};
    int k = -1;
    for (size_t i = 0; type && i < sizeof kinds / sizeof *kinds; i++)
        if (strcmp(type, kinds[i].name) == 0)
            k = (int)i;
    if (k < 0) {
        hlb_diag_add(d, type ? hlb_conf_get(n, "type") : n,
                     "a check's 'type' must be http, tcp, exec or disk%s%s%s",
                     type ? ", not '" : "", type ? type : "", type ? "'" : "");
        return -EINVAL;
    }
    hh_check_spec_defaults(c, kinds[k].kind);
    timing_t t;
    parse_timing(n, def, &t, d);
    c->interval_ms = t.interval;
    c->timeout_ms = t.timeout;
    c->retries = t.retries;
    c->retry_delay_ms = t.retry_delay;
    c->failures = t.failures;
    c->successes = t.successes;
    hlb_conf_bool(n, "critical", false, &c->critical, d);
    const char *name = NULL;
    hlb_conf_str(n, "name", NULL, &name, d);
    c->name = name ? strdup(name) : hh_strdup_printf("%s-%s%s%.0zu", svc, type, idx ? "-" : "",
                                                     idx);
    if (name && !hlb_name_valid(name))
        hlb_diag_add(d, hlb_conf_get(n, "name"), "a check name is [a-z0-9-]{1,64}, not '%s'",
                     name);
    c->service = strdup(svc);
    const char *s = NULL;
    int64_t v;
    switch (c->kind) {
    case HH_KIND_HTTP: {
        hh_http_spec_t *h = &c->u.http;
        hlb_conf_str(n, "url", NULL, &s, d);
        if (!s || (!hlb_has_prefix(s, "http://") && !hlb_has_prefix(s, "https://")))
            hlb_diag_add(d, s ? hlb_conf_get(n, "url") : n,
                         "an http check needs 'url' (http:// or https://)");
        h->url = xdup(s);
        hlb_conf_str(n, "method", "GET", &s, d);
        h->method = xdup(s);
        hlb_conf_str(n, "body", NULL, &s, d);
        h->body = xdup(s);
        h->headers = strv(n, "headers", d);
        parse_status(n, h, d);
        hlb_conf_str(n, "body_match", NULL, &s, d);
        h->body_match = xdup(s);
        hlb_conf_str(n, "body_regex", NULL, &s, d);
        h->body_regex = xdup(s);
        hlb_conf_int(n, "max_body", 64 * 1024, 1, 64 * 1024 * 1024, &v, d);
        h->max_body = (size_t)v;
        hlb_conf_bool(n, "follow_redirects", false, &h->follow_redirects, d);
        hlb_conf_int(n, "max_redirects", 5, 0, 50, &v, d);
        h->max_redirects = (long)v;
        hlb_conf_bool(n, "reuse", true, &h->reuse, d);
        const hlb_conf_t *tls = hlb_conf_get(n, "tls");
        if (tls) {
            static const char *const tls_keys[] = {"verify", "ca_file", "cert", "key",
                                                   "min_version", NULL};
            hlb_conf_check_keys(tls, tls_keys, d);
            hlb_conf_bool(tls, "verify", true, &h->tls_verify, d);
            hlb_conf_str(tls, "ca_file", NULL, &s, d);
            h->ca_file = xdup(s);
            hlb_conf_str(tls, "cert", NULL, &s, d);
            h->client_cert = xdup(s);
            hlb_conf_str(tls, "key", NULL, &s, d);
            h->client_key = xdup(s);
            hlb_conf_str(tls, "min_version", NULL, &s, d);
            if (s && strcmp(s, "1.0") && strcmp(s, "1.2") && strcmp(s, "1.3"))
                hlb_diag_add(d, hlb_conf_get(tls, "min_version"),
                             "'min_version' must be 1.0, 1.2 or 1.3");
            h->tls_min = xdup(s);
        }
        break;
    }
    case HH_KIND_TCP:
        hlb_conf_str(n, "host", "127.0.0.1", &s, d);
        c->u.tcp.host = xdup(s);
        hlb_conf_int(n, "port", 0, 1, 65535, &v, d);
        if (v == 0)
            hlb_diag_add(d, n, "a tcp check needs 'port' (1-65535)");
        c->u.tcp.port = hh_strdup_printf("%lld", (long long)v);
        break;
    case HH_KIND_EXEC:
        c->u.exec.argv = strv(n, "argv", d);
        c->u.exec.env = strv(n, "env", d);
        if (!c->u.exec.argv || !c->u.exec.argv[0] || c->u.exec.argv[0][0] != '/')
            hlb_diag_add(d, hlb_conf_get(n, "argv") ? hlb_conf_get(n, "argv") : n,
                         "an exec check needs 'argv', a list whose first item is an absolute "
                         "path (no shell is involved)");
        for (char **e = c->u.exec.env; e && *e; e++)
            if (!strchr(*e, '=') || **e == '=')
                hlb_diag_add(d, hlb_conf_get(n, "env"), "'env' items are NAME=value, not '%s'",
                             *e);
        break;
    case HH_KIND_DISK:
        hlb_conf_str(n, "path", "/", &s, d);
        c->u.disk.path = xdup(s);
        parse_space(n, "warn_free", &c->u.disk.warn_free_pct, &c->u.disk.warn_free_bytes, d);
        parse_space(n, "crit_free", &c->u.disk.crit_free_pct, &c->u.disk.crit_free_bytes, d);
        double ip = c->u.disk.crit_free_inodes_pct;
        uint64_t ib = 0;
        parse_space(n, "crit_free_inodes", &ip, &ib, d);
        c->u.disk.crit_free_inodes_pct = ip;
        break;
    case HH_KIND_UNIT:
        break;
    }
    if (c->timeout_ms > c->interval_ms)
        hlb_diag_add(d, n, "check %s: timeout (%lld ms) is longer than interval (%lld ms)",
                     c->name, (long long)c->timeout_ms, (long long)c->interval_ms);
    return d->errors > errs ? -EINVAL : 0;
}

static int add_svc(hh_config_t *cfg, hh_service_spec_t *s)
{
    for (size_t i = 0; i < cfg->nsvcs; i++)
        if (strcmp(cfg->svcs[i].name, s->name) == 0) {
            hh_service_spec_clear(&cfg->svcs[i]); /* the config replaces a built-in */
            cfg->svcs[i] = *s;
            for (size_t j = 0; j < cfg->nchecks;)
                if (strcmp(cfg->checks[j].service, s->name) == 0 && !cfg->check_nodes[j]) {
                    hh_check_spec_clear(&cfg->checks[j]);
                    memmove(&cfg->checks[j], &cfg->checks[j + 1],
                            (cfg->nchecks - j - 1) * sizeof *cfg->checks);
                    memmove(&cfg->check_nodes[j], &cfg->check_nodes[j + 1],
                            (cfg->nchecks - j - 1) * sizeof *cfg->check_nodes);
                    cfg->nchecks--;
                } else {
                    j++;
                }
            return 0;
        }
    hh_service_spec_t *v = realloc(cfg->svcs, (cfg->nsvcs + 1) * sizeof *v);
    if (!v)
        return -ENOMEM;
    cfg->svcs = v;
    cfg->svcs[cfg->nsvcs++] = *s;
    return 0;
}

static int add_chk(hh_config_t *cfg, hh_check_spec_t *c, const hlb_conf_t *node)
{
    hh_check_spec_t *v = realloc(cfg->checks, (cfg->nchecks + 1) * sizeof *v);
    if (v)
        cfg->checks = v;
    const hlb_conf_t **nv = realloc(cfg->check_nodes, (cfg->nchecks + 1) * sizeof *nv);
    if (nv)
        cfg->check_nodes = nv;
    if (!v || !nv)
        return -ENOMEM;
    cfg->checks[cfg->nchecks] = *c;
    cfg->check_nodes[cfg->nchecks++] = node;
    return 0;
}

int hh_config_parse(const hlb_conf_t *sec, hh_config_t *cfg, hlb_diag_t *d)
{
    memset(cfg, 0, sizeof *cfg);
    static const char *const keys[] = {"snapshot_interval", "spread", "slack", "defaults",
                                       "builtin", "services", NULL};
    if (sec && hlb_conf_kind(sec) != HLB_CONF_MAP) {
        hlb_diag_add(d, sec, "the hl-health section must be a map");
        return -EINVAL;
    }
    hlb_conf_check_keys(sec, keys, d);
    hlb_conf_duration_ms(sec, "snapshot_interval", 30000, 0, 86400000, &cfg->snapshot_ms, d);
    hlb_conf_duration_ms(sec, "spread", 2000, 0, 3600000, &cfg->spread_ms, d);
    hlb_conf_duration_ms(sec, "slack", 100, 0, 10000, &cfg->slack_ms, d);
    timing_t spec_def = {10000, 5000, 3, 500, 2, 2}, def;
    const hlb_conf_t *dn = hlb_conf_get(sec, "defaults");
    static const char *const dkeys[] = {"interval", "timeout", "retries", "retry_delay",
                                        "failures", "successes", "grace", NULL};
    hlb_conf_check_keys(dn, dkeys, d);
    parse_timing(dn, &spec_def, &def, d);
    int64_t def_grace;
    hlb_conf_duration_ms(dn, "grace", 30000, 0, 86400000, &def_grace, d);
    bool use_builtin;
    hlb_conf_bool(sec, "builtin", true, &use_builtin, d);
    for (size_t i = 0; use_builtin && i < sizeof builtin / sizeof *builtin; i++) {
        hh_service_spec_t s = {.name = strdup(builtin[i].name), .unit = strdup(builtin[i].unit),
                               .grace_ms = def_grace};
        add_svc(cfg, &s);
        if (builtin[i].url) {
            hh_check_spec_t c;
            hh_check_spec_defaults(&c, HH_KIND_HTTP);
            c.name = hh_strdup_printf("%s-http", builtin[i].name);
            c.service = strdup(builtin[i].name);
            c.u.http.url = strdup(builtin[i].url);
            c.interval_ms = def.interval;
            c.timeout_ms = def.timeout;
            c.retries = def.retries;
            c.retry_delay_ms = def.retry_delay;
            c.failures = def.failures;
            c.successes = def.successes;
            add_chk(cfg, &c, NULL);
        }
    }
    const hlb_conf_t *svcs = hlb_conf_get(sec, "services");
    if (svcs && hlb_conf_kind(svcs) != HLB_CONF_MAP)
        hlb_diag_add(d, svcs, "'services' must be a map of service name to its settings");
    for (size_t i = 0; svcs && hlb_conf_kind(svcs) == HLB_CONF_MAP && i < hlb_conf_count(svcs);
         i++) {
        const hlb_conf_t *sn = hlb_conf_at(svcs, i);
        const char *name = hlb_conf_key(sn);
        if (!hlb_name_valid(name)) {
            hlb_diag_add(d, sn, "a service name is [a-z0-9-]{1,64} (it becomes health.<name>), "
                                "not '%s'",
                         name);
            continue;
        }
        static const char *const skeys[] = {"unit", "phase", "grace", "checks", NULL};
        if (hlb_conf_kind(sn) != HLB_CONF_MAP) {
            hlb_diag_add(d, sn, "service %s: expected a map (unit, phase, grace, checks)", name);
            continue;
        }
        hlb_conf_check_keys(sn, skeys, d);
        hh_service_spec_t s = {.name = strdup(name)};
        const char *unit = NULL, *phase = NULL;
        /* unit: absent → <name>.service; "" → none (a service known by checks only). */
        hlb_conf_str(sn, "unit", NULL, &unit, d);
        if (!unit)
            s.unit = hh_strdup_printf("%s.service", name);
        else if (*unit)
            s.unit = strdup(unit);
        hlb_conf_str(sn, "phase", NULL, &phase, d);
        s.phase = phase && *phase ? strdup(phase) : NULL;
        hlb_conf_duration_ms(sn, "grace", def_grace, 0, 86400000, &s.grace_ms, d);
        add_svc(cfg, &s);
        const hlb_conf_t *cl = hlb_conf_get(sn, "checks");
        if (cl && hlb_conf_kind(cl) != HLB_CONF_SEQ) {
            hlb_diag_add(d, cl, "service %s: 'checks' must be a list", name);
            continue;
        }
        for (size_t j = 0; cl && j < hlb_conf_count(cl); j++) {
            hh_check_spec_t c;
            memset(&c, 0, sizeof c);
            if (parse_check(hlb_conf_at(cl, j), name, j, &def, &c, d) < 0) {
                hh_check_spec_clear(&c);
                continue;
            }
            add_chk(cfg, &c, hlb_conf_at(cl, j));
        }
    }
    /* Names are global: hlctl health --why NAME must be unambiguous. */
    for (size_t i = 0; i < cfg->nchecks; i++)
        for (size_t j = 0; j < i; j++)
            if (strcmp(cfg->checks[i].name, cfg->checks[j].name) == 0)
                hlb_diag_add(d, cfg->check_nodes[i] ? cfg->check_nodes[i] : sec,
                             "check name '%s' used twice", cfg->checks[i].name);
    return d->errors ? -EINVAL : 0;
}

void hh_config_clear(hh_config_t *cfg)
{
    for (size_t i = 0; i < cfg->nsvcs; i++)
        hh_service_spec_clear(&cfg->svcs[i]);
    for (size_t i = 0; i < cfg->nchecks; i++)
        hh_check_spec_clear(&cfg->checks[i]);
    free(cfg->svcs);
    free(cfg->checks);
    free(cfg->check_nodes);
    memset(cfg, 0, sizeof *cfg);
}

hh_engine_t *hh_config_build(const hh_config_t *cfg, zloop_t *loop, hlb_diag_t *d)
{
    hh_engine_t *e = hh_engine_new(loop);
    if (!e) {
        hlb_diag_add(d, NULL, "cannot set up the check engine (epoll, timerfd or libcurl)");
        return NULL;
    }
    hh_engine_set_spread(e, cfg->spread_ms);
    hh_engine_set_slack(e, cfg->slack_ms);
    for (size_t i = 0; i < cfg->nsvcs; i++)
        if (hh_engine_add_service(e, &cfg->svcs[i]) < 0)
            hlb_diag_add(d, NULL, "service %s: cannot add it", cfg->svcs[i].name);
    for (size_t i = 0; i < cfg->nchecks; i++) {
        hh_check_spec_t c;
        char *err = NULL;
        if (hh_check_spec_copy(&c, &cfg->checks[i]) < 0 || hh_engine_add_check(e, &c, &err) < 0) {
            hlb_diag_add(d, cfg->check_nodes ? cfg->check_nodes[i] : NULL, "check %s: %s",
                         cfg->checks[i].name, err ? err : "refused");
            hh_check_spec_clear(&c);
        }
        free(err);
    }
    if (d->errors)
        hh_engine_destroy(&e);
    return e;
}
