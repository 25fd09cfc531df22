/* hl-bus: the bus proxy daemon. */
#include <errno.h>
#include <grp.h>
#include <string.h>
#include <unistd.h>
#include <hlbus/hlbus.h>

#include "proxy.h"

#define MAX_LVC_PREFIXES 64

typedef struct {
    proxy_t *proxy;
    char *lvc_prefixes[MAX_LVC_PREFIXES + 1];
    int64_t stats_depth;
    int64_t hwm;
    acl_t acl;
    proxy_limits_t limits;
    int64_t per_uid;
} bus_t;

/* State topics: a late subscriber needs their current value, not news. */
static const char *const default_lvc[] = {"health.", "service.", "uplink.", "daemon.", "lifecycle.",
                                          "metrics.threshold.", "alert.", NULL};

static void free_prefixes(char **v)
{
    for (int i = 0; v[i]; i++) {
        free(v[i]);
        v[i] = NULL;
    }
}

/* topic_owners: {prefix: [user, ...]}: who may publish under PREFIX, in
 * place of the default owner. "@admin" lets the admin group in too. */
static void load_owners(acl_t *acl, const hlb_conf_t *owners, hlb_diag_t *diag)
{
    if (!owners)
        return;
    if (hlb_conf_kind(owners) != HLB_CONF_MAP) {
        hlb_diag_add(diag, owners, "'topic_owners' maps a topic prefix to a list of users");
        return;
    }
    for (size_t i = 0; i < hlb_conf_count(owners); i++) {
        const hlb_conf_t *rule = hlb_conf_at(owners, i);
        const char *prefix = hlb_conf_key(rule);
        if (!prefix || !hlb_topic_valid(prefix, strlen(prefix)) || strlen(prefix) >= 64) {
            hlb_diag_add(diag, rule, "a topic_owners prefix is 1..63 printable characters");
            continue;
        }
        if (hlb_conf_kind(rule) != HLB_CONF_SEQ) {
            hlb_diag_add(diag, rule, "topic_owners '%s' takes a list of users", prefix);
            continue;
        }
        uid_t uids[ACL_MAX_UIDS];
        size_t n = 0;
        bool admins = false;
        for (size_t k = 0; k < hlb_conf_count(rule); k++) {
            const char *user = hlb_conf_scalar(hlb_conf_at(rule, k));
            uid_t u;
            if (user && strcmp(user, "@admin") == 0)
                admins = true;
            else if (!user || !acl_resolve(user, &u))
                hlb_warn("topic_owners '%s': no user '%s' (nor 'hl'): left out", prefix,
                         user ? user : "");
            else if (n < ACL_MAX_UIDS)
                uids[n++] = u;
        }
        if (acl_set(acl, prefix, uids, n, admins) < 0)
            hlb_diag_add(diag, rule, "at most %d topic_owners rules", ACL_MAX_RULES);
    }
}

/* admin_topics: [prefix, ...]: owned families admins may publish on too
 * (hlctl pub for a test or a manual nudge), keeping their owners. */
static void load_admin_topics(acl_t *acl, const hlb_conf_t *list, hlb_diag_t *diag)
{
    if (!list)
        return;
    if (hlb_conf_kind(list) != HLB_CONF_SEQ) {
        hlb_diag_add(diag, list, "'admin_topics' is a list of topic prefixes");
        return;
    }
    for (size_t i = 0; i < hlb_conf_count(list); i++) {
        const char *prefix = hlb_conf_scalar(hlb_conf_at(list, i));
        if (!prefix || !hlb_topic_valid(prefix, strlen(prefix)) || strlen(prefix) >= 64) {
            hlb_diag_add(diag, hlb_conf_at(list, i), "an admin_topics prefix is 1..63 characters");
            continue;
        }
        acl_rule_t *owner = NULL; /* the rule that owns it now: keep its users */
        size_t best = 0;
        for (size_t k = 0; k < acl->nrules; k++) {
            size_t pl = strlen(acl->rules[k].prefix);
            if (pl <= strlen(prefix) && pl >= best && strncmp(prefix, acl->rules[k].prefix, pl) == 0) {
                owner = &acl->rules[k];
                best = pl;
            }
        }
        acl_rule_t keep = owner ? *owner : (acl_rule_t){0};
        if (acl_set(acl, prefix, keep.uids, keep.nuids, true) < 0)
            hlb_diag_add(diag, hlb_conf_at(list, i), "at most %d ACL rules", ACL_MAX_RULES);
    }
}

