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

/* The checks every envelope passes besides protobuf's own. */
static bool envelope_ok(const Hl__Envelope *e)
{
    return e->source && *e->source && e->seq != 0 && hlb__proto_strict(&e->base);
}

Hl__Envelope *hlb_envelope_decode(const void *data, size_t len)
{
    if (len > HLB_MAX_MSG)
        return NULL;
    Hl__Envelope *e = hl__envelope__unpack(NULL, len, data);
    if (e && !envelope_ok(e)) {
        hl__envelope__free_unpacked(e, NULL);
        return NULL;
    }
    return e;
}

/* ---- envelope checking without copies ----
 *
 * What follows mirrors protobuf-c 1.4's unpack (protobuf-c.c: scan loop,
 * parse_tag_and_wiretype, scan_length_prefixed_data, parse_uint64,
 * parse_required_member) for this one message. tests/fuzz/fuzz_envelope
 * checks on every input that both accept the same bytes with the same
 * values. */

/* A tag: at most 5 bytes; 0 on error. Only the first byte is checked for
 * field 0 (as protobuf-c does); the caller refuses field 0 afterwards. */
static size_t view_tag(const uint8_t *d, size_t len, uint32_t *tag, unsigned *wire)
{
    size_t max = len > 5 ? 5 : len;
    uint32_t t = (d[0] & 0x7f) >> 3;
    unsigned shift = 4;
    if ((d[0] & 0xf8) == 0)
        return 0;
    *wire = d[0] & 7;
    if (!(d[0] & 0x80)) {
        *tag = t;
        return 1;
    }
    for (size_t i = 1; i < max; i++) {
        t |= (uint32_t)(d[i] & 0x7f) << shift;
        if (!(d[i] & 0x80)) {
            *tag = t;
            return i + 1;
        }
        shift += 7;
    }
    return 0;
}

static size_t c_len(const uint8_t *s, size_t n)
{
    const uint8_t *z = memchr(s, 0, n);
    return z ? (size_t)(z - s) : n;
}

int hlb_envelope_view(const void *data, size_t len, hlb_envelope_view_t *v)
{
    const uint8_t *p = data;
    memset(v, 0, sizeof *v);
    v->source = v->type = "";
    if (len > HLB_MAX_MSG)
        return -EINVAL;
    while (len > 0) {
        uint32_t tag;
        unsigned wire;
        size_t n;
        if (p[0] >= 0x08 && p[0] < 0x80) { /* the usual one-byte tag */
            tag = p[0] >> 3;
            wire = p[0] & 7;
            n = 1;
        } else if (!(n = view_tag(p, len, &tag, &wire)) || tag == 0) {
            return -EINVAL;
        }
        p += n;
        len -= n;
        size_t flen;     /* the field's bytes, prefix included */
        size_t pref = 0; /* its length prefix */
        uint64_t num = 0;
        switch (wire) {
        case 0: { /* varint: at most 10 bytes, decoded as it is scanned */
            size_t max = len < 10 ? len : 10, i = 0;
            for (; i < max; i++) {
                num |= (uint64_t)(p[i] & 0x7f) << (7 * i);
                if (!(p[i] & 0x80))
                    break;
            }
            if (i == max)
                return -EINVAL;
            flen = i + 1;
            break;
        }
        case 1:
            if (len < 8)
                return -EINVAL;
            flen = 8;
            break;
        case 2: { /* length-prefixed: a prefix of at most 5 bytes */
            size_t max = len < 5 ? len : 5, i = 0, val = 0;
            for (; i < max; i++) {
                val |= ((size_t)p[i] & 0x7f) << (7 * i);
                if (!(p[i] & 0x80))
                    break;
            }
            if (i == max)
                return -EINVAL;
            pref = i + 1;
            if (val > len - pref) /* also refuses what protobuf-c finds too large */
                return -EINVAL;
            flen = pref + val;
            break;
        }
        case 5:
            if (len < 4)
                return -EINVAL;
            flen = 4;
            break;
        default: /* groups and reserved wire types */
            return -EINVAL;
        }
        const uint8_t *f = p + pref;
        size_t fl = flen - pref;
        switch (tag) {
        case 1: /* source */
            if (wire != 2)
                return -EINVAL;
            v->source = (const char *)f;
            v->source_len = c_len(f, fl);
            break;
        case 5: /* type */
            if (wire != 2)
                return -EINVAL;
            v->type = (const char *)f;
            v->type_len = c_len(f, fl);
            break;
        case 6: /* body */
            if (wire != 2)
                return -EINVAL;
            v->body = fl ? f : NULL;
            v->body_len = fl;
            break;
        case 2: /* epoch */
        case 3: /* seq */
        case 4: /* ts_us */
            if (wire != 0)
                return -EINVAL;
            *(tag == 2 ? &v->epoch : tag == 3 ? &v->seq : &v->ts_us) = num;
            break;
        case 7: /* sender_uid, sender_gid, sender_pid: stamped by hl-bus */
        case 8:
        case 9:
            if (wire != 0)
                return -EINVAL;
            *(tag == 7 ? &v->sender_uid : tag == 8 ? &v->sender_gid : &v->sender_pid) =
                (uint32_t)num;
            break;
        default: /* unknown: kept by protobuf-c, skipped here */
            break;
        }
        p += flen;
        len -= flen;
    }
    return v->source_len > 0 && v->seq != 0 ? 0 : -EINVAL;
}

/* ---- envelope packing without descriptors ---- */

