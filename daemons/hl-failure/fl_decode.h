/* Other daemons' bus messages as detection inputs: hl-orchestrator's
 * hl.ServiceState and hl.LifecycleState, hl-health's hl.ServiceHealth,
 * hl-metrics' hl.Threshold and hl-uplink's hl.UplinkStatus. Bodies are typed
 * (libhlbus topics.h, hlb_event_as): anything else on these topics, a
 * free-form map included, is refused with the reason logged. Strings in the
 * outputs point into the event and live as long as it does. */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include <hlbus/sub.h>

#include "fl_detect.h"

/* Each fills OUT from the event and returns 0, or -EINVAL when the event is
 * not of its type or carries nothing usable (an unspecified state). PREFIX
 * is the configured topic prefix: the topic's rest names the service (or
 * threshold) when the body does not. */
int fl_decode_unit(const hlb_event_t *ev, const char *prefix, fl_unit_obs_t *out);
int fl_decode_health(const hlb_event_t *ev, const char *prefix, fl_health_obs_t *out);
int fl_decode_threshold(const hlb_event_t *ev, const char *prefix, fl_threshold_obs_t *out);
int fl_decode_uplink(const hlb_event_t *ev, fl_uplink_obs_t *out);
/* lifecycle.state: the orchestrator's state word (starting, ready, ...). */
int fl_decode_lifecycle(const hlb_event_t *ev, const char **state);
