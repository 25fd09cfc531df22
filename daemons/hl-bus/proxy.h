/* The bus proxy: PULL at bus/pub (publishers push), XPUB at bus/sub
 * (subscribers subscribe). Every message is checked before it is forwarded,
 * counted per topic prefix and per source, and state topics are cached for
 * late joiners. */
#pragma once
#include <czmq.h>
#include <hlbus/hlbus.h>

#include "acl.h"

typedef struct proxy proxy_t;

/* What one subscriber connection, and all of them, may make the proxy hold:
 * libzmq keeps every subscription in a trie, a byte per node. */
typedef struct proxy_limits {
    int sub_len;          /* bytes in one subscription prefix */
    int subs_per_conn;    /* subscriptions per subscriber connection */
    int64_t subs_bytes;   /* bytes of all subscriptions together */
} proxy_limits_t;

typedef struct proxy_opts {
    const char *const *lvc_prefixes; /* NULL-terminated */
    int stats_depth;                 /* dots in a stats prefix */
    int hwm;                         /* per-subscriber queue bound, in messages */
    acl_t *acl;                /* who may publish what; NULL: anyone */
    proxy_limits_t limits;
} proxy_opts_t;

/* Binds the endpoints under RUNTIME_DIR, or adopts the listening sockets
 * systemd passed (LISTEN_FDS, named "pub" and "sub" or in that order). */
proxy_t *proxy_new(const char *runtime_dir, const proxy_opts_t *opts);
void proxy_destroy(proxy_t **self_p);
/* Registers the proxy's sockets with LOOP. */
int proxy_attach(proxy_t *p, zloop_t *loop);
/* Replaces the cached-topic prefixes (on reload); the cache is kept. */
int proxy_set_lvc_prefixes(proxy_t *p, const char *const *prefixes);
/* Replaces the ACL and limits (on reload); ACL is not copied. */
void proxy_set_policy(proxy_t *p, acl_t *acl, const proxy_limits_t *limits);
/* Changes the dots in a stats prefix (on reload); counts so far stay. */
void proxy_set_stats_depth(proxy_t *p, int depth);
/* Fills a reply with an hl.BusStats. */
void proxy_stats_reply(proxy_t *p, hlb_reply_t *reply);
bool proxy_socket_activated(const proxy_t *p);
