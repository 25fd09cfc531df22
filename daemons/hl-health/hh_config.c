/* hl-health's config section. See deploy/config/hl-health.yaml.example. */
#include "hh_config.h"

#include <errno.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <hlbus/devserver.h>
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

/* ---- the schema: what the file may say ---- */

typedef struct {
    int64_t interval, timeout, retries, retry_delay, failures, successes;
} timing_t;

typedef struct {
    timing_t t;
    int64_t grace;
} defaults_raw_t;

typedef struct {
    bool verify;
    char *ca_file, *cert, *key, *min_version;
} tls_raw_t;

typedef struct {
    char *name, *type;
    timing_t t;
    bool critical;
    /* http */
    char *url, *method, *body, **headers, *bearer_token, *status, *body_match, *body_regex;
    int64_t max_body, max_redirects;
    bool follow_redirects, reuse;
    tls_raw_t tls;
    /* tcp */
    char *host;
    int port;
    /* exec */
    char **argv, **env, *user;
    /* disk */
    char *path, *warn_free, *crit_free, *crit_free_inodes;
} check_raw_t;

typedef struct {
    char *name; /* the map key */
    char *unit, *phase;
    int64_t grace;
    hlb_conf_vec_t checks; /* check_raw_t */
} svc_raw_t;

typedef struct {
    int64_t snapshot_ms, spread_ms, slack_ms;
    defaults_raw_t defaults;
    bool builtin;
    bool dev_servers;
    char *exec_user;
    hlb_conf_vec_t services; /* svc_raw_t */
} health_raw_t;

/* The timing rows, shared by "defaults" (with the spec's values) and each
 * check (defaulting to "defaults", see check_init). */
#define TIMING_ROWS(T, base, d_interval, d_timeout, d_retries, d_delay, d_fail, d_succ)          \
    HLB_KEY("interval", HLB_KIND_DURATION, T, base.interval, .def = d_interval, .min = 100,      \
            .max = 86400000),                                                                    \
    HLB_KEY("timeout", HLB_KIND_DURATION, T, base.timeout, .def = d_timeout, .min = 10,          \
            .max = 3600000),                                                                     \
    HLB_KEY("retries", HLB_KIND_INT, T, base.retries, .def = d_retries, .min = 1, .max = 100),   \
    HLB_KEY("retry_delay", HLB_KIND_DURATION, T, base.retry_delay, .def = d_delay, .min = 0,     \
            .max = 3600000),                                                                     \
    HLB_KEY("failures", HLB_KIND_INT, T, base.failures, .def = d_fail, .min = 1, .max = 1000),   \
    HLB_KEY("successes", HLB_KIND_INT, T, base.successes, .def = d_succ, .min = 1, .max = 1000)

static const hlb_conf_key_t defaults_keys[] = {
    TIMING_ROWS(defaults_raw_t, t, "10s", "5s", "3", "500ms", "2", "2"),
    HLB_KEY_DURATION(defaults_raw_t, grace, "30s", 0, 86400000, 0),
    {0}};
static const hlb_conf_table_t defaults_table = {
    .name = "defaults", .size = sizeof(defaults_raw_t), .keys = defaults_keys};

static const char *const tls_versions[] = {"1.0", "1.2", "1.3", NULL};
static const hlb_conf_key_t tls_keys[] = {
    HLB_KEY_BOOL(tls_raw_t, verify, "true", 0),
    HLB_KEY_STR(tls_raw_t, ca_file, NULL, 0),
    HLB_KEY_STR(tls_raw_t, cert, NULL, 0),
    HLB_KEY_STR(tls_raw_t, key, NULL, 0),
    HLB_KEY_STR(tls_raw_t, min_version, NULL, 0), /* one of tls_versions */
    {0}};
static const hlb_conf_table_t tls_table = {.name = "tls", .size = sizeof(tls_raw_t),
                                           .keys = tls_keys};

