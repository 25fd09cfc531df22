/* Config: YAML tree, typed getters, diagnostics with file:line, drop-ins. */
#include <hlbus/hlbus.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
}

static void test_getters(void)
{
    hlb_diag_t d = {0};
    hlb_conf_t *c = hlb_conf_parse("t.yaml",
                                   "hl-health:\n"
                                   "  interval: 10s\n"
                                   "  retries: 3\n"
                                   "  ratio: 0.5\n"
                                   "  enabled: yes\n"
                                   "  checks:\n"
                                   "    - name: a\n"
                                   "    - name: b\n",
                                   &d);
    CHECK(c != NULL);
    int64_t v;
    double r;
    bool b;
    CHECK(hlb_conf_duration_ms(c, "hl-health.interval", 0, 0, 100000, &v, &d) == 0 && v == 10000);
    CHECK(hlb_conf_int(c, "hl-health.retries", 0, 0, 10, &v, &d) == 0 && v == 3);
    CHECK(hlb_conf_double(c, "hl-health.ratio", 0, 0, 1, &r, &d) == 0 && r == 0.5);
    CHECK(hlb_conf_bool(c, "hl-health.enabled", false, &b, &d) == 0 && b);
    CHECK(hlb_conf_int(c, "hl-health.absent", 7, 0, 10, &v, &d) == 0 && v == 7);
    const hlb_conf_t *checks = hlb_conf_get(c, "hl-health.checks");
    CHECK(checks && hlb_conf_kind(checks) == HLB_CONF_SEQ && hlb_conf_count(checks) == 2);
    const char *name;
    hlb_conf_str(hlb_conf_at(checks, 1), "name", NULL, &name, &d);
    CHECK(name && strcmp(name, "b") == 0);
    CHECK(d.errors == 0);

    /* wrong values: default kept, one error each, naming file and line */
    CHECK(hlb_conf_int(c, "hl-health.interval", 5, 0, 10, &v, &d) == -EINVAL && v == 5);
    CHECK(d.text && strstr(d.text, "t.yaml:2: 'hl-health.interval' must be an integer"));
    CHECK(hlb_conf_int(c, "hl-health.retries", 5, 4, 10, &v, &d) == -EINVAL);
    CHECK(strstr(d.text, "t.yaml:3:") && strstr(d.text, "between 4 and 10"));
    CHECK(hlb_conf_str(c, "hl-health.checks", NULL, &name, &d) == -EINVAL);
    CHECK(strstr(d.text, "t.yaml:6: 'hl-health.checks' must be a single value"));
    static const char *const keys[] = {"interval", "retries", "ratio", "enabled", NULL};
    CHECK(hlb_conf_check_keys(hlb_conf_get(c, "hl-health"), keys, &d) == -EINVAL);
    CHECK(strstr(d.text, "t.yaml:6: unknown key 'checks' in 'hl-health'"));
    CHECK(d.errors == 4);
    hlb_diag_free(&d);
    hlb_conf_destroy(&c);
}

static void test_syntax_errors(void)
{
    hlb_diag_t d = {0};
    CHECK(hlb_conf_parse("bad.yaml", "a: 1\nb: [1, 2\nc: 3\n", &d) == NULL);
    CHECK(d.errors == 1 && strstr(d.text, "bad.yaml:"));
    hlb_diag_free(&d);
    CHECK(hlb_conf_parse("dup.yaml", "a: 1\nb: 2\na: 3\n", &d) == NULL);
    CHECK(d.text && strstr(d.text, "dup.yaml:3: duplicate key 'a' (first at line 1)"));
    hlb_diag_free(&d);
    CHECK(hlb_conf_parse("alias.yaml", "a: &x 1\nb: *x\n", &d) == NULL);
    CHECK(d.text && strstr(d.text, "aliases are not supported"));
    hlb_diag_free(&d);
    CHECK(hlb_conf_parse("list.yaml", "- a\n- b\n", &d) == NULL);
    CHECK(d.text && strstr(d.text, "top level must be a map"));
    hlb_diag_free(&d);
    hlb_conf_t *c = hlb_conf_parse("empty.yaml", "", &d);
    CHECK(c && hlb_conf_count(c) == 0 && d.errors == 0);
    hlb_conf_destroy(&c);
    /* deep nesting is refused, not recursed into without bound */
    char deep[1024] = "";
    for (int i = 0; i < 100; i++)
        strcat(deep, "[");
    CHECK(hlb_conf_parse("deep.yaml", deep, &d) == NULL && d.errors >= 1);
    hlb_diag_free(&d);
}

