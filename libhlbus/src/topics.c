/* The bus contract's table (see topics.h) and typed access to bodies. */
#include "hlbus/topics.h"

#include "hlbus/log.h"
#include "hlbus/map.h"

#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "backup.pb-c.h"
#include "dev.pb-c.h"
#include "failure.pb-c.h"
#include "gitsync.pb-c.h"
#include "health.pb-c.h"
#include "logs.pb-c.h"
#include "hlbus.pb-c.h"
#include "metrics.pb-c.h"
#include "orchestrator.pb-c.h"
#include "stdio.pb-c.h"
#include "uplink.pb-c.h"

/* Longer prefixes before shorter ones they start with: the first match wins. */
static const hlb_topic_family_t families[] = {
    {"daemon.", HLB_OWNER_SELF, &hl__daemon_status__descriptor, true, "<daemon>"},
    {"log.", HLB_OWNER_SELF, &hl__log__descriptor, false, "<daemon>.<level>"},
    {"health.", "hl-health", &hl__service_health__descriptor, true, "<service>"},
    {"service.", "hl-orchestrator", &hl__service_state__descriptor, true, "<service>"},
    {"lifecycle.state", "hl-orchestrator", &hl__lifecycle_state__descriptor, true, ""},
    {"lifecycle.phase", "hl-orchestrator", &hl__phase_status__descriptor, true, ""},
    {"lifecycle.shutdown", "hl-orchestrator", &hl__shutdown_notice__descriptor, true, ""},
    {"lifecycle.instance", "hl-orchestrator", &hl__instance_state__descriptor, true, ""},
    {"lifecycle.ack.", HLB_OWNER_SELF, &hl__shutdown_ack__descriptor, false, "<daemon>"},
    {"failure.", "hl-failure", &hl__failure__descriptor, false, "<type>"},
    {"recovery.", "hl-failure", &hl__recovery_step__descriptor, false, "<target>"},
    {"recovery.", "hl-orchestrator", &hl__recovery_outcome__descriptor, false, "<target>"},
    {"alert.", "hl-failure", &hl__alert__descriptor, true, "<target>"},
    {"metrics.threshold.", "hl-metrics", &hl__threshold__descriptor, true, "<name>"},
    {"stdio.", "hl-stdio", &hl__stdio_data__descriptor, false, "<channel>"},
    {"stdio.", "hl-stdio", &hl__stdio_client__descriptor, false, "<channel>.attach|detach"},
    {"stdio.", "hl-stdio", &hl__stdio_resize__descriptor, false, "<channel>.resize"},
    {"stdio.", "hl-stdio", &hl__stdio_recording__descriptor, false, "<channel>.recording"},
    {"logs.sink.", "hl-logs", &hl__logs_sink__descriptor, true, "<sink>"},
    {"logs.dropped", "hl-logs", &hl__logs_dropped__descriptor, false, ""},
    {"uplink.", "hl-uplink", &hl__uplink_status__descriptor, true, "<link>"},
    /* git.<repo> is the state; git.<repo>.synced|conflict|error share its
     * prefix, so hl-bus keeps the last of each of those too. */
    {"git.", "hl-git-sync", &hl__git_status__descriptor, true, "<repo>"},
    {"git.", "hl-git-sync", &hl__git_event__descriptor, false, "<repo>.synced|conflict|error"},
    {"dev.", "hl-orchestrator", &hl__dev_server__descriptor, true, "<name>"},
    {"backup.latest", "hl-backup", &hl__backup_event__descriptor, true, ""},
    {"backup.", "hl-backup", &hl__backup_event__descriptor, false, "<event>"},
    {NULL, NULL, NULL, false, NULL},
};

const hlb_topic_family_t *hlb_topic_families(void)
{
    return families;
}

