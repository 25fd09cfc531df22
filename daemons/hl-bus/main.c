/* hl-bus: the bus proxy daemon. */
#include <errno.h>
#include <string.h>
#include <hlbus/hlbus.h>

#include "proxy.h"

#define MAX_LVC_PREFIXES 64

/* The "hl-bus" section. */
typedef struct {
    char **lvc_prefixes; /* NULL-terminated */
    int stats_depth;
    int hwm;
} bus_conf_t;

typedef struct {
    proxy_t *proxy;
    bus_conf_t conf; /* the applied one */
} bus_t;

static int check_conf(void *obj, const hlb_conf_t *node, void *ctx, hlb_diag_t *diag)
{
    bus_conf_t *c = obj;
    const hlb_conf_t *lvc = hlb_conf_get(node, "lvc_prefixes");
    for (size_t i = 0; c->lvc_prefixes && c->lvc_prefixes[i]; i++)
        if (!hlb_topic_valid(c->lvc_prefixes[i], strlen(c->lvc_prefixes[i])))
            hlb_diag_add(diag, lvc ? hlb_conf_at(lvc, i) : node,
                         "an lvc prefix must be printable text without spaces");
    return 0;
}

static const hlb_conf_key_t bus_keys[] = {
    /* State topics: a late subscriber needs their current value, not news.
     * Unset: the state families of the bus contract (topics.h). */
    HLB_KEY_STRV(bus_conf_t, lvc_prefixes, NULL, MAX_LVC_PREFIXES, 0),
    HLB_KEY_INT(bus_conf_t, stats_depth, "1", 1, 8, 0),
    /* ZMQ_SNDHWM of the sockets, set when they are made (or adopted). */
    HLB_KEY_INT(bus_conf_t, hwm, "100000", 100, 10000000, HLB_KEY_RESTART),
    {0}};
static const hlb_conf_table_t bus_table = {
    .name = "hl-bus", .size = sizeof(bus_conf_t), .keys = bus_keys, .check = check_conf};

static int configure(hlb_daemon_t *d, const hlb_conf_t *conf, const hlb_conf_t *section,
                     bool check_only, hlb_diag_t *diag, void *arg)
{
    bus_t *b = arg;
    bus_conf_t c;
    int rc = hlb_conf_schema_parse(&bus_table, section, &c, NULL, diag);
    if (rc == 0 && !c.lvc_prefixes)
        c.lvc_prefixes = hlb_strv_dup((char *const *)hlb_state_prefixes());
    if (rc < 0 || check_only) {
        hlb_conf_schema_free(&bus_table, &c);
        return rc;
    }
    if (b->proxy) { /* a reload: the sockets stay, the cache and stats rules change */
        char **restart = NULL;
        hlb_conf_schema_restart_keys(&bus_table, "hl-bus", &b->conf, &c, &restart);
        for (size_t i = 0; restart && restart[i]; i++) {
            hlb_daemon_restart_needed(d, restart[i]);
            free(restart[i]);
        }
        free(restart);
        c.hwm = b->conf.hwm; /* what the sockets have */
        proxy_set_lvc_prefixes(b->proxy, (const char *const *)c.lvc_prefixes);
        proxy_set_stats_depth(b->proxy, c.stats_depth);
    }
    hlb_conf_schema_free(&bus_table, &b->conf);
    b->conf = c;
    return 0;
}

static int start(hlb_daemon_t *d, void *arg)
{
    bus_t *b = arg;
    proxy_opts_t o = {.lvc_prefixes = (const char *const *)b->conf.lvc_prefixes,
                      .stats_depth = b->conf.stats_depth,
                      .hwm = b->conf.hwm};
    b->proxy = proxy_new(hlb_daemon_runtime_dir(d), &o);
    if (!b->proxy) {
        hlb_err("cannot bind the bus endpoints under %s: %s", hlb_daemon_runtime_dir(d),
                strerror(errno));
        return -1;
    }
    proxy_attach(b->proxy, hlb_daemon_loop(d));
    hlb_daemon_status(d, "proxying (%s)",
                      proxy_socket_activated(b->proxy) ? "socket-activated" : "bound");
    return 0;
}

static void stop(hlb_daemon_t *d, void *arg)
{
    bus_t *b = arg;
    proxy_destroy(&b->proxy);
}

static void m_stats(hlb_request_t *req, hlb_reply_t *reply, void *arg)
{
    bus_t *b = arg;
    proxy_stats_reply(b->proxy, reply);
}

static const hlb_method_t methods[] = {
    {"stats", m_stats, 0, "messages and bytes per topic prefix, gaps per source"},
    {NULL, NULL, 0, NULL},
};

int main(int argc, char **argv)
{
    static bus_t bus;
    char *keys = hlb_conf_schema_help(&bus_table);
    char *help = NULL;
    if (asprintf(&help,
                 "Config section 'hl-bus': %s.\n"
                 "Socket activation: LISTEN_FDS named 'pub' and 'sub' (or in that order).",
                 keys) < 0)
        help = NULL;
    free(keys);
    static const hlb_daemon_ops_t ops = {
        .name = "hl-bus",
        .summary = "The hl-freestyle bus: publishers push to bus/pub, subscribers read bus/sub;\n"
                   "state topics are cached and replayed to late subscribers.",
        .configure = configure,
        .start = start,
        .stop = stop,
        .methods = methods,
    };
    hlb_daemon_ops_t run = ops;
    run.help_extra = help;
    int rc = hlb_daemon_main(argc, argv, &run, &bus);
    hlb_conf_schema_free(&bus_table, &bus.conf);
    free(help);
    return rc;
}