static void check_init(void *obj, void *ctx)
{
    check_raw_t *c = obj;
    const health_raw_t *top = ctx;
    c->t = top->defaults.t;
}

static const hlb_conf_key_t check_keys[] = {
    HLB_KEY_STR(check_raw_t, name, NULL, 0), /* default <service>-<type>[-n] */
    HLB_KEY_STR(check_raw_t, type, NULL, 0), /* http, tcp, exec or disk */
    TIMING_ROWS(check_raw_t, t, NULL, NULL, NULL, NULL, NULL, NULL),
    HLB_KEY_BOOL(check_raw_t, critical, "false", 0),
    /* http */
    HLB_KEY_STR(check_raw_t, url, NULL, 0),
    HLB_KEY_STR(check_raw_t, method, "GET", 0),
    HLB_KEY_STR(check_raw_t, body, NULL, 0),
    HLB_KEY_STRV(check_raw_t, headers, NULL, 64, 0),
    /* sent as "Authorization: Bearer <token>"; from a file or a credential only */
    HLB_KEY_SECRET(check_raw_t, bearer_token, 0),
    HLB_KEY_STR(check_raw_t, status, NULL, 0), /* 200 or 200-299; default 200-399 */
    HLB_KEY_STR(check_raw_t, body_match, NULL, 0),
    HLB_KEY_STR(check_raw_t, body_regex, NULL, 0),
    HLB_KEY_INT(check_raw_t, max_body, "65536", 1, 64 * 1024 * 1024, 0),
    HLB_KEY_BOOL(check_raw_t, follow_redirects, "false", 0),
    HLB_KEY_INT(check_raw_t, max_redirects, "5", 0, 50, 0),
    HLB_KEY_TABLE(check_raw_t, tls, &tls_table, 0),
    HLB_KEY_BOOL(check_raw_t, reuse, "true", 0),
    /* tcp */
    HLB_KEY_STR(check_raw_t, host, "127.0.0.1", 0),
    HLB_KEY_INT(check_raw_t, port, NULL, 1, 65535, 0),
    /* exec */
    HLB_KEY_STRV(check_raw_t, argv, NULL, 256, 0),
    HLB_KEY_STRV(check_raw_t, env, NULL, 256, 0),
    HLB_KEY_STR(check_raw_t, user, NULL, 0), /* default: the section's exec_user */
    /* disk */
    HLB_KEY_STR(check_raw_t, path, "/", 0),
    HLB_KEY_STR(check_raw_t, warn_free, NULL, 0), /* "10%" or a size; default 10% */
    HLB_KEY_STR(check_raw_t, crit_free, NULL, 0), /* default 5% */
    HLB_KEY_STR(check_raw_t, crit_free_inodes, NULL, 0), /* default 2% */
    {0}};
static const hlb_conf_table_t check_table = {
    .name = "check", .size = sizeof(check_raw_t), .keys = check_keys, .init = check_init};

static void svc_init(void *obj, void *ctx)
{
    svc_raw_t *s = obj;
    const health_raw_t *top = ctx;
    s->grace = top->defaults.grace;
}

static const hlb_conf_key_t svc_keys[] = {
    /* absent: <name>.service; "": none (a service known by its checks only) */
    HLB_KEY_STR(svc_raw_t, unit, NULL, 0),
    HLB_KEY_STR(svc_raw_t, phase, NULL, 0),
    HLB_KEY_DURATION(svc_raw_t, grace, NULL, 0, 86400000, 0),
    HLB_KEY_LIST(svc_raw_t, checks, &check_table, 0, 0),
    {0}};
static const hlb_conf_table_t svc_table = {.name = "service", .size = sizeof(svc_raw_t),
                                           .keys = svc_keys, .init = svc_init,
                                           .name_offset = offsetof(svc_raw_t, name),
                                           .has_name = true};

