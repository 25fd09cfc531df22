/* hl-stdio's config section: see deploy/config/hl-stdio.yaml.example. */
#include "config.h"

#include <errno.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

#include <hlbus/paths.h>

int stdio_parse_size(const char *s, uint64_t *out)
{
    if (!s || *s < '0' || *s > '9')
        return -EINVAL;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno)
        return -EINVAL;
    static const struct {
        const char *suffix;
        unsigned shift;
    } units[] = {{"", 0},     {"B", 0},     {"K", 10},  {"KiB", 10}, {"M", 20},
                 {"MiB", 20}, {"G", 30},    {"GiB", 30}};
    for (size_t i = 0; i < sizeof units / sizeof *units; i++) {
        if (strcmp(end, units[i].suffix) != 0)
            continue;
        if (v > (UINT64_MAX >> units[i].shift))
            return -EINVAL;
        *out = (uint64_t)v << units[i].shift;
        return 0;
    }
    return -EINVAL;
}

int stdio_parse_mode(const char *s, mode_t *out)
{
    if (!s || !*s || strlen(s) > 4)
        return -EINVAL;
    unsigned v = 0;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '7')
            return -EINVAL;
        v = v * 8 + (unsigned)(*p - '0');
    }
    *out = (mode_t)v;
    return 0;
}

static char *own(stdio_settings_t *s, char *str)
{
    if (!str)
        return NULL;
    char **n = realloc(s->owned, (s->n_owned + 1) * sizeof *n);
    if (!n) {
        free(str);
        return NULL;
    }
    s->owned = n;
    s->owned[s->n_owned++] = str;
    return str;
}

void stdio_settings_free(stdio_settings_t *s)
{
    for (size_t i = 0; i < s->n_owned; i++)
        free(s->owned[i]);
    free(s->owned);
    free(s->chans);
    memset(s, 0, sizeof *s);
}

/* A group name or number at PATH; DEF when absent. */
static gid_t get_group(const hlb_conf_t *node, const char *path, gid_t def, hlb_diag_t *d)
{
    const char *v;
    if (hlb_conf_str(node, path, NULL, &v, d) < 0 || !v)
        return def;
    if (!*v)
        return STDIO_NO_GID;
    int64_t num;
    if (hlb_parse_int(v, &num) == 0 && num >= 0 && num < (int64_t)STDIO_NO_GID)
        return (gid_t)num;
    struct group gr, *res = NULL;
    char buf[4096];
    if (getgrnam_r(v, &gr, buf, sizeof buf, &res) == 0 && res)
        return res->gr_gid;
    hlb_diag_add(d, hlb_conf_get(node, path), "'%s': no group named '%s'", path, v);
    return def;
}

static mode_t get_mode(const hlb_conf_t *node, const char *path, mode_t def, hlb_diag_t *d)
{
    const char *v;
    mode_t m;
    if (hlb_conf_str(node, path, NULL, &v, d) < 0 || !v)
        return def;
    if (stdio_parse_mode(v, &m) < 0) {
        hlb_diag_add(d, hlb_conf_get(node, path), "'%s' must be an octal mode like \"0660\", not '%s'",
                     path, v);
        return def;
    }
    if (m & 07)
        hlb_diag_add(d, hlb_conf_get(node, path),
                     "'%s' %04o gives everyone access to the agent's terminal; use 0660 or 0600",
                     path, (unsigned)m);
    else if ((m & 0600) != 0600 || (m & ~(mode_t)0770))
        hlb_diag_add(d, hlb_conf_get(node, path), "'%s' must be 0660 or 0600 (or 0640), not %04o",
                     path, (unsigned)m);
    return m;
}

static uint64_t get_size(const hlb_conf_t *node, const char *path, uint64_t def, uint64_t min,
                         uint64_t max, hlb_diag_t *d)
{
    const char *v;
    uint64_t n;
    if (hlb_conf_str(node, path, NULL, &v, d) < 0 || !v)
        return def;
    if (stdio_parse_size(v, &n) < 0) {
        hlb_diag_add(d, hlb_conf_get(node, path), "'%s' must be a size like 1MiB or 65536, not '%s'",
                     path, v);
        return def;
    }
    if (n < min || n > max) {
        hlb_diag_add(d, hlb_conf_get(node, path), "'%s' must be between %llu and %llu bytes, not %llu",
                     path, (unsigned long long)min, (unsigned long long)max,
                     (unsigned long long)n);
        return def;
    }
    return n;
}

/* A socket path: relative ones live in the runtime dir; "" means none. */
static char *get_path(stdio_settings_t *s, const hlb_conf_t *node, const char *path,
                      const char *def, const char *runtime_dir, hlb_diag_t *d)
{
    const char *v;
    if (hlb_conf_str(node, path, def, &v, d) < 0)
        v = def;
    if (!v || !*v)
        return NULL;
    char *full = v[0] == '/' ? strdup(v) : hlb_path(runtime_dir, v);
    struct sockaddr_un sa;
    if (full && strlen(full) + 17 > sizeof sa.sun_path)
        hlb_diag_add(d, hlb_conf_get(node, path) ? hlb_conf_get(node, path) : node,
                     "'%s': socket path %s is longer than %zu bytes", path, full,
                     sizeof sa.sun_path - 17);
    return own(s, full);
}

