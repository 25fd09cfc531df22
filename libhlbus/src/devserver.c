/* dev-server.yaml: read with the shared YAML reader, checked through the
 * config schema, then across entries (names, ports, routes). See
 * hlbus/devserver.h. */
#include "hlbus/devserver.h"

#include "hlbus/buf.h"
#include "hlbus/confschema.h"
#include "hlbus/str.h"
#include "hlbus/strv.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The ports our own services listen on (spec 1.3.2, 3.2.1, 4.1, 4.3): a dev
 * server or the proxy there would fail to bind, or worse, answer for them. */
const hlb_dev_reserved_port_t hlb_dev_reserved_ports[] = {
    {8080, "hl-daemon's (its /health and the Alertmanager webhook /alerts, spec 1.3.2, 4.3)"},
    {8081, "hl-metrics' (/metrics, spec 4.1)"},
    {3000, "claude-code's (claude-code-server --port 3000, spec 3.2.1)"},
    {0, NULL}};

enum { MAX_SERVERS = 64, MAX_ROUTES = 64, MAX_ENV = 128, MAX_FILE = 1 << 20 };

typedef struct routes {
    hlb_dev_route_t *v;
    size_t n;
} routes_t;

typedef struct proxy_raw {
    bool enabled;
    int64_t port;
    routes_t routes;
} proxy_raw_t;

typedef struct dev_raw {
    hlb_conf_vec_t servers; /* of hlb_dev_server_t */
    proxy_raw_t proxy;
} dev_raw_t;

typedef struct root_raw {
    dev_raw_t development;
} root_raw_t;

/* ---- single values ---- */

static bool name_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 48 || s[0] == '-' || s[n - 1] == '-')
        return false;
    for (const char *p = s; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-'))
            return false;
    return true;
}

static bool env_name_ok(const char *s)
{
    if (!*s || (*s >= '0' && *s <= '9'))
        return false;
    for (const char *p = s; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '_'))
            return false;
    return true;
}

static bool has_control(const char *s)
{
    for (const unsigned char *p = (const unsigned char *) s; *p; p++)
        if (*p < 0x20 || *p == 0x7f)
            return true;
    return false;
}

/* Paths go into unit files and nginx's config: only characters none of
 * them treats specially. */
static bool path_chars_ok(const char *s)
{
    for (const char *p = s; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              strchr("/._-+@", *p)))
            return false;
    return true;
}

static bool has_dot_segment(const char *s)
{
    for (const char *p = s; *p; p++) {
        if (*p != '/')
            continue;
        const char *seg = p + 1;
        size_t n = strcspn(seg, "/");
        if ((n == 1 && seg[0] == '.') || (n == 2 && seg[0] == '.' && seg[1] == '.'))
            return true;
    }
    return false;
}

static bool user_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 32 || !((s[0] >= 'a' && s[0] <= 'z') || s[0] == '_'))
        return false;
    for (const char *p = s; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_' || *p == '-'))
            return false;
    return true;
}

/* The command as hl-service-runner will split it (wordexp(3) without
 * command substitution): what the runner would refuse at start is refused
 * here, with the line. A scan of its own rather than wordexp itself, which
 * would also expand globs against this machine's file system. */
static const char *command_problem(const char *cmd)
{
    enum { PLAIN, SINGLE, DOUBLE } q = PLAIN;
    bool word = false;
    for (const char *p = cmd; *p; p++) {
        unsigned char ch = (unsigned char) *p;
        if (ch < 0x20 || ch == 0x7f)
            return "holds a control character or a newline";
        if (q == SINGLE) {
            if (ch == '\'')
                q = PLAIN;
            continue;
        }
        if (ch == '\\') {
            if (!p[1])
                return "ends in a lone backslash";
            p++;
            word = true;
            continue;
        }
        if (ch == '`' || (ch == '$' && p[1] == '('))
            return "command substitution is not run: write sh -c '...'";
        if (q == DOUBLE) {
            if (ch == '"')
                q = PLAIN;
            continue;
        }
        if (strchr("|&;<>(){}", ch))
            return "shell syntax (| & ; < > ( ) { }) is not run: the command runs without a "
                   "shell; write sh -c '...' when a shell is what you want";
        if (ch == '\'')
            q = SINGLE;
        else if (ch == '"')
            q = DOUBLE;
        if (ch != ' ' && ch != '\t')
            word = true;
    }
    if (q != PLAIN)
        return "unbalanced quotes";
    return word ? NULL : "has no words";
}

static const char *reserved_owner(int64_t port)
{
    for (const hlb_dev_reserved_port_t *r = hlb_dev_reserved_ports; r->port; r++)
        if (r->port == port)
            return r->owner;
    return NULL;
}

