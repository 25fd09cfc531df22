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

#define MSGPACK_MAX_DEPTH 32

/* Big-endian unsigned of N bytes at P. */
static uint64_t be(const uint8_t *p, size_t n)
{
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++)
        v = v << 8 | p[i];
    return v;
}

int hlb_msgpack_check(const void *data, size_t len)
{
    const uint8_t *d = data;
    /* Elements still expected at each open nesting level; no recursion, so
     * the bound on depth is ours, not the stack's. */
    uint64_t pending[MSGPACK_MAX_DEPTH + 1];
    int sp = 0;
    size_t pos = 0;
    pending[0] = 1;
    if (!d && len)
        return -EINVAL;
    while (sp >= 0) {
        if (pending[sp] == 0) {
            sp--;
            continue;
        }
        pending[sp]--;
        if (pos >= len)
            return -EINVAL;
        uint8_t b = d[pos++];
        uint64_t skip = 0, kids = 0;
        size_t lenbytes = 0; /* size of a length field that follows B */
        int kind = 0;        /* 0 skip fixed/length bytes, 1 array, 2 map */
        if (b <= 0x7f || b >= 0xe0 || b == 0xc0 || b == 0xc2 || b == 0xc3) {
            /* fixint, nil, bool */
        } else if (b <= 0x8f) {
            kids = 2u * (b & 0x0f);
        } else if (b <= 0x9f) {
            kids = b & 0x0f;
        } else if (b <= 0xbf) {
            skip = b & 0x1f;
        } else {
            switch (b) {
            case 0xc4: case 0xd9: lenbytes = 1; break;           /* bin8, str8 */
            case 0xc5: case 0xda: lenbytes = 2; break;           /* bin16, str16 */
            case 0xc6: case 0xdb: lenbytes = 4; break;           /* bin32, str32 */
            case 0xc7: lenbytes = 1; skip = 1; break;            /* ext8: + type byte */
            case 0xc8: lenbytes = 2; skip = 1; break;
            case 0xc9: lenbytes = 4; skip = 1; break;
            case 0xca: skip = 4; break;                          /* float32 */
            case 0xcb: skip = 8; break;                          /* float64 */
            case 0xcc: case 0xd0: skip = 1; break;
            case 0xcd: case 0xd1: skip = 2; break;
            case 0xce: case 0xd2: skip = 4; break;
            case 0xcf: case 0xd3: skip = 8; break;
            case 0xd4: skip = 2; break;                          /* fixext 1..16 */
            case 0xd5: skip = 3; break;
            case 0xd6: skip = 5; break;
            case 0xd7: skip = 9; break;
            case 0xd8: skip = 17; break;
            case 0xdc: lenbytes = 2; kind = 1; break;            /* array16 */
            case 0xdd: lenbytes = 4; kind = 1; break;            /* array32 */
            case 0xde: lenbytes = 2; kind = 2; break;            /* map16 */
            case 0xdf: lenbytes = 4; kind = 2; break;            /* map32 */
            default: return -EINVAL;                             /* 0xc1: never used */
            }
        }
        if (lenbytes) {
            if (len - pos < lenbytes)
                return -EINVAL;
            uint64_t n = be(d + pos, lenbytes);
            pos += lenbytes;
            if (kind == 1)
                kids = n;
            else if (kind == 2)
                kids = 2 * n;
            else
                skip += n;
        }
        if (skip > len - pos)
            return -EINVAL;
        pos += skip;
        if (kids) {
            /* every element takes at least one byte */
            if (kids > len - pos || sp == MSGPACK_MAX_DEPTH)
                return -EINVAL;
            pending[++sp] = kids;
        }
    }
    return pos == len ? 0 : -EINVAL;
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
