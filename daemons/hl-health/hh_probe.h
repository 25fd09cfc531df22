/* Probes: one attempt of a check, asynchronous inside the daemon's reactor (hlbus/reactor.h).
 * Each kind implements the same small interface; the check engine owns
 * scheduling, retries and state. */
#pragma once
#include <hlbus/str.h> /* hlb_strdupf, which the probes use for details */
#include <hlbus/reactor.h>
#include <hlbus/tlspolicy.h>
#include "hh_types.h"

typedef struct hh_curl hh_curl_t;
typedef struct hh_probe hh_probe_t;

/* What a probe needs from its surroundings. */
typedef struct hh_probe_env {
    hlb_reactor_t *io;
    hh_curl_t *curl; /* shared multi handle for the HTTP probes */
} hh_probe_env_t;

/* The outcome of one attempt. DETAIL is a short stable reason ("HTTP 500",
 * "timed out after 2000 ms"); OUT is what the probe saw (body, process
 * output), at most HH_OUTPUT_MAX bytes. Both valid during the call only.
 * The callback may start the probe again or destroy it. */
typedef void(hh_probe_done_fn)(hh_probe_t *p, hh_result_t r, const char *detail,
                               const char *out, size_t outlen, void *arg);

/* A bounded output buffer (first HH_OUTPUT_MAX bytes; the rest is counted). */
typedef struct hh_out {
    char data[HH_OUTPUT_MAX];
    size_t len;
    uint64_t dropped;
} hh_out_t;
void hh_out_reset(hh_out_t *o);
void hh_out_add(hh_out_t *o, const void *data, size_t len);

typedef struct hh_probe_ops {
    /* 0, or -errno when the attempt could not even start (then DONE is not called). */
    int (*start)(hh_probe_t *p, int64_t timeout_ms);
    /* Abandons an attempt in flight; DONE is not called. */
    void (*cancel)(hh_probe_t *p);
    void (*destroy)(hh_probe_t *p);
} hh_probe_ops_t;

struct hh_probe {
    const hh_probe_ops_t *ops;
    const hh_check_spec_t *spec; /* owned by the check; outlives the probe */
    hh_probe_env_t env;
    hh_probe_done_fn *done;
    void *arg;
    bool busy;
};

/* A probe for SPEC (HTTP, TCP, exec or disk). NULL on failure (bad spec,
 * out of memory); ERR then says why when not NULL (caller frees). */
hh_probe_t *hh_probe_new(const hh_probe_env_t *env, const hh_check_spec_t *spec,
                         hh_probe_done_fn *done, void *arg, char **err);
int hh_probe_start(hh_probe_t *p, int64_t timeout_ms);
void hh_probe_cancel(hh_probe_t *p);
void hh_probe_destroy(hh_probe_t **p_p);
/* Called by the implementations when an attempt ends. */
void hh_probe_finish(hh_probe_t *p, hh_result_t r, const char *detail, const char *out,
                     size_t outlen);

/* Kind constructors (used by hh_probe_new). */
hh_probe_t *hh_http_probe_new(const hh_probe_env_t *env, const hh_check_spec_t *spec, char **err);
hh_probe_t *hh_tcp_probe_new(const hh_probe_env_t *env, const hh_check_spec_t *spec, char **err);
hh_probe_t *hh_exec_probe_new(const hh_probe_env_t *env, const hh_check_spec_t *spec, char **err);
hh_probe_t *hh_disk_probe_new(const hh_probe_env_t *env, const hh_check_spec_t *spec, char **err);

/* The libcurl multi handle driven by the reactor (sockets via CURLMOPT_SOCKETFUNCTION,
 * its timeout via CURLMOPT_TIMERFUNCTION). */
hh_curl_t *hh_curl_new(hlb_reactor_t *io);
void hh_curl_destroy(hh_curl_t **self_p);
/* Connections kept in the cache; raise it to the number of HTTP checks so
 * that every check can reuse its connection. */
void hh_curl_set_maxconnects(hh_curl_t *c, long n);
/* The TLS policy of the HTTPS probes (a reference is taken; NULL: the
 * built-in policy). Set it before the first HTTP probe is made: the probes'
 * handles point at it, and it lives as long as the multi handle, which
 * outlives every probe. */
void hh_curl_set_tls(hh_curl_t *c, hlb_tlspolicy_t *p);