/* ---- custom rows ---- */

static int parse_environment(const hlb_conf_t *n, void *field, void *ctx, hlb_diag_t *d)
{
    (void) ctx;
    char ***out = field;
    if (hlb_conf_kind(n) != HLB_CONF_MAP) {
        hlb_diag_add(d, n, "'environment' must be a map of NAME: value");
        return -EINVAL;
    }
    if (hlb_conf_count(n) > MAX_ENV) {
        hlb_diag_add(d, n, "'environment' holds %zu variables; at most %d", hlb_conf_count(n),
                     MAX_ENV);
        return -EINVAL;
    }
    int rc = 0;
    for (size_t i = 0; i < hlb_conf_count(n); i++) {
        const hlb_conf_t *kv = hlb_conf_at(n, i);
        const char *k = hlb_conf_key(kv), *v = hlb_conf_scalar(kv);
        if (!env_name_ok(k)) {
            hlb_diag_add(d, kv, "environment: '%s' is not a variable name ([A-Za-z_][A-Za-z0-9_]*)",
                         k);
            rc = -EINVAL;
            continue;
        }
        if (hlb_has_prefix(k, "HL_SERVICE_")) {
            hlb_diag_add(d, kv, "environment: %s is set by hl-service@ itself", k);
            rc = -EINVAL;
            continue;
        }
        if (!v) {
            hlb_diag_add(d, kv, "environment: %s must be a string, not a %s", k,
                         hlb_conf_kind(kv) == HLB_CONF_MAP ? "map" : "list");
            rc = -EINVAL;
            continue;
        }
        if (has_control(v)) {
            hlb_diag_add(d, kv, "environment: %s holds a control character or a newline", k);
            rc = -EINVAL;
            continue;
        }
        char *e = hlb_strdupf("%s=%s", k, v);
        if (!e || hlb_strv_push(out, e) < 0)
            abort();
        free(e);
    }
    return rc;
}

static void free_environment(void *field)
{
    char ***v = field;
    hlb_strv_free(*v);
    *v = NULL;
}

static void route_clear(hlb_dev_route_t *r)
{
    free(r->pattern);
    free(r->location);
    free(r->upstream);
}

static void free_routes(void *field)
{
    routes_t *rs = field;
    for (size_t i = 0; i < rs->n; i++)
        route_clear(&rs->v[i]);
    free(rs->v);
    rs->v = NULL;
    rs->n = 0;
}

/* "http://localhost:PORT", "http://127.0.0.1:PORT" or "http://[::1]:PORT",
 * with at most a trailing "/": the proxy forwards to dev servers on this
 * machine, and passes the request's path on unchanged. */
static int parse_upstream(const char *url, int64_t *port)
{
    static const char *const hosts[] = {"http://localhost:", "http://127.0.0.1:",
                                        "http://[::1]:", NULL};
    for (size_t i = 0; hosts[i]; i++) {
        if (!hlb_has_prefix(url, hosts[i]))
            continue;
        char *digits = strdup(url + strlen(hosts[i]));
        if (!digits)
            abort();
        size_t n = strlen(digits);
        if (n && digits[n - 1] == '/')
            digits[n - 1] = 0;
        int64_t p = 0;
        int r = hlb_parse_int(digits, &p);
        free(digits);
        if (r < 0 || p < 1 || p > 65535)
            return -EINVAL;
        *port = p;
        return 0;
    }
    return -EINVAL;
}

static int route_cmp(const void *a, const void *b)
{
    const hlb_dev_route_t *x = a, *y = b;
    if (x->exact != y->exact)
        return x->exact ? -1 : 1;
    size_t lx = strlen(x->location), ly = strlen(y->location);
    if (lx != ly)
        return lx > ly ? -1 : 1;
    return strcmp(x->location, y->location);
}

