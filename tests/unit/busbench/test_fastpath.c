/* The fast paths of libhlbus against protobuf-c: hlb_envelope_view must
 * accept exactly what hlb_envelope_decode accepts, with the same values, and
 * hlb_envelope_pack must write what hl__envelope__pack writes. A fixed set of
 * edge cases and a few thousand pseudo-random envelopes and mutations; the
 * fuzz target fuzz_envelope runs the same comparison on everything it makes. */
#include <hlbus/hlbus.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint64_t next(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

/* Both decoders on DATA: same verdict, same values. */
static void compare(const uint8_t *data, size_t len)
{
    Hl__Envelope *e = hlb_envelope_decode(data, len);
    hlb_envelope_view_t v;
    int rc = hlb_envelope_view(data, len, &v);
    CHECK((rc == 0) == (e != NULL));
    if (rc == 0 && e) {
        CHECK(v.source_len == strlen(e->source) && memcmp(v.source, e->source, v.source_len) == 0);
        CHECK(v.type_len == strlen(e->type) && memcmp(v.type, e->type, v.type_len) == 0);
        CHECK(v.epoch == e->epoch && v.seq == e->seq && v.ts_us == e->ts_us);
        CHECK(v.body_len == e->body.len &&
              (!v.body_len || memcmp(v.body, e->body.data, v.body_len) == 0));
    }
    if (e)
        hl__envelope__free_unpacked(e, NULL);
}

static void random_envelope(uint8_t *out, size_t *len)
{
    static char src[40], type[40];
    static uint8_t body[300];
    Hl__Envelope e = HL__ENVELOPE__INIT;
    size_t sl = next() % 20, tl = next() % 12, bl = next() % 300;
    for (size_t i = 0; i < sl; i++)
        src[i] = (char)(next() % 4 ? 'a' + next() % 26 : next() % 256);
    src[sl] = 0;
    for (size_t i = 0; i < tl; i++)
        type[i] = (char)('a' + next() % 26);
    type[tl] = 0;
    for (size_t i = 0; i < bl; i++)
        body[i] = (uint8_t)next();
    e.source = src;
    e.type = type;
    e.epoch = next() % 3 ? next() >> (next() % 64) : 0;
    e.seq = next() % 5 ? next() >> (next() % 64) : 0;
    e.ts_us = next() >> (next() % 64);
    e.body.data = body;
    e.body.len = bl;
    size_t n = hlb_envelope_size(&e);
    CHECK(n == hl__envelope__get_packed_size(&e));
    uint8_t ref[512];
    hl__envelope__pack(&e, ref);
    CHECK(hlb_envelope_pack(&e, out) == n);
    CHECK(memcmp(ref, out, n) == 0);
    *len = n;
}

int main(void)
{
    static const struct {
        const char *bytes;
        size_t len;
    } cases[] = {
        {"\x0a\x01s\x18\x01", 5},                       /* source "s", seq 1 */
        {"\x0a\x01s\x18\x00", 5},                       /* seq 0 */
        {"\x0a\x00\x18\x01", 4},                        /* empty source */
        {"\x0a\x02\x00s\x18\x01", 6},                   /* source "\0s": empty to C */
        {"\x0a\x02s\x00\x18\x01", 6},                   /* source "s\0" */
        {"\x0a\x01s\x18\x01\x80\x00\x00", 8},           /* field 0, overlong tag */
        {"\x0a\x01s\x18\x01\x00", 6},                   /* field 0, one byte */
        {"\x0a\x01s\x19\x01\x00\x00\x00\x00\x00\x00\x00", 12}, /* seq as fixed64 */
        {"\x0a\x01s\x18\x01\x18\x00", 7},               /* seq 1, then 0: last wins */
        {"\x0a\x01s\x18\x00\x18\x02", 7},               /* seq 0, then 2 */
        {"\x0a\x01s\x18\x81\x80\x80\x80\x80\x80\x80\x80\x80\x01", 14}, /* 10-byte varint */
        {"\x0a\x01s\x18\x81\x80\x80\x80\x80\x80\x80\x80\x80\x80\x01", 15}, /* 11 bytes */
        {"\x0a\x01s\x18\x01\x7a\x00", 7},               /* unknown field 15, empty */
        {"\x0a\x01s\x18\x01\xf8\xff\xff\xff\x0f\x01", 11}, /* unknown huge field number */
        {"\x0a\x01s\x18\x01\xf8\xff\xff\xff\xff\x01", 11}, /* 5-byte tag, still more */
        {"\x0a\x01s\x18\x01\x0b", 6},                   /* wire type 3 (group) */
        {"\x0a\x01s\x18\x01\x0e\x00", 7},               /* wire type 6 */
        {"\x0a\x01s\x18\x01\x7d\x01\x02\x03", 9},       /* fixed32 short */
        {"\x0a\x01s\x18\x01\x7d\x01\x02\x03\x04", 10},  /* fixed32 unknown */
        {"\x0a\x05s", 3},                               /* length past the end */
        {"\x0a\xff\xff\xff\xff\x0f", 6},                /* huge length */
        {"\x0a\x81\x00s\x18\x01", 6},                   /* overlong length prefix */
        {"\x8a\x80\x80\x80\x00\x01s\x18\x01", 10},      /* overlong tag of field 1 */
        {"\x32\x00\x0a\x01s\x18\x01", 7},               /* empty body */
        {"\x10\x05\x0a\x01s\x18\x01\x2a\x03x.y", 12},   /* epoch, type */
        {"", 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
        compare((const uint8_t *)cases[i].bytes, cases[i].len);

    uint8_t buf[512];
    for (int i = 0; i < 5000; i++) {
        size_t len;
        random_envelope(buf, &len);
        compare(buf, len);
        /* and mutated: flipped bytes, truncated, extended */
        uint8_t m[520];
        memcpy(m, buf, len);
        for (int k = 0; k < 3; k++) {
            size_t at = len ? next() % len : 0;
            if (len)
                m[at] ^= (uint8_t)(1u << (next() % 8));
            compare(m, len);
            compare(m, len ? next() % len : 0);
        }
        m[len] = (uint8_t)next();
        compare(m, len + 1);
    }
    return check_done();
}
