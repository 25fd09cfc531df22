/* hl-bus: the bus proxy daemon: its config section (the schema below),
 * configure, start and stop, and the stats method. The proxy itself is
 * proxy.c (with lvc.c, topicstats.c, acl.c, subbudget.c). */
#include <errno.h>
#include <grp.h>
#include <string.h>
#include <unistd.h>
#include <hlbus/hlbus.h>

#include "hl-bus.h"

/* topic_owners: {prefix: [user, ...]}: who may publish under PREFIX, in
 * place of the default owner. "@admin" lets the admin group in too. Users
 * are names (or uids) resolved now; a missing daemon user stands for the
 * shared "hl" (acl_resolve). */
static int parse_owners(const hlb_conf_t *node, void *field, void *ctx, hlb_diag_t *diag)
{
    acl_t *rules = field;
    memset(rules, 0, sizeof *rules);
    if (hlb_conf_kind(node) != HLB_CONF_MAP) {
        hlb_diag_add(diag, node, "'topic_owners' maps a topic prefix to a list of users");
        return -EINVAL;
    }
    for (size_t i = 0; i < hlb_conf_count(node); i++) {
        const hlb_conf_t *rule = hlb_conf_at(node, i);
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
        if (acl_set(rules, prefix, uids, n, admins) < 0)
            hlb_diag_add(diag, rule, "at most %d topic_owners rules", ACL_MAX_RULES);
    }
    return diag->errors ? -EINVAL : 0;
}

/* The ACL in force: the default owners, the configured rules over them,
 * then admin_topics (owned families admins may publish on too, keeping
 * their owners). */
static void build_acl(acl_t *acl, const bus_conf_t *c, const hlb_conf_t *conf)
{
    acl->self = geteuid();
    acl->admin_gid = (gid_t)-1;
    const char *admin = NULL;
    hlb_conf_str(conf, "admin_group", NULL, &admin, NULL);
    struct group *g = admin && *admin ? getgrnam(admin) : NULL;
    if (g)
        acl->admin_gid = g->gr_gid;
    acl_load_defaults(acl);
    for (size_t i = 0; i < c->topic_owners.nrules; i++) {
        const acl_rule_t *r = &c->topic_owners.rules[i];
        acl_set(acl, r->prefix, r->uids, r->nuids, r->admins);
    }
    for (size_t i = 0; c->admin_topics && c->admin_topics[i]; i++)
        acl_let_admins(acl, c->admin_topics[i]);
}

static int check_conf(void *obj, const hlb_conf_t *node, void *ctx, hlb_diag_t *diag)
{
    bus_conf_t *c = obj;
    const hlb_conf_t *lvc = hlb_conf_get(node, "lvc_prefixes");
    for (size_t i = 0; c->lvc_prefixes && c->lvc_prefixes[i]; i++)
        if (!hlb_topic_valid(c->lvc_prefixes[i], strlen(c->lvc_prefixes[i])))
            hlb_diag_add(diag, lvc ? hlb_conf_at(lvc, i) : node,
                         "an lvc prefix must be printable text without spaces");
    const hlb_conf_t *adm = hlb_conf_get(node, "admin_topics");
    for (size_t i = 0; c->admin_topics && c->admin_topics[i]; i++)
        if (!hlb_topic_valid(c->admin_topics[i], strlen(c->admin_topics[i])) ||
            strlen(c->admin_topics[i]) >= 64)
            hlb_diag_add(diag, adm ? hlb_conf_at(adm, i) : node,
                         "an admin_topics prefix is 1..63 printable characters");
    return 0;
}

static const hlb_conf_key_t bus_keys[] = {
    /* State topics: a late subscriber needs their current value, not news.
     * Unset: the state families of the bus contract (topics.h). */
    HLB_KEY_STRV(bus_conf_t, lvc_prefixes, NULL, MAX_LVC_PREFIXES, 0),
    HLB_KEY_INT(bus_conf_t, stats_depth, "1", 1, 8, 0),
    /* ZMQ_SNDHWM of the sockets, set when they are made (or adopted). */
    HLB_KEY_INT(bus_conf_t, hwm, "100000", 100, 10000000, HLB_KEY_RESTART),
    HLB_KEY("topic_owners", HLB_KIND_CUSTOM, bus_conf_t, topic_owners, .parse = parse_owners,
            .help = "{prefix: [user, ...]} in place of the default owners"),
    HLB_KEY_STRV(bus_conf_t, admin_topics, "[]", ACL_MAX_RULES, 0),
    /* libzmq aborts on EMFILE: a uid's connections are capped (fdguard.h) */
    HLB_KEY_INT(bus_conf_t, max_connections_per_uid, "64", 4, 4096, 0),
    /* libzmq keeps subscriptions in a trie, a node per byte: bounded */
    HLB_KEY_INT(bus_conf_t, max_subscription_length, "256", 1, HLB_MAX_TOPIC, 0),
    HLB_KEY_INT(bus_conf_t, max_subscriptions_per_connection, "256", 1, 100000, 0),
    HLB_KEY_SIZE(bus_conf_t, max_subscription_bytes, "1MiB", 1024, 256 << 20, 0),
    {0}};
const hlb_conf_table_t bus_table = {
    .name = "hl-bus", .size = sizeof(bus_conf_t), .keys = bus_keys, .check = check_conf};

int bus_configure(hlb_daemon_t *d, const hlb_conf_t *conf, const hlb_conf_t *section,
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
    build_acl(&b->acl, &c, conf);
    hlb_fdguard_arm(c.max_connections_per_uid, HLB_FDGUARD_RESERVE);
    proxy_limits_t lim = {.sub_len = c.max_subscription_length,
                          .subs_per_conn = c.max_subscriptions_per_connection,
                          .subs_bytes = c.max_subscription_bytes};
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
        proxy_set_policy(b->proxy, &b->acl, &lim);
    }
    hlb_conf_schema_free(&bus_table, &b->conf);
    b->conf = c;
    return 0;
}

int bus_start(hlb_daemon_t *d, void *arg)
{
    bus_t *b = arg;
    proxy_opts_t o = {.lvc_prefixes = (const char *const *)b->conf.lvc_prefixes,
                      .stats_depth = b->conf.stats_depth,
                      .hwm = b->conf.hwm,
                      .acl = &b->acl,
                      .limits = {.sub_len = b->conf.max_subscription_length,
                                 .subs_per_conn = b->conf.max_subscriptions_per_connection,
                                 .subs_bytes = b->conf.max_subscription_bytes}};
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

void bus_stop(hlb_daemon_t *d, void *arg)
{
    bus_t *b = arg;
    proxy_destroy(&b->proxy);
}

static void m_stats(hlb_request_t *req, hlb_reply_t *reply, void *arg)
{
    bus_t *b = arg;
    proxy_stats_reply(b->proxy, reply);
}

const hlb_method_t bus_methods[] = {
    {"stats", m_stats, 0, "messages and bytes per topic prefix, gaps per source"},
    {NULL, NULL, 0, NULL},
};
