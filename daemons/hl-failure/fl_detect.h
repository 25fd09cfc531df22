/* Failure detection: turns what the other daemons report (unit state, health,
 * resource thresholds, uplink connectivity) and the results of hl-failure's
 * own checks into failures of the spec's four types, classified by the
 * configured patterns. It keeps per-service state so that only transitions
 * count (a failed unit reported again is not a new crash), holds conditions
 * that must be sustained, and says when a target is healthy again.
 *
 * Pure: no bus, no loop. Inputs are plain structs (fl_decode.c fills them
 * from typed bus messages); time is passed in. */
#pragma once
#include <stdbool.h>
#include <stdint.h>

#include "fl_config.h"

/* service.<name>, normalised. Strings may be NULL when unknown. */
typedef struct fl_unit_obs {
    const char *service;
    const char *unit;
    const char *active_state, *sub_state, *result, *load_state;
    int64_t n_restarts; /* -1: unknown */
    int exit_code;      /* 0 none, 1 exited, 2 killed, 3 dumped core */
    int exit_status;    /* status (1) or signal (2, 3) */
    uint64_t ts_us;     /* when it was published */
} fl_unit_obs_t;

/* The bus's one health vocabulary (proto/health.proto), under short names. */
#include "health.pb-c.h"
typedef Hl__HealthState fl_health_t;
#define FL_H_UNKNOWN HL__HEALTH_STATE__HEALTH_UNKNOWN
#define FL_H_HEALTHY HL__HEALTH_STATE__HEALTH_HEALTHY
#define FL_H_DEGRADED HL__HEALTH_STATE__HEALTH_DEGRADED
#define FL_H_UNHEALTHY HL__HEALTH_STATE__HEALTH_UNHEALTHY

/* health.<service> */
typedef struct fl_health_obs {
    const char *service;
    fl_health_t state;
    const char *reason;
    uint64_t ts_us;
} fl_health_obs_t;

/* metrics.threshold.<name> */
typedef struct fl_threshold_obs {
    const char *name;
    const char *resource;
    bool firing; /* false: cleared */
    double value, limit;
    const char *unit; /* "percent" or "" */
    uint64_t ts_us;
} fl_threshold_obs_t;

/* uplink.<x>: connectivity to the HL API */
typedef struct fl_uplink_obs {
    const char *topic;
    bool up;
    const char *detail;
    uint64_t ts_us;
} fl_uplink_obs_t;

typedef struct fl_failure {
    fl_ftype_t type;
    fl_sev_t severity;
    const char *signal;   /* unit-failed, exit-status, unit-config, unhealthy, threshold,
                           * uplink, check */
    const char *pattern;  /* the pattern (or check) that classified it */
    const char *target;   /* whose policy: a service, "network", "resource:<name>" */
    const char *service;  /* the service concerned; "" for none */
    const char *evidence; /* one line for people */
    bool config;          /* a configuration error (never recovered by restarting) */
    bool recover;         /* the pattern allows recovery */
    bool self_restarting; /* systemd is already restarting the unit */
    bool reasserted;      /* an ongoing failure reported again (gate opened, rearm) */
    uint64_t source_ts_us;
    /* details, when they apply */
    const char *unit, *result;
    int exit_code, exit_status;
    int64_t n_restarts;
    const char *metric;
    double value, limit;
    char *const *command; /* threshold: the pattern's recovery command */
} fl_failure_t;

typedef struct fl_detect_ops {
    void (*failure)(const fl_failure_t *f, void *arg);
    /* TARGET is healthy (again): a service per its health or unit, a
     * resource threshold cleared, the network reachable. */
    void (*healthy)(const char *target, const char *why, void *arg);
    /* A configuration check of TARGET passes again. */
    void (*config_ok)(const char *target, const char *why, void *arg);
} fl_detect_ops_t;

typedef struct fl_detect fl_detect_t;

fl_detect_t *fl_detect_new(const fl_config_t *cfg, const fl_detect_ops_t *ops, void *arg);
void fl_detect_destroy(fl_detect_t **self_p);
/* A new config (reload): patterns are looked up by name when conditions
 * come due; conditions whose pattern is gone are dropped. */
void fl_detect_set_config(fl_detect_t *d, const fl_config_t *cfg);

void fl_detect_unit(fl_detect_t *d, const fl_unit_obs_t *u, uint64_t now_ms);
void fl_detect_health(fl_detect_t *d, const fl_health_obs_t *h, uint64_t now_ms);
void fl_detect_threshold(fl_detect_t *d, const fl_threshold_obs_t *t, uint64_t now_ms);
void fl_detect_uplink(fl_detect_t *d, const fl_uplink_obs_t *u, uint64_t now_ms);
/* One run of check K: OK, or failed with DETAIL. */
void fl_detect_check(fl_detect_t *d, const fl_check_cfg_t *k, bool ok, const char *detail,
                     uint64_t now_ms);

uint64_t fl_detect_next_due(const fl_detect_t *d);
void fl_detect_tick(fl_detect_t *d, uint64_t now_ms);
/* Reports again every failure still going on (of TARGET, or all when NULL),
 * with reasserted set: after the gate opens or a rearm. */
void fl_detect_reassert(fl_detect_t *d, const char *target, uint64_t now_ms);
/* Whether TARGET is currently healthy as far as detection knows. */
bool fl_detect_is_healthy(const fl_detect_t *d, const char *target);

/* The state's word: unknown, healthy, degraded, unhealthy. */
const char *fl_health_name(fl_health_t h);