static int configure(hlb_daemon_t *d, const hlb_conf_t *conf, const hlb_conf_t *section,
                     bool check_only, hlb_diag_t *diag, void *arg)
{
    bus_t *b = arg;
    static const char *const keys[] = {"lvc_prefixes",
                                       "stats_depth",
                                       "hwm",
                                       "topic_owners",
                                       "admin_topics",
                                       "max_connections_per_uid",
                                       "max_subscription_length",
                                       "max_subscriptions_per_peer",
                                       "max_subscription_bytes",
                                       NULL};
    hlb_conf_check_keys(section, keys, diag);
    int64_t depth, hwm, per_uid, sub_len, per_peer, sub_bytes;
    hlb_conf_int(section, "stats_depth", 1, 1, 8, &depth, diag);
    hlb_conf_int(section, "hwm", 100000, 100, 10000000, &hwm, diag);
    hlb_conf_int(section, "max_connections_per_uid", HLB_FDGUARD_PER_UID, 4, 4096, &per_uid,
                 diag);
    hlb_conf_int(section, "max_subscription_length", HLB_MAX_TOPIC, 1, HLB_MAX_TOPIC, &sub_len,
                 diag);
    hlb_conf_int(section, "max_subscriptions_per_peer", 1024, 1, 1000000, &per_peer, diag);
    hlb_conf_int(section, "max_subscription_bytes", 1 << 20, 1024, 1 << 28, &sub_bytes, diag);
    static acl_t acl; /* built aside: a failed reload keeps the old one */
    acl.self = geteuid();
    acl.admin_gid = (gid_t)-1;
    const char *admin = NULL;
    hlb_conf_str(conf, "admin_group", NULL, &admin, NULL);
    struct group *g = admin && *admin ? getgrnam(admin) : NULL;
    if (g)
        acl.admin_gid = g->gr_gid;
    acl_load_defaults(&acl);
    load_owners(&acl, hlb_conf_get(section, "topic_owners"), diag);
    load_admin_topics(&acl, hlb_conf_get(section, "admin_topics"), diag);
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
        for (int i = 0; default_lvc[i]; i++)
            b->lvc_prefixes[i] = strdup(default_lvc[i]);
    b->stats_depth = depth;
    b->hwm = hwm;
    b->acl = acl;
    b->per_uid = per_uid;
    b->limits = (proxy_limits_t){.sub_len = (int)sub_len,
                                 .subs_per_peer = (int)per_peer,
                                 .subs_bytes = sub_bytes};
    hlb_fdguard_arm((int)per_uid, HLB_FDGUARD_RESERVE);
    if (b->proxy) { /* a reload: the sockets stay, the cache rules change */
        proxy_set_lvc_prefixes(b->proxy, (const char *const *)b->lvc_prefixes);
        proxy_set_policy(b->proxy, &b->acl, &b->limits);
    }
    return 0;
}

static int start(hlb_daemon_t *d, void *arg)
{
    bus_t *b = arg;
    proxy_opts_t o = {.lvc_prefixes = (const char *const *)b->lvc_prefixes,
                      .stats_depth = (int)b->stats_depth,
                      .hwm = (int)b->hwm,
                      .acl = &b->acl,
                      .limits = b->limits};
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
        .help_extra = "Config section 'hl-bus': lvc_prefixes (list), stats_depth (1), hwm (100000),\n"
                      "topic_owners ({prefix: [user, ...]}), admin_topics (list),\n"
                      "max_connections_per_uid (64), max_subscription_length (256),\n"
                      "max_subscriptions_per_peer (1024), max_subscription_bytes (1048576).\n"
                      "Socket activation: LISTEN_FDS named 'pub' and 'sub' (or in that order).",
    };
    int rc = hlb_daemon_main(argc, argv, &ops, &bus);
    free_prefixes(bus.lvc_prefixes);
    return rc;
}
