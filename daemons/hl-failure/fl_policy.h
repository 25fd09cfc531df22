/* The recovery policy of one target (a service, or "network"): a table-driven
 * state machine that decides, never acts. It is fed failures, health and the
 * outcomes of the actions it asked for, and answers with effects (run this
 * action, raise that alert, the incident is over). Time is passed in (a
 * monotonic millisecond clock), so tests drive it with a fake clock.
 *
 *   idle ──failure──▶ acting(rung 1) ──ok──▶ verifying ──healthy──▶ idle
 *                        ▲                      │ failure / timeout
 *                        └──due── backoff ◀─────┘   (rung n+1 after n × backoff)
 *   exhausted rungs → gave-up; too many recoveries in the flap window → held;
 *   both raise a critical alert and wait for a rearm. A configuration error
 *   is reported and waits for the service to come back (never restarted).
 *   While the gate is closed (orchestrator starting up or shutting down)
 *   failures are noted, not acted on. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FL_MAX_RUNGS 8
#define FL_MAX_ATTEMPTS 10
#define FL_MAX_FLAP 64
#define FL_NEVER UINT64_MAX

typedef enum {
    FL_ST_IDLE,      /* no incident in progress (the budget may be partly used) */
    FL_ST_BACKOFF,   /* the next action waits for its back-off */
    FL_ST_ACTING,    /* an action is running */
    FL_ST_VERIFYING, /* the action finished; waiting for the target to be healthy */
    FL_ST_GAVE_UP,   /* every rung failed: alert raised, waiting for a rearm */
    FL_ST_HELD,      /* flap guard tripped: alert raised, waiting for a rearm */
    FL_ST_CONFIG,    /* configuration error reported; waiting for a fix */
    FL_NSTATES
} fl_state_t;

typedef enum {
    FL_EV_FAILURE,        /* a failure of the target was detected */
    FL_EV_CONFIG_ERROR,   /* the target failed because of its configuration */
    FL_EV_CONFIG_OK,      /* a configuration check passes again */
    FL_EV_HEALTHY,        /* the target is healthy (again) */
    FL_EV_DUE,            /* the back-off ended (from fl_policy_tick) */
    FL_EV_ACT_OK,         /* the action asked for succeeded */
    FL_EV_ACT_FAILED,     /* ... or failed */
    FL_EV_VERIFY_TIMEOUT, /* not healthy within verify_ms of the action (tick) */
    FL_EV_STABLE,         /* healthy for stable_ms: the budget recovers (tick) */
    FL_EV_REARM,          /* an operator re-enabled recovery */
    FL_EV_GATE_CLOSE,     /* the orchestrator began starting up or shutting down */
    FL_NEVENTS
} fl_event_t;

typedef struct fl_policy_cfg {
    /* The escalation ladder: attempt n runs actions[min(n, nactions) - 1]. */
    const char *actions[FL_MAX_RUNGS];
    size_t nactions;
    int max_attempts;         /* per budget; 1..FL_MAX_ATTEMPTS */
    int64_t backoff_ms;       /* before attempt n: (n - 1) × backoff_ms ... */
    int64_t backoff_max_ms;   /* ... at most this */
    int64_t verify_ms;        /* action done → healthy within this, or the attempt failed */
    int64_t stable_ms;        /* healthy this long → the attempt budget is whole again */
    int flap_max;             /* recoveries allowed within flap_window_ms; 0: no guard */
    int64_t flap_window_ms;
    /* A crash that systemd is already restarting (Restart=) counts as the
     * "restart" rung instead of restarting it a second time. */
    bool credit_systemd;
} fl_policy_cfg_t;

/* The built-in defaults: restart, reset, rebuild; 3 attempts; 10 s back-off
 * (the spec's attempt × 10 s) up to 5 min; verify 60 s; stable 10 min;
 * 6 recoveries per hour; systemd restarts credited. */
void fl_policy_cfg_defaults(fl_policy_cfg_t *c);

