/* hl-stdio's config section: see deploy/config/hl-stdio.yaml.example. */
#include "config.h"

#include <errno.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

#include <hlbus/confschema.h>
#include <hlbus/paths.h>

int stdio_parse_size(const char *s, uint64_t *out) { return hlb_parse_size(s, out); }

int stdio_parse_mode(const char *s, mode_t *out) { return hlb_parse_mode(s, out); }

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

/* What the schema reads; stdio_settings_parse turns it into the relay's
 * configuration (paths resolved, channel defaults taken from the section). */
typedef struct {
    char *name, *socket, *read_only_socket;
    gid_t gid;
    mode_t mode;
    uint64_t scrollback;
    unsigned max_clients;
    bool publish;
} chan_raw_t;

typedef struct {
    gid_t gid;
    mode_t mode;
    char *attach_socket;
    uint64_t scrollback;
    unsigned max_clients;
    stdio_relay_conf_t relay; /* the numeric settings, read in place */
    uint64_t read_chunk, sndbuf, event_max_bytes;
    int clients_per_second;
    hlb_conf_vec_t channels; /* chan_raw_t */
    char *rec_dir;
    bool rec_input;
    uint64_t rec_max_file, rec_max_total;
} stdio_raw_t;

/* A group name or number; "" means the relay's own group. */
static int parse_group(const hlb_conf_t *n, void *field, void *ctx, hlb_diag_t *d)
{
    const char *v = hlb_conf_scalar(n);
    gid_t *out = field;
    if (!v) {
        hlb_diag_add(d, n, "'%s' must be a group name or number", hlb_conf_key(n));
        return -EINVAL;
    }
    if (!*v) {
        *out = STDIO_NO_GID;
        return 0;
    }
    int64_t num;
    if (hlb_parse_int(v, &num) == 0 && num >= 0 && num < (int64_t)STDIO_NO_GID) {
        *out = (gid_t)num;
        return 0;
    }
    struct group gr, *res = NULL;
    char buf[4096];
    if (getgrnam_r(v, &gr, buf, sizeof buf, &res) == 0 && res) {
        *out = res->gr_gid;
        return 0;
    }
    hlb_diag_add(d, n, "'%s': no group named '%s'", hlb_conf_key(n), v);
    return -EINVAL;
}

/* A socket mode: the agent's terminal is never open to everyone. */
static int parse_sock_mode(const hlb_conf_t *n, void *field, void *ctx, hlb_diag_t *d)
{
    const char *v = hlb_conf_scalar(n), *key = hlb_conf_key(n);
    mode_t m;
    if (!v || stdio_parse_mode(v, &m) < 0) {
        hlb_diag_add(d, n, "'%s' must be an octal mode like \"0660\", not '%s'", key,
                     v ? v : "a map or list");
        return -EINVAL;
    }
    if (m & 07) {
        hlb_diag_add(d, n, "'%s' %04o gives everyone access to the agent's terminal; use 0660 or 0600",
                     key, (unsigned)m);
        return -EINVAL;
    }
    if ((m & 0600) != 0600 || (m & ~(mode_t)0770)) {
        hlb_diag_add(d, n, "'%s' must be 0660 or 0600 (or 0640), not %04o", key, (unsigned)m);
        return -EINVAL;
    }
    *(mode_t *)field = m;
    return 0;
}

/* A channel's defaults are the section's (its rows come first). */
static void chan_init(void *obj, void *ctx)
{
    chan_raw_t *c = obj;
    const stdio_raw_t *top = ctx;
    c->gid = top->gid;
    c->mode = top->mode;
    c->scrollback = top->scrollback;
    c->max_clients = top->max_clients;
}

static const hlb_conf_key_t chan_keys[] = {
    HLB_KEY_STR(chan_raw_t, name, "main", 0),
    HLB_KEY_STR(chan_raw_t, socket, NULL, 0), /* default: stdio.sock or stdio-<name>.sock */
    HLB_KEY_STR(chan_raw_t, read_only_socket, NULL, 0),
    HLB_KEY_CUSTOM("group", chan_raw_t, gid, parse_group, NULL, 0),
    HLB_KEY_CUSTOM("mode", chan_raw_t, mode, parse_sock_mode, NULL, 0),
    HLB_KEY_SIZE(chan_raw_t, scrollback, NULL, 4096, 1u << 30, 0),
    HLB_KEY_INT(chan_raw_t, max_clients, NULL, 1, 100000, 0),
    /* Off by default: bus/sub is world-readable, and the stream is the
     * agent's terminal, which the 0660 socket keeps within its group. */
    HLB_KEY_BOOL(chan_raw_t, publish, "false", 0),
    {0}};
