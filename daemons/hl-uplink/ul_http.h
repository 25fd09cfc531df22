/* HTTP exchanges on one libcurl multi handle driven by the daemon's reactor
 * (the sockets curl wants watched and its timer live on the loop: nothing
 * blocks). Each request is a fresh easy handle; connections are reused from
 * the multi handle's cache. Bounded: the body read is capped (a longer one
 * cuts the transfer, reported as too large), headers we keep are capped,
 * redirects are never followed (a 3xx is an answer the caller refuses), only
 * http and https, the VM's TLS policy (hlbus/tlspolicy.h: versions, suites,
 * its CA beside the system store), certificate checks on unless the config
 * says otherwise. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <hlbus/reactor.h>
#include <hlbus/tlspolicy.h>

typedef struct ul_http ul_http_t;
typedef struct ul_call ul_call_t;

typedef struct ul_resp {
    long status;        /* 0: no HTTP answer */
    int curl_code;      /* CURLcode */
    const char *error;  /* one line when status is 0 or the body was cut */
    const char *body;   /* NUL-terminated, body_len bytes */
    size_t body_len;
    bool body_too_large;
    const char *content_type, *date, *retry_after, *location; /* NULL when absent */
    uint64_t done_mono_us;
} ul_resp_t;

typedef void(ul_http_fn)(const ul_resp_t *r, void *arg);

typedef struct ul_req {
    const char *method; /* GET, PUT, POST */
    const char *url;
    const char *const *headers; /* "Name: value", NULL-terminated; may be NULL */
    const char *body;
    size_t body_len;
    int64_t timeout_ms, connect_timeout_ms;
    size_t max_body;
} ul_req_t;

typedef struct ul_tls {
    const char *ca_file; /* NULL: the system store (and the policy's CA) */
    bool verify;         /* false only when configured, and warned about */
    hlb_tlspolicy_t *policy; /* NULL: the built-in policy; ul_http takes a reference */
} ul_tls_t;

ul_http_t *ul_http_new(hlb_reactor_t *io, const ul_tls_t *tls, const char *user_agent);
/* Cancels what is in flight (no callbacks). */
void ul_http_destroy(ul_http_t **h_p);
/* Starts REQ; FN is called once from the loop (never from inside this call).
 * Returns the call (for ul_http_cancel) or NULL when it could not start. */
ul_call_t *ul_http_start(ul_http_t *h, const ul_req_t *req, ul_http_fn *fn, void *arg);
void ul_http_cancel(ul_http_t *h, ul_call_t *c);
size_t ul_http_in_flight(const ul_http_t *h);
