/* hl-failure on the libhlbus runtime: subscriptions to the other daemons'
 * events, detection, one recovery policy per target, recovery actions as
 * asynchronous requests to hl-orchestrator (or commands), incidents, and the
 * events and log lines that explain every decision. */
#pragma once
#include <hlbus/hlbus.h>

typedef struct fl_daemon fl_daemon_t;

fl_daemon_t *fl_daemon_new(void);
void fl_daemon_destroy(fl_daemon_t **self_p);

/* hlb_daemon_ops_t callbacks (ARG is the fl_daemon_t). */
int fl_daemon_configure(hlb_daemon_t *d, const hlb_conf_t *conf, const hlb_conf_t *section,
                        bool check_only, hlb_diag_t *diag, void *arg);
int fl_daemon_start(hlb_daemon_t *d, void *arg);
void fl_daemon_stop(hlb_daemon_t *d, void *arg);
extern const hlb_method_t fl_daemon_methods[];