static bool starts_with(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

const hlb_topic_family_t *hlb_topic_family(const char *topic)
{
    for (const hlb_topic_family_t *f = families; topic && f->prefix; f++)
        if (starts_with(topic, f->prefix))
            return f;
    return NULL;
}

bool hlb_topic_type_ok(const char *topic, const ProtobufCMessageDescriptor *desc)
{
    const hlb_topic_family_t *first = hlb_topic_family(topic);
    if (!first)
        return true;
    for (const hlb_topic_family_t *f = first; f->prefix && !strcmp(f->prefix, first->prefix); f++)
        if (f->type == desc)
            return true;
    return false;
}

const ProtobufCMessageDescriptor *hlb_topic_type(const char *topic)
{
    const hlb_topic_family_t *f = hlb_topic_family(topic);
    if (!f || (f[1].prefix && !strcmp(f[1].prefix, f->prefix)))
        return NULL;
    return f->type;
}

bool hlb_topic_owner_ok(const char *topic, const char *source)
{
    const hlb_topic_family_t *first = hlb_topic_family(topic);
    if (!first)
        return true;
    if (!source)
        return false;
    for (const hlb_topic_family_t *f = first; f->prefix && !strcmp(f->prefix, first->prefix); f++) {
        if (strcmp(f->owner, HLB_OWNER_SELF) == 0) {
            const char *rest = topic + strlen(f->prefix);
            size_t n = strlen(source);
            if (n && strncmp(rest, source, n) == 0 && (rest[n] == '\0' || rest[n] == '.'))
                return true;
        } else if (strcmp(f->owner, source) == 0) {
            return true;
        }
    }
    return false;
}

const char *hlb_topic_suffix(const char *topic, const char *prefix)
{
    if (!topic || !prefix || !starts_with(topic, prefix) || !topic[strlen(prefix)])
        return NULL;
    return topic + strlen(prefix);
}

/* Built once from the table, so the list cannot drift from it. */
static const char *state_list[sizeof families / sizeof families[0]];
static pthread_once_t state_once = PTHREAD_ONCE_INIT;

static void build_state_list(void)
{
    size_t n = 0;
    for (const hlb_topic_family_t *f = families; f->prefix; f++) {
        bool dup = false;
        for (size_t i = 0; i < n && !dup; i++)
            dup = strcmp(state_list[i], f->prefix) == 0;
        if (f->state && !dup)
            state_list[n++] = f->prefix;
    }
    state_list[n] = NULL;
}

const char *const *hlb_state_prefixes(void)
{
    pthread_once(&state_once, build_state_list);
    return state_list;
}

bool hlb_topic_is_state(const char *topic)
{
    const hlb_topic_family_t *f = hlb_topic_family(topic);
    return f && f->state;
}

/* ---- typed bodies ---- */

/* Which (family, reason) pairs were reported at warning level already: a
 * publisher that sends the wrong body keeps doing so, and one line says it. */
#define NREASONS 3
static bool warned[sizeof families / sizeof families[0] + 1][NREASONS];

static const void *refuse(const hlb_event_t *ev, const ProtobufCMessageDescriptor *desc,
                          int reason, const char *why)
{
    const hlb_topic_family_t *f = hlb_topic_family(ev->topic);
    size_t fi = f ? (size_t)(f - families) : sizeof families / sizeof families[0];
    bool first = !warned[fi][reason];
    warned[fi][reason] = true;
    hlb_log(first ? LOG_WARNING : LOG_DEBUG, "%s from %s: %s, not an %s; ignored%s",
            ev->topic ? ev->topic : "?", ev->env && ev->env->source ? ev->env->source : "?",
            why, desc->name, first ? " (further ones at debug level)" : "");
    return NULL;
}

const void *hlb_event_as(const hlb_event_t *ev, const ProtobufCMessageDescriptor *desc)
{
    if (!ev || !desc)
        return NULL;
    if (ev->msg && ev->msg->descriptor == desc)
        return ev->msg;
    const char *type = ev->env && ev->env->type ? ev->env->type : "";
    if (ev->msg)
        return refuse(ev, desc, 0, ev->msg->descriptor->name);
    if (strcmp(type, HLB_TYPE_MSGPACK) == 0)
        return refuse(ev, desc, 1, "a free-form msgpack map");
    return refuse(ev, desc, 2, *type ? "an unregistered type" : "a body without a type");
}
