/* Regression tests for what the fuzz targets (tests/fuzz) found in libhlbus.
 * Each case is the smallest form of a finding; see docs/busbench.md. */
#include <assert.h>
#include <errno.h>
#include <hlbus/hlbus.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>

#include "check.h"

#if defined(__SANITIZE_ADDRESS__)
#define HL_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define HL_ASAN 1
#endif
#endif

/* msgpack containers whose header claims more elements than there are bytes:
 * msgpack-c would allocate count * sizeof(msgpack_object) up front. */
static void test_msgpack_counts(void)
{
    static const struct {
        const char *bytes;
        size_t len;
    } bad[] = {
        {"\xdd\x08\x00\x00\x00", 5},     /* array32 of 2^27: 4 GiB before this fix */
        {"\xdd\xff\xff\xff\xff", 5},     /* array32 of 2^32-1 */
        {"\xdf\x10\x00\x00\x00", 5},     /* map32 of 2^28 pairs */
        {"\xdc\xff\xff\x01", 4},         /* array16 of 65535 with one element */
        {"\x81\xa1k\xdd\x00\xff\xff\xff", 8}, /* nested in a map value */
        {"\x92\x01", 2},                 /* fixarray of 2 with one element */
        {"\xc1", 1},                     /* never used */
        {"\xa5" "abc", 4},                  /* str of 5 with 3 bytes */
        {"\xc6\xff\xff\xff\xff", 5},     /* bin32 past the end */
        {"\x01\x02", 2},                 /* two values, not one */
        {"", 0},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        CHECK(hlb_msgpack_check(bad[i].bytes, bad[i].len) == -EINVAL);
        CHECK(hlb_mpview_new(bad[i].bytes, bad[i].len) == NULL);
        hlb_buf_t b = {0};
        CHECK(hlb_json_msgpack(&b, bad[i].bytes, bad[i].len) == -EINVAL);
        CHECK(b.len == 0);
        hlb_buf_free(&b);
    }

    /* Nesting: 32 levels are fine, 33 are not. */
    char deep[40];
    memset(deep, 0x91, sizeof deep); /* fixarray of 1, nested */
    deep[32] = 0x01;
    CHECK(hlb_msgpack_check(deep, 33) == 0);
    deep[32] = (char)0x91;
    deep[33] = 0x01;
    CHECK(hlb_msgpack_check(deep, 34) == -EINVAL);

    /* Every kind of value the map builder writes still passes. */
    hlb_map_t *m = hlb_map_new();
    hlb_map_str(m, "s", "text");
    hlb_map_int(m, "neg", -1234567890123LL);
    hlb_map_uint(m, "big", UINT64_MAX);
    hlb_map_double(m, "d", 0.5);
    hlb_map_bool(m, "b", true);
    hlb_map_nil(m, "n");
    static const char *const v[] = {"a", "b"};
    hlb_map_strv(m, "v", v, 2);
    hlb_map_t *child = hlb_map_new();
    hlb_map_str(child, "k", "x");
    hlb_map_map(m, "child", &child);
    size_t len;
    const void *data = hlb_map_data(m, &len);
    CHECK(hlb_msgpack_check(data, len) == 0);
    hlb_mpview_t *view = hlb_mpview_new(data, len);
    CHECK(view != NULL);
    int64_t x = 0;
    CHECK(view && hlb_mpview_int(view, "neg", &x) == 0 && x == -1234567890123LL);
    hlb_mpview_destroy(&view);
    hlb_map_destroy(&m);

    /* Fixed-size kinds and ext, which the builder does not write. */
    static const struct {
        const char *bytes;
        size_t len;
    } good[] = {
        {"\xca\x00\x00\x80\x3f", 5},                  /* float32 */
        {"\xd4\x01\x02", 3},                          /* fixext1 */
        {"\xc7\x02\x05\xaa\xbb", 5},                  /* ext8 of 2 */
        {"\xc4\x00", 2},                              /* empty bin8 */
        {"\xdc\x00\x02\xc0\xc3", 5},                  /* array16 of 2 */
        {"\xde\x00\x01\xa1k\x90", 6},                 /* map16 of 1: k -> [] */
    };
    for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
        CHECK(hlb_msgpack_check(good[i].bytes, good[i].len) == 0);
        hlb_buf_t b = {0};
        CHECK(hlb_json_msgpack(&b, good[i].bytes, good[i].len) == 0);
        hlb_buf_free(&b);
    }
}

