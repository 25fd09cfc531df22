/* msgpack maps: a builder that packs entries as they come and writes the map
 * header (which needs the count) only when the data is asked for. */
#include "hlbus/map.h"

#include <errno.h>
#include <msgpack.h>
#include <stdlib.h>
#include <string.h>

struct hlb_map {
    msgpack_sbuffer entries; /* packed key, value, key, value... */
    msgpack_packer pk;
    size_t count;
    msgpack_sbuffer out;     /* header + entries, built on demand */
    bool out_valid;
};

hlb_map_t *hlb_map_new(void)
{
    hlb_map_t *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    msgpack_sbuffer_init(&m->entries);
    msgpack_sbuffer_init(&m->out);
    msgpack_packer_init(&m->pk, &m->entries, msgpack_sbuffer_write);
    return m;
}

void hlb_map_destroy(hlb_map_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    hlb_map_t *m = *self_p;
    msgpack_sbuffer_destroy(&m->entries);
    msgpack_sbuffer_destroy(&m->out);
    free(m);
    *self_p = NULL;
}

static void key(hlb_map_t *m, const char *k)
{
    size_t n = strlen(k);
    msgpack_pack_str(&m->pk, n);
    msgpack_pack_str_body(&m->pk, k, n);
    m->count++;
    m->out_valid = false;
}

void hlb_map_strn(hlb_map_t *m, const char *k, const char *v, size_t n)
{
    key(m, k);
    msgpack_pack_str(&m->pk, n);
    msgpack_pack_str_body(&m->pk, v, n);
}

void hlb_map_str(hlb_map_t *m, const char *k, const char *v)
{
    if (!v) {
        hlb_map_nil(m, k);
        return;
    }
    hlb_map_strn(m, k, v, strlen(v));
}

void hlb_map_int(hlb_map_t *m, const char *k, int64_t v)
{
    key(m, k);
    msgpack_pack_int64(&m->pk, v);
}

void hlb_map_uint(hlb_map_t *m, const char *k, uint64_t v)
{
    key(m, k);
    msgpack_pack_uint64(&m->pk, v);
}

void hlb_map_double(hlb_map_t *m, const char *k, double v)
{
    key(m, k);
    msgpack_pack_double(&m->pk, v);
}

void hlb_map_bool(hlb_map_t *m, const char *k, bool v)
{
    key(m, k);
    if (v)
        msgpack_pack_true(&m->pk);
    else
        msgpack_pack_false(&m->pk);
}

void hlb_map_nil(hlb_map_t *m, const char *k)
{
    key(m, k);
    msgpack_pack_nil(&m->pk);
}

void hlb_map_map(hlb_map_t *m, const char *k, hlb_map_t **child_p)
{
    size_t len;
    const void *data = hlb_map_data(*child_p, &len);
    key(m, k);
    msgpack_sbuffer_write(&m->entries, data, len);
    hlb_map_destroy(child_p);
}

void hlb_map_strv(hlb_map_t *m, const char *k, const char *const *v, size_t n)
{
    key(m, k);
    msgpack_pack_array(&m->pk, n);
    for (size_t i = 0; i < n; i++) {
        size_t l = strlen(v[i]);
        msgpack_pack_str(&m->pk, l);
        msgpack_pack_str_body(&m->pk, v[i], l);
    }
}

size_t hlb_map_size(const hlb_map_t *m)
{
    return m->count;
}

const void *hlb_map_data(hlb_map_t *m, size_t *len)
{
    if (!m->out_valid) {
        msgpack_sbuffer_clear(&m->out);
        msgpack_packer pk;
        msgpack_packer_init(&pk, &m->out, msgpack_sbuffer_write);
        msgpack_pack_map(&pk, m->count);
        msgpack_sbuffer_write(&m->out, m->entries.data, m->entries.size);
        m->out_valid = true;
    }
    *len = m->out.size;
    return m->out.data;
}

struct hlb_mpview {
    msgpack_unpacked u;
};

hlb_mpview_t *hlb_mpview_new(const void *data, size_t len)
{
    hlb_mpview_t *v = calloc(1, sizeof *v);
    if (!v)
        return NULL;
    size_t off = 0;
    msgpack_unpacked_init(&v->u);
    if (hlb_msgpack_check(data, len) < 0 ||
        msgpack_unpack_next(&v->u, data, len, &off) != MSGPACK_UNPACK_SUCCESS || off != len ||
        v->u.data.type != MSGPACK_OBJECT_MAP) {
        hlb_mpview_destroy(&v);
        return NULL;
    }
    return v;
}

void hlb_mpview_destroy(hlb_mpview_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    msgpack_unpacked_destroy(&(*self_p)->u);
    free(*self_p);
    *self_p = NULL;
}

static const msgpack_object *lookup(const hlb_mpview_t *v, const char *k)
{
    size_t n = strlen(k);
    const msgpack_object_map *m = &v->u.data.via.map;
    /* last one wins, as in a JSON object with repeated keys; msgpack-c
     * gives empty strings a NULL pointer, which memcmp must not see */
    for (uint32_t i = m->size; i-- > 0;) {
        const msgpack_object *key = &m->ptr[i].key;
        if (key->type == MSGPACK_OBJECT_STR && key->via.str.size == n &&
            (n == 0 || memcmp(key->via.str.ptr, k, n) == 0))
            return &m->ptr[i].val;
    }
    return NULL;
}

bool hlb_mpview_has(const hlb_mpview_t *v, const char *k)
{
    return lookup(v, k) != NULL;
}

char *hlb_mpview_str(const hlb_mpview_t *v, const char *k)
{
    const msgpack_object *o = lookup(v, k);
    if (!o || o->type != MSGPACK_OBJECT_STR)
        return NULL;
    if (o->via.str.size == 0) /* its pointer may be NULL */
        return strdup("");
    if (memchr(o->via.str.ptr, 0, o->via.str.size))
        return NULL;
    return strndup(o->via.str.ptr, o->via.str.size);
}

int hlb_mpview_int(const hlb_mpview_t *v, const char *k, int64_t *out)
{
    const msgpack_object *o = lookup(v, k);
    if (!o)
        return -ENOENT;
    if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
        if (o->via.u64 > INT64_MAX)
            return -ERANGE;
        *out = (int64_t)o->via.u64;
        return 0;
    }
    if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER) {
        *out = o->via.i64;
        return 0;
    }
    return -EINVAL;
}

int hlb_mpview_double(const hlb_mpview_t *v, const char *k, double *out)
{
    const msgpack_object *o = lookup(v, k);
    if (!o)
        return -ENOENT;
    switch (o->type) {
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64: *out = o->via.f64; return 0;
    case MSGPACK_OBJECT_POSITIVE_INTEGER: *out = (double)o->via.u64; return 0;
    case MSGPACK_OBJECT_NEGATIVE_INTEGER: *out = (double)o->via.i64; return 0;
    default: return -EINVAL;
    }
}

int hlb_mpview_bool(const hlb_mpview_t *v, const char *k, bool *out)
{
    const msgpack_object *o = lookup(v, k);
    if (!o)
        return -ENOENT;
    if (o->type != MSGPACK_OBJECT_BOOLEAN)
        return -EINVAL;
    *out = o->via.boolean;
    return 0;
}
