/* KEY=VALUE words to a typed message (see kvmsg.h). Everything set is
 * malloc'd, so protobuf_c_message_free_unpacked(m, NULL) frees it all. */
#include "hlbus/kvmsg.h"
#include "hlbus/pbfield.h"

#include "hlbus/topics.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_PATH 128

static ProtobufCMessage *new_message(const ProtobufCMessageDescriptor *desc)
{
    ProtobufCMessage *m = calloc(1, desc->sizeof_message);
    if (m)
        desc->message_init(m);
    return m;
}

/* The field names of DESC, for an error message. */
static void list_fields(hlb_buf_t *err, const ProtobufCMessageDescriptor *desc)
{
    for (unsigned i = 0; i < desc->n_fields; i++)
        hlb_buf_printf(err, "%s%s", i ? ", " : "", desc->fields[i].name);
}

static void list_enum(hlb_buf_t *err, const ProtobufCEnumDescriptor *ed)
{
    for (unsigned i = 0; i < ed->n_values; i++)
        hlb_buf_printf(err, "%s%s", i ? ", " : "", hlb_pb_enum_word(ed, ed->values[i].value));
}

static int parse_i64(const char *s, int64_t lo, int64_t hi, int64_t *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 0);
    if (!*s || *end || errno || v < lo || v > hi)
        return -EINVAL;
    *out = v;
    return 0;
}

static int parse_u64(const char *s, uint64_t hi, uint64_t *out)
{
    char *end;
    errno = 0;
    if (!*s || *s == '-')
        return -EINVAL;
    unsigned long long v = strtoull(s, &end, 0);
    if (*end || errno || v > hi)
        return -EINVAL;
    *out = v;
    return 0;
}

static int parse_bool(const char *s, protobuf_c_boolean *out)
{
    static const char *const yes[] = {"true", "yes", "1", "on"};
    static const char *const no[] = {"false", "no", "0", "off"};
    for (size_t i = 0; i < 4; i++) {
        if (strcasecmp(s, yes[i]) == 0)
            return *out = 1, 0;
        if (strcasecmp(s, no[i]) == 0)
            return *out = 0, 0;
    }
    return -EINVAL;
}

/* Parses VAL for F into the scalar at P (of the field's C size). */
static int parse_scalar(const ProtobufCFieldDescriptor *f, const char *val, void *p,
                        hlb_buf_t *err)
{
    int64_t i;
    uint64_t u;
    char *end;
    switch (f->type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
        if (parse_i64(val, INT32_MIN, INT32_MAX, &i) < 0)
            goto bad_int;
        *(int32_t *)p = (int32_t)i;
        return 0;
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
        if (parse_i64(val, INT64_MIN, INT64_MAX, &i) < 0)
            goto bad_int;
        *(int64_t *)p = i;
        return 0;
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
        if (parse_u64(val, UINT32_MAX, &u) < 0)
            goto bad_uint;
        *(uint32_t *)p = (uint32_t)u;
        return 0;
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        if (parse_u64(val, UINT64_MAX, &u) < 0)
            goto bad_uint;
        *(uint64_t *)p = u;
        return 0;
    case PROTOBUF_C_TYPE_DOUBLE:
    case PROTOBUF_C_TYPE_FLOAT: {
        double d = *val ? strtod(val, &end) : NAN;
        if (!*val || *end || !isfinite(d)) {
            hlb_buf_printf(err, "'%s' is not a finite number", val);
            return -EINVAL;
        }
        if (f->type == PROTOBUF_C_TYPE_FLOAT)
            *(float *)p = (float)d;
        else
            *(double *)p = d;
        return 0;
    }
    case PROTOBUF_C_TYPE_BOOL:
        if (parse_bool(val, p) < 0) {
            hlb_buf_printf(err, "'%s' is not a bool (true, false, yes, no, 1, 0)", val);
            return -EINVAL;
        }
        return 0;
    case PROTOBUF_C_TYPE_ENUM: {
        int v;
        if (hlb_pb_enum_parse(f->descriptor, val, &v) < 0) {
            hlb_buf_printf(err, "'%s' is not one of ", val);
            list_enum(err, f->descriptor);
            return -EINVAL;
        }
        *(int *)p = v;
        return 0;
    }
    case PROTOBUF_C_TYPE_STRING:
        if (!(*(char **)p = strdup(val)))
            return -ENOMEM;
        return 0;
    case PROTOBUF_C_TYPE_BYTES: {
        ProtobufCBinaryData *b = p;
        size_t n = strlen(val);
        b->data = malloc(n ? n : 1);
        if (!b->data)
            return -ENOMEM;
        memcpy(b->data, val, n);
        b->len = n;
        return 0;
    }
    case PROTOBUF_C_TYPE_MESSAGE:
        hlb_buf_printf(err, "is a message: give its fields as %s.FIELD=VALUE", f->name);
        return -EINVAL;
    }
    return -EINVAL;
bad_int:
    hlb_buf_printf(err, "'%s' is not an integer in range", val);
    return -EINVAL;
bad_uint:
    hlb_buf_printf(err, "'%s' is not a non-negative integer in range", val);
    return -EINVAL;
}

