/* Strict decoding of what arrives from the bus, and the type registry. */
#include "hlbus/codec.h"

#include "codec_private.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

extern const ProtobufCMessageDescriptor *const hl_proto_registry[];

const ProtobufCMessageDescriptor *hlb_type_lookup(const char *name)
{
    if (!name)
        return NULL;
    /* A few dozen types: a linear scan costs less than a hash's upkeep. */
    for (size_t i = 0; hl_proto_registry[i]; i++)
        if (strcmp(hl_proto_registry[i]->name, name) == 0)
            return hl_proto_registry[i];
    return NULL;
}

/* protobuf-c rejects field number 0 only when its tag is a single byte: as
 * the overlong varint "80 00" it gets through, kept as an unknown field, and
 * packs back as "00 00", which nobody decodes. Strict means no field 0 at any
 * depth (unknown fields with real numbers stay: newer peers may send them). */
bool hlb__proto_strict(const ProtobufCMessage *m)
{
    for (unsigned i = 0; i < m->n_unknown_fields; i++)
        if (m->unknown_fields[i].tag == 0)
            return false;
    const ProtobufCMessageDescriptor *d = m->descriptor;
    const char *base = (const char *)m;
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        if (f->type != PROTOBUF_C_TYPE_MESSAGE)
            continue;
        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            size_t n = *(const size_t *)(base + f->quantifier_offset);
            ProtobufCMessage *const *v = *(ProtobufCMessage *const *const *)(base + f->offset);
            for (size_t k = 0; k < n; k++)
                if (v[k] && !hlb__proto_strict(v[k]))
                    return false;
            continue;
        }
        if ((f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) &&
            *(const uint32_t *)(base + f->quantifier_offset) != f->id)
            continue; /* another member of the oneof shares this storage */
        const ProtobufCMessage *sub = *(ProtobufCMessage *const *)(base + f->offset);
        if (sub && !hlb__proto_strict(sub))
            return false;
    }
    return true;
}

ProtobufCMessage *hlb_body_decode(const char *type, const void *data, size_t len)
{
    const ProtobufCMessageDescriptor *d = hlb_type_lookup(type);
    if (!d || len > HLB_MAX_MSG)
        return NULL;
    ProtobufCMessage *m = protobuf_c_message_unpack(d, NULL, len, data);
    if (m && !hlb__proto_strict(m)) {
        protobuf_c_message_free_unpacked(m, NULL);
        return NULL;
    }
    return m;
}

uint8_t *hlb_body_encode(const ProtobufCMessage *m, size_t *len)
{
    size_t n = protobuf_c_message_get_packed_size(m);
    uint8_t *out = malloc(n ? n : 1);
    if (!out)
        return NULL;
    *len = protobuf_c_message_pack(m, out);
    return out;
}

bool hlb_topic_valid(const char *t, size_t len)
{
    if (len == 0 || len > HLB_MAX_TOPIC)
        return false;
    for (size_t i = 0; i < len; i++)
        if (t[i] <= 0x20 || t[i] >= 0x7f)
            return false;
    return true;
}

Hl__Envelope *hlb_envelope_decode(const void *data, size_t len)
{
    if (len > HLB_MAX_MSG)
        return NULL;
    Hl__Envelope *e = hl__envelope__unpack(NULL, len, data);
    if (!e)
        return NULL;
    if (!e->source || !*e->source || e->seq == 0 || !hlb__proto_strict(&e->base)) {
        hl__envelope__free_unpacked(e, NULL);
        return NULL;
    }
    return e;
}

static uint64_t clock_us(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

uint64_t hlb_now_us(void)
{
    return clock_us(CLOCK_REALTIME);
}

uint64_t hlb_mono_us(void)
{
    return clock_us(CLOCK_MONOTONIC);
}
