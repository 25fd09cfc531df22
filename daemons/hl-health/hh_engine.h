/* The health engine: checks scheduled on the daemon's reactor, their debounced
 * states, and each service's state from its unit and its checks.
 *
 * Inputs: the configured services and checks, unit state (from the
 * orchestrator's service.<unit> events) and the startup phase (from its
 * lifecycle.phase events). Output: a callback on every change of a service's
 * state or reason. The engine knows nothing of the bus. */
#pragma once
#include <czmq.h>
#include <hlbus/reactor.h>
#include "hh_probe.h"
#include "hh_types.h"

typedef struct hh_engine hh_engine_t;
typedef struct hh_service hh_service_t;
typedef struct hh_check hh_check_t;

/* What the unit's ActiveState/SubState mean for health. */
typedef enum {
    HH_UNIT_UNKNOWN = 0, /* no event yet */
    HH_UNIT_UP,          /* active, reloading */
    HH_UNIT_STARTING,    /* activating (start) */
    HH_UNIT_DOWN,        /* inactive, failed, deactivating, activating (auto-restart) */
} hh_unit_class_t;

struct hh_check {
    hh_check_spec_t spec;
    hh_engine_t *eng;
    hh_service_t *svc;
    hh_probe_t *probe;
    hlb_timer_t run_timer;   /* the next scheduled run */
    hlb_timer_t retry_timer; /* the next attempt of this run */
    uint64_t nominal_us;    /* the exact fixed-rate schedule (monotonic) */
    uint64_t due_us;        /* when the next run starts: nominal rounded up to the slack */
    uint64_t run_started_us;
    bool running;
    int attempt;             /* of the current run, from 1 */

    hh_state_t state;
    uint64_t state_since_us; /* wall clock */
    uint32_t ok_streak, bad_streak;
    bool passed_since_start; /* a pass since the unit (re)started ends its grace */
    /* counters */
    uint64_t runs, passes, warns, fails, attempts_total, skipped, ignored_in_grace;
    /* last run */
    bool has_result;
    hh_result_t last_result;
    char *last_detail;
    hh_out_t last_out;
    uint64_t last_run_us;      /* wall clock at its start */
    uint64_t last_duration_us;
    int last_attempts;
    /* schedule accuracy: start time minus scheduled time */
    uint64_t late_max_us, late_sum_us;
};

struct hh_service {
    hh_service_spec_t spec;
    hh_engine_t *eng;
    hh_check_t **checks;
    size_t nchecks;
    /* unit */
    hh_unit_class_t unit;
    char *active_state, *sub_state;
    char *load_state;          /* from service.<unit>; NULL until known */
    bool not_installed;        /* LoadState not-found or masked */
    char *unit_phase;          /* the phase named in its service.<unit> events */
    uint64_t unit_since_us;    /* wall clock of the last unit change */
    uint64_t active_since_mono;/* when the unit last turned active; 0 never */
    hlb_timer_t grace_timer;
    /* result */
    hh_state_t state;
    char *reason;
    uint64_t state_since_us;
    uint64_t changes;
};

typedef void(hh_change_fn)(hh_engine_t *e, hh_service_t *svc, void *arg);

/* On IO (the daemon's reactor), which outlives the engine; several engines
 * may share one (a reload builds the new one beside the running one). */
hh_engine_t *hh_engine_new(hlb_reactor_t *io);
void hh_engine_destroy(hh_engine_t **self_p);
/* Called after any change of a service's state or reason. */
void hh_engine_on_change(hh_engine_t *e, hh_change_fn *fn, void *arg);
/* The longest first runs at start are spread over, whatever SPREAD_MS says. */
#define HH_START_SPREAD_MAX_MS 1000
/* First runs are spread over min(interval, SPREAD_MS, 1 s), by a hash of the
 * check's name, so that many checks do not all fire at once. Default 0. */
void hh_engine_set_spread(hh_engine_t *e, int64_t spread_ms);
/* The TLS policy (hlbus/tlspolicy.h) of the HTTPS checks, before the first
 * is added; a reference is taken. */
void hh_engine_set_tls(hh_engine_t *e, hlb_tlspolicy_t *p);
/* Runs start at multiples of SLACK_MS (monotonic clock), so that checks due
 * close together share one wakeup; 0 (default) is exact. */
void hh_engine_set_slack(hh_engine_t *e, int64_t slack_ms);

/* Adds a service (copied). 0, -EEXIST, -EINVAL. */
int hh_engine_add_service(hh_engine_t *e, const hh_service_spec_t *spec);
/* Adds a check to its (existing) service; *SPEC is taken and zeroed. On
 * failure the spec is left to the caller and *ERR may say why. */
int hh_engine_add_check(hh_engine_t *e, hh_check_spec_t *spec, char **err);
/* Schedules every check. */
int hh_engine_start(hh_engine_t *e);

/* Unit state from service.<unit>; UNIT with or without ".service". PHASE is
 * the startup phase the orchestrator puts it in (may be NULL or ""). */
/* LoadState from service.<unit>: "not-found" or "masked" makes the service
 * not applicable (HH_NOT_APPLICABLE) until its unit is installed. Call it
 * before hh_engine_unit for the same event. */
void hh_engine_unit_load(hh_engine_t *e, const char *unit, const char *load_state);
void hh_engine_unit(hh_engine_t *e, const char *unit, const char *active_state,
                    const char *sub_state, const char *phase);
/* A startup phase's state from lifecycle.phase (the orchestrator's
 * PhaseStatus: pending, starting, health, checks, done, failed). */
void hh_engine_phase(hh_engine_t *e, uint32_t index, const char *name, const char *state);
/* The orchestrator's overall state from lifecycle.state (starting, ready,
 * failed, shutting-down, stopped). */
void hh_engine_lifecycle(hh_engine_t *e, const char *state);
/* Runs a check now (outside its schedule), unless it is running. */
int hh_engine_run_now(hh_engine_t *e, const char *check);
/* Takes over check states and unit states of OLD for checks of the same name
 * and kind and services of the same name (config reload). */
void hh_engine_adopt(hh_engine_t *e, const hh_engine_t *old);

size_t hh_engine_nservices(const hh_engine_t *e);
hh_service_t *hh_engine_service_at(const hh_engine_t *e, size_t i);
hh_service_t *hh_engine_service(const hh_engine_t *e, const char *name);
hh_check_t *hh_engine_check(const hh_engine_t *e, const char *name);
hlb_reactor_t *hh_engine_io(const hh_engine_t *e);
/* The worst state over all services (unknown counts as degraded). */
hh_state_t hh_engine_overall(const hh_engine_t *e);
/* Monotonic time of a check's next run (0 when not scheduled). */
uint64_t hh_check_next_due(const hh_check_t *c);
bool hh_service_in_grace(const hh_service_t *s, const char **why);
/* Why the check's state is what it is, in one line; the caller frees. */
char *hh_check_why(const hh_check_t *c);
hh_unit_class_t hh_unit_classify(const char *active_state, const char *sub_state);