static int parse_routes(const hlb_conf_t *n, void *field, void *ctx, hlb_diag_t *d)
{
    (void) ctx;
    routes_t *rs = field;
    if (hlb_conf_kind(n) != HLB_CONF_MAP) {
        hlb_diag_add(d, n, "'routes' must be a map of '/path/*': 'http://localhost:PORT'");
        return -EINVAL;
    }
    size_t cnt = hlb_conf_count(n);
    if (cnt > MAX_ROUTES) {
        hlb_diag_add(d, n, "'routes' holds %zu routes; at most %d", cnt, MAX_ROUTES);
        return -EINVAL;
    }
    rs->v = calloc(cnt ? cnt : 1, sizeof *rs->v);
    if (!rs->v)
        abort();
    int rc = 0;
    for (size_t i = 0; i < cnt; i++) {
        const hlb_conf_t *kv = hlb_conf_at(n, i);
        const char *pat = hlb_conf_key(kv), *url = hlb_conf_scalar(kv);
        size_t len = strlen(pat);
        bool star = len && pat[len - 1] == '*';
        char *loc = strndup(pat, star ? len - 1 : len);
        if (!loc)
            abort();
        if (pat[0] != '/' || !path_chars_ok(loc) || strchr(loc, '*') || has_dot_segment(loc)) {
            hlb_diag_add(d, kv,
                         "route '%s': a path starting with '/', of letters, digits and ._-+@/, "
                         "ending in '*' for a prefix",
                         pat);
            free(loc);
            rc = -EINVAL;
            continue;
        }
        int64_t port = 0;
        if (!url || parse_upstream(url, &port) < 0) {
            hlb_diag_add(d, kv,
                         "route '%s': the target must be http://localhost:PORT (or 127.0.0.1, "
                         "[::1]): the proxy forwards to this machine's dev servers only",
                         pat);
            free(loc);
            rc = -EINVAL;
            continue;
        }
        hlb_dev_route_t *r = &rs->v[rs->n++];
        r->pattern = strdup(pat);
        r->location = loc;
        r->exact = !star;
        r->port = port;
        r->upstream = hlb_strdupf("http://127.0.0.1:%lld", (long long) port);
        r->line = hlb_conf_line(kv);
        if (!r->pattern || !r->upstream)
            abort();
    }
    /* Duplicate patterns cannot be: the reader refuses duplicate keys. A
     * path with and without the star are an exact and a prefix route, both fine. */
    qsort(rs->v, rs->n, sizeof *rs->v, route_cmp);
    return rc;
}

/* ---- tables ---- */

/* KEY's node in AT, or AT itself when the key is missing (every message has
 * a line). */
static const hlb_conf_t *where(const hlb_conf_t *at, const char *key)
{
    const hlb_conf_t *n = hlb_conf_get(at, key);
    return n ? n : at;
}


static int server_check(void *obj, const hlb_conf_t *node, void *ctx, hlb_diag_t *d)
{
    (void) ctx;
    hlb_dev_server_t *s = obj;
    s->line = hlb_conf_line(node);
    int rc = 0;
    if (s->name && !name_ok(s->name)) {
        hlb_diag_add(d, where(node, "name"),
                     "name '%s': lower-case letters, digits and '-' (at most 48), as in the unit "
                     "hl-service@NAME",
                     s->name);
        rc = -EINVAL;
    }
    const char *owner = reserved_owner(s->port);
    if (owner) {
        hlb_diag_add(d, where(node, "port"), "port %lld is %s: choose another",
                     (long long) s->port, owner);
        rc = -EINVAL;
    }
    const char *why = s->command ? command_problem(s->command) : NULL;
    if (why) {
        hlb_diag_add(d, where(node, "command"), "command '%s': %s", s->command, why);
        rc = -EINVAL;
    }
    if (s->directory) {
        if (s->directory[0] != '/') {
            hlb_diag_add(d, where(node, "directory"),
                         "directory '%s' must be an absolute path", s->directory);
            rc = -EINVAL;
        } else if (!path_chars_ok(s->directory) || has_dot_segment(s->directory)) {
            hlb_diag_add(d, where(node, "directory"),
                         "directory '%s': letters, digits and ._-+@/ only, no . or .. segments",
                         s->directory);
            rc = -EINVAL;
        }
    }
    if (s->user && (!user_ok(s->user) || !strcmp(s->user, "root"))) {
        hlb_diag_add(d, where(node, "user"),
                     "user '%s': a system user name, and never root (a dev server runs other "
                     "people's code)",
                     s->user);
        rc = -EINVAL;
    }
    if (!s->health_word || !strcmp(s->health_word, "http"))
        s->health = HLB_DEV_HEALTH_HTTP;
    else if (!strcmp(s->health_word, "tcp"))
        s->health = HLB_DEV_HEALTH_TCP;
    else if (s->health_word[0] == '/' && path_chars_ok(s->health_word) &&
             !has_dot_segment(s->health_word))
        s->health = HLB_DEV_HEALTH_PATH;
    else {
        hlb_diag_add(d, where(node, "health"),
                     "health '%s': http (any HTTP answer on /), tcp (a connection), or a path "
                     "such as /healthz (a 2xx or 3xx answer)",
                     s->health_word);
        rc = -EINVAL;
    }
    return rc;
}