static size_t varint_size(uint64_t v)
{
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

static uint8_t *put_varint(uint8_t *p, uint64_t v)
{
    while (v >= 0x80) {
        *p++ = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    *p++ = (uint8_t)v;
    return p;
}

/* Fields 1..9 have one-byte tags: (number << 3) | wire type. proto3 leaves
 * out zero numbers and empty strings and bytes, as protobuf-c does. The
 * sender fields (7..9) are hl-bus's stamp: a publisher leaves them 0, but a
 * decoded envelope packed again must come out as protobuf-c would pack it. */
size_t hlb_envelope_size(const Hl__Envelope *e)
{
    size_t n = 0, l;
    if (e->source && (l = strlen(e->source)))
        n += 1 + varint_size(l) + l;
    if (e->epoch)
        n += 1 + varint_size(e->epoch);
    if (e->seq)
        n += 1 + varint_size(e->seq);
    if (e->ts_us)
        n += 1 + varint_size(e->ts_us);
    if (e->type && (l = strlen(e->type)))
        n += 1 + varint_size(l) + l;
    if (e->body.len)
        n += 1 + varint_size(e->body.len) + e->body.len;
    const uint32_t sender[3] = {e->sender_uid, e->sender_gid, e->sender_pid};
    for (int i = 0; i < 3; i++)
        if (sender[i])
            n += 1 + varint_size(sender[i]);
    return n;
}

static uint8_t *put_bytes(uint8_t *p, unsigned field, const void *data, size_t len)
{
    *p++ = (uint8_t)(field << 3 | 2);
    p = put_varint(p, len);
    memcpy(p, data, len);
    return p + len;
}

size_t hlb_envelope_pack(const Hl__Envelope *e, uint8_t *out)
{
    uint8_t *p = out;
    size_t l;
    if (e->source && (l = strlen(e->source)))
        p = put_bytes(p, 1, e->source, l);
    if (e->epoch) {
        *p++ = 2 << 3;
        p = put_varint(p, e->epoch);
    }
    if (e->seq) {
        *p++ = 3 << 3;
        p = put_varint(p, e->seq);
    }
    if (e->ts_us) {
        *p++ = 4 << 3;
        p = put_varint(p, e->ts_us);
    }
    if (e->type && (l = strlen(e->type)))
        p = put_bytes(p, 5, e->type, l);
    if (e->body.len)
        p = put_bytes(p, 6, e->body.data, e->body.len);
    const uint32_t sender[3] = {e->sender_uid, e->sender_gid, e->sender_pid};
    for (unsigned i = 0; i < 3; i++)
        if (sender[i]) {
            *p++ = (uint8_t)((7 + i) << 3);
            p = put_varint(p, sender[i]);
        }
    return (size_t)(p - out);
}

/* ---- a decoder that keeps its memory ---- */

/* protobuf-c allocates the message, then each string and bytes field, and
 * frees them one by one. Here they come from a bump arena that a reset
 * empties at once; what does not fit goes to malloc, tracked so that a
 * reset (or protobuf-c's own cleanup after a failed decode) frees it. */
#define ARENA_SIZE 16384

struct hlb_decoder {
    ProtobufCAllocator alloc; /* first: the allocator's data points here */
    uint8_t *arena;
    size_t used;
    void **big; /* malloc'd blocks outside the arena */
    size_t nbig, capbig;
};

static void *arena_alloc(void *data, size_t size)
{
    hlb_decoder_t *d = data;
    size_t need = (size + 15) & ~(size_t)15;
    if (need >= size && need <= ARENA_SIZE - d->used) {
        void *p = d->arena + d->used;
        d->used += need;
        return p;
    }
    if (d->nbig == d->capbig) {
        size_t cap = d->capbig ? d->capbig * 2 : 8;
        void **v = realloc(d->big, cap * sizeof *v);
        if (!v)
            return NULL;
        d->big = v;
        d->capbig = cap;
    }
    void *p = malloc(size ? size : 1);
    if (p)
        d->big[d->nbig++] = p;
    return p;
}

static void arena_free(void *data, void *ptr)
{
    hlb_decoder_t *d = data;
    if (!ptr || ((uint8_t *)ptr >= d->arena && (uint8_t *)ptr < d->arena + ARENA_SIZE))
        return; /* arena memory goes at the next reset */
    for (size_t i = d->nbig; i-- > 0;)
        if (d->big[i] == ptr) {
            free(ptr);
            d->big[i] = d->big[--d->nbig];
            return;
        }
}

hlb_decoder_t *hlb_decoder_new(void)
{
    hlb_decoder_t *d = calloc(1, sizeof *d);
    if (!d || !(d->arena = malloc(ARENA_SIZE))) {
        free(d);
        return NULL;
    }
    d->alloc.alloc = arena_alloc;
    d->alloc.free = arena_free;
    d->alloc.allocator_data = d;
    return d;
}

void hlb_decoder_reset(hlb_decoder_t *d)
{
    for (size_t i = 0; i < d->nbig; i++)
        free(d->big[i]);
    d->nbig = 0;
    d->used = 0;
}

void hlb_decoder_destroy(hlb_decoder_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    hlb_decoder_t *d = *self_p;
    hlb_decoder_reset(d);
    free(d->big);
    free(d->arena);
    free(d);
    *self_p = NULL;
}

const ProtobufCMessage *hlb_decoder_body(hlb_decoder_t *d, const ProtobufCMessageDescriptor *desc,
                                         const void *data, size_t len)
{
    if (!desc || len > HLB_MAX_MSG)
        return NULL;
    ProtobufCMessage *m = protobuf_c_message_unpack(desc, &d->alloc, len, data);
    if (m && !hlb__proto_strict(m)) {
        protobuf_c_message_free_unpacked(m, &d->alloc);
        return NULL;
    }
    return m;
}