static const hlb_conf_table_t chan_table = {
    .name = "channel", .size = sizeof(chan_raw_t), .keys = chan_keys, .init = chan_init};

static const hlb_conf_key_t event_keys[] = {
    HLB_KEY("interval", HLB_KIND_DURATION, stdio_raw_t, relay.event_interval_ms, .min = 1,
            .max = 3600000),
    HLB_KEY("max_bytes", HLB_KIND_SIZE, stdio_raw_t, event_max_bytes, .min = 1, .max = 512u << 10),
    /* attach/detach events (and their log lines) per channel */
    HLB_KEY_INT(stdio_raw_t, clients_per_second, "20", 1, 100000, 0),
    {0}};
/* Terminal channels' session recordings (asciicast v2, rec.h). "" turns
 * them off. */
static const hlb_conf_key_t recording_keys[] = {
    HLB_KEY("dir", HLB_KIND_STR, stdio_raw_t, rec_dir, .def = "/var/log/hl/sessions"),
    HLB_KEY("input", HLB_KIND_BOOL, stdio_raw_t, rec_input, .def = "false"),
    HLB_KEY("max_file", HLB_KIND_SIZE, stdio_raw_t, rec_max_file, .def = "16MiB", .min = 4096,
            .max = 1ull << 40),
    HLB_KEY("max_total", HLB_KIND_SIZE, stdio_raw_t, rec_max_total, .def = "256MiB",
            .min = 4096, .max = 1ull << 42),
    {0}};
static const hlb_conf_table_t recording_table = {
    .name = "recording", .size = sizeof(stdio_raw_t), .keys = recording_keys};

/* "events" reads into the section's own struct (its row's offset is 0). */
static const hlb_conf_table_t event_table = {
    .name = "events", .size = sizeof(stdio_raw_t), .keys = event_keys};

static void section_init(void *obj, void *ctx)
{
    stdio_raw_t *r = obj;
    stdio_relay_conf_defaults(&r->relay); /* the relay's own defaults, written there once */
    r->event_max_bytes = r->relay.event_max_bytes;
    r->read_chunk = r->relay.read_chunk;
    /* By default the sockets belong to the group of the spec's user, whom
     * claude-code-server runs as; without one, to the relay's own group. */
    r->gid = STDIO_NO_GID;
    struct group dgr, *dres = NULL;
    char dbuf[4096];
    if (getgrnam_r(STDIO_DEFAULT_GROUP, &dgr, dbuf, sizeof dbuf, &dres) == 0 && dres)
        r->gid = dres->gr_gid;
}

static const hlb_conf_key_t section_keys[] = {
    HLB_KEY_CUSTOM("group", stdio_raw_t, gid, parse_group, NULL, 0),
    HLB_KEY("mode", HLB_KIND_CUSTOM, stdio_raw_t, mode, .def = "\"0660\"", .parse = parse_sock_mode),
    HLB_KEY_STR(stdio_raw_t, attach_socket, "stdio-attach.sock", 0),
    HLB_KEY_SIZE(stdio_raw_t, scrollback, "1MiB", 4096, 1u << 30, 0),
    HLB_KEY_INT(stdio_raw_t, max_clients, "64", 1, 100000, 0),
    HLB_KEY("stall_timeout", HLB_KIND_DURATION, stdio_raw_t, relay.stall_timeout_ms, .min = 0,
            .max = 60000),
    HLB_KEY("hello_timeout", HLB_KIND_DURATION, stdio_raw_t, relay.hello_timeout_ms, .min = 1,
            .max = 600000),
    HLB_KEY("drain_timeout", HLB_KIND_DURATION, stdio_raw_t, relay.drain_timeout_ms, .min = 1,
            .max = 600000),
    HLB_KEY_SIZE(stdio_raw_t, read_chunk, NULL, 4096, 16u << 20, 0),
    HLB_KEY_SIZE(stdio_raw_t, sndbuf, "0", 0, 64u << 20, 0),
    {.key = "events", .kind = HLB_KIND_TABLE, .offset = 0, .sub = &event_table},
    {.key = "recording", .kind = HLB_KIND_TABLE, .offset = 0, .sub = &recording_table},
    HLB_KEY_LIST(stdio_raw_t, channels, &chan_table, 0, 0), /* after the rows it defaults from */
    {0}};
static const hlb_conf_table_t section_table = {
    .name = "hl-stdio", .size = sizeof(stdio_raw_t), .keys = section_keys, .init = section_init};

/* A socket path: relative ones live in the runtime dir; "" means none. AT
 * is where an error points. */
