/* Reading bus messages by field name, and the inputs hl-failure needs. */
#include "fl_decode.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <hlbus/map.h>

/* ---- field access ---- */

int fl_msg_open(fl_msg_t *m, const hlb_event_t *ev)
{
    memset(m, 0, sizeof *m);
    if (ev->msg) {
        m->pb = ev->msg;
        return 0;
    }
    if (ev->env && ev->env->type && strcmp(ev->env->type, HLB_TYPE_MSGPACK) == 0 &&
        hlb_msgpack_check(ev->env->body.data, ev->env->body.len) == 0)
        m->mp = hlb_mpview_new(ev->env->body.data, ev->env->body.len);
    return m->mp ? 0 : -EINVAL;
}

void fl_msg_close(fl_msg_t *m)
{
    hlb_mpview_destroy(&m->mp);
    for (size_t i = 0; i < m->nstrs; i++)
        free(m->strs[i]);
    free(m->strs);
    memset(m, 0, sizeof *m);
}

static const char *keep(fl_msg_t *m, char *s)
{
    if (!s)
        return NULL;
    char **v = realloc(m->strs, (m->nstrs + 1) * sizeof *v);
    if (!v) {
        free(s);
        return NULL;
    }
    m->strs = v;
    return (m->strs[m->nstrs++] = s);
}

/* The singular field at a dotted PATH, and the message holding it. */
static const ProtobufCFieldDescriptor *pb_field(const ProtobufCMessage *msg, const char *path,
                                                const ProtobufCMessage **holder)
{
    char part[64];
    while (msg) {
        const char *dot = strchr(path, '.');
        size_t n = dot ? (size_t)(dot - path) : strlen(path);
        if (n == 0 || n >= sizeof part)
            return NULL;
        memcpy(part, path, n);
        part[n] = '\0';
        const ProtobufCFieldDescriptor *f =
            protobuf_c_message_descriptor_get_field_by_name(msg->descriptor, part);
        if (!f || f->label == PROTOBUF_C_LABEL_REPEATED)
            return NULL;
        if (!dot) {
            *holder = msg;
            return f;
        }
        if (f->type != PROTOBUF_C_TYPE_MESSAGE)
            return NULL;
        msg = *(const ProtobufCMessage *const *)((const char *)msg + f->offset);
        path = dot + 1;
    }
    return NULL;
}

/* proto3 "optional" fields carry a has_ flag; plain ones do not. */
static bool pb_present(const ProtobufCMessage *msg, const ProtobufCFieldDescriptor *f)
{
    if (f->label == PROTOBUF_C_LABEL_OPTIONAL && f->quantifier_offset &&
        f->type != PROTOBUF_C_TYPE_STRING && f->type != PROTOBUF_C_TYPE_MESSAGE)
        return *(const protobuf_c_boolean *)((const char *)msg + f->quantifier_offset);
    return true;
}

typedef struct {
    bool ok;
    bool is_int, is_double, is_bool;
    int64_t i;
    double d;
} num_t;

static num_t pb_num(const ProtobufCMessage *msg, const ProtobufCFieldDescriptor *f)
{
    num_t n = {.ok = true, .is_int = true};
    const void *p = (const char *)msg + f->offset;
    switch (f->type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
    case PROTOBUF_C_TYPE_ENUM: n.i = *(const int32_t *)p; break;
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32: n.i = *(const uint32_t *)p; break;
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64: n.i = *(const int64_t *)p; break;
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        n.i = *(const uint64_t *)p > INT64_MAX ? INT64_MAX : (int64_t)*(const uint64_t *)p;
        break;
    case PROTOBUF_C_TYPE_BOOL:
        n.i = *(const protobuf_c_boolean *)p != 0;
        n.is_bool = true;
        break;
    case PROTOBUF_C_TYPE_DOUBLE:
        n.is_int = false, n.is_double = true, n.d = *(const double *)p;
        break;
    case PROTOBUF_C_TYPE_FLOAT:
        n.is_int = false, n.is_double = true, n.d = *(const float *)p;
        break;
    default: n.ok = false; break;
    }
    if (n.is_int)
        n.d = (double)n.i;
    return n;
}