typedef enum {
    FL_EFF_STATE,           /* from → to */
    FL_EFF_SCHEDULE,        /* action, attempt, due_ms */
    FL_EFF_ACTION,          /* run action (attempt); answer with ACT_OK/ACT_FAILED */
    FL_EFF_SYSTEMD,         /* attempt credited to systemd's own restart */
    FL_EFF_ATTEMPT_FAILED,  /* action, attempt, detail */
    FL_EFF_RECOVERED,       /* duration_ms since the incident began */
    FL_EFF_GIVE_UP,         /* critical alert: attempts exhausted */
    FL_EFF_HOLD,            /* critical alert: flapping */
    FL_EFF_CONFIG,          /* a configuration error to report (no action) */
    FL_EFF_CONFIG_CLEARED,  /* the configuration error is gone */
    FL_EFF_SUPPRESSED,      /* failure seen while the gate is closed */
    FL_EFF_ABANDONED,       /* incident dropped: the gate closed */
    FL_EFF_BUDGET_RESTORED, /* stable long enough: attempts back to 0 */
    FL_EFF_REARMED,
    FL_EFF_NOTED,           /* more evidence while the incident is handled */
    FL_NEFFECTS
} fl_effect_kind_t;

typedef struct fl_effect {
    fl_effect_kind_t kind;
    const char *target;
    const char *action;   /* SCHEDULE, ACTION, SYSTEMD, ATTEMPT_FAILED */
    int attempt;          /* 1-based */
    int max_attempts;
    uint64_t due_ms;      /* SCHEDULE */
    uint64_t duration_ms; /* RECOVERED, GIVE_UP, HOLD: since the incident began */
    fl_state_t from, to;  /* STATE */
    const char *detail;   /* why, when known */
    int recoveries;       /* HOLD: recoveries within the flap window */
} fl_effect_t;

typedef void(fl_effect_fn)(const fl_effect_t *e, void *arg);

typedef struct fl_policy fl_policy_t;

/* CFG is copied (the action strings must outlive the policy, or be replaced
 * with fl_policy_set_cfg). The gate starts open. */
fl_policy_t *fl_policy_new(const char *target, const fl_policy_cfg_t *cfg, fl_effect_fn *fn,
                           void *arg);
void fl_policy_destroy(fl_policy_t **self_p);
/* A new config (reload); the state and the budget used so far are kept. */
void fl_policy_set_cfg(fl_policy_t *p, const fl_policy_cfg_t *cfg);

/* Extra facts about a FAILURE. */
typedef struct fl_input {
    const char *detail;   /* evidence, for effects' detail */
    bool self_restarting; /* systemd is restarting the unit itself */
} fl_input_t;

/* Feeds one event at NOW_MS; IN may be NULL. Effects are delivered before
 * it returns. Returns the state afterwards. */
fl_state_t fl_policy_feed(fl_policy_t *p, fl_event_t ev, const fl_input_t *in, uint64_t now_ms);
/* Opens or closes the gate; closing feeds GATE_CLOSE. */
void fl_policy_gate(fl_policy_t *p, bool open, uint64_t now_ms);
/* The earliest time a timed event (DUE, VERIFY_TIMEOUT, STABLE) is due, or
 * FL_NEVER; and firing whatever is due at NOW_MS. */
uint64_t fl_policy_next_due(const fl_policy_t *p);
void fl_policy_tick(fl_policy_t *p, uint64_t now_ms);

fl_state_t fl_policy_state(const fl_policy_t *p);
const char *fl_policy_target(const fl_policy_t *p);
int fl_policy_attempts(const fl_policy_t *p);
const fl_policy_cfg_t *fl_policy_cfg(const fl_policy_t *p);
/* Recoveries started within the flap window ending at NOW_MS. */
int fl_policy_recoveries(const fl_policy_t *p, uint64_t now_ms);
/* The action the next attempt would run, and when the pending one is due. */
const char *fl_policy_next_action(const fl_policy_t *p);
uint64_t fl_policy_due_ms(const fl_policy_t *p);
/* Delay before attempt N (1-based): (N - 1) × backoff, capped. */
int64_t fl_policy_delay_ms(const fl_policy_cfg_t *c, int attempt);

const char *fl_state_name(fl_state_t s);
const char *fl_event_name(fl_event_t e);
const char *fl_effect_name(fl_effect_kind_t k);

/* The transition table, for tests and documentation: how many rows, each
 * row as "state --event [guard]--> next", and how often each has fired in
 * this process. */
size_t fl_policy_nrows(void);
const char *fl_policy_row_text(size_t i, char *buf, size_t n);
uint64_t fl_policy_row_hits(size_t i);