static char *resolve_path(stdio_settings_t *s, const char *v, const char *key,
                          const hlb_conf_t *at, const char *runtime_dir, hlb_diag_t *d)
{
    if (!v || !*v)
        return NULL;
    char *full = v[0] == '/' ? strdup(v) : hlb_path(runtime_dir, v);
    struct sockaddr_un sa;
    if (full && strlen(full) + 17 > sizeof sa.sun_path)
        hlb_diag_add(d, at, "'%s': socket path %s is longer than %zu bytes", key, full,
                     sizeof sa.sun_path - 17);
    return own(s, full);
}

int stdio_settings_parse(const hlb_conf_t *section, const char *runtime_dir,
                         stdio_settings_t *out, hlb_diag_t *diag)
{
    memset(out, 0, sizeof *out);
    int errors0 = diag->errors;
    stdio_raw_t raw;
    /* The section struct is its own context: channels default from it. */
    stdio_raw_t *ctx = &raw;
    if (section && hlb_conf_kind(section) != HLB_CONF_MAP) {
        hlb_diag_add(diag, section, "'hl-stdio' must be a map");
        section = NULL;
    }
    hlb_conf_schema_parse(&section_table, section, &raw, ctx, diag);
    stdio_relay_conf_t *rc = &out->relay;
    *rc = raw.relay;
    /* the schema's "events" table wrote into raw.relay's event fields and ours */
    rc->event_max_bytes = (size_t)raw.event_max_bytes;
    rc->read_chunk = (size_t)raw.read_chunk;
    rc->sndbuf = (int)raw.sndbuf;
    rc->attach_gid = raw.gid;
    rc->attach_mode = raw.mode;
    out->client_events_per_sec = raw.clients_per_second;
    rc->recording.dir = raw.rec_dir && *raw.rec_dir ? own(out, strdup(raw.rec_dir)) : NULL;
    rc->recording.input = raw.rec_input;
    rc->recording.max_file = (size_t)raw.rec_max_file;
    rc->recording.max_total = (size_t)raw.rec_max_total;
    const hlb_conf_t *attach_node = hlb_conf_get(section, "attach_socket");
    rc->attach_path = resolve_path(out, raw.attach_socket, "attach_socket",
                                   attach_node ? attach_node : section, runtime_dir, diag);

    const hlb_conf_t *chans = hlb_conf_get(section, "channels");
    size_t n = chans ? raw.channels.n : 1;
    if (chans && hlb_conf_kind(chans) == HLB_CONF_SEQ && n == 0)
        hlb_diag_add(diag, chans, "'channels' must be a list of at least one channel");
    out->chans = calloc(n ? n : 1, sizeof *out->chans);
    if (!out->chans)
        abort();
    chan_raw_t implicit;
    if (!chans) /* no list: one channel "main", all defaults */
        hlb_conf_schema_parse(&chan_table, NULL, &implicit, ctx, diag);
    for (size_t i = 0; i < n; i++) {
        const chan_raw_t *c = chans ? &((chan_raw_t *)raw.channels.items)[i] : &implicit;
        const hlb_conf_t *cn = chans ? hlb_conf_at(chans, i) : NULL;
        const hlb_conf_t *at = cn ? cn : section;
        stdio_chan_conf_t *cc = &out->chans[out->n_chans++];
        const char *name = c->name ? c->name : "main";
        if (!hlb_name_valid(name))
            hlb_diag_add(diag, at, "channel name '%s' must be [a-z0-9-]{1,64}", name);
        cc->name = own(out, strdup(name));
        char *defpath = NULL;
        if (!c->socket &&
            asprintf(&defpath, strcmp(name, "main") == 0 ? "stdio.sock" : "stdio-%s.sock", name) < 0)
            defpath = NULL;
        const hlb_conf_t *sn = hlb_conf_get(cn, "socket");
        cc->path = resolve_path(out, c->socket ? c->socket : defpath, "socket", sn ? sn : at,
                                runtime_dir, diag);
        free(defpath);
        if (!cc->path)
            hlb_diag_add(diag, at, "channel '%s' needs a socket", name);
        const hlb_conf_t *rn = hlb_conf_get(cn, "read_only_socket");
        cc->ro_path = resolve_path(out, c->read_only_socket, "read_only_socket", rn ? rn : at,
                                   runtime_dir, diag);
        cc->gid = c->gid;
        cc->mode = c->mode;
        cc->scrollback = (size_t)c->scrollback;
        cc->max_clients = c->max_clients;
        cc->publish = c->publish;
    }
    if (!chans)
        hlb_conf_schema_free(&chan_table, &implicit);
    hlb_conf_schema_free(&section_table, &raw);
    rc->channels = out->chans;
    rc->n_channels = out->n_chans;
    if (diag->errors == errors0) {
        char err[256];
        if (stdio_relay_conf_check(rc, err, sizeof err) < 0)
            hlb_diag_add(diag, section, "%s", err);
    }
    return diag->errors > errors0 ? -EINVAL : 0;
}
