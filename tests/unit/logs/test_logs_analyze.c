/* hlctl logs analyze's core on a fixture log (tests/fixtures/logs: a
 * rotated file and the current one, and a line that is not JSON): expected
 * error counts after normalisation, duration percentiles, health summary,
 * and the filters. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "lg_analyze.h"

static const char *fixtures;

typedef struct {
    lg_filter_t f;
    lg_analysis_t *a;
    unsigned matched;
} ctx_t;

static void on_line(const char *line, size_t n, void *arg)
{
    ctx_t *c = arg;
    lg_line_t l;
    if (!lg_line_parse(line, n, &l) || !lg_filter_match(&c->f, &l))
        return;
    c->matched++;
    lg_analysis_add(c->a, &l);
}

static ctx_t run(const char *service, int max_priority, uint64_t since)
{
    ctx_t c = {{service, max_priority, since}, lg_analysis_new(), 0};
    bool truncated;
    lg_scan_dir(fixtures, NULL, 1 << 30, false, &truncated, on_line, &c);
    CHECK(!truncated);
    return c;
}

static bool near(double a, double b) { return fabs(a - b) < 1e-9; }

static void test_analysis(void)
{
    ctx_t c = run(NULL, -1, 0);
    CHECK_EQ(lg_analysis_records(c.a), 123u); /* the line that is not JSON is not one */
    CHECK_EQ(lg_analysis_errors(c.a), 7u);
    CHECK_EQ(lg_analysis_warnings(c.a), 1u);
    const lg_error_row_t *e;
    size_t n = lg_analysis_top_errors(c.a, 10, &e);
    REQUIRE(n == 5);
    CHECK_STR(e[0].pattern, "connection to db id=N failed after N retries");
    CHECK_EQ(e[0].count, 3u);
    CHECK_STR(e[0].service, "web");
    CHECK_STR(e[0].example, "connection to db id=44 failed after 3 retries");
    /* /dev/sdaN and /dev/sdbN stay apart (letters differ); the same words
     * from api are api's own; one each */
    CHECK_EQ(e[1].count + e[2].count + e[3].count + e[4].count, 4u);
    bool api = false, hexid = false;
    for (size_t i = 0; i < n; i++) {
        api |= !strcmp(e[i].service, "api") && e[i].count == 1;
        hexid |= !strcmp(e[i].pattern, "request H failed");
    }
    CHECK(api);
    CHECK(hexid);
    const lg_duration_row_t *d;
    size_t nd = lg_analysis_durations(c.a, &d);
    REQUIRE(nd == 1);
    CHECK_STR(d[0].field, "request_duration");
    CHECK_EQ(d[0].count, 110u);
    lg_analysis_free(&c.a);

    /* one service: the fields and the message's key=value alike */
    c = run("web", -1, 0);
    nd = lg_analysis_durations(c.a, &d);
    REQUIRE(nd == 1);
    CHECK_EQ(d[0].count, 100u);
    CHECK(near(d[0].mean, 0.0505));
    CHECK(near(d[0].p50, 0.050));
    CHECK(near(d[0].p95, 0.095));
    CHECK(near(d[0].p99, 0.099));
    CHECK(near(d[0].max, 0.100));
    const lg_health_row_t *h;
    size_t nh = lg_analysis_health(c.a, &h);
    REQUIRE(nh == 2); /* web's checks of web and of db, by their service field */
    CHECK_STR(h[1].service, "db");
    CHECK_EQ(h[1].degraded, 1u);
    CHECK_STR(h[0].service, "web");
    CHECK_EQ(h[0].checks, 4u);
    CHECK_EQ(h[0].healthy, 3u);
    CHECK_EQ(h[0].unhealthy, 1u);
    CHECK_STR(h[0].last, "healthy");
    lg_analysis_free(&c.a);

    c = run("api", -1, 0);
    nd = lg_analysis_durations(c.a, &d);
    REQUIRE(nd == 1);
    CHECK_EQ(d[0].count, 10u);
    CHECK(near(d[0].p50, 5.5));
    CHECK(near(d[0].p95, 10.5));
    CHECK(near(d[0].mean, 6.0));
    lg_analysis_free(&c.a);
}

static void test_filters(void)
{
    ctx_t c = run(NULL, 3, 0); /* error and worse */
    CHECK_EQ(c.matched, 7u);
    lg_analysis_free(&c.a);
    c = run(NULL, 4, 0);
    CHECK_EQ(c.matched, 8u);
    lg_analysis_free(&c.a);
    uint64_t t = lg_parse_asctime("2026-12-07T10:02:00.000000Z", 27);
    CHECK(t > 0);
    c = run(NULL, -1, t); /* records 120 to 123 */
    CHECK_EQ(c.matched, 4u);
    lg_analysis_free(&c.a);
    uint64_t since;
    CHECK_EQ(lg_parse_since("1h", 7200000000ull, &since), 0);
    CHECK_EQ(since, 3600000000ull);
    CHECK(lg_parse_since("1 hour", 0, &since) < 0);
    CHECK_EQ(lg_parse_since("2026-12-07T10:02:00Z", 0, &since), 0);
    CHECK_EQ(since, t);
}

static void test_normalise(void)
{
    hlb_buf_t b = {0};
    lg_normalise("user 12 at 10.0.0.1 uuid 3f2a9c1e-7b4d-4e5f-9a0b-1c2d3e4f5a6b", 62, &b);
    CHECK_STR(b.data, "user N at N uuid H");
    hlb_buf_free(&b);
    lg_normalise("deadbeef cafe", 13, &b); /* no digit: a word, not an id */
    CHECK_STR(b.data, "deadbeef cafe");
    hlb_buf_free(&b);
}

int main(int argc, char **argv)
{
    REQUIRE(argc == 2);
    fixtures = argv[1];
    TEST(test_analysis);
    TEST(test_filters);
    TEST(test_normalise);
    return check_done();
}