static const hlb_conf_key_t health_keys[] = {
    HLB_KEY("snapshot_interval", HLB_KIND_DURATION, health_raw_t, snapshot_ms, .def = "30s",
            .min = 0, .max = 86400000),
    HLB_KEY("spread", HLB_KIND_DURATION, health_raw_t, spread_ms, .def = "2s", .min = 0,
            .max = 3600000),
    HLB_KEY("slack", HLB_KIND_DURATION, health_raw_t, slack_ms, .def = "100ms", .min = 0,
            .max = 10000),
    HLB_KEY_TABLE(health_raw_t, defaults, &defaults_table, 0), /* before services: they use it */
    HLB_KEY_BOOL(health_raw_t, builtin, "true", 0),
    /* A check per development server of dev-server.yaml (hlbus/devserver.h),
     * without a line here: the file is the one place a server is described. */
    HLB_KEY_BOOL(health_raw_t, dev_servers, "true", 0),
    /* Who exec checks run as: unset, the daemon's own user (a development
     * run); the shipped hl.yaml says hl-check. */
    HLB_KEY_STR(health_raw_t, exec_user, NULL, 0),
    HLB_KEY_DICT(health_raw_t, services, &svc_table, 0, 0),
    {0}};
static const hlb_conf_table_t health_table = {
    .name = "hl-health", .size = sizeof(health_raw_t), .keys = health_keys};

/* ---- from what the file says to the engine's specs ---- */

static char *xdup(const char *s) { return s ? strdup(s) : NULL; }

static char **xdupv(char **v)
{
    if (!v)
        return NULL;
    size_t n = 0;
    while (v[n])
        n++;
    char **o = calloc(n + 1, sizeof *o);
    for (size_t i = 0; o && i < n; i++)
        o[i] = strdup(v[i]);
    return o;
}

