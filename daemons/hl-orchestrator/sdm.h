/* The systemd manager over sd-bus: a cache of the watched units' state kept
 * current by PropertiesChanged signals, jobs (start, stop, restart, transient
 * commands) followed to their JobRemoved signal, and reconnection. All of it
 * asynchronous inside the zloop. */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include <czmq.h>
#include <hlbus/reactor.h>

typedef struct sdm sdm_t;

/* A watched unit as systemd last reported it. Strings are never NULL. */
typedef struct sdm_unit {
    char *name;               /* "hl-daemon.service" */
    char *path;               /* its D-Bus object path */
    char *load_state;         /* "" until the first answer */
    char *active_state;
    char *sub_state;
    char *type;               /* Service Type= ("" for other unit types) */
    char *result;             /* Service Result ("" for other unit types) */
    uint32_t n_restarts;
    uint32_t main_pid;
    int32_t exec_code;        /* CLD_EXITED 1, CLD_KILLED 2, CLD_DUMPED 3; 0 none */
    int32_t exec_status;
    uint64_t state_change_us;
    uint64_t active_enter_us;
    uint64_t inactive_enter_us;
    uint64_t inactive_exit_us;
    char invocation_id[33];
    uint32_t job_id;          /* a job is queued or running for it when non-zero */
    /* Its dependency lists (Requires=, Wants=, including .requires/ and
     * .wants/ links), NULL-terminated; NULL until fetched. systemd
     * changes them only at a daemon-reload, after which every watched unit
     * is fetched again. */
    char **requires;
    char **wants;
    bool known;               /* a GetAll has been answered */
    bool is_service;
    bool transient;           /* a command run by sdm_run(): not reported */
    void *user;               /* for the owner */
    /* private */
    void *match_slot;
    int refreshing;
    bool initial_pending;
} sdm_unit_t;

typedef struct sdm_ops {
    /* Connected and subscribed; every watched unit's state has been fetched. */
    void (*ready)(sdm_t *m, void *arg);
    /* The connection was lost; sdm reconnects with back-off and calls ready
     * again. Jobs in flight have been completed with result "lost". */
    void (*lost)(sdm_t *m, int err, void *arg);
    /* U's state changed (or was fetched); SETTLED is false after the first
     * half of systemd's two-signal update (Service then Unit interface). */
    void (*unit_changed)(sdm_t *m, sdm_unit_t *u, bool settled, void *arg);
} sdm_ops_t;

/* How a job ended: systemd's result (done, canceled, timeout, failed,
 * dependency, skipped), or "bus-error" (ERROR says why, ending with the D-Bus
 * error name in brackets) or "lost". U has been refreshed after the job when
 * RESULT is one of systemd's. */
typedef void (sdm_job_fn)(sdm_t *m, sdm_unit_t *u, const char *result, const char *error,
                          void *arg);

/* BUS: "system", "user", "private" (PID 1's own socket, no bus daemon),
 * "private:PATH" (a manager's own socket, e.g. a user manager's), or the
 * address of a bus. */
sdm_t *sdm_new(hlb_reactor_t *io, const char *bus, const sdm_ops_t *ops, void *arg);
void sdm_destroy(sdm_t **self_p);
/* Starts connecting; 0 or -errno for a bad address. Failures to connect are
 * retried with back-off and logged. */
int sdm_connect(sdm_t *m);
bool sdm_is_ready(const sdm_t *m);

/* Watches UNIT (a valid unit name) from now on; the existing record if
 * already watched. NULL for an invalid name. */
sdm_unit_t *sdm_watch(sdm_t *m, const char *unit);
sdm_unit_t *sdm_unit(sdm_t *m, const char *unit);
/* Calls FN for each watched unit in the order they were added. */
void sdm_each(sdm_t *m, void (*fn)(sdm_unit_t *u, void *arg), void *arg);

/* METHOD is StartUnit, StopUnit, RestartUnit or ReloadUnit; MODE a systemd job mode
 * ("replace", "ignore-dependencies", ...). UNIT is watched if it was not.
 * 0 (FN will be called exactly once, never from inside this call) or -errno. */
int sdm_job(sdm_t *m, const char *method, const char *unit, const char *mode, sdm_job_fn *fn,
            void *arg);
/* Runs ARGV (ARGV[0] absolute) as a transient oneshot service NAME with a
 * start timeout and UMask=0077; FN gets "done" when it exited 0. 0 or -errno. */
int sdm_run(sdm_t *m, const char *name, const char *description, char *const *argv,
            uint64_t timeout_us, sdm_job_fn *fn, void *arg);
/* A manager method that is not a job, done for UNIT: "ResetFailedUnit" (UNIT's
 * failed state and start-limit counter forgotten; "done" too when systemd
 * has unloaded it, as it does with a stopped unit nothing refers to) or "Reload" (a
 * daemon-reload: every unit file read again; systemd answers once it is
 * done). FN gets "done" or "bus-error" (ERROR as for jobs), with UNIT
 * refreshed, exactly once and never from inside this call, unless
 * cancelled. 0 or -errno. */
int sdm_manager_call(sdm_t *m, const char *method, const char *unit, sdm_job_fn *fn, void *arg);
/* Forgets the jobs whose ARG is ARG: their FN will not be called. */
void sdm_cancel_callbacks(sdm_t *m, void *arg);

/* The topic-friendly short name: "hl-daemon" for hl-daemon.service, the whole
 * name for other unit types. The caller frees. */
char *sdm_unit_short(const char *unit);
/* Whether NAME looks like a unit name systemd accepts (no path, no spaces). */
bool sdm_unit_name_valid(const char *name);
/* The manager's userspace start (its UserspaceTimestampMonotonic:
 * CLOCK_MONOTONIC, us), read once per connection; 0 until it answered. */
uint64_t sdm_userspace_mono_us(const sdm_t *m);
/* sd-bus messages dispatched so far. */
uint64_t sdm_dispatched(const sdm_t *m);

/* A string property of the systemd manager itself (org.freedesktop.systemd1
 * .Manager), e.g. "SystemState". FN gets the value, or NULL and ERROR when
 * it could not be read; it is called exactly once, from the loop, unless the
 * connection goes away first (then it is not called at all). 0 or -errno. */
typedef void (sdm_str_fn)(sdm_t *m, const char *value, const char *error, void *arg);
int sdm_manager_string(sdm_t *m, const char *property, sdm_str_fn *fn, void *arg);

/* systemd's daemon-reload (Manager.Reload: generators run again, unit files
 * are read again), then every watched unit fetched again; FN runs once that
 * fetch is complete (the cache holds what systemd has now), with ERROR NULL,
 * or with the reason the reload failed. Same lifetime rules as
 * sdm_manager_string. 0 or -errno. */
int sdm_daemon_reload(sdm_t *m, sdm_str_fn *fn, void *arg);
