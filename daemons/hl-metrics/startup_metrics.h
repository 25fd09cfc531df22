/* The VM's startup timing as Prometheus series, from hl-orchestrator's
 * lifecycle.state (hl.LifecycleState) and lifecycle.phase (hl.PhaseStatus)
 * events (#21 item 16):
 *
 *   hl_startup_boot_to_ready_seconds    systemd's userspace start to ready
 *   hl_startup_duration_seconds         the orchestrator's phases, first to last
 *   hl_startup_ready_timestamp_seconds  when the startup passed (wall clock)
 *   hl_startup_phase_duration_seconds{phase,index}  each phase that is done
 *
 * Gauges of the latest startup; absent until the orchestrator has reported
 * one (the last-value cache replays both topics to a restarted hl-metrics).
 * Typed bodies only: anything else on these topics is ignored. */
#pragma once
#include <protobuf-c/protobuf-c.h>
#include "expo.h"

typedef struct hlm_startup hlm_startup_t;

hlm_startup_t *hlm_startup_new(void);
void hlm_startup_destroy(hlm_startup_t **self_p);
/* One lifecycle.* event; MSG is its decoded body (NULL when untyped). */
void hlm_startup_event(hlm_startup_t *s, const char *topic, const ProtobufCMessage *msg);
void hlm_startup_render(const hlm_startup_t *s, hlm_expo_t *e);
