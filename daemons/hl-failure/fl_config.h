/* hl-failure's configuration: the failure patterns (what counts as which
 * failure, and how bad), the recovery policy per service, the network
 * recovery, the active checks, and where the inputs come from. Parsed from
 * the daemon's section of hl.yaml; every field has a built-in default, so an
 * absent section is a working config. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <hlbus/conf.h>

#include "fl_policy.h"

/* The spec's four failure types (5.1.1). */
typedef enum {
    FL_FT_SERVICE_CRASH,
    FL_FT_NETWORK,
    FL_FT_RESOURCE,
    FL_FT_CONFIG,
    FL_NFTYPES
} fl_ftype_t;

typedef enum { FL_SEV_INFO, FL_SEV_WARNING, FL_SEV_CRITICAL, FL_NSEVS } fl_sev_t;

/* What a pattern listens to. */
typedef enum {
    FL_ON_UNIT_FAILED, /* service.*: the unit failed or is being auto-restarted */
    FL_ON_EXIT_STATUS, /* service.*: ... with one of these exit statuses */
    FL_ON_UNIT_CONFIG, /* service.*: the unit file itself is bad (load_state) */
    FL_ON_UNHEALTHY,   /* health.*: unhealthy while its unit runs (a hang) */
    FL_ON_THRESHOLD,   /* metrics.threshold.*: firing for `sustain` */
    FL_ON_UPLINK,      /* uplink.*: no connectivity for `sustain` */
    FL_NONS
} fl_on_t;

const char *fl_ftype_name(fl_ftype_t t);
const char *fl_sev_name(fl_sev_t s);
const char *fl_on_name(fl_on_t o);

typedef struct fl_pattern {
    char *name;
    fl_on_t on;
    fl_ftype_t type;
    fl_sev_t severity;
    char **services;     /* fnmatch globs; NULL: every service */
    char **results;      /* unit-failed: systemd Result values; NULL: any but success */
    int *exit_status;    /* exit-status */
    size_t nexit;
    char **metrics;      /* threshold: globs over the threshold's name or resource */
    int64_t sustain_ms;  /* unhealthy, threshold, uplink: how long before it counts */
    bool recover;        /* false: reported only, the policy does not act */
    char *target;        /* threshold: the service to recover; NULL: none */
    char **command;      /* threshold: argv of a recovery command; NULL: none */
} fl_pattern_t;

typedef enum { FL_HEALTHY_AUTO, FL_HEALTHY_HEALTH, FL_HEALTHY_UNIT } fl_healthy_on_t;

/* Policy configs name their actions with static literals ("restart",
 * "reset", "rebuild", "command"), never with strings of a config: a policy
 * outlives the config it was made from. */
typedef struct fl_service_cfg {
    char *name;           /* as in service.<name> and health.<name> */
    char *unit;           /* the systemd unit the orchestrator acts on */
    bool recover;         /* false: failures are reported only */
    fl_healthy_on_t healthy_on;
    fl_policy_cfg_t policy;
} fl_service_cfg_t;

/* An active check hl-failure runs itself: a command whose failure, `failures`
 * times in a row, is a network failure (reachability) or a configuration
 * error of SERVICE (e.g. `hl-daemon --check-config`). */
typedef struct fl_check_cfg {
    char *name;
    char **argv;
    fl_ftype_t type;      /* FL_FT_NETWORK or FL_FT_CONFIG */
    char *service;        /* FL_FT_CONFIG: whose configuration */
    fl_sev_t severity;
    int64_t interval_ms;
    int64_t timeout_ms;
    int64_t failures;
} fl_check_cfg_t;

typedef struct fl_config {
    char *orchestrator;       /* daemon that runs recovery actions */
    char *recover_method;     /* its method: {unit, type, reason} */
    char *stop_method;        /* stops a unit stuck in a configuration-error restart loop */
    int64_t action_timeout_ms;
    bool stop_config_loops;
    bool require_lifecycle;   /* no lifecycle state seen: do not act */
    int64_t restart_settle_ms; /* a unit gone "failed": wait this long for auto-restart */
    char **recover_in;        /* lifecycle states in which recovery acts */
    bool recover_unlisted;    /* services not listed get the default policy */
    fl_policy_cfg_t defaults; /* the policy of listed services, unless overridden */
    fl_service_cfg_t *services;
    size_t nservices;
    fl_pattern_t *patterns;
    size_t npatterns;
    fl_check_cfg_t *checks;
    size_t nchecks;
    char **network_command;   /* NULL: network failures are reported only */
    int64_t command_timeout_ms;
    fl_policy_cfg_t network_policy;
    char *topic_service, *topic_health, *topic_threshold, *topic_uplink, *topic_lifecycle;
    int64_t max_incidents;
} fl_config_t;

/* Parses SECTION (may be NULL: all defaults). NULL on errors, each reported
 * to DIAG with file and line. */
fl_config_t *fl_config_parse(const hlb_conf_t *section, hlb_diag_t *diag);
void fl_config_destroy(fl_config_t **self_p);

/* The configured service NAME, or NULL. */
const fl_service_cfg_t *fl_config_service(const fl_config_t *c, const char *name);
/* Whether the policy acts on failures of service NAME, and with which policy
 * (NULL: report only). */
const fl_policy_cfg_t *fl_config_policy_for(const fl_config_t *c, const char *name);
/* Whether any of the NULL-terminated globs matches S (NULL GLOBS: all do). */
bool fl_globs_match(char *const *globs, const char *s);