const char *fl_msg_str(fl_msg_t *m, const char *name)
{
    if (m->mp)
        return keep(m, hlb_mpview_str(m->mp, name));
    const ProtobufCMessage *h;
    const ProtobufCFieldDescriptor *f = m->pb ? pb_field(m->pb, name, &h) : NULL;
    if (!f)
        return NULL;
    const void *p = (const char *)h + f->offset;
    if (f->type == PROTOBUF_C_TYPE_STRING)
        return *(const char *const *)p;
    if (f->type == PROTOBUF_C_TYPE_ENUM && f->descriptor) {
        const ProtobufCEnumValue *v =
            protobuf_c_enum_descriptor_get_value(f->descriptor, *(const int *)p);
        return v ? v->name : NULL;
    }
    return NULL;
}

const char *fl_msg_str_any(fl_msg_t *m, const char *const *names)
{
    for (size_t i = 0; names[i]; i++) {
        const char *s = fl_msg_str(m, names[i]);
        if (s && *s)
            return s;
    }
    return NULL;
}

/* A numeric field, from msgpack or protobuf alike; both getters below convert
 * from it. hlb_mpview_double accepts integers too, so it is the fallback. */
static num_t msg_num(fl_msg_t *m, const char *name)
{
    num_t n = {0};
    if (m->mp) {
        n.ok = hlb_mpview_int(m->mp, name, &n.i) == 0;
        n.is_int = n.ok;
        if (!n.ok)
            n.ok = hlb_mpview_double(m->mp, name, &n.d) == 0;
        else
            n.d = (double)n.i;
        return n;
    }
    const ProtobufCMessage *h;
    const ProtobufCFieldDescriptor *f = m->pb ? pb_field(m->pb, name, &h) : NULL;
    if (!f || !pb_present(h, f))
        return n;
    return pb_num(h, f);
}

bool fl_msg_int(fl_msg_t *m, const char *name, int64_t *out)
{
    num_t n = msg_num(m, name);
    if (n.ok)
        *out = n.is_int ? n.i : (int64_t)n.d;
    return n.ok;
}

bool fl_msg_double(fl_msg_t *m, const char *name, double *out)
{
    num_t n = msg_num(m, name);
    if (n.ok)
        *out = n.d;
    return n.ok;
}

bool fl_msg_bool(fl_msg_t *m, const char *name, bool *out)
{
    if (m->mp)
        return hlb_mpview_bool(m->mp, name, out) == 0;
    const ProtobufCMessage *h;
    const ProtobufCFieldDescriptor *f = m->pb ? pb_field(m->pb, name, &h) : NULL;
    if (!f || f->type != PROTOBUF_C_TYPE_BOOL || !pb_present(h, f))
        return false;
    *out = *(const protobuf_c_boolean *)((const char *)h + f->offset) != 0;
    return true;
}

const char *fl_topic_suffix(const char *topic, const char *prefix)
{
    size_t n = strlen(prefix);
    if (!topic || strncmp(topic, prefix, n) != 0 || !topic[n])
        return NULL;
    return topic + n;
}

static uint64_t ts_of(fl_msg_t *m, const hlb_event_t *ev)
{
    /* The envelope's publish time: what the detection latency is measured
     * from (a ts_us inside the body may be systemd's or a sample's). */
    if (ev->env && ev->env->ts_us)
        return ev->env->ts_us;
    int64_t t;
    return fl_msg_int(m, "ts_us", &t) && t > 0 ? (uint64_t)t : 0;
}

/* ---- service.<name>: hl.ServiceState ---- */

int fl_decode_unit(fl_msg_t *m, const hlb_event_t *ev, const char *prefix, fl_unit_obs_t *u)
{
    memset(u, 0, sizeof *u);
    u->service = fl_msg_str(m, "service");
    if (!u->service || !*u->service)
        u->service = fl_topic_suffix(ev->topic, prefix);
    u->unit = fl_msg_str(m, "unit");
    u->active_state = fl_msg_str(m, "active_state");
    u->sub_state = fl_msg_str(m, "sub_state");
    u->result = fl_msg_str(m, "result");
    u->load_state = fl_msg_str(m, "load_state");
    if (!u->service || !u->active_state || !*u->active_state)
        return -EINVAL;
    int64_t v;
    u->n_restarts = fl_msg_int(m, "n_restarts", &v) ? v : -1;
    if (fl_msg_int(m, "exit_code", &v))
        u->exit_code = (int)v;
    if (!u->exit_code) {
        /* exit_kind, the same as a word */
        const char *k = fl_msg_str(m, "exit_kind");
        u->exit_code = !k ? 0 : !strcmp(k, "exited") ? 1 : !strcmp(k, "killed") ? 2
                                                    : !strcmp(k, "dumped") ? 3 : 0;
    }
    if (fl_msg_int(m, "exit_status", &v))
        u->exit_status = (int)v;
    u->ts_us = ts_of(m, ev);
    return 0;
}

