/* hl-health on the bus: configure/start/stop for the daemon runtime, the
 * events it consumes and publishes, and its ctl methods. */
#pragma once
#include <hlbus/hlbus.h>
#include "hh_config.h"

typedef struct hh_daemon {
    hh_config_t cfg;
    bool have_cfg;
    hlb_daemon_t *d;
    hh_engine_t *eng;
    hlb_sub_t *sub;
    int snapshot_timer;
    uint64_t published, publish_dropped;
    /* The last service.* state of every unit the orchestrator reported
     * (unit -> hh_unit_seen_t), whether a check watches it or not: a reload
     * that adds a service (a dev server from dev-server.yaml) gives its new
     * engine the unit's state at once, not at the unit's next change. */
    zhashx_t *units_seen;
} hh_daemon_t;

extern const hlb_method_t hh_methods[];

int hh_daemon_configure(hlb_daemon_t *d, const hlb_conf_t *conf, const hlb_conf_t *section,
                        bool check_only, hlb_diag_t *diag, void *arg);
int hh_daemon_start(hlb_daemon_t *d, void *arg);
void hh_daemon_stop(hlb_daemon_t *d, void *arg);