int stdio_settings_parse(const hlb_conf_t *section, const char *runtime_dir,
                         stdio_settings_t *out, hlb_diag_t *diag)
{
    memset(out, 0, sizeof *out);
    int errors0 = diag->errors;
    static const char *const keys[] = {
        "group",         "mode",          "attach_socket", "scrollback",  "max_clients",
        "stall_timeout", "hello_timeout", "drain_timeout", "read_chunk",  "sndbuf",
        "events",        "channels",      NULL};
    static const char *const event_keys[] = {"interval", "max_bytes", "clients_per_second",
                                             NULL};
    static const char *const chan_keys[] = {"name",       "socket",      "read_only_socket",
                                            "group",      "mode",        "scrollback",
                                            "max_clients", "publish",    NULL};
    if (section && hlb_conf_kind(section) != HLB_CONF_MAP) {
        hlb_diag_add(diag, section, "'hl-stdio' must be a map");
        section = NULL;
    }
    hlb_conf_check_keys(section, keys, diag);
    stdio_relay_conf_t *rc = &out->relay;
    stdio_relay_conf_defaults(rc);

    /* By default the sockets belong to the group of the spec's user, whom
     * claude-code-server runs as; without one, to the relay's own group. */
    gid_t group = STDIO_NO_GID;
    struct group dgr, *dres = NULL;
    char dbuf[4096];
    if (getgrnam_r(STDIO_DEFAULT_GROUP, &dgr, dbuf, sizeof dbuf, &dres) == 0 && dres)
        group = dres->gr_gid;
    group = get_group(section, "group", group, diag);
    mode_t mode = get_mode(section, "mode", 0660, diag);
    uint64_t scrollback = get_size(section, "scrollback", 1 << 20, 4096, 1u << 30, diag);
    int64_t v;
    hlb_conf_int(section, "max_clients", 64, 1, 100000, &v, diag);
    unsigned max_clients = (unsigned)v;
    hlb_conf_duration_ms(section, "stall_timeout", rc->stall_timeout_ms, 0, 60000, &v, diag);
    rc->stall_timeout_ms = (int)v;
    hlb_conf_duration_ms(section, "hello_timeout", rc->hello_timeout_ms, 1, 600000, &v, diag);
    rc->hello_timeout_ms = (int)v;
    hlb_conf_duration_ms(section, "drain_timeout", rc->drain_timeout_ms, 1, 600000, &v, diag);
    rc->drain_timeout_ms = (int)v;
    rc->read_chunk = get_size(section, "read_chunk", rc->read_chunk, 4096, 16u << 20, diag);
    rc->sndbuf = (int)get_size(section, "sndbuf", 0, 0, 64u << 20, diag);
    const hlb_conf_t *ev = hlb_conf_get(section, "events");
    hlb_conf_check_keys(ev, event_keys, diag);
    hlb_conf_duration_ms(ev, "interval", rc->event_interval_ms, 1, 3600000, &v, diag);
    rc->event_interval_ms = (int)v;
    rc->event_max_bytes = get_size(ev, "max_bytes", rc->event_max_bytes, 1, 512u << 10, diag);
    hlb_conf_int(ev, "clients_per_second", 20, 1, 100000, &v, diag);
    out->client_events_per_sec = (int)v;

    rc->attach_gid = group;
    rc->attach_mode = mode;
    rc->attach_path = get_path(out, section, "attach_socket", "stdio-attach.sock", runtime_dir,
                               diag);

    const hlb_conf_t *chans = hlb_conf_get(section, "channels");
    size_t n = chans ? hlb_conf_count(chans) : 1;
    if (chans && (hlb_conf_kind(chans) != HLB_CONF_SEQ || n == 0)) {
        hlb_diag_add(diag, chans, "'channels' must be a list of at least one channel");
        n = 0;
    }
    out->chans = calloc(n ? n : 1, sizeof *out->chans);
    if (!out->chans) {
        hlb_diag_add(diag, section, "out of memory");
        return -ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        const hlb_conf_t *c = chans ? hlb_conf_at(chans, i) : NULL;
        stdio_chan_conf_t *cc = &out->chans[out->n_chans++];
        if (c && hlb_conf_kind(c) != HLB_CONF_MAP) {
            hlb_diag_add(diag, c, "a channel must be a map with at least 'name'");
            c = NULL;
        }
        hlb_conf_check_keys(c, chan_keys, diag);
        const char *name;
        hlb_conf_str(c, "name", "main", &name, diag);
        if (!hlb_name_valid(name))
            hlb_diag_add(diag, c ? c : section, "channel name '%s' must be [a-z0-9-]{1,64}",
                         name);
        cc->name = own(out, strdup(name));
        char *defpath = NULL;
        if (asprintf(&defpath, strcmp(name, "main") == 0 ? "stdio.sock" : "stdio-%s.sock",
                     name) < 0)
            defpath = NULL;
        cc->path = get_path(out, c, "socket", defpath, runtime_dir, diag);
        free(defpath);
        if (!cc->path)
            hlb_diag_add(diag, c ? c : section, "channel '%s' needs a socket", name);
        cc->ro_path = get_path(out, c, "read_only_socket", NULL, runtime_dir, diag);
        cc->gid = get_group(c, "group", group, diag);
        cc->mode = get_mode(c, "mode", mode, diag);
        cc->scrollback = get_size(c, "scrollback", scrollback, 4096, 1u << 30, diag);
        hlb_conf_int(c, "max_clients", max_clients, 1, 100000, &v, diag);
        cc->max_clients = (unsigned)v;
        /* Off by default: bus/sub is world-readable, and the stream is the
         * agent's terminal, which the 0660 socket keeps within its group. */
        hlb_conf_bool(c, "publish", false, &cc->publish, diag);
    }
    rc->channels = out->chans;
    rc->n_channels = out->n_chans;
    if (diag->errors == errors0) {
        char err[256];
        if (stdio_relay_conf_check(rc, err, sizeof err) < 0)
            hlb_diag_add(diag, section, "%s", err);
    }
    return diag->errors > errors0 ? -EINVAL : 0;
}