static const hlb_conf_key_t server_keys[] = {
    HLB_KEY_STR(hlb_dev_server_t, name, NULL, HLB_KEY_REQUIRED),
    HLB_KEY_INT(hlb_dev_server_t, port, NULL, 1024, 65535, HLB_KEY_REQUIRED),
    HLB_KEY_STR(hlb_dev_server_t, command, NULL, HLB_KEY_REQUIRED),
    HLB_KEY_STR(hlb_dev_server_t, directory, NULL, HLB_KEY_REQUIRED),
    HLB_KEY_CUSTOM("environment", hlb_dev_server_t, environment, parse_environment,
                   free_environment, 0),
    HLB_KEY_STR(hlb_dev_server_t, user, "hluser", 0),
    HLB_KEY("health", HLB_KIND_STR, hlb_dev_server_t, health_word, .def = "http"),
    {0}};
static const hlb_conf_table_t server_table = {"server", sizeof(hlb_dev_server_t), server_keys,
                                              .check = server_check};

static int proxy_check(void *obj, const hlb_conf_t *node, void *ctx, hlb_diag_t *d)
{
    (void) ctx;
    proxy_raw_t *p = obj;
    const char *owner = reserved_owner(p->port);
    if (p->enabled && owner) {
        hlb_diag_add(d, where(node, "port"),
                     "proxy port %lld is %s: choose another (the README's 'Development "
                     "servers' says why; 8090 is the usual one)",
                     (long long) p->port, owner);
        return -EINVAL;
    }
    return 0;
}

static const hlb_conf_key_t proxy_keys[] = {
    HLB_KEY_BOOL(proxy_raw_t, enabled, "false", 0),
    HLB_KEY_INT(proxy_raw_t, port, "8090", 1024, 65535, 0),
    HLB_KEY_CUSTOM("routes", proxy_raw_t, routes, parse_routes, free_routes, 0),
    {0}};
static const hlb_conf_table_t proxy_table = {"proxy", sizeof(proxy_raw_t), proxy_keys,
                                             .check = proxy_check};

static const hlb_conf_key_t dev_keys[] = {
    HLB_KEY_LIST(dev_raw_t, servers, &server_table, MAX_SERVERS, 0),
    HLB_KEY_TABLE(dev_raw_t, proxy, &proxy_table, 0),
    {0}};
static const hlb_conf_table_t dev_table = {"development", sizeof(dev_raw_t), dev_keys, .init = NULL};

static const hlb_conf_key_t root_keys[] = {
    HLB_KEY_TABLE(root_raw_t, development, &dev_table, 0),
    {0}};
static const hlb_conf_table_t root_table = {"dev-server.yaml", sizeof(root_raw_t), root_keys,
                                            .init = NULL};

/* ---- across entries ---- */

static int cross_check(const hlb_dev_config_t *c, const hlb_conf_t *root, hlb_diag_t *d)
{
    int rc = 0;
    const hlb_conf_t *servers = hlb_conf_get(root, "development.servers");
    for (size_t i = 0; i < c->n_servers; i++) {
        const hlb_dev_server_t *s = &c->servers[i];
        const hlb_conf_t *at = hlb_conf_at(servers, i);
        for (size_t k = 0; k < i; k++) {
            const hlb_dev_server_t *o = &c->servers[k];
            if (s->name && o->name && !strcmp(s->name, o->name)) {
                hlb_diag_add(d, where(at, "name"),
                             "duplicate server name '%s' (first at line %d)", s->name, o->line);
                rc = -EINVAL;
            }
            if (s->port && s->port == o->port) {
                hlb_diag_add(d, where(at, "port"),
                             "port %lld is taken by server '%s' (line %d)", (long long) s->port,
                             o->name ? o->name : "?", o->line);
                rc = -EINVAL;
            }
        }
        if (c->proxy_enabled && s->port && s->port == c->proxy_port) {
            hlb_diag_add(d, where(at, "port"), "port %lld is the proxy's",
                         (long long) s->port);
            rc = -EINVAL;
        }
    }
    if (!c->proxy_enabled)
        return rc;
    const hlb_conf_t *routes = hlb_conf_get(root, "development.proxy.routes");
    for (size_t i = 0; i < c->n_routes; i++) {
        const hlb_dev_route_t *r = &c->routes[i];
        bool found = false;
        for (size_t k = 0; k < c->n_servers && !found; k++)
            found = c->servers[k].port == r->port;
        if (!found) {
            hlb_diag_add(d, where(routes, r->pattern),
                         "route '%s': no server listens on port %lld", r->pattern,
                         (long long) r->port);
            rc = -EINVAL;
        }
    }
    if (hlb_conf_count(routes) == 0) {
        const hlb_conf_t *p = hlb_conf_get(root, "development.proxy");
        hlb_diag_add(d, p, "the proxy is enabled but has no routes");
        rc = -EINVAL;
    }
    return rc;
}

