/* hl-failure's state, shared by the files of its daemon (hl-failure.c and
 * the fl_*.c it routes to): the daemon, its targets and active checks, and
 * the functions those files call on each other. Not for other daemons. */
#pragma once
#include <hlbus/hlbus.h>
#include <hlbus/acall.h>
#include <hlbus/proc.h>

#include "failure.pb-c.h"
#include "fl_config.h"
#include "fl_detect.h"
#include "fl_incident.h"
#include "fl_liveness.h"
#include "fl_policy.h"
#include "hl-failure.h"

#define QMAX 16

typedef enum { T_SERVICE, T_NETWORK, T_COMMAND } tkind_t;

typedef struct qeff {
    fl_effect_t e;
    char *detail;
} qeff_t;

typedef struct target {
    char *name;
    tkind_t kind;
    char *unit;           /* T_SERVICE: what the orchestrator acts on */
    char **command;       /* T_COMMAND: the pattern's recovery command */
    fl_policy_t *policy;  /* NULL: failures are reported only */
    uint64_t incident;    /* the incident in progress (or left given up), 0 none */
    hlb_acall_t *call;      /* the recovery request in flight */
    hlb_proc_t *cmd;      /* the recovery command in flight */
    const char *action;   /* what is in flight */
    uint64_t action_started_us;
    hlb_acall_t *stop_call; /* stopping a configuration-error restart loop */
    bool alert_active;
    qeff_t q[QMAX];       /* effects of the feed in progress */
    size_t nq;
    struct fl_daemon *fd;
} target_t;

typedef struct check_run {
    const fl_check_cfg_t *k;
    hlb_proc_t *cmd;
    int timer;
    struct fl_daemon *fd;
} check_run_t;

struct fl_daemon {
    hlb_daemon_t *d;
    zloop_t *loop;
    fl_config_t *cfg;
    fl_detect_t *det;
    fl_incidents_t *inc;
    hlb_sub_t *sub;
    target_t **targets;
    size_t ntargets;
    char *lifecycle; /* the orchestrator's state as last seen; NULL never */
    /* Its ctl socket does not answer: whatever lifecycle says (a cached
     * "ready" outlives a kill -9), it is down, and recovery waits. */
    bool orch_unreachable;
    fl_liveness_t *live;
    bool gate_open;
    int timer;       /* the one zloop timer for every policy and detection deadline */
    char *status;    /* the last STATUS= sent */
    uint64_t timer_due;
    check_run_t *checks;
    size_t nchecks;
    uint64_t detected, actions;
    const fl_failure_t *cur_failure; /* the failure being fed, for CONFIG's loop stop */
};

/* ---- fl_targets.c ---- */
fl_incident_t *fl_incident_of(target_t *t);
target_t *fl_target_find(fl_daemon_t *fd, const char *name);
/* The policy config for target NAME of KIND under the current config into
 * OUT; false when its failures are only reported. */
bool fl_policy_cfg_for(const fl_daemon_t *fd, const char *name, tkind_t kind,
                       char *const *t_command, fl_policy_cfg_t *out);
target_t *fl_target_get(fl_daemon_t *fd, const char *name, tkind_t kind, char *const *command);
void fl_target_free(target_t *t);

/* ---- fl_publish.c ---- */
void fl_publish(fl_daemon_t *fd, const char *prefix, const char *name, const ProtobufCMessage *m);
void fl_publish_step(target_t *t, const char *step, const char *action, int attempt,
                     const char *detail, uint64_t due_us, uint64_t duration_ms);
void fl_publish_alert(target_t *t, bool active, const char *severity, const char *reason,
                      const char *summary);
/* A log line's structured fields for T (the caller destroys the map). */
hlb_map_t *fl_log_fields(target_t *t, const char *action, int attempt);

/* ---- fl_actions.c ---- */
void fl_action_start(target_t *t, const char *action, int attempt);
void fl_on_stop_done(int rc, const Hl__Reply *r, void *arg);
void fl_cmd_summary(const hlb_proc_result_t *r, char *buf, size_t size);
hlb_proc_opts_t fl_cmd_opts(char *const *argv, int64_t timeout_ms);

/* ---- fl_effects.c ---- */
/* The policy's effect callback (ARG is the target): queues E. */
void fl_on_effect(const fl_effect_t *e, void *arg);
void fl_flush(target_t *t);
void fl_close_incident(target_t *t, const char *outcome);
void fl_decision_text(const target_t *t, hlb_buf_t *b);

/* ---- fl_detected.c ---- */
extern const fl_detect_ops_t fl_detect_callbacks;

/* ---- fl_gate.c ---- */
void fl_status_line(fl_daemon_t *fd);
const char *fl_lc_word(const fl_daemon_t *fd, const char *dflt);
void fl_set_gate(fl_daemon_t *fd);

/* ---- fl_checks.c ---- */
void fl_checks_start(fl_daemon_t *fd);
void fl_checks_stop(fl_daemon_t *fd);
void fl_checks_run_now(fl_daemon_t *fd, fl_ftype_t type);

/* ---- hl-failure.c ---- */
/* Re-arms the one timer for the earliest deadline of detector and policies. */
void fl_reschedule(fl_daemon_t *fd);
