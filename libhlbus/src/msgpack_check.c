/* The msgpack guard: a walk over the structure before msgpack-c sees it. */
#include "hlbus/msgpack_check.h"

#include <errno.h>
#include <stdint.h>

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
