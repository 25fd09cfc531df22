/* hl-orchestrator's shared state and the interfaces between its modules:
 * units (service.* events), health (health.* events), startup (phases),
 * shutdown, recovery and the ctl methods. Single-threaded: everything runs
 * in the daemon's zloop. */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include <czmq.h>
#include <hlbus/devserver.h>
#include <hlbus/hlbus.h>
#include "orchestrator.pb-c.h"
#include "health.pb-c.h"
#include "config.h"
#include "sdm.h"

/* The overall state, published as lifecycle.state. */
typedef enum {
    LC_STARTING,
    LC_READY,
    LC_FAILED,
    LC_SHUTTING_DOWN,
    LC_STOPPED,
} lc_state_t;

typedef struct startup startup_t;
typedef struct shutdown shutdown_t;
typedef struct recovery recovery_t;

/* A pending ctl request answered when a job ends. */
typedef struct pending_job pending_job_t;
typedef struct failure_wait failure_wait_t;

typedef struct orch {
    hlb_daemon_t *d;
    zloop_t *loop;
    hlb_pub_t *pub;
    orch_cfg_t *cfg;
    sdm_t *sdm;
    bool started;            /* the startup sequence has begun */
    bool awaiting_members;   /* phase members read, their state not all known yet */
    bool ready;              /* READY=1 was sent */
    lc_state_t lc;
    uint64_t lc_since_us;
    char *status;            /* last STATUS= text */
    uint32_t lc_phase;       /* 1-based, 0 before the first */
    const char *lc_phase_name;
    uint64_t boot_us;             /* startup timing, wall clock (LifecycleState) */
    uint64_t startup_began_us;
    uint64_t ready_us;
    startup_t *startup;
    shutdown_t *shutdown;
    recovery_t *recoveries;  /* running, linked */
    pending_job_t *jobs;     /* start/stop/restart requests in flight */
    failure_wait_t *failure_waits; /* reports not yet delivered */
    zhashx_t *health;        /* service → health_t */
    hlb_dev_config_t *dev;   /* the applied dev-server.yaml, for dev.<name> (devstate.c) */
    uint64_t counter;        /* for unique transient unit names */
    int exit_timer;
} orch_t;

/* ---- hl-orchestrator.c ---- */
/* The daemon's ops (main.c); ARG is the orch_t. */
int orch_configure(hlb_daemon_t *d, const hlb_conf_t *conf, const hlb_conf_t *section,
                   bool check_only, hlb_diag_t *diag, void *arg);
