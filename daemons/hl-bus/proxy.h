/* The bus proxy: PULL at bus/pub (publishers push), XPUB at bus/sub
 * (subscribers subscribe). Every message is checked before it is forwarded,
 * counted per topic prefix and per source, and state topics are cached for
 * late joiners. */
#pragma once
#include <czmq.h>
#include <hlbus/hlbus.h>

typedef struct proxy proxy_t;

typedef struct proxy_opts {
    const char *const *lvc_prefixes; /* NULL-terminated */
    int stats_depth;                 /* dots in a stats prefix */
    int hwm;                         /* per-subscriber queue bound, in messages */
} proxy_opts_t;

/* Binds the endpoints under RUNTIME_DIR, or adopts the listening sockets
 * systemd passed (LISTEN_FDS, named "pub" and "sub" or in that order). */
proxy_t *proxy_new(const char *runtime_dir, const proxy_opts_t *opts);
void proxy_destroy(proxy_t **self_p);
/* Registers the proxy's sockets with LOOP. */
int proxy_attach(proxy_t *p, zloop_t *loop);
/* Replaces the cached-topic prefixes (on reload); the cache is kept. */
int proxy_set_lvc_prefixes(proxy_t *p, const char *const *prefixes);
/* Changes the dots in a stats prefix (on reload); counts so far stay. */
void proxy_set_stats_depth(proxy_t *p, int depth);
/* Fills a reply with an hl.BusStats. */
void proxy_stats_reply(proxy_t *p, hlb_reply_t *reply);
bool proxy_socket_activated(const proxy_t *p);
