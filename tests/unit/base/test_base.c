/* The ZMQ-free base layer: string vectors, prefixes, strdupf, enum tables,
 * clocks, the msgpack guard. */
#include <errno.h>
#include <string.h>
#include <time.h>
#include <hlbus/clock.h>
#include <hlbus/msgpack_check.h>
#include <hlbus/str.h>
#include <hlbus/strv.h>

#include "check.h"

static void test_strv(void)
{
    CHECK(hlb_strv_len(NULL) == 0);
    CHECK(hlb_strv_dup(NULL) == NULL);
    hlb_strv_free(NULL);
    char **v = NULL;
    CHECK(hlb_strv_push(&v, "a") == 0);
    CHECK(hlb_strv_push(&v, "bc") == 0);
    CHECK(hlb_strv_push(&v, NULL) == 0); /* NULL is kept as "" */
    CHECK(hlb_strv_len(v) == 3);
    CHECK(v[3] == NULL);
    CHECK(strcmp(v[0], "a") == 0 && strcmp(v[1], "bc") == 0 && strcmp(v[2], "") == 0);
    CHECK(hlb_strv_contains(v, "bc"));
    CHECK(!hlb_strv_contains(v, "b"));
    CHECK(!hlb_strv_contains(v, NULL));
    CHECK(!hlb_strv_contains(NULL, "a"));
    char **d = hlb_strv_dup(v);
    CHECK(d && d != v && d[0] != v[0]);
    CHECK(hlb_strv_eq(v, d));
    free(d[1]);
    d[1] = strdup("bd");
    CHECK(!hlb_strv_eq(v, d));
    const char *const shorter[] = {"a", "bc", NULL};
    const char *const empty[] = {NULL};
    CHECK(!hlb_strv_eq(v, (char *const *)shorter));
    CHECK(!hlb_strv_eq((char *const *)shorter, v));
    CHECK(hlb_strv_eq(NULL, (char *const *)empty));
    CHECK(hlb_strv_eq(NULL, NULL));
    CHECK(!hlb_strv_eq(NULL, (char *const *)shorter));
    hlb_strv_free(d);
    hlb_strv_free(v);
}

static void test_prefix(void)
{
    CHECK(hlb_has_prefix("health.hl-bus", "health."));
    CHECK(hlb_has_prefix("health.", "health."));
    CHECK(!hlb_has_prefix("health", "health."));
    CHECK(!hlb_has_prefix("healthy.x", "health."));
    CHECK(hlb_has_prefix("x", ""));
    CHECK(!hlb_has_prefix(NULL, "x"));
    CHECK(!hlb_has_prefix("x", NULL));
    CHECK(strcmp(hlb_after_prefix("resource:disk", "resource:"), "disk") == 0);
    CHECK(strcmp(hlb_after_prefix("resource:", "resource:"), "") == 0);
    CHECK(hlb_after_prefix("resourc", "resource:") == NULL);
}

