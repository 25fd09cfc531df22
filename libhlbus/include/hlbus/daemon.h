/* The runtime every daemon uses: command line, config with reload, logging,
 * the event loop, the publisher, the ctl server and systemd integration.
 *
 *   int main(int argc, char **argv) { return hlb_daemon_main(argc, argv, &ops, &state); }
 *
 * Common flags: --config FILE, --runtime-dir DIR, --check-config,
 * --log-level LEVEL, --version, --help. SIGTERM/SIGINT stop the loop
 * cleanly; SIGHUP reloads (a config that fails to load or validate is
 * reported and the old one stays). Under systemd it sends READY=1, STATUS=,
 * STOPPING=1, RELOADING=1, and WATCHDOG=1 at half of WATCHDOG_USEC. */
#pragma once
#include <stdbool.h>
#include <czmq.h>
#include "acall.h"
#include "conf.h"
#include "reactor.h"
#include "server.h"
#include "sub.h"
#include "pub.h"

typedef struct hlb_daemon hlb_daemon_t;

typedef struct hlb_daemon_ops {
    const char *name;    /* e.g. "hl-health"; its config section is the same name */
    const char *summary; /* one line for --help */
    /* Validates SECTION (this daemon's part of the config; may be NULL) and,
     * unless CHECK_ONLY, applies it. Report problems with hlb_diag_add and
     * return -EINVAL; a failed reload keeps the previous config. CONF is the
     * whole tree, for settings shared across daemons. */
    int (*configure)(hlb_daemon_t *d, const hlb_conf_t *conf, const hlb_conf_t *section,
                     bool check_only, hlb_diag_t *diag, void *arg);
    /* After the first configure, with the loop, publisher and server ready;
     * non-zero aborts the start. */
    int (*start)(hlb_daemon_t *d, void *arg);
    /* On SIGTERM, before the loop ends; release what start took. */
    void (*stop)(hlb_daemon_t *d, void *arg);
    const hlb_method_t *methods; /* NULL-name-terminated; may be NULL */
    /* When set, READY=1 waits for hlb_daemon_ready() instead of following start. */
    bool manual_ready;
    /* Extra --help text for daemon-specific environment or behaviour. */
    const char *help_extra;
    /* The orchestrator's pre-shutdown hook (lifecycle.shutdown, step
     * "pre-shutdown"): finish or save the work in flight (flush a spool, end a
     * sync, write an outbox) before DEADLINE_US (wall clock, µs), then call
     * hlb_daemon_shutdown_ack(), at once or later from the loop. Without this
     * op the runtime acknowledges at once: a daemon with nothing in flight has
     * nothing to wait for. Called once per shutdown, never for a notice that
     * is past its deadline (a replay from the last-value cache). */
    void (*prepare_shutdown)(hlb_daemon_t *d, uint64_t deadline_us, void *arg);
} hlb_daemon_ops_t;

int hlb_daemon_main(int argc, char **argv, const hlb_daemon_ops_t *ops, void *arg);

zloop_t *hlb_daemon_loop(hlb_daemon_t *d);
/* The daemon's reactor (reactor.h) on its loop, made on first use; it lives
 * until the loop ends, after the daemon's stop. NULL only on failure. */
hlb_reactor_t *hlb_daemon_reactor(hlb_daemon_t *d);
hlb_pub_t *hlb_daemon_pub(hlb_daemon_t *d);
hlb_server_t *hlb_daemon_server(hlb_daemon_t *d);
const char *hlb_daemon_name(const hlb_daemon_t *d);
const char *hlb_daemon_runtime_dir(const hlb_daemon_t *d);
const hlb_conf_t *hlb_daemon_conf(const hlb_daemon_t *d);
/* True inside configure() when it applies a reload (not the first config). */
bool hlb_daemon_reloading(const hlb_daemon_t *d);
/* Called by configure() on a reload for each changed KEY ("hl-bus.hwm") that
 * only a restart applies: the reload's log line and its ctl reply name them. */
void hlb_daemon_restart_needed(hlb_daemon_t *d, const char *key);
uint64_t hlb_daemon_started_us(const hlb_daemon_t *d);
/* sd_notify READY=1 (once) and publishes daemon.<name> state "running". */
void hlb_daemon_ready(hlb_daemon_t *d);
/* sd_notify STATUS=; also reported by the "status" method. */
void hlb_daemon_status(hlb_daemon_t *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Answers the pending pre-shutdown hook on lifecycle.ack.<name>: OK false
 * says the work could not be saved (DETAIL says why, may be NULL). Does
 * nothing when no hook is pending or it was answered already. */
void hlb_daemon_shutdown_ack(hlb_daemon_t *d, bool ok, const char *detail);
/* Ends the loop as SIGTERM would (the daemon exits with CODE). */
void hlb_daemon_quit(hlb_daemon_t *d, int code);

/* Calls METHOD of DAEMON without blocking the loop (acall.h): FN runs in the
 * loop when the reply, a refusal or the deadline comes. Calls still in
 * flight when the daemon stops are dropped without a callback. */
hlb_acall_t *hlb_daemon_call(hlb_daemon_t *d, const char *daemon, const char *method,
                             const char *type, const void *body, size_t len,
                             const hlb_acall_opts_t *opts, hlb_acall_fn *fn, void *arg);

/* Subscribes PREFIXES and calls FN for every event, inside the loop. */
typedef void (hlb_event_fn)(hlb_daemon_t *d, const hlb_event_t *ev, void *arg);
hlb_sub_t *hlb_daemon_subscribe(hlb_daemon_t *d, const char *const *prefixes, hlb_event_fn *fn,
                                void *arg);