/* "10%" → percent; "1GiB", "500MB", "123" → bytes. S NULL: unchanged. */
static int parse_space(const hlb_conf_t *n, const char *key, const char *s, double *pct,
                       uint64_t *bytes, hlb_diag_t *d)
{
    if (!s)
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

static int parse_status(const hlb_conf_t *n, const char *s, hh_http_spec_t *h, hlb_diag_t *d)
{
    if (!s)
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

/* Whether a header carries credentials (they belong in a secret file). */
static bool header_is_secret(const char *h)
{
    static const char *const names[] = {"authorization:", "proxy-authorization:", "cookie:",
                                         "x-api-key:", "x-auth-token:"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        if (strncasecmp(h, names[i], strlen(names[i])) == 0)
            return true;
    return false;
}

/* Whether NAME is a user of this system (exec checks switch to it). */
static bool user_exists(const char *name)
{
    struct passwd pw, *pwp = NULL;
    char buf[4096];
    return getpwnam_r(name, &pw, buf, sizeof buf, &pwp) == 0 && pwp;
}

/* The schema's timing block onto a check: the one place the two meet. */
static void apply_timing(hh_check_spec_t *c, const timing_t *t)
{
    c->interval_ms = t->interval;
    c->timeout_ms = t->timeout;
    c->retries = t->retries;
    c->retry_delay_ms = t->retry_delay;
    c->failures = t->failures;
    c->successes = t->successes;
}

static int build_check(const check_raw_t *r, const hlb_conf_t *n, const char *svc, size_t idx,
                       const char *exec_user, hh_check_spec_t *c, hlb_diag_t *d)
{
    int errs = d->errors;
    static const struct {
        const char *name;
        hh_kind_t kind;
    } kinds[] = {{"http", HH_KIND_HTTP}, {"tcp", HH_KIND_TCP}, {"exec", HH_KIND_EXEC},
                 {"disk", HH_KIND_DISK}};
    const char *type = r->type;
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
    apply_timing(c, &r->t);
    c->critical = r->critical;
    c->name = r->name ? strdup(r->name)
                      : hlb_strdupf("%s-%s%s%.0zu", svc, type, idx ? "-" : "", idx);
    if (r->name && !hlb_name_valid(r->name))
        hlb_diag_add(d, hlb_conf_get(n, "name"), "a check name is [a-z0-9-]{1,64}, not '%s'",
                     r->name);
    c->service = strdup(svc);
    switch (c->kind) {
    case HH_KIND_HTTP: {
        hh_http_spec_t *h = &c->u.http;
        const char *s = r->url;
        if (!s || (strncmp(s, "http://", 7) != 0 && strncmp(s, "https://", 8) != 0))
            hlb_diag_add(d, s ? hlb_conf_get(n, "url") : n,
                         "an http check needs 'url' (http:// or https://)");
        h->url = xdup(s);
        h->method = xdup(r->method);
        h->body = xdup(r->body);
        const hlb_conf_t *hn = hlb_conf_get(n, "headers");
        for (size_t i = 0; r->headers && r->headers[i]; i++)
            if (header_is_secret(r->headers[i]))
                /* refused, not warned about; the value is not repeated */
                hlb_diag_add(d, hlb_conf_at(hn, i),
                             "'headers' item %zu carries credentials inline; put the token in a "
                             "file and use 'bearer_token_file: PATH' (or "
                             "'bearer_token_credential: NAME' with LoadCredential=)",
                             i + 1);
        size_t nh = 0;
        while (r->headers && r->headers[nh])
            nh++;
        h->headers = calloc(nh + 2, sizeof *h->headers);
        for (size_t i = 0; h->headers && i < nh; i++)
            h->headers[i] = strdup(r->headers[i]);
        if (h->headers && r->bearer_token)
            h->headers[nh] = hlb_strdupf("Authorization: Bearer %s", r->bearer_token);
        if (h->headers && !h->headers[0]) {
            free(h->headers);
            h->headers = NULL;
        }
        parse_status(n, r->status, h, d);
        h->body_match = xdup(r->body_match);
        h->body_regex = xdup(r->body_regex);
        h->max_body = (size_t)r->max_body;
        h->follow_redirects = r->follow_redirects;
        h->max_redirects = (long)r->max_redirects;
        h->reuse = r->reuse;
        h->tls_verify = r->tls.verify;
        h->ca_file = xdup(r->tls.ca_file);
        h->client_cert = xdup(r->tls.cert);
        h->client_key = xdup(r->tls.key);
        if (r->tls.min_version) {
            bool ok = false;
            for (size_t i = 0; tls_versions[i] && !ok; i++)
                ok = strcmp(tls_versions[i], r->tls.min_version) == 0;
            if (!ok)
                hlb_diag_add(d, hlb_conf_get(n, "tls.min_version"),
                             "'min_version' must be 1.0, 1.2 or 1.3");
        }
        h->tls_min = xdup(r->tls.min_version);
        break;
    }
    case HH_KIND_TCP:
        c->u.tcp.host = xdup(r->host);
        if (r->port == 0 && !hlb_conf_get(n, "port"))
            hlb_diag_add(d, n, "a tcp check needs 'port' (1-65535)");
        c->u.tcp.port = hlb_strdupf("%d", r->port);
        break;
    case HH_KIND_EXEC:
        c->u.exec.argv = xdupv(r->argv);
        c->u.exec.env = xdupv(r->env);
        if (!c->u.exec.argv || !c->u.exec.argv[0] || c->u.exec.argv[0][0] != '/')
            hlb_diag_add(d, hlb_conf_get(n, "argv") ? hlb_conf_get(n, "argv") : n,
                         "an exec check needs 'argv', a list whose first item is an absolute "
                         "path (no shell is involved)");
        for (char **e = c->u.exec.env; e && *e; e++)
            if (!strchr(*e, '=') || **e == '=')
                hlb_diag_add(d, hlb_conf_get(n, "env"), "'env' items are NAME=value, not '%s'",
                             *e);
        /* An exec check runs as its own unprivileged user (exec_user, or the
         * check's 'user'), never as the daemon: a check is a program of the
         * configuration's, and hl-health's uid may publish on the bus. */
        const char *user = r->user ? r->user : exec_user;
        if (user && *user) {
            if (!user_exists(user))
                hlb_diag_add(d, hlb_conf_get(n, "user") ? hlb_conf_get(n, "user") : n,
                             "exec checks run as user '%s', which does not exist%s", user,
                             r->user ? "" : " (exec_user)");
            c->u.exec.user = xdup(user);
        }
        break;
    case HH_KIND_DISK: {
        c->u.disk.path = xdup(r->path);
        parse_space(n, "warn_free", r->warn_free, &c->u.disk.warn_free_pct,
                    &c->u.disk.warn_free_bytes, d);
        parse_space(n, "crit_free", r->crit_free, &c->u.disk.crit_free_pct,
                    &c->u.disk.crit_free_bytes, d);
        double ip = c->u.disk.crit_free_inodes_pct;
        uint64_t ib = 0;
        parse_space(n, "crit_free_inodes", r->crit_free_inodes, &ip, &ib, d);
        c->u.disk.crit_free_inodes_pct = ip;
        break;
    }
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

/* The development servers' checks, from the file hlctl dev apply made live
 * (or the file itself at boot): each server is a service named as the
 * server, with the unit hl-service@NAME.service, and one check on its port:
 * http (any HTTP answer on /: a dev server's / may well be a 404), a path
 * (2xx or 3xx there) or tcp (a connection). A service of the same name in
 * this section wins. A file that does not validate adds nothing: hlctl dev
 * apply refuses it before it is ever applied, and says why. */
static void add_dev_servers(hh_config_t *cfg, const timing_t *def, int64_t grace)
{
    hlb_dev_config_t *dc = hlb_dev_config_load(hlb_dev_effective_path(), true, NULL);
    for (size_t i = 0; dc && i < dc->n_servers; i++) {
        const hlb_dev_server_t *ds = &dc->servers[i];
        bool taken = false;
        for (size_t k = 0; k < cfg->nsvcs && !taken; k++)
            taken = !strcmp(cfg->svcs[k].name, ds->name);
        if (taken)
            continue;
        hh_service_spec_t s = {.name = strdup(ds->name), .unit = hlb_dev_unit_name(ds),
                               .grace_ms = grace};
        add_svc(cfg, &s);
        hh_check_spec_t c;
        hh_check_spec_defaults(&c, ds->health == HLB_DEV_HEALTH_TCP ? HH_KIND_TCP : HH_KIND_HTTP);
        c.service = strdup(ds->name);
        if (ds->health == HLB_DEV_HEALTH_TCP) {
            c.name = hlb_strdupf("%s-tcp", ds->name);
            c.u.tcp.host = strdup("127.0.0.1");
            c.u.tcp.port = hlb_strdupf("%lld", (long long) ds->port);
        } else {
            c.name = hlb_strdupf("%s-http", ds->name);
            c.u.http.url = hlb_strdupf("http://127.0.0.1:%lld%s", (long long) ds->port,
                                       ds->health == HLB_DEV_HEALTH_PATH ? ds->health_word : "/");
            if (ds->health == HLB_DEV_HEALTH_HTTP) {
                c.u.http.status_min = 100;
                c.u.http.status_max = 499;
            }
        }
        apply_timing(&c, def);
        add_chk(cfg, &c, NULL);
    }
    hlb_dev_config_destroy(&dc);
}

int hh_config_parse(const hlb_conf_t *sec, hh_config_t *cfg, hlb_diag_t *diag)
{
    memset(cfg, 0, sizeof *cfg);
    hlb_diag_t local = {0};
    hlb_diag_t *d = diag ? diag : &local;
    int errors = d->errors;
    if (sec && hlb_conf_kind(sec) != HLB_CONF_MAP) {
        hlb_diag_add(d, sec, "the hl-health section must be a map");
        hlb_diag_free(&local);
        return -EINVAL;
    }
    health_raw_t raw;
    /* The section is its own context: entries default from its "defaults". */
    hlb_conf_schema_parse(&health_table, sec, &raw, &raw, d);
    cfg->snapshot_ms = raw.snapshot_ms;
    cfg->spread_ms = raw.spread_ms;
    cfg->slack_ms = raw.slack_ms;
    const timing_t *def = &raw.defaults.t;
    for (size_t i = 0; raw.builtin && i < sizeof builtin / sizeof *builtin; i++) {
        hh_service_spec_t s = {.name = strdup(builtin[i].name), .unit = strdup(builtin[i].unit),
                               .grace_ms = raw.defaults.grace};
        add_svc(cfg, &s);
        if (builtin[i].url) {
            hh_check_spec_t c;
            hh_check_spec_defaults(&c, HH_KIND_HTTP);
            c.name = hlb_strdupf("%s-http", builtin[i].name);
            c.service = strdup(builtin[i].name);
            c.u.http.url = strdup(builtin[i].url);
            apply_timing(&c, def);
            add_chk(cfg, &c, NULL);
        }
    }
    const hlb_conf_t *svcs = hlb_conf_get(sec, "services");
    const svc_raw_t *sv = raw.services.items;
    for (size_t i = 0; i < raw.services.n; i++) {
        const hlb_conf_t *sn = hlb_conf_at(svcs, i);
        const char *name = sv[i].name;
        if (!hlb_name_valid(name)) {
            hlb_diag_add(d, sn, "a service name is [a-z0-9-]{1,64} (it becomes health.<name>), "
                                "not '%s'",
                         name);
            continue;
        }
        hh_service_spec_t s = {.name = strdup(name)};
        if (!sv[i].unit)
            s.unit = hlb_strdupf("%s.service", name);
        else if (*sv[i].unit)
            s.unit = strdup(sv[i].unit);
        s.phase = sv[i].phase && *sv[i].phase ? strdup(sv[i].phase) : NULL;
        s.grace_ms = sv[i].grace;
        add_svc(cfg, &s);
        const hlb_conf_t *cl = hlb_conf_get(sn, "checks");
        const check_raw_t *cr = sv[i].checks.items;
        for (size_t j = 0; j < sv[i].checks.n; j++) {
            const hlb_conf_t *cn = hlb_conf_at(cl, j);
            if (hlb_conf_kind(cn) != HLB_CONF_MAP)
                continue; /* reported by the schema */
            hh_check_spec_t c;
            memset(&c, 0, sizeof c);
            if (build_check(&cr[j], cn, name, j, raw.exec_user, &c, d) < 0) {
                hh_check_spec_clear(&c);
                continue;
            }
            add_chk(cfg, &c, cn);
        }
    }
    if (raw.dev_servers)
        add_dev_servers(cfg, def, raw.defaults.grace);
    hlb_conf_schema_free(&health_table, &raw);
    /* Names are global: hlctl health --why NAME must be unambiguous. */
    for (size_t i = 0; i < cfg->nchecks; i++)
        for (size_t j = 0; j < i; j++)
            if (strcmp(cfg->checks[i].name, cfg->checks[j].name) == 0)
                hlb_diag_add(d, cfg->check_nodes[i] ? cfg->check_nodes[i] : sec,
                             "check name '%s' used twice", cfg->checks[i].name);
    int rc = d->errors > errors ? -EINVAL : 0;
    hlb_diag_free(&local);
    return rc;
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
    hlb_tlspolicy_destroy(&cfg->tls);
    memset(cfg, 0, sizeof *cfg);
}

hh_engine_t *hh_config_build(const hh_config_t *cfg, hlb_reactor_t *io, hlb_diag_t *d)
{
    hh_engine_t *e = hh_engine_new(io);
    if (!e) {
        hlb_diag_add(d, NULL, "cannot set up the check engine (epoll, timerfd or libcurl)");
        return NULL;
    }
    hh_engine_set_spread(e, cfg->spread_ms);
    hh_engine_set_slack(e, cfg->slack_ms);
    hh_engine_set_tls(e, cfg->tls);
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
