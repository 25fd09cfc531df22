/* Decoding other daemons' bus messages into detection inputs. This is the
 * one place that knows their shapes: hl-orchestrator's hl.ServiceState and
 * hl.LifecycleState, hl-health's health.<service>, hl-metrics' hl.Threshold,
 * hl-uplink's uplink.*.
 *
 * Fields are read by name through the protobuf-c descriptors (reflection),
 * not through generated structs, so a message is understood whatever its
 * type name, a field added or renumbered upstream changes nothing here, and
 * a msgpack map with the same keys (`hlctl pub service.x active_state=failed
 * ...`) is understood the same way. Every reader tolerates missing fields;
 * an event that carries nothing usable is reported as not decodable. */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include <hlbus/sub.h>

#include "fl_detect.h"

/* A message body opened for reading by field name. Strings returned stay
 * valid until fl_msg_close. */
typedef struct fl_msg {
    const ProtobufCMessage *pb;
    struct hlb_mpview *mp;
    char **strs;
    size_t nstrs;
} fl_msg_t;

/* 0, or -EINVAL when the body is neither a registered proto nor a
 * plausible msgpack map. */
int fl_msg_open(fl_msg_t *m, const hlb_event_t *ev);
void fl_msg_close(fl_msg_t *m);
/* NAME may be a dotted path into sub-messages ("state.active_state").
 * Enum fields read as their value's name. NULL/false when absent. */
const char *fl_msg_str(fl_msg_t *m, const char *name);
bool fl_msg_int(fl_msg_t *m, const char *name, int64_t *out);
bool fl_msg_double(fl_msg_t *m, const char *name, double *out);
bool fl_msg_bool(fl_msg_t *m, const char *name, bool *out);
/* The first of NAMES (NULL-terminated) present as a string. */
const char *fl_msg_str_any(fl_msg_t *m, const char *const *names);

/* The topic's part after PREFIX ("service." → "hl-daemon"), or NULL. */
const char *fl_topic_suffix(const char *topic, const char *prefix);

/* Each fills OUT from the event (strings point into M) and returns 0, or
 * -EINVAL when the event carries nothing it can use. */
int fl_decode_unit(fl_msg_t *m, const hlb_event_t *ev, const char *prefix, fl_unit_obs_t *out);
int fl_decode_health(fl_msg_t *m, const hlb_event_t *ev, const char *prefix,
                     fl_health_obs_t *out);
int fl_decode_threshold(fl_msg_t *m, const hlb_event_t *ev, const char *prefix,
                        fl_threshold_obs_t *out);
int fl_decode_uplink(fl_msg_t *m, const hlb_event_t *ev, fl_uplink_obs_t *out);
/* lifecycle.state: the orchestrator's state word (starting, ready, ...). */
int fl_decode_lifecycle(fl_msg_t *m, const hlb_event_t *ev, const char **state);
