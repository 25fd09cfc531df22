/* The bus contract: every topic family, the body type it carries and the
 * daemon that owns it, in one table.
 *
 * A topic belongs to the first family whose prefix it starts with. A typed
 * family accepts exactly its body type(s); a consumer reads the body with
 * hlb_event_as() and never by field name. Topics outside every family
 * (test.*, bench.*, anything new) are free-form: any registered type or a
 * msgpack map.
 *
 * State families (health., service., lifecycle.state, ...) hold a current
 * value rather than news: hl-bus keeps their last value (its default
 * lvc_prefixes come from here), and every daemon republishes what it
 * published on them when hl-bus restarts (see hlb_pub_keep_state). */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <protobuf-c/protobuf-c.h>

#include "pbenum.h"
#include "sub.h"

/* The owner of a family whose topics name the publisher itself:
 * daemon.<name>, log.<name>.<level>, lifecycle.ack.<name>. The first part
 * of the suffix must be the publishing daemon. */
#define HLB_OWNER_SELF "<self>"

typedef struct hlb_topic_family {
    const char *prefix; /* "health." (a family), or a whole topic ("lifecycle.state") */
    const char *owner;  /* the daemon that publishes it, or HLB_OWNER_SELF */
    /* The body's type. A family two daemons publish on (recovery.: the
     * policy's steps and the orchestrator's outcomes) has one row each. */
    const ProtobufCMessageDescriptor *type;
    bool state;         /* a current value: cached by hl-bus, republished on its restart */
    const char *suffix; /* what the suffix names, for people: "<service>", "" for none */
} hlb_topic_family_t;

/* Every family, ending with a row whose prefix is NULL. */
const hlb_topic_family_t *hlb_topic_families(void);

/* The first family TOPIC belongs to, or NULL for a free-form topic. */
const hlb_topic_family_t *hlb_topic_family(const char *topic);

/* Whether DESC may be the body of TOPIC: any type (or msgpack, DESC NULL) on
 * a free-form topic, one of the family's types on a typed one. */
bool hlb_topic_type_ok(const char *topic, const ProtobufCMessageDescriptor *desc);

/* The body type of TOPIC when exactly one is possible (hlctl pub builds it),
 * NULL for a free-form topic or a family with two types. */
const ProtobufCMessageDescriptor *hlb_topic_type(const char *topic);

/* Whether SOURCE may publish on TOPIC: anyone on a free-form topic, the
 * owner (any row's) on a typed one, the named daemon on HLB_OWNER_SELF. */
bool hlb_topic_owner_ok(const char *topic, const char *source);

/* The part of TOPIC after PREFIX ("health.docker", "health." -> "docker"),
 * or NULL when TOPIC does not start with PREFIX or nothing follows it. */
const char *hlb_topic_suffix(const char *topic, const char *prefix);

/* The default state-topic prefixes (NULL-terminated): hl-bus's
 * lvc_prefixes when its config sets none, and what daemons republish. */
const char *const *hlb_state_prefixes(void);
/* Whether TOPIC starts with one of hlb_state_prefixes(). */
bool hlb_topic_is_state(const char *topic);

/* The body of EV as DESC's message, or NULL with the reason logged (once per
 * topic family and reason, then at debug): a msgpack map, another type, an
 * unregistered type. The message lives as long as the event. */
const void *hlb_event_as(const hlb_event_t *ev, const ProtobufCMessageDescriptor *desc);