int orch_start(hlb_daemon_t *d, void *arg);
void orch_stop(hlb_daemon_t *d, void *arg);
/* What configure and start left (after hlb_daemon_main). */
void orch_free(orch_t *o);
void orch_set_lifecycle(orch_t *o, lc_state_t st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
const char *orch_lc_name(lc_state_t st);
/* Records boot_us from the manager's userspace start, once it is known. */
void orch_note_boot(orch_t *o);
void orch_lifecycle_fill(orch_t *o, Hl__LifecycleState *m);
/* A unique transient unit name "hl-orch-<what>-<pid>-<n>.service". */
char *orch_transient_name(orch_t *o, const char *what);
/* UNIT, or UNIT + ".service" when it has no type suffix; NULL if invalid. */
char *orch_normalize_unit(const char *unit);

/* ---- units.c: service.<name> ---- */
/* Called by sdm for every change; publishes service.<name> when something a
 * subscriber cares about changed, and feeds the startup machine. */
void units_changed(orch_t *o, sdm_unit_t *u, bool settled);
/* Fills M from U (strings point into U; valid until U changes). */
void units_fill(orch_t *o, const sdm_unit_t *u, Hl__ServiceState *m);
/* Publishes every known unit once (a snapshot after (re)connecting). */
void units_snapshot(orch_t *o);
/* Whether U counts as up: active or reloading, or (after a job of ours
 * that ended "done") inactive with Result=success, as a oneshot is. */
bool units_is_active(const sdm_unit_t *u);
const char *units_exit_kind(int32_t code);
/* A one-line summary of why U is not up ("failed (Result=exit-code, exited
 * with status 78)"). The caller frees. */
char *units_describe(const sdm_unit_t *u);
/* A failure report on UNIT (its state and health; no journal lines: the
 * report goes on the bus, the journal only to admins, see m_journal), owned
 * by the caller: free with hl__unit_failure__free_unpacked(f, NULL). */
Hl__UnitFailure *units_failure(orch_t *o, const char *unit, const char *reason,
                               const char *summary, const char *job_result, const char *phase);
/* The same, delivered later: FN(f, arg) is called from the loop, never
 * inside the caller, with F owned by FN (NULL when out of memory). */
typedef void (units_failure_fn)(Hl__UnitFailure *f, void *arg);
void units_failure_async(orch_t *o, const char *unit, const char *reason, const char *summary,
                         const char *job_result, const char *phase, units_failure_fn *fn,
                         void *arg);
/* Forgets the pending reports for ARG (all with NULL): FN is not called. */
void units_failure_cancel(orch_t *o, void *arg);
/* A deep copy of any message (packed and unpacked); NULL on failure. */
ProtobufCMessage *orch_proto_copy(const ProtobufCMessage *m);

/* ---- health.c: health.<service> from hl-health ---- */
typedef struct health {
    char *state;      /* healthy, degraded, unhealthy, unknown */
    uint64_t ts_us;   /* when hl-health published it */
} health_t;
void health_event(orch_t *o, const hlb_event_t *ev);
/* The state word of an hl.ServiceHealth event, or NULL when it is not one. */
const char *health_state_of(const hlb_event_t *ev);
const health_t *health_get(orch_t *o, const char *service);
/* Whether health gates apply now: configured, and hl-health's unit active. */
bool health_gating(orch_t *o);
/* Whether SERVICE counts as healthy for a unit that became active at
 * SINCE_US: a healthy report (or degraded, when accepted) made after it. */
bool health_ok(orch_t *o, const char *service, uint64_t since_us);

/* ---- startup.c: the phases ---- */
startup_t *startup_new(orch_t *o);
void startup_destroy(startup_t **self_p);
void startup_begin(startup_t *s);
/* Re-evaluates after a unit or health change. */
void startup_poke(startup_t *s);
/* Stops issuing anything (a shutdown takes over). */
void startup_abort(startup_t *s);
bool startup_finished(const startup_t *s);
/* The reply of "phases". Free with startup_list_free. */
void startup_list(startup_t *s, Hl__PhaseList *out);
void startup_list_free(Hl__PhaseList *out);

/* ---- shutdown.c ---- */
shutdown_t *shutdown_new(orch_t *o);
void shutdown_destroy(shutdown_t **self_p);
/* Starts the sequence (or joins the running one); DEF (may be NULL) is
 * answered with the report when it ends. */
void shutdown_request(orch_t *o, const char *reason, hlb_deferred_t *def);
void shutdown_ack(orch_t *o, const hlb_event_t *ev);
void shutdown_poke(shutdown_t *s);
/* Answers every waiting request with an error; for the daemon's stop. */
void shutdown_cancel(shutdown_t *s, const char *why);

/* ---- unitstop.c: the unit's ExecStop= ---- */
/* The graceful shutdown if the system is shutting down (systemd's
 * SystemState is "stopping"), else a "skipped" report and nothing stopped:
 * a restart of the orchestrator leaves the managed services running. */
void unitstop_request(orch_t *o, const char *reason, hlb_deferred_t *def);

/* ---- recovery.c ---- */
/* Starts a recovery of UNIT. With REQ (a ctl request) the reply is deferred
 * until it ends, or REPLY gets the error at once when it is refused. */
void recovery_start(orch_t *o, const char *unit, const char *type, const char *reason,
                    hlb_request_t *req, hlb_reply_t *reply);
void recovery_cancel_all(orch_t *o, const char *why);

/* ---- methods.c ---- */
/* dev.<name> (devstate.c): the development servers of the applied
 * dev-server.yaml, read again at each configure and daemon-reload, and their
 * state published with every change of their hl-service@ unit. */
void devstate_reload(orch_t *o);
void devstate_publish(orch_t *o, const sdm_unit_t *u, const Hl__ServiceState *state);
void devstate_free(orch_t *o);

extern const hlb_method_t orch_methods[];
/* Reads the phase targets' membership again from systemd's (refreshed)
 * state, as a reload of the config does; 0, or -errno with the reason in
 * DIAG. After a daemon-reload (the daemon-reload method). */
int orch_reread_members(orch_t *o, hlb_diag_t *diag);
void methods_cancel_all(orch_t *o, const char *why);
