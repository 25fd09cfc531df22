/* The exposition writer: Go-compatible number formatting, escaping, name
 * rules, once-per-exposition families. */
#include <errno.h>
#include <math.h>
#include <string.h>
#include "check.h"
#include "expo.h"

static void fmt_is(double v, const char *want)
{
    char out[40];
    size_t n = hlm_fmt_double(out, v);
    CHECK_MSG(strcmp(out, want) == 0 && n == strlen(want), "%.17g -> '%s', want '%s'", v, out,
              want);
}

static void test_numbers(void)
{
    /* Expected strings are what Go's strconv.FormatFloat(v, 'g', -1, 64)
     * prints, as node_exporter's output shows them. */
    fmt_is(0, "0");
    fmt_is(-0.0, "0");
    fmt_is(1, "1");
    fmt_is(-1, "-1");
    fmt_is(466884, "466884");
    fmt_is(999999, "999999");
    fmt_is(1000000, "1e+06");
    fmt_is(1585152, "1.585152e+06");
    fmt_is(1795687350, "1.79568735e+09");
    fmt_is(1442243584, "1.442243584e+09");
    fmt_is(35184372087808.0, "3.5184372087808e+13");
    fmt_is(2451.5, "2451.5");
    fmt_is(0.66, "0.66");
    fmt_is(0.1, "0.1");
    fmt_is(0.0001, "0.0001");
    fmt_is(0.00001, "1e-05");
    fmt_is(1.5e-07, "1.5e-07");
    fmt_is(24.002, "24.002");
    fmt_is(0.1 + 0.2, "0.30000000000000004");
    fmt_is(123456.5, "123456.5");
    fmt_is(1234567.5, "1.2345675e+06");
    fmt_is(-42.25, "-42.25");
    fmt_is(1e21, "1e+21");
    fmt_is(18446744073709551615.0, "1.8446744073709552e+19");
    fmt_is(9007199254740993.0, "9.007199254740992e+15");
    fmt_is(NAN, "NaN");
    fmt_is(INFINITY, "+Inf");
    fmt_is(-INFINITY, "-Inf");
}

static void test_names(void)
{
    CHECK(hlm_metric_name_valid("node_load1"));
    CHECK(hlm_metric_name_valid("a:b_c"));
    CHECK(hlm_metric_name_valid("_x"));
    CHECK(!hlm_metric_name_valid("1abc"));
    CHECK(!hlm_metric_name_valid(""));
    CHECK(!hlm_metric_name_valid("a-b"));
    CHECK(!hlm_metric_name_valid("a b"));
    CHECK(hlm_label_name_valid("device"));
    CHECK(!hlm_label_name_valid("__name__"));
    CHECK(!hlm_label_name_valid("a:b"));
    CHECK(!hlm_label_name_valid("9"));
}

static void test_writer(void)
{
    hlm_expo_t *e = hlm_expo_new();
    CHECK(e);
    CHECK(hlm_sample0(e, 1) == -EINVAL); /* no family yet */
    CHECK(hlm_family(e, "x_total", HLM_COUNTER, "Help with \\ and\nnewline.") == 0);
    CHECK(hlm_sample(e, HLM_KV("a", "q\"uo\\te\nnl", "b", ""), 3) == 0);
    CHECK(hlm_sample(e, HLM_KV("bad-label", "v"), 1) == -EINVAL);
    CHECK(hlm_family(e, "x_total", HLM_GAUGE, NULL) == -EEXIST);
    CHECK(hlm_sample0(e, 2) == -EINVAL); /* the refused family takes no samples */
    CHECK(hlm_family(e, "bad name", HLM_GAUGE, NULL) == -EINVAL);
    CHECK(hlm_family(e, "y", HLM_UNTYPED, NULL) == 0);
    /* invalid UTF-8 (a lone continuation byte, a truncated sequence, an
     * overlong encoding) becomes U+FFFD; valid multibyte text stays */
    CHECK(hlm_sample(e, HLM_KV("v", "\x80" "a\xc3" "\xc0\xaf" "\xc3\xa9\xe2\x82\xac"), 0.5) == 0);
    CHECK(hlm_expo_has_family(e, "y"));
    CHECK(!hlm_expo_has_family(e, "z"));
    const char *want = "# HELP x_total Help with \\\\ and\\nnewline.\n"
                       "# TYPE x_total counter\n"
                       "x_total{a=\"q\\\"uo\\\\te\\nnl\",b=\"\"} 3\n"
                       "# TYPE y untyped\n"
                       "y{v=\"\xef\xbf\xbd" "a\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xc3\xa9\xe2\x82\xac\"} 0.5\n";
    size_t len;
    const char *got = hlm_expo_text(e, &len);
    CHECK_MSG(strcmp(got, want) == 0, "got:\n%s\nwant:\n%s", got, want);
    CHECK(len == strlen(want));
    CHECK(hlm_expo_samples(e) == 2 && hlm_expo_families(e) == 2);
    char *t = hlm_expo_steal(e, &len);
    CHECK(t && len == strlen(want));
    free(t);
    /* after a steal (or a reset) the names may be used again */
    CHECK(hlm_family(e, "x_total", HLM_COUNTER, NULL) == 0);
    hlm_expo_reset(e);
    CHECK(hlm_expo_text(e, &len)[0] == '\0' && len == 0);
    /* many families: the name set grows */
    char name[32];
    int ok = 0;
    for (int i = 0; i < 1000; i++) {
        snprintf(name, sizeof name, "f%d", i);
        ok += hlm_family(e, name, HLM_GAUGE, "h") == 0 && hlm_sample0(e, i) == 0;
    }
    CHECK(ok == 1000);
    CHECK(hlm_family(e, "f999", HLM_GAUGE, "h") == -EEXIST);
    hlm_expo_destroy(&e);
    CHECK(e == NULL);
    hlm_expo_destroy(&e);
}

int main(void)
{
    test_numbers();
    test_names();
    test_writer();
    return check_done();
}