/* ---- health.<service> ---- */

int fl_decode_health(fl_msg_t *m, const hlb_event_t *ev, const char *prefix, fl_health_obs_t *h)
{
    static const char *const state_keys[] = {"state", "status", "health", NULL};
    static const char *const reason_keys[] = {"reason", "why", "summary", "detail", NULL};
    memset(h, 0, sizeof *h);
    h->service = fl_msg_str(m, "service");
    if (!h->service || !*h->service)
        h->service = fl_topic_suffix(ev->topic, prefix);
    const char *st = fl_msg_str_any(m, state_keys);
    if (!h->service || !st)
        return -EINVAL;
    h->state = fl_health_parse(st);
    h->reason = fl_msg_str_any(m, reason_keys);
    h->ts_us = ts_of(m, ev);
    return 0;
}

/* ---- metrics.threshold.<name>: hl.Threshold ---- */

int fl_decode_threshold(fl_msg_t *m, const hlb_event_t *ev, const char *prefix,
                        fl_threshold_obs_t *t)
{
    memset(t, 0, sizeof *t);
    t->name = fl_msg_str(m, "name");
    if (!t->name || !*t->name)
        t->name = fl_topic_suffix(ev->topic, prefix);
    t->resource = fl_msg_str(m, "resource");
    t->unit = fl_msg_str(m, "unit");
    const char *st = fl_msg_str(m, "state");
    if (st && strrchr(st, '_')) /* enum names: THRESHOLD_FIRING */
        st = strrchr(st, '_') + 1;
    bool b;
    if (st && (strcasecmp(st, "firing") == 0 || strcasecmp(st, "fire") == 0))
        t->firing = true;
    else if (st && (strcasecmp(st, "cleared") == 0 || strcasecmp(st, "resolved") == 0 ||
                    strcasecmp(st, "ok") == 0))
        t->firing = false;
    else if (fl_msg_bool(m, "firing", &b))
        t->firing = b;
    else
        return -EINVAL; /* STATE_UNSPECIFIED, or no state at all */
    if (!t->name)
        return -EINVAL;
    fl_msg_double(m, "value", &t->value);
    if (!fl_msg_double(m, "limit", &t->limit))
        fl_msg_double(m, "threshold", &t->limit);
    t->ts_us = ts_of(m, ev);
    return 0;
}

/* ---- uplink.*: connectivity to the HL API ---- */

int fl_decode_uplink(fl_msg_t *m, const hlb_event_t *ev, fl_uplink_obs_t *u)
{
    static const char *const bool_keys[] = {"connected", "online", "reachable", NULL};
    static const char *const state_keys[] = {"connectivity", "state", "status", NULL};
    static const char *const up_words[] = {"online", "connected", "registered", "ok",
                                           "up", "reachable", "healthy", NULL};
    static const char *const down_words[] = {"offline", "disconnected", "unreachable", "down",
                                             "error", "failed", "backoff", "unhealthy", NULL};
    static const char *const detail_keys[] = {"last_error", "error", "detail", "reason",
                                              "summary", NULL};
    memset(u, 0, sizeof *u);
    u->topic = ev->topic;
    int known = 0;
    for (size_t i = 0; bool_keys[i] && !known; i++) {
        bool b;
        if (fl_msg_bool(m, bool_keys[i], &b))
            u->up = b, known = 1;
    }
    for (size_t i = 0; state_keys[i] && !known; i++) {
        const char *s = fl_msg_str(m, state_keys[i]);
        if (!s)
            continue;
        const char *w = strrchr(s, '_'); /* enum names: STATE_ONLINE */
        w = w ? w + 1 : s;
        for (size_t k = 0; up_words[k] && !known; k++)
            if (strcasecmp(w, up_words[k]) == 0)
                u->up = true, known = 1;
        for (size_t k = 0; down_words[k] && !known; k++)
            if (strcasecmp(w, down_words[k]) == 0)
                u->up = false, known = 1;
    }
    if (!known)
        return -EINVAL; /* an uplink message about something else */
    u->detail = fl_msg_str_any(m, detail_keys);
    u->ts_us = ts_of(m, ev);
    return 0;
}

/* ---- lifecycle.state: hl.LifecycleState ---- */

int fl_decode_lifecycle(fl_msg_t *m, const hlb_event_t *ev, const char **state)
{
    *state = fl_msg_str(m, "state");
    return *state && **state ? 0 : -EINVAL;
}