/* ---- the whole file ---- */

struct dev_config_full {
    hlb_dev_config_t pub;
    root_raw_t raw;
};

static void full_free(struct dev_config_full *f)
{
    hlb_conf_schema_free(&root_table, &f->raw);
    free(f->pub.file);
    free(f);
}

hlb_dev_config_t *hlb_dev_config_parse(const char *name, const char *text, hlb_diag_t *diag)
{
    hlb_diag_t local = {0};
    hlb_diag_t *d = diag ? diag : &local;
    hlb_conf_t *root = hlb_conf_parse(name, text, d);
    if (!root) {
        if (!d->errors)
            hlb_diag_add(d, NULL, "%s: cannot be read as YAML", name);
        hlb_diag_free(&local);
        return NULL;
    }
    struct dev_config_full *f = calloc(1, sizeof *f);
    if (!f)
        abort();
    int errors = d->errors;
    const hlb_conf_t *top = hlb_conf_kind(root) == HLB_CONF_MAP ? root : NULL;
    if (!top && hlb_conf_scalar(root) && *hlb_conf_scalar(root))
        hlb_diag_add(d, root, "the file must be a map with a 'development' section");
    hlb_conf_schema_parse(&root_table, top, &f->raw, NULL, d);
    hlb_dev_config_t *c = &f->pub;
    c->servers = f->raw.development.servers.items;
    c->n_servers = f->raw.development.servers.n;
    c->proxy_enabled = f->raw.development.proxy.enabled;
    c->proxy_port = f->raw.development.proxy.port;
    c->routes = f->raw.development.proxy.routes.v;
    c->n_routes = f->raw.development.proxy.routes.n;
    c->file = strdup(name);
    cross_check(c, top, d);
    hlb_conf_destroy(&root);
    if (d->errors > errors) {
        full_free(f);
        hlb_diag_free(&local);
        return NULL;
    }
    hlb_diag_free(&local);
    return c;
}

static char *read_file(const char *path, int *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        *err = errno;
        return NULL;
    }
    hlb_buf_t b = {0};
    char chunk[8192];
    for (;;) {
        ssize_t n = read(fd, chunk, sizeof chunk);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            *err = errno;
            close(fd);
            hlb_buf_free(&b);
            return NULL;
        }
        if (n == 0)
            break;
        if (b.len + (size_t) n > MAX_FILE) {
            *err = EFBIG;
            close(fd);
            hlb_buf_free(&b);
            return NULL;
        }
        hlb_buf_add(&b, chunk, (size_t) n);
    }
    close(fd);
    if (!b.data)
        return strdup("");
    return b.data;
}

hlb_dev_config_t *hlb_dev_config_load(const char *path, bool missing_ok, hlb_diag_t *diag)
{
    int err = 0;
    char *text = read_file(path, &err);
    if (!text) {
        if (err == ENOENT && missing_ok)
            return hlb_dev_config_parse(path, "", diag);
        hlb_diag_t local = {0};
        hlb_diag_add(diag ? diag : &local, NULL, "%s: %s", path,
                     err == EFBIG ? "larger than 1 MiB" : strerror(err));
        hlb_diag_free(&local);
        return NULL;
    }
    hlb_dev_config_t *c = hlb_dev_config_parse(path, text, diag);
    free(text);
    return c;
}

const char *hlb_dev_file_path(void)
{
    const char *e = getenv("HL_DEV_SERVER_FILE");
    return e && *e ? e : HLB_DEV_FILE;
}

const char *hlb_dev_applied_path(void)
{
    const char *e = getenv("HL_DEV_SERVER_APPLIED");
    return e && *e ? e : HLB_DEV_APPLIED_FILE;
}

const char *hlb_dev_effective_path(void)
{
    const char *applied = hlb_dev_applied_path();
    return access(applied, F_OK) == 0 ? applied : hlb_dev_file_path();
}

void hlb_dev_config_destroy(hlb_dev_config_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    full_free((struct dev_config_full *) *self_p);
    *self_p = NULL;
}

const hlb_dev_server_t *hlb_dev_config_server(const hlb_dev_config_t *c, const char *name)
{
    for (size_t i = 0; c && name && i < c->n_servers; i++)
        if (c->servers[i].name && !strcmp(c->servers[i].name, name))
            return &c->servers[i];
    return NULL;
}