static void test_strdupf(void)
{
    char *s = hlb_strdupf("%s.%d", "service", 42);
    CHECK(s && strcmp(s, "service.42") == 0);
    free(s);
    char big[5000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = 0;
    s = hlb_strdupf("<%s>", big); /* longer than any internal first guess */
    CHECK(s && strlen(s) == sizeof big + 1 && s[0] == '<' && s[sizeof big] == '>');
    free(s);
}

static void test_enum(void)
{
    static const char *const names[] = {"ok", "pending", NULL, "firing"};
    size_t n = HLB_NELEMS(names);
    CHECK(n == 4);
    CHECK(strcmp(hlb_enum_name(names, n, 0, "?"), "ok") == 0);
    CHECK(strcmp(hlb_enum_name(names, n, 3, "?"), "firing") == 0);
    CHECK(strcmp(hlb_enum_name(names, n, 2, "?"), "?") == 0); /* a hole */
    CHECK(strcmp(hlb_enum_name(names, n, 4, "?"), "?") == 0);
    CHECK(strcmp(hlb_enum_name(names, n, -1, "?"), "?") == 0);
    CHECK(hlb_enum_parse(names, n, "firing") == 3);
    CHECK(hlb_enum_parse(names, n, "FIRING") == -EINVAL);
    CHECK(hlb_enum_parse_case(names, n, "FIRING") == 3);
    CHECK(hlb_enum_parse(names, n, "fire") == -EINVAL);
    CHECK(hlb_enum_parse(names, n, NULL) == -EINVAL);
}

static void test_clock(void)
{
    uint64_t a = hlb_mono_us();
    struct timespec pause = {0, 2000000};
    nanosleep(&pause, NULL);
    uint64_t b = hlb_mono_us();
    CHECK(b >= a + 2000); /* slept at least 2 ms: monotonic and in microseconds */
    CHECK(hlb_mono_ms() >= b / 1000);
    double s = hlb_mono_s();
    CHECK(s >= (double)b / 1e6 && s < (double)b / 1e6 + 60);
    /* realtime in microseconds: agrees with time(2) to the second */
    uint64_t now = hlb_now_us();
    time_t t = time(NULL);
    CHECK(now / 1000000 + 1 >= (uint64_t)t && now / 1000000 <= (uint64_t)t + 1);
}

/* Containers that claim more than the bytes left are refused before
 * msgpack-c would allocate for them; real values pass. */
static void test_msgpack_guard(void)
{
#define BAD(lit) CHECK_MSG(hlb_msgpack_check(lit, sizeof(lit) - 1) == -EINVAL, "%s", #lit)
#define GOOD(lit) CHECK_MSG(hlb_msgpack_check(lit, sizeof(lit) - 1) == 0, "%s", #lit)
    BAD("\xdf\xdf\xdf\xdf\xdf\xdf");       /* map32 of 3.7e9 pairs */
    BAD("\xdd\x02\xdd\x0a\xdd\x0a\xdd");   /* array32 claims */
    BAD("\x9f\x01");                       /* fixarray of 15, 1 byte left */
    BAD("\xc1");                           /* never used */
    BAD("\xdb\xff\xff\xff\xff");           /* str32 longer than the data */
    BAD("");
    BAD("\x80\x80");                       /* two objects */
    GOOD("\x80");                          /* {} */
    GOOD("\x91\xc0");                      /* [nil] */
    GOOD("\x82\xa1" "a\x01\xa1" "b\x92\xcb\x3f\xf8\0\0\0\0\0\0\xc3"); /* {a:1,b:[1.5,true]} */
    CHECK(hlb_msgpack_check(NULL, 0) == -EINVAL);
    CHECK(hlb_msgpack_check(NULL, 3) == -EINVAL);
    /* nesting is bounded at 32: 32 fixarrays of one around nil pass, 33 fail */
    unsigned char deep[40];
    memset(deep, 0x91, sizeof deep);
    deep[32] = 0xc0;
    CHECK(hlb_msgpack_check(deep, 33) == 0);
    deep[32] = 0x91;
    deep[33] = 0xc0;
    CHECK(hlb_msgpack_check(deep, 34) == -EINVAL);
    /* any truncation of a good value is refused */
    static const char good[] = "\x83\xa2id\xce\0\x01\0\0\xa1l\x92\xa1x\xd9\x03yyy\xa1m\x81\xa1k\xc2";
    CHECK(hlb_msgpack_check(good, sizeof good - 1) == 0);
    for (size_t cut = 0; cut < sizeof good - 1; cut++)
        CHECK_MSG(hlb_msgpack_check(good, cut) == -EINVAL, "cut at %zu", cut);
}

int main(void)
{
    test_strv();
    test_prefix();
    test_strdupf();
    test_enum();
    test_clock();
    test_msgpack_guard();
    return check_done();
}