static void test_dropins(void)
{
    char dir[] = "/tmp/hlconfXXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char path[256], dpath[256], f1[300], f2[300], f3[300];
    snprintf(path, sizeof path, "%s/hl.yaml", dir);
    snprintf(dpath, sizeof dpath, "%s/hl.d", dir);
    mkdir(dpath, 0755);
    snprintf(f1, sizeof f1, "%s/10-a.yaml", dpath);
    snprintf(f2, sizeof f2, "%s/20-b.yaml", dpath);
    snprintf(f3, sizeof f3, "%s/ignored.conf", dpath);
    write_file(path, "hl-bus:\n  hwm: 10\n  stats_depth: 1\nlog:\n  level: info\n");
    write_file(f1, "hl-bus:\n  hwm: 20\n");
    write_file(f2, "hl-bus:\n  lvc_prefixes: [a., b.]\nlog:\n  level: debug\n");
    write_file(f3, "hl-bus: [garbage\n");
    hlb_diag_t d = {0};
    hlb_conf_t *c = hlb_conf_load(path, false, &d);
    CHECK(c != NULL && d.errors == 0);
    int64_t v;
    hlb_conf_int(c, "hl-bus.hwm", 0, 0, 1000, &v, &d);
    CHECK(v == 20);
    hlb_conf_int(c, "hl-bus.stats_depth", 0, 0, 1000, &v, &d);
    CHECK(v == 1);
    const hlb_conf_t *l = hlb_conf_get(c, "hl-bus.lvc_prefixes");
    CHECK(l && hlb_conf_count(l) == 2);
    const char *lvl;
    hlb_conf_str(c, "log.level", NULL, &lvl, &d);
    CHECK(lvl && strcmp(lvl, "debug") == 0);
    /* a value from a drop-in is reported at the drop-in's file and line */
    hlb_conf_int(c, "hl-bus.hwm", 0, 0, 5, &v, &d);
    CHECK_MSG(d.text && strstr(d.text, "10-a.yaml:2:"), "%s", d.text ? d.text : "");
    hlb_diag_free(&d);
    hlb_conf_destroy(&c);

    /* an error in a drop-in fails the whole load and names the drop-in */
    write_file(f2, "hl-bus:\n  hwm: [1\n");
    CHECK(hlb_conf_load(path, false, &d) == NULL);
    CHECK(d.text && strstr(d.text, "20-b.yaml"));
    hlb_diag_free(&d);

    /* missing main file: fine when allowed, an error otherwise */
    unlink(f2);
    unlink(path);
    c = hlb_conf_load(path, true, &d);
    CHECK(c != NULL && d.errors == 0);
    hlb_conf_destroy(&c);
    CHECK(hlb_conf_load(path, false, &d) == NULL && strstr(d.text, "cannot read"));
    hlb_diag_free(&d);
    unlink(f1);
    unlink(f3);
    rmdir(dpath);
    rmdir(dir);
}

static void test_parsers(void)
{
    int64_t v;
    CHECK(hlb_parse_duration_ms("250ms", &v) == 0 && v == 250);
    CHECK(hlb_parse_duration_ms("1.5s", &v) == 0 && v == 1500);
    CHECK(hlb_parse_duration_ms("5m", &v) == 0 && v == 300000);
    CHECK(hlb_parse_duration_ms("2h", &v) == 0 && v == 7200000);
    CHECK(hlb_parse_duration_ms("30", &v) == 0 && v == 30000);
    CHECK(hlb_parse_duration_ms("-1s", &v) == -EINVAL);
    CHECK(hlb_parse_duration_ms("10 parsecs", &v) == -EINVAL);
    CHECK(hlb_parse_duration_ms("", &v) == -EINVAL);
    CHECK(hlb_parse_int("42", &v) == 0 && v == 42);
    CHECK(hlb_parse_int("-7", &v) == 0 && v == -7);
    CHECK(hlb_parse_int("4x", &v) == -EINVAL);
    CHECK(hlb_parse_int("99999999999999999999", &v) == -ERANGE);
}

int main(void)
{
    test_getters();
    test_syntax_errors();
    test_dropins();
    test_parsers();
    return check_done();
}