/* Empty strings: msgpack-c hands them out with a NULL pointer, which went
 * to memcmp/memchr (undefined behaviour; fatal under -DHL_SANITIZE=ON). */
static void test_msgpack_empty_strings(void)
{
    hlb_map_t *m = hlb_map_new();
    hlb_map_str(m, "", "");
    hlb_map_str(m, "name", "");
    size_t len;
    const void *data = hlb_map_data(m, &len);
    hlb_mpview_t *v = hlb_mpview_new(data, len);
    CHECK(v != NULL);
    if (v) {
        CHECK(hlb_mpview_has(v, ""));
        char *s = hlb_mpview_str(v, "name");
        CHECK(s && *s == '\0');
        free(s);
        s = hlb_mpview_str(v, "");
        CHECK(s && *s == '\0');
        free(s);
        hlb_mpview_destroy(&v);
    }
    hlb_map_destroy(&m);
}

/* A config value quoted in a diagnostic kept its newlines: one diagnostic
 * became several lines, the later ones without file:line, and a value could
 * forge a "file:line: ..." entry of its own. */
static void test_diag_one_line(void)
{
    hlb_diag_t d = {0};
    hlb_conf_t *c = hlb_conf_parse("t.yaml", "a: \"1\\nt.yaml:9: forged\\e[31m\"\n", &d);
    CHECK(c != NULL);
    int64_t v;
    CHECK(hlb_conf_int(c, "a", 0, 0, 10, &v, &d) == -EINVAL);
    CHECK(d.errors == 1);
    CHECK(d.text && strchr(d.text, '\n') == d.text + strlen(d.text) - 1);
    CHECK(d.text && strncmp(d.text, "t.yaml:1: ", 10) == 0);
    CHECK(d.text && strstr(d.text, "1\\nt.yaml:9: forged\\x1b[31m"));
    hlb_diag_free(&d);
    hlb_conf_destroy(&c);
}

/* Field number 0 written as the overlong tag "80 00": protobuf-c unpacked it
 * as an unknown field and packed it back as "00 00", which it then refused. */
static void test_proto_field_zero(void)
{
    static const uint8_t reply[] = {0x80, 0x00, 0x00, 0x08, 0x1c};
    CHECK(hlb_body_decode("hl.Reply", reply, sizeof reply) == NULL);
    static const uint8_t ok[] = {0x08, 0x1c, 0xa8, 0x01, 0x05}; /* status, field 21 */
    ProtobufCMessage *m = hlb_body_decode("hl.Reply", ok, sizeof ok);
    CHECK(m != NULL); /* unknown fields with real numbers still pass */
    if (m)
        protobuf_c_message_free_unpacked(m, NULL);

    /* an envelope with a field 0, and one whose source is fine but whose
     * body is a BusStats with a field 0 inside a nested Prefix */
    Hl__Envelope e = HL__ENVELOPE__INIT;
    e.source = "t";
    e.seq = 1;
    uint8_t buf[64];
    size_t n = hl__envelope__pack(&e, buf);
    memcpy(buf + n, "\x80\x00\x00", 3);
    Hl__Envelope *good = hlb_envelope_decode(buf, n);
    CHECK(good != NULL);
    if (good)
        hl__envelope__free_unpacked(good, NULL);
    Hl__Envelope *bad = hlb_envelope_decode(buf, n + 3);
    CHECK(bad == NULL);
    static const uint8_t stats[] = {0x3a, 0x03, 0x0a, 0x01, 'h', 0x08, 0x01};
    m = hlb_body_decode("hl.BusStats", stats, sizeof stats);
    CHECK(m != NULL); /* prefix {prefix: "h"} then messages=1 at the top */
    if (m)
        protobuf_c_message_free_unpacked(m, NULL);
    static const uint8_t stats0[] = {0x3a, 0x06, 0x0a, 0x01, 'h', 0x80, 0x00, 0x00};
    CHECK(hlb_body_decode("hl.BusStats", stats0, sizeof stats0) == NULL);
}

int main(void)
{
    /* With the address space capped, a 4 GiB allocation fails loudly instead
     * of being quietly overcommitted (skipped under ASan, which reserves
     * terabytes of shadow memory). */
#ifndef HL_ASAN
    struct rlimit rl = {1UL << 30, 1UL << 30};
    setrlimit(RLIMIT_AS, &rl);
#endif
    test_msgpack_counts();
    test_msgpack_empty_strings();
    test_diag_one_line();
    test_proto_field_zero();
    return check_done();
}
