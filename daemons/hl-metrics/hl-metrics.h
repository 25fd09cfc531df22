/* hl-metrics' daemon wiring: the collection timer in the zloop, thresholds
 * onto the bus, bus-derived metrics, and the snapshot the HTTP thread
 * serves. */
#pragma once
#include <hlbus/hlbus.h>
#include "config.h"

/* The hlb_daemon_ops for hl-metrics; ARG of hlb_daemon_main must come from
 * hlm_daemon_new(). */
extern const hlb_daemon_ops_t hlm_daemon_ops;

typedef struct hlm_daemon hlm_daemon_t;
hlm_daemon_t *hlm_daemon_new(const hlm_overrides_t *ov);
void hlm_daemon_destroy(hlm_daemon_t **self_p);
