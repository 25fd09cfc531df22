/* Strict decoding of what arrives from the bus, and the type registry. */
#include "hlbus/codec.h"

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

ProtobufCMessage *hlb_body_decode(const char *type, const void *data, size_t len)
{
    const ProtobufCMessageDescriptor *d = hlb_type_lookup(type);
    if (!d || len > HLB_MAX_MSG)
        return NULL;
    return protobuf_c_message_unpack(d, NULL, len, data);
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
    if (!e->source || !*e->source || e->seq == 0) {
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
