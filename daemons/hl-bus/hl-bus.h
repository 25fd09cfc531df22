/* hl-bus on the daemon runtime: what main.c's ops call (hl-bus.c). */
#pragma once
#include <hlbus/hlbus.h>

#include "proxy.h"

#define MAX_LVC_PREFIXES 64

/* The "hl-bus" section. */
typedef struct {
    char **lvc_prefixes; /* NULL-terminated */
    int stats_depth;
    int hwm;
    /* who may publish what (acl.h): rules in place of the defaults, and
     * owned families admins may publish on too */
    acl_t topic_owners;
    char **admin_topics;
    int max_connections_per_uid;
    int max_subscription_length;
    int max_subscriptions_per_connection;
    int64_t max_subscription_bytes;
} bus_conf_t;

typedef struct {
    proxy_t *proxy;
    bus_conf_t conf; /* the applied one */
    acl_t acl;       /* built from it: the defaults, then its rules */
} bus_t;

/* The "hl-bus" section's schema (its --help lists the keys). */
extern const hlb_conf_table_t bus_table;
int bus_configure(hlb_daemon_t *d, const hlb_conf_t *conf, const hlb_conf_t *section,
                  bool check_only, hlb_diag_t *diag, void *arg);
int bus_start(hlb_daemon_t *d, void *arg);
void bus_stop(hlb_daemon_t *d, void *arg);
extern const hlb_method_t bus_methods[];
