/* hlctl check's threshold ranges (daemons/hlctl/plugin.h): the
 * monitoring-plugins syntax, parsed and evaluated; the status order; the
 * perfdata item format. With --eval, reads "RANGE VALUE" lines and prints
 * "RANGE VALUE alert|ok|invalid" for check_range_perl.sh, which compares
 * them with Monitoring::Plugin::Range's verdicts. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "plugin.h"

static int eval_lines(void)
{
    char range[128], value[64];
    while (scanf("%127s %63s", range, value) == 2) {
        hlctl_range_t r;
        const char *why;
        if (hlctl_range_parse(range, &r, &why) < 0)
            printf("%s %s invalid\n", range, value);
        else
            printf("%s %s %s\n", range, value,
                   hlctl_range_alerts(&r, strtod(value, NULL)) ? "alert" : "ok");
    }
    return 0;
}

/* Whether V alerts under S (which must parse). */
static int alerts(const char *s, double v)
{
    hlctl_range_t r;
    const char *why = NULL;
    if (hlctl_range_parse(s, &r, &why) < 0) {
        fprintf(stderr, "'%s' did not parse: %s\n", s, why);
        return -1;
    }
    return hlctl_range_alerts(&r, v);
}

static bool invalid(const char *s)
{
    hlctl_range_t r;
    const char *why = NULL;
    return hlctl_range_parse(s, &r, &why) < 0 && why && *why;
}

int main(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "--eval") == 0)
        return eval_lines();

    /* 10: outside 0..10 */
    CHECK_EQ(alerts("10", -1), 1);
    CHECK_EQ(alerts("10", 0), 0);
    CHECK_EQ(alerts("10", 10), 0);
    CHECK_EQ(alerts("10", 10.5), 1);
    /* 10: below 10 */
    CHECK_EQ(alerts("10:", 9.99), 1);
    CHECK_EQ(alerts("10:", 10), 0);
    CHECK_EQ(alerts("10:", 1e12), 0);
    /* ~:10 above 10 */
    CHECK_EQ(alerts("~:10", -1e12), 0);
    CHECK_EQ(alerts("~:10", 10), 0);
    CHECK_EQ(alerts("~:10", 10.001), 1);
    /* 10:20 outside 10..20 */
    CHECK_EQ(alerts("10:20", 9), 1);
    CHECK_EQ(alerts("10:20", 10), 0);
    CHECK_EQ(alerts("10:20", 20), 0);
    CHECK_EQ(alerts("10:20", 21), 1);
    /* @10:20 inside 10..20, ends included */
    CHECK_EQ(alerts("@10:20", 9), 0);
    CHECK_EQ(alerts("@10:20", 10), 1);
    CHECK_EQ(alerts("@10:20", 15), 1);
    CHECK_EQ(alerts("@10:20", 20), 1);
    CHECK_EQ(alerts("@10:20", 20.5), 0);
    /* more forms: a bare ':' start is 0, negative and fractional numbers, @ alone */
    CHECK_EQ(alerts(":5", -1), 1);
    CHECK_EQ(alerts(":5", 0), 0);
    CHECK_EQ(alerts("-5:5", -5), 0);
    CHECK_EQ(alerts("-5:5", -5.1), 1);
    CHECK_EQ(alerts("0.5:1.5", 0.4), 1);
    CHECK_EQ(alerts(".5:1.5", 0.5), 0);
    CHECK_EQ(alerts("@0", 0), 1);
    CHECK_EQ(alerts("@0", 0.1), 0);
    CHECK_EQ(alerts("@~:0", -3), 1);
    CHECK_EQ(alerts("0", 0), 0);
    CHECK_EQ(alerts("0", 1), 1);
    CHECK_EQ(alerts("5:5", 5), 0);
    CHECK_EQ(alerts("~:", 1e300), 0);
    /* refused, each with a reason */
    CHECK(invalid(""));
    CHECK(invalid("20:10"));
    CHECK(invalid("@20:10"));
    CHECK(invalid("abc"));
    CHECK(invalid("10:abc"));
    CHECK_EQ(alerts("1e3", 1000), 0);
    CHECK_EQ(alerts("1e3", 1001), 1);
    CHECK_EQ(alerts("1.:2", 0.5), 1);
    CHECK(invalid("1e"));
    CHECK(invalid("."));
    CHECK(invalid("inf"));
    CHECK(invalid("nan"));
    CHECK(invalid("0x10"));
    CHECK(invalid("10::20"));
    CHECK(invalid("~"));
    CHECK(invalid("~10"));
    CHECK(invalid("@"));
    CHECK(invalid("10 "));
    CHECK(invalid("-"));
    char longer[200];
    memset(longer, '1', sizeof longer - 1);
    longer[sizeof longer - 1] = '\0';
    CHECK(invalid(longer));
    /* an unset range never alerts */
    hlctl_range_t unset = {0};
    CHECK(!hlctl_range_alerts(&unset, 1e9));
    CHECK(!hlctl_range_alerts(NULL, 0));

    /* the status order: CRITICAL > WARNING > UNKNOWN > OK */
    CHECK_EQ(hlctl_plugin_worst(HLCTL_PLUGIN_OK, HLCTL_PLUGIN_UNKNOWN), HLCTL_PLUGIN_UNKNOWN);
    CHECK_EQ(hlctl_plugin_worst(HLCTL_PLUGIN_WARNING, HLCTL_PLUGIN_UNKNOWN), HLCTL_PLUGIN_WARNING);
    CHECK_EQ(hlctl_plugin_worst(HLCTL_PLUGIN_CRITICAL, HLCTL_PLUGIN_WARNING), HLCTL_PLUGIN_CRITICAL);
    CHECK_STR(hlctl_plugin_word(HLCTL_PLUGIN_UNKNOWN), "UNKNOWN");

    /* judging: critical first, then warning */
    hlctl_plugin_t p = {.name = "T"};
    CHECK_EQ(hlctl_range_parse("5", &p.warn, NULL), 0);
    CHECK_EQ(hlctl_range_parse("10", &p.crit, NULL), 0);
    CHECK_EQ(hlctl_plugin_judge(&p, 3), HLCTL_PLUGIN_OK);
    CHECK_EQ(hlctl_plugin_judge(&p, 7), HLCTL_PLUGIN_WARNING);
    CHECK_EQ(hlctl_plugin_judge(&p, 11), HLCTL_PLUGIN_CRITICAL);
    CHECK_EQ(p.status, HLCTL_PLUGIN_CRITICAL);
    /* perfdata: quoted label (a quote doubled, '|' and control bytes
     * replaced), thresholds as given, min/max left out when NaN */
    hlctl_plugin_perf(&p, "it's a|b\n", 1.5, "s", true, 0, NAN);
    hlctl_plugin_perf(&p, "n", 2, "", false, NAN, 4);
    CHECK_STR(p.perf.data, "'it''s a_b\\n'=1.5s;5;10;0; 'n'=2;;;;4");
    hlctl_plugin_text(&p, "a|b\x1b[31m");
    CHECK_STR(p.text.data, "a/b\\x1b[31m");
    hlb_buf_free(&p.perf);
    hlb_buf_free(&p.json_perf);
    hlb_buf_free(&p.text);
    return check_done();
}
