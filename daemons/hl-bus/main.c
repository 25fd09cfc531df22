/* hl-bus: the bus proxy daemon. */
#include <errno.h>
#include <string.h>
#include <hlbus/hlbus.h>

#include "proxy.h"

#define MAX_LVC_PREFIXES 64

typedef struct {
    proxy_t *proxy;
    char *lvc_prefixes[MAX_LVC_PREFIXES + 1];
    int64_t stats_depth;
    int64_t hwm;
} bus_t;


static void free_prefixes(char **v)
{
    for (int i = 0; v[i]; i++) {
        free(v[i]);
        v[i] = NULL;
    }
}

static int configure(hlb_daemon_t *d, const hlb_conf_t *conf, const hlb_conf_t *section,
                     bool check_only, hlb_diag_t *diag, void *arg)
{
    bus_t *b = arg;
    static const char *const keys[] = {"lvc_prefixes", "stats_depth", "hwm", NULL};
    hlb_conf_check_keys(section, keys, diag);
    int64_t depth, hwm;
    hlb_conf_int(section, "stats_depth", 1, 1, 8, &depth, diag);
    hlb_conf_int(section, "hwm", 100000, 100, 10000000, &hwm, diag);
    const hlb_conf_t *lvc = hlb_conf_get(section, "lvc_prefixes");
    if (lvc && (hlb_conf_kind(lvc) != HLB_CONF_SEQ || hlb_conf_count(lvc) > MAX_LVC_PREFIXES)) {
        hlb_diag_add(diag, lvc, "'lvc_prefixes' must be a list of at most %d topic prefixes",
                     MAX_LVC_PREFIXES);
        return -EINVAL;
    }
    for (size_t i = 0; lvc && i < hlb_conf_count(lvc); i++) {
        const char *s = hlb_conf_scalar(hlb_conf_at(lvc, i));
        if (!s || !hlb_topic_valid(s, strlen(s)))
            hlb_diag_add(diag, hlb_conf_at(lvc, i),
                         "an lvc prefix must be printable text without spaces");
    }
    if (diag->errors || check_only)
        return diag->errors ? -EINVAL : 0;

    free_prefixes(b->lvc_prefixes);
    if (lvc)
        for (size_t i = 0; i < hlb_conf_count(lvc); i++)
            b->lvc_prefixes[i] = strdup(hlb_conf_scalar(hlb_conf_at(lvc, i)));
    else
        /* State topics (topics.h): a late subscriber needs their current
         * value, not news. */
        for (int i = 0; hlb_state_prefixes()[i] && i < MAX_LVC_PREFIXES; i++)
            b->lvc_prefixes[i] = strdup(hlb_state_prefixes()[i]);
    b->stats_depth = depth;
    b->hwm = hwm;
    if (b->proxy) /* a reload: the sockets stay, the cache rules change */
        proxy_set_lvc_prefixes(b->proxy, (const char *const *)b->lvc_prefixes);
    return 0;
}

static int start(hlb_daemon_t *d, void *arg)
{
    bus_t *b = arg;
    proxy_opts_t o = {.lvc_prefixes = (const char *const *)b->lvc_prefixes,
                      .stats_depth = (int)b->stats_depth,
                      .hwm = (int)b->hwm};
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
    static const hlb_daemon_ops_t ops = {
        .name = "hl-bus",
        .summary = "The hl-freestyle bus: publishers push to bus/pub, subscribers read bus/sub;\n"
                   "state topics are cached and replayed to late subscribers.",
        .configure = configure,
        .start = start,
        .stop = stop,
        .methods = methods,
        .help_extra = "Config section 'hl-bus': lvc_prefixes (list), stats_depth (1), hwm (100000).\n"
                      "Socket activation: LISTEN_FDS named 'pub' and 'sub' (or in that order).",
    };
    int rc = hlb_daemon_main(argc, argv, &ops, &bus);
    free_prefixes(bus.lvc_prefixes);
    return rc;
}
