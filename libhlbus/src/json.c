/* JSON output of strings, protobuf-c messages (by reflection over their
 * descriptors) and msgpack values. Output is always valid JSON, whatever the
 * bytes: this is what hlctl prints from an untrusted bus. */
#include "hlbus/buf.h"
#include "hlbus/pbfield.h"
#include "hlbus/json.h"
#include "hlbus/codec.h"
#include "hlbus/map.h"
#include "hlbus/topics.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <msgpack.h>
#include <string.h>
#include <hlbus/str.h>

void hlb_json_str(hlb_buf_t *b, const char *str, size_t n)
{
    const unsigned char *s = (const unsigned char *)str;
    hlb_buf_add(b, "\"", 1);
    size_t i = 0;
    while (i < n) {
        size_t run = i;
        /* copy plain printable ASCII in one go */
        while (run < n && s[run] >= 0x20 && s[run] < 0x80 && s[run] != '"' && s[run] != '\\')
            run++;
        if (run > i) {
            hlb_buf_add(b, s + i, run - i);
            i = run;
            continue;
        }
        unsigned char c = s[i];
        switch (c) {
        case '"': hlb_buf_add(b, "\\\"", 2); i++; continue;
        case '\\': hlb_buf_add(b, "\\\\", 2); i++; continue;
        case '\n': hlb_buf_add(b, "\\n", 2); i++; continue;
        case '\r': hlb_buf_add(b, "\\r", 2); i++; continue;
        case '\t': hlb_buf_add(b, "\\t", 2); i++; continue;
        default: break;
        }
        if (c < 0x20) {
            hlb_buf_printf(b, "\\u%04x", c);
            i++;
            continue;
        }
        size_t l = hlb_utf8_len(s + i, n - i);
        if (l) {
            hlb_buf_add(b, s + i, l);
            i += l;
        } else {
            hlb_buf_printf(b, "\\u%04x", c); /* an invalid byte, shown as Latin-1 */
            i++;
        }
    }
    hlb_buf_add(b, "\"", 1);
}

static void json_base64(hlb_buf_t *b, const uint8_t *d, size_t n)
{
    static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    hlb_buf_add(b, "\"", 1);
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)d[i] << 16;
        if (i + 1 < n)
            v |= (uint32_t)d[i + 1] << 8;
        if (i + 2 < n)
            v |= d[i + 2];
        char out[4] = {tbl[(v >> 18) & 63], tbl[(v >> 12) & 63],
                       i + 1 < n ? tbl[(v >> 6) & 63] : '=', i + 2 < n ? tbl[v & 63] : '='};
        hlb_buf_add(b, out, 4);
    }
    hlb_buf_add(b, "\"", 1);
}

static void json_double(hlb_buf_t *b, double v)
{
    if (isfinite(v))
        hlb_buf_printf(b, "%.17g", v);
    else
        hlb_buf_puts(b, "null");
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), z = strlen(suffix);
    return a >= z && strcmp(s + a - z, suffix) == 0;
}

static void json_field_value(hlb_buf_t *b, const ProtobufCFieldDescriptor *f, const void *p)
{
    switch (f->type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
        hlb_buf_printf(b, "%" PRId32, *(const int32_t *)p);
        break;
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
        hlb_buf_printf(b, "%" PRIu32, *(const uint32_t *)p);
        break;
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
        hlb_buf_printf(b, "%" PRId64, *(const int64_t *)p);
        break;
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        hlb_buf_printf(b, "%" PRIu64, *(const uint64_t *)p);
        break;
    case PROTOBUF_C_TYPE_FLOAT:
        json_double(b, *(const float *)p);
        break;
    case PROTOBUF_C_TYPE_DOUBLE:
        json_double(b, *(const double *)p);
        break;
    case PROTOBUF_C_TYPE_BOOL:
        hlb_buf_puts(b, *(const protobuf_c_boolean *)p ? "true" : "false");
        break;
    case PROTOBUF_C_TYPE_ENUM: {
        /* the state's word (topics.h), as people and scripts read it */
        const ProtobufCEnumDescriptor *ed = f->descriptor;
        if (protobuf_c_enum_descriptor_get_value(ed, *(const int *)p)) {
            const char *w = hlb_pb_enum_word(ed, *(const int *)p);
            hlb_json_str(b, w, strlen(w));
        } else {
            hlb_buf_printf(b, "%d", *(const int *)p);
        }
        break;
    }
    case PROTOBUF_C_TYPE_STRING: {
        const char *s = *(char *const *)p;
        if (s)
            hlb_json_str(b, s, strlen(s));
        else
            hlb_buf_puts(b, "\"\"");
        break;
    }
    case PROTOBUF_C_TYPE_BYTES: {
        const ProtobufCBinaryData *bd = p;
        if (ends_with(f->name, "_msgpack") && bd->len > 0 &&
            hlb_json_msgpack(b, bd->data, bd->len) == 0)
            break;
        json_base64(b, bd->data, bd->len);
        break;
    }
    case PROTOBUF_C_TYPE_MESSAGE: {
        const ProtobufCMessage *m = *(ProtobufCMessage *const *)p;
        if (m)
            hlb_json_proto(b, m);
        else
            hlb_buf_puts(b, "null");
        break;
    }
    }
}

