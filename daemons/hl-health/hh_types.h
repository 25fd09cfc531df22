/* Shared vocabulary of the health engine: states, results, check specs. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Largest output kept per check (last run), as hlctl health --why shows it. */
#define HH_OUTPUT_MAX 4096

/* A check's or a service's state; the order is "how bad". The one health
 * vocabulary of the bus (proto/health.proto's HealthState), under short names. */
#include "health.pb-c.h"
typedef Hl__HealthState hh_state_t;
#define HH_UNKNOWN HL__HEALTH_STATE__HEALTH_UNKNOWN /* no counted result yet */
#define HH_HEALTHY HL__HEALTH_STATE__HEALTH_HEALTHY
#define HH_DEGRADED HL__HEALTH_STATE__HEALTH_DEGRADED
#define HH_UNHEALTHY HL__HEALTH_STATE__HEALTH_UNHEALTHY
/* A service whose unit is not installed (or masked): neither healthy nor
 * unhealthy, and left out of the overall state. Services only; outside the
 * "how bad" order, so never compared with the others. */
#define HH_NOT_APPLICABLE HL__HEALTH_STATE__HEALTH_NOT_APPLICABLE
#define HH_NSTATES 5

/* The outcome of one attempt/run: exit 0/1/2 of the spec's hl-health-check. */
typedef enum {
    HH_PASS = 0,
    HH_WARN = 1,
    HH_FAIL = 2,
} hh_result_t;
#define HH_NRESULTS 3

typedef enum {
    HH_KIND_UNIT,
    HH_KIND_HTTP,
    HH_KIND_TCP,
    HH_KIND_EXEC,
    HH_KIND_DISK,
} hh_kind_t;

/* The state's word (healthy, ...), from the proto enum. */
const char *hh_state_name(hh_state_t s);
const char *hh_result_name(hh_result_t r);
const char *hh_kind_name(hh_kind_t k);

typedef struct hh_http_spec {
    char *url;
    char *method;       /* GET (default), HEAD, POST, ... */
    char *body;         /* request body for POST/PUT; may be NULL */
    char **headers;     /* "Name: value", NULL-terminated; may be NULL */
    long status_min;    /* expected status range, inclusive; default 200..399 */
    long status_max;
    char *body_match;   /* substring the body must contain; may be NULL */
    char *body_regex;   /* POSIX extended regex the body must match; may be NULL */
    size_t max_body;    /* bytes read at most; default 64 KiB */
    bool follow_redirects;
    long max_redirects; /* default 5 */
    bool tls_verify;    /* default true */
    char *ca_file;
    char *client_cert;
    char *client_key;
    char *tls_min;      /* "1.2", "1.3"; NULL: libcurl's default */
    bool reuse;         /* keep connections between runs (default true) */
} hh_http_spec_t;

typedef struct hh_tcp_spec {
    char *host; /* numeric or resolvable name */
    char *port;
} hh_tcp_spec_t;

typedef struct hh_exec_spec {
    char **argv; /* NULL-terminated, argv[0] an absolute path; no shell */
    char **env;  /* extra "K=V", NULL-terminated; may be NULL */
    char *user;  /* run as this user (and its primary group); NULL: as the daemon */
} hh_exec_spec_t;

typedef struct hh_disk_spec {
    char *path;
    double warn_free_pct; /* degraded below this much free space (percent) */
    double crit_free_pct; /* unhealthy below */
    uint64_t warn_free_bytes;
    uint64_t crit_free_bytes;
    double crit_free_inodes_pct;
} hh_disk_spec_t;

/* One check as configured. Times in milliseconds. */
typedef struct hh_check_spec {
    char *name;    /* unique across services */
    char *service;
    hh_kind_t kind;
    int64_t interval_ms;    /* default 10 s */
    int64_t timeout_ms;     /* per attempt; default 5 s */
    int64_t retries;        /* attempts per run (spec retry_count); default 3 */
    int64_t retry_delay_ms; /* between attempts of a run; default 500 ms */
    int64_t failures;       /* consecutive bad runs before a healthy check turns bad */
    int64_t successes;      /* consecutive passing runs before a bad check is healthy */
    bool critical;          /* when failing, the service is unhealthy, not degraded */
    union {
        hh_http_spec_t http;
        hh_tcp_spec_t tcp;
        hh_exec_spec_t exec;
        hh_disk_spec_t disk;
    } u;
} hh_check_spec_t;

typedef struct hh_service_spec {
    char *name;
    char *unit;         /* systemd unit watched through service.<unit>; NULL: none */
    char *phase;        /* startup phase it belongs to: a name ("core") or an index ("2");
                         * NULL: the phase the orchestrator names in service.<unit> */
    int64_t grace_ms;   /* start period after the unit turned active */
} hh_service_spec_t;

/* Fills the defaults above. */
void hh_check_spec_defaults(hh_check_spec_t *s, hh_kind_t kind);
void hh_check_spec_clear(hh_check_spec_t *s);
void hh_service_spec_clear(hh_service_spec_t *s);
/* Deep copies; NULL on out-of-memory. */
int hh_check_spec_copy(hh_check_spec_t *dst, const hh_check_spec_t *src);