/* Sets PATH=VAL in M. */
static int set_path(ProtobufCMessage *m, const char *path, const char *val, hlb_buf_t *err)
{
    const char *dot = strchr(path, '.');
    size_t n = dot ? (size_t)(dot - path) : strlen(path);
    char name[MAX_PATH];
    if (n == 0 || n >= sizeof name) {
        hlb_buf_printf(err, "'%s' is not a field name", path);
        return -EINVAL;
    }
    memcpy(name, path, n);
    name[n] = '\0';
    const ProtobufCMessageDescriptor *desc = m->descriptor;
    const ProtobufCFieldDescriptor *f = protobuf_c_message_descriptor_get_field_by_name(desc, name);
    if (!f) {
        hlb_buf_printf(err, "%s has no field '%s' (it has: ", desc->name, name);
        list_fields(err, desc);
        hlb_buf_puts(err, ")");
        return -EINVAL;
    }
    char *at = (char *)m + f->offset;
    if (dot) {
        if (f->type != PROTOBUF_C_TYPE_MESSAGE || f->label == PROTOBUF_C_LABEL_REPEATED) {
            hlb_buf_printf(err, "%s.%s is not a single message to set fields of", desc->name,
                           name);
            return -EINVAL;
        }
        ProtobufCMessage **sub = (ProtobufCMessage **)at;
        if (!*sub && !(*sub = new_message(f->descriptor)))
            return -ENOMEM;
        return set_path(*sub, dot + 1, val, err);
    }
    if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF)
        *(uint32_t *)((char *)m + f->quantifier_offset) = f->id;
    else if (f->label == PROTOBUF_C_LABEL_OPTIONAL && f->quantifier_offset)
        *(protobuf_c_boolean *)((char *)m + f->quantifier_offset) = 1;
    if (f->label == PROTOBUF_C_LABEL_REPEATED) {
        if (f->type == PROTOBUF_C_TYPE_MESSAGE) {
            hlb_buf_printf(err, "%s.%s is a list of messages: not settable as KEY=VALUE",
                           desc->name, name);
            return -EINVAL;
        }
        size_t *count = (size_t *)((char *)m + f->quantifier_offset);
        size_t sz = hlb_pb_field_size(f);
        void **arr = (void **)at;
        char *grown = realloc(*arr, (*count + 1) * sz);
        if (!grown)
            return -ENOMEM;
        *arr = grown;
        memset(grown + *count * sz, 0, sz);
        hlb_buf_t why = {0};
        int rc = parse_scalar(f, val, grown + *count * sz, &why);
        if (rc == 0)
            (*count)++;
        else
            hlb_buf_printf(err, "%s: %s", name, why.data ? why.data : "out of memory");
        hlb_buf_free(&why);
        return rc;
    }
    if (f->type == PROTOBUF_C_TYPE_STRING) {
        char *old = *(char **)at;
        if (old && old != f->default_value)
            free(old);
        *(char **)at = (char *)f->default_value;
    } else if (f->type == PROTOBUF_C_TYPE_BYTES) {
        free(((ProtobufCBinaryData *)at)->data);
        memset(at, 0, sizeof(ProtobufCBinaryData));
    }
    hlb_buf_t why = {0};
    int rc = parse_scalar(f, val, at, &why);
    if (rc < 0)
        hlb_buf_printf(err, "%s: %s", name, why.data ? why.data : "out of memory");
    hlb_buf_free(&why);
    return rc;
}

ProtobufCMessage *hlb_kv_message(const ProtobufCMessageDescriptor *desc, int n,
                                 char *const *words, hlb_buf_t *err)
{
    ProtobufCMessage *m = new_message(desc);
    if (!m) {
        hlb_buf_puts(err, "out of memory");
        return NULL;
    }
    for (int i = 0; i < n; i++) {
        const char *eq = strchr(words[i], '=');
        if (!eq || eq == words[i] || (size_t)(eq - words[i]) >= MAX_PATH) {
            hlb_buf_printf(err, "expected KEY=VALUE, not '%s'", words[i]);
            goto fail;
        }
        char key[MAX_PATH];
        memcpy(key, words[i], (size_t)(eq - words[i]));
        key[eq - words[i]] = '\0';
        if (set_path(m, key, eq + 1, err) < 0)
            goto fail;
    }
    return m;
fail:
    protobuf_c_message_free_unpacked(m, NULL);
    return NULL;
}

int hlb_kv_fits(const ProtobufCMessageDescriptor *desc, int n, char *const *words)
{
    for (int i = 0; i < n; i++) {
        const ProtobufCMessageDescriptor *d = desc;
        const char *p = words[i], *end = strchr(p, '=');
        if (!end)
            return 0;
        while (d && p < end) {
            const char *dot = memchr(p, '.', (size_t)(end - p));
            size_t len = (size_t)((dot ? dot : end) - p);
            char name[MAX_PATH];
            if (len == 0 || len >= sizeof name)
                return 0;
            memcpy(name, p, len);
            name[len] = '\0';
            const ProtobufCFieldDescriptor *f = protobuf_c_message_descriptor_get_field_by_name(d, name);
            if (!f)
                return 0;
            d = dot && f->type == PROTOBUF_C_TYPE_MESSAGE ? f->descriptor : NULL;
            if (dot && !d)
                return 0;
            p = dot ? dot + 1 : end;
        }
    }
    return 1;
}