void hlb_json_proto(hlb_buf_t *b, const ProtobufCMessage *m)
{
    const ProtobufCMessageDescriptor *d = m->descriptor;
    const char *base = (const char *)m;
    bool first = true;
    hlb_buf_add(b, "{", 1);
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        const void *member = base + f->offset;
        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            size_t n = *(const size_t *)(base + f->quantifier_offset);
            hlb_buf_puts(b, first ? "" : ",");
            hlb_json_str(b, f->name, strlen(f->name));
            hlb_buf_add(b, ":[", 2);
            const char *arr = *(char *const *)member;
            for (size_t k = 0; k < n; k++) {
                if (k)
                    hlb_buf_add(b, ",", 1);
                json_field_value(b, f, arr + k * hlb_pb_field_size(f));
            }
            hlb_buf_add(b, "]", 1);
            first = false;
            continue;
        }
        if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
            uint32_t which = *(const uint32_t *)(base + f->quantifier_offset);
            if (which != f->id)
                continue;
        } else if (f->label == PROTOBUF_C_LABEL_OPTIONAL && f->quantifier_offset &&
                   !*(const protobuf_c_boolean *)(base + f->quantifier_offset) &&
                   f->type != PROTOBUF_C_TYPE_STRING && f->type != PROTOBUF_C_TYPE_MESSAGE) {
            continue;
        }
        hlb_buf_puts(b, first ? "" : ",");
        hlb_json_str(b, f->name, strlen(f->name));
        hlb_buf_add(b, ":", 1);
        json_field_value(b, f, member);
        first = false;
    }
    hlb_buf_add(b, "}", 1);
}

static int json_mp(hlb_buf_t *b, const msgpack_object *o, int depth)
{
    if (depth > 32)
        return -EINVAL;
    switch (o->type) {
    case MSGPACK_OBJECT_NIL: hlb_buf_puts(b, "null"); break;
    case MSGPACK_OBJECT_BOOLEAN: hlb_buf_puts(b, o->via.boolean ? "true" : "false"); break;
    case MSGPACK_OBJECT_POSITIVE_INTEGER: hlb_buf_printf(b, "%" PRIu64, o->via.u64); break;
    case MSGPACK_OBJECT_NEGATIVE_INTEGER: hlb_buf_printf(b, "%" PRId64, o->via.i64); break;
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64: json_double(b, o->via.f64); break;
    case MSGPACK_OBJECT_STR: hlb_json_str(b, o->via.str.ptr, o->via.str.size); break;
    case MSGPACK_OBJECT_BIN:
        json_base64(b, (const uint8_t *)o->via.bin.ptr, o->via.bin.size);
        break;
    case MSGPACK_OBJECT_EXT: hlb_buf_puts(b, "null"); break;
    case MSGPACK_OBJECT_ARRAY:
        hlb_buf_add(b, "[", 1);
        for (uint32_t i = 0; i < o->via.array.size; i++) {
            if (i)
                hlb_buf_add(b, ",", 1);
            if (json_mp(b, &o->via.array.ptr[i], depth + 1))
                return -EINVAL;
        }
        hlb_buf_add(b, "]", 1);
        break;
    case MSGPACK_OBJECT_MAP:
        hlb_buf_add(b, "{", 1);
        for (uint32_t i = 0; i < o->via.map.size; i++) {
            const msgpack_object_kv *kv = &o->via.map.ptr[i];
            if (i)
                hlb_buf_add(b, ",", 1);
            if (kv->key.type == MSGPACK_OBJECT_STR) {
                hlb_json_str(b, kv->key.via.str.ptr, kv->key.via.str.size);
            } else { /* JSON keys are strings: render the key, then quote it */
                hlb_buf_t k = {0};
                if (json_mp(&k, &kv->key, depth + 1)) {
                    hlb_buf_free(&k);
                    return -EINVAL;
                }
                hlb_json_str(b, k.data, k.len);
                hlb_buf_free(&k);
            }
            hlb_buf_add(b, ":", 1);
            if (json_mp(b, &kv->val, depth + 1))
                return -EINVAL;
        }
        hlb_buf_add(b, "}", 1);
        break;
    default:
        return -EINVAL;
    }
    return 0;
}

int hlb_json_msgpack(hlb_buf_t *b, const void *data, size_t len)
{
    msgpack_unpacked u;
    size_t off = 0;
    msgpack_unpacked_init(&u);
    int rc = -EINVAL;
    /* checked first: a short header must not make msgpack-c allocate gigabytes */
    if (hlb_msgpack_check(data, len) == 0 &&
        msgpack_unpack_next(&u, data, len, &off) == MSGPACK_UNPACK_SUCCESS && off == len) {
        size_t mark = b->len;
        rc = json_mp(b, &u.data, 0);
        if (rc) { /* undo a half-written value */
            b->len = mark;
            if (b->data)
                b->data[mark] = '\0';
        }
    }
    msgpack_unpacked_destroy(&u);
    return rc;
}

void hlb_json_body(hlb_buf_t *b, const char *type, const void *data, size_t len)
{
    if (type && strcmp(type, HLB_TYPE_MSGPACK) == 0) {
        if (hlb_json_msgpack(b, data, len) == 0)
            return;
    } else if (type && *type) {
        ProtobufCMessage *m = hlb_body_decode(type, data, len);
        if (m) {
            hlb_json_proto(b, m);
            protobuf_c_message_free_unpacked(m, NULL);
            return;
        }
    } else if (len == 0) {
        hlb_buf_puts(b, "null");
        return;
    }
    json_base64(b, data, len);
}
