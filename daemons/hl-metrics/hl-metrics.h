/* hl-metrics on the daemon runtime (hl-metrics.c): configure, start, stop,
 * the collection timer in the zloop, thresholds onto the bus, bus-derived
 * metrics, the snapshot the HTTP thread serves, and the ctl methods. */
#pragma once
#include <hlbus/hlbus.h>
#include "config.h"

typedef struct hlm_daemon hlm_daemon_t;
hlm_daemon_t *hlm_daemon_new(const hlm_overrides_t *ov);
void hlm_daemon_destroy(hlm_daemon_t **self_p);

/* main.c's ops; ARG is what hlm_daemon_new() made. */
int hlm_daemon_configure(hlb_daemon_t *d, const hlb_conf_t *conf, const hlb_conf_t *section,
                         bool check_only, hlb_diag_t *diag, void *arg);
int hlm_daemon_start(hlb_daemon_t *d, void *arg);
void hlm_daemon_stop(hlb_daemon_t *d, void *arg);
extern const hlb_method_t hlm_daemon_methods[];
