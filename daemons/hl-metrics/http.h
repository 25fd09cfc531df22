/* The /metrics endpoint: libmicrohttpd with its own internal polling
 * thread, serving the latest snapshot (see snapshot.h). The HTTP thread
 * only takes a reference to a prebuilt snapshot and writes it out; it
 * never touches the collectors, the bus or the logger. */
#pragma once
#include <stdint.h>
#include <sys/socket.h>
#include "snapshot.h"

typedef struct hlm_http_opts {
    const char *listen;   /* "127.0.0.1:8081", "[::1]:8081", ":8081" (all), port 0: any free one */
    const char *path;     /* "/metrics" */
    unsigned max_conns;   /* concurrent connections (0: 128) */
    unsigned max_conns_per_user; /* of one local uid (0: 8); see peeruid.h */
    unsigned timeout_s;   /* idle connection timeout (0: 10) */
} hlm_http_opts_t;

typedef struct hlm_http_stats {
    uint64_t scrapes;      /* 200 on the metrics path */
    uint64_t not_found;    /* 404 */
    uint64_t bad_method;   /* 405 */
    uint64_t unavailable;  /* 503: no snapshot yet */
    uint64_t refused_user; /* connections closed at once: their uid had max_conns_per_user */
} hlm_http_stats_t;

typedef struct hlm_http hlm_http_t;

/* Binds and starts serving. NULL on failure with *ERR set (caller frees). */
hlm_http_t *hlm_http_new(const hlm_http_opts_t *o, hlm_latest_t *slot, char **err);
void hlm_http_destroy(hlm_http_t **self_p);
/* The bound port (useful with port 0). */
uint16_t hlm_http_port(const hlm_http_t *h);
hlm_http_stats_t hlm_http_stats(const hlm_http_t *h);

/* Parses a listen address; 0 or -EINVAL with *ERR set (caller frees). */
int hlm_parse_listen(const char *s, struct sockaddr_storage *ss, socklen_t *len, char **err);
