/* Resource thresholds (spec 2.3.2: cpu 80 %, memory 85 %, disk 90 %,
 * load 4.0), each sustained for a configurable time before it fires, and
 * sustained back under its clear level before it clears. The state machine
 * is a table; it only decides, the daemon publishes. */
#pragma once
#include <stdbool.h>
#include <stdint.h>

typedef enum {
    HLM_RES_CPU,    /* busy percent of all CPUs since the previous sample */
    HLM_RES_MEMORY, /* (MemTotal - MemAvailable) / MemTotal, percent */
    HLM_RES_DISK,   /* used / (used + available to non-root), percent, of a mount point */
    HLM_RES_LOAD,   /* 1-minute load average */
    HLM_RES_COUNT
} hlm_resource_t;

typedef enum {
    HLM_TH_OK,        /* under the limit */
    HLM_TH_PENDING,   /* over it, not yet for long enough */
    HLM_TH_FIRING,    /* over it for `for` or longer: fired */
    HLM_TH_RESOLVING, /* fired, back under the clear level, not yet for long enough */
    HLM_TH_NSTATES
} hlm_th_state_t;

typedef enum { HLM_TH_NONE, HLM_TH_FIRE, HLM_TH_CLEAR } hlm_th_action_t;

typedef struct hlm_threshold_cfg {
    char name[64];        /* [a-z0-9_-]: the topic is metrics.threshold.<name> */
    hlm_resource_t resource;
    char *mountpoint;     /* HLM_RES_DISK: which file system ("/" by default) */
    double above;         /* fires when the value is > above ... */
    double clear_below;   /* ... and clears when it is <= clear_below (<= above) */
    int64_t for_ms;       /* sustained this long before firing */
    int64_t clear_for_ms; /* and this long before clearing */
} hlm_threshold_cfg_t;

typedef struct hlm_threshold {
    hlm_threshold_cfg_t cfg;
    hlm_th_state_t state;
    uint64_t window_mono; /* start of the current window (monotonic, us): when the
                           * excursion (PENDING) or the recovery (RESOLVING) began */
    uint64_t window_us;   /* the same, wall clock: the "since" of the events */
    bool have_value;
    double value;         /* the last value fed */
    uint64_t fired;       /* FIRE actions so far */
    uint64_t cleared;     /* CLEAR actions so far */
} hlm_threshold_t;

/* Starts T in state OK with CFG (the mountpoint is copied). */
int hlm_threshold_init(hlm_threshold_t *t, const hlm_threshold_cfg_t *cfg);
void hlm_threshold_fini(hlm_threshold_t *t);
/* Feeds one sample taken at NOW_MONO (monotonic, us) / NOW_US (wall clock).
 * VALID false (no data this time) changes nothing. Returns the action to
 * publish: at most one FIRE per excursion and one CLEAR after it. */
hlm_th_action_t hlm_threshold_feed(hlm_threshold_t *t, bool valid, double value,
                                   uint64_t now_mono, uint64_t now_us);

const char *hlm_resource_name(hlm_resource_t r);
int hlm_resource_parse(const char *s); /* -EINVAL if unknown */
const char *hlm_th_state_name(hlm_th_state_t s);
