/* The declarative config schema: defaults, limits, unknown keys with
 * file:line, wrong types, nested tables, lists and maps of entries, secrets
 * from files and credentials (never inline), restart-only keys, and the
 * check of top-level sections. */
#include <hlbus/hlbus.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"

typedef struct {
    char *name;
    char *url;
    int port;
    bool critical;
} entry_t;

typedef struct {
    int64_t interval_ms;
    int depth;
} inner_t;

typedef struct {
    char *listen;
    int64_t retries;
    unsigned short small;
    double ratio;
    bool enabled;
    int timeout_ms;
    uint64_t scrollback;
    mode_t mode;
    int colour;
    char **tags;
    char *token;
    inner_t inner;
    hlb_conf_vec_t checks;   /* entry_t */
    hlb_conf_vec_t services; /* entry_t, by name */
} sample_t;

static const hlb_conf_key_t entry_keys[] = {
    HLB_KEY_STR(entry_t, url, NULL, HLB_KEY_REQUIRED),
    HLB_KEY_INT(entry_t, port, "80", 1, 65535, 0),
    HLB_KEY_BOOL(entry_t, critical, "false", 0),
    {0}};
static const hlb_conf_table_t entry_table = {.name = "entry", .size = sizeof(entry_t),
                                             .keys = entry_keys,
                                             .name_offset = offsetof(entry_t, name),
                                             .has_name = true};
static const hlb_conf_key_t inner_keys[] = {
    HLB_KEY("interval", HLB_KIND_DURATION, inner_t, interval_ms, .def = "5s", .min = 100,
            .max = 3600000),
    HLB_KEY_INT(inner_t, depth, "2", 1, 8, HLB_KEY_RESTART),
    {0}};
static const hlb_conf_table_t inner_table = {.name = "inner", .size = sizeof(inner_t),
                                             .keys = inner_keys};
static const char *const colours[] = {"red", "green", "blue", NULL};

static int n_checks_seen;
static int count_check(void *obj, const hlb_conf_t *node, void *ctx, hlb_diag_t *d)
{
    sample_t *s = obj;
    n_checks_seen++;
    if (s->retries > 5 && !s->enabled)
        hlb_diag_add(d, node, "retries above 5 need enabled");
    return 0;
}

static const hlb_conf_key_t sample_keys[] = {
    HLB_KEY_STR(sample_t, listen, "127.0.0.1:8081", HLB_KEY_RESTART),
    HLB_KEY_INT(sample_t, retries, "3", 0, 10, 0),
    HLB_KEY_INT(sample_t, small, "7", 0, 0, 0), /* limited by the field's width */
    HLB_KEY_DOUBLE(sample_t, ratio, "0.5", 0, 1, 0),
    HLB_KEY_BOOL(sample_t, enabled, "yes", 0),
    HLB_KEY("timeout", HLB_KIND_DURATION, sample_t, timeout_ms, .def = "250ms", .min = 10,
            .max = 60000),
    HLB_KEY_SIZE(sample_t, scrollback, "1MiB", 4096, 1 << 30, 0),
    HLB_KEY_MODE(sample_t, mode, "0660", 0, 0770, 0),
    HLB_KEY_ENUM(sample_t, colour, "green", colours, 0),
    HLB_KEY_STRV(sample_t, tags, "[a, b]", 3, 0),
    HLB_KEY_SECRET(sample_t, token, 0),
    HLB_KEY_TABLE(sample_t, inner, &inner_table, 0),
    HLB_KEY_LIST(sample_t, checks, &entry_table, 4, 0),
    HLB_KEY_DICT(sample_t, services, &entry_table, 0, 0),
    {0}};
static const hlb_conf_table_t sample_table = {.name = "sample", .size = sizeof(sample_t),
                                              .keys = sample_keys, .check = count_check};

static int parse(const char *text, sample_t *s, hlb_diag_t *d)
{
    hlb_conf_t *c = hlb_conf_parse("t.yaml", text, d);
    CHECK(c != NULL);
    int rc = hlb_conf_schema_parse(&sample_table, hlb_conf_get(c, "sample"), s, NULL, d);
    hlb_conf_destroy(&c);
    return rc;
}

static void test_defaults(void)
{
    hlb_diag_t d = {0};
    sample_t s;
    n_checks_seen = 0;
    CHECK(parse("other: {}\n", &s, &d) == 0);
    CHECK(d.errors == 0);
    CHECK(n_checks_seen == 1); /* the check hook runs for an absent section too */
    CHECK(strcmp(s.listen, "127.0.0.1:8081") == 0);
    CHECK(s.retries == 3 && s.small == 7 && s.ratio == 0.5 && s.enabled);
    CHECK(s.timeout_ms == 250 && s.scrollback == 1u << 20 && s.mode == 0660);
    CHECK(s.colour == 1);
    CHECK(s.tags && strcmp(s.tags[0], "a") == 0 && strcmp(s.tags[1], "b") == 0 && !s.tags[2]);
    CHECK(s.token == NULL);
    CHECK(s.inner.interval_ms == 5000 && s.inner.depth == 2); /* absent table: its defaults */
    CHECK(s.checks.n == 0 && s.services.n == 0);
    hlb_conf_schema_free(&sample_table, &s);
    CHECK(s.listen == NULL && s.tags == NULL);
}

static void test_values(void)
{
    hlb_diag_t d = {0};
    sample_t s;
    CHECK(parse("sample:\n"
                "  listen: 0.0.0.0:9\n"
                "  retries: 4\n"
                "  small: 65000\n"
                "  ratio: 0.25\n"
                "  enabled: off\n"
                "  timeout: 2s\n"
                "  scrollback: 64K\n"
                "  mode: \"0600\"\n"
                "  colour: blue\n"
                "  tags: [x]\n"
                "  inner: {interval: 1m}\n"
                "  checks:\n"
                "    - {url: http://a, port: 81}\n"
                "    - url: http://b\n"
                "      critical: true\n"
                "  services:\n"
                "    web: {url: http://w}\n"
                "    db:\n", /* empty: all defaults, but url is required */
                &s, &d) == -EINVAL);
    CHECK_MSG(d.errors == 1 && d.text && strstr(d.text, "t.yaml:19: 'db' needs 'url'"), "%s", d.text);
    hlb_diag_free(&d);
    CHECK(strcmp(s.listen, "0.0.0.0:9") == 0 && s.retries == 4 && s.small == 65000);
    CHECK(s.ratio == 0.25 && !s.enabled && s.timeout_ms == 2000 && s.scrollback == 65536);
    CHECK(s.mode == 0600 && s.colour == 2 && strcmp(s.tags[0], "x") == 0 && !s.tags[1]);
    CHECK(s.inner.interval_ms == 60000 && s.inner.depth == 2);
    CHECK(s.checks.n == 2);
    entry_t *e = s.checks.items;
    CHECK(strcmp(e[0].url, "http://a") == 0 && e[0].port == 81 && !e[0].critical);
    CHECK(strcmp(e[1].url, "http://b") == 0 && e[1].port == 80 && e[1].critical);
    CHECK(s.services.n == 2);
    e = s.services.items;
    CHECK(strcmp(e[0].name, "web") == 0 && strcmp(e[0].url, "http://w") == 0);
    CHECK(strcmp(e[1].name, "db") == 0 && e[1].url == NULL && e[1].port == 80);
    hlb_conf_schema_free(&sample_table, &s);
}

static void test_errors(void)
{
    hlb_diag_t d = {0};
    sample_t s;
    CHECK(parse("sample:\n"
                "  retries: many\n"          /* 2 */
                "  small: 70000\n"           /* 3: wider than the field */
                "  ratio: 2\n"               /* 4 */
                "  enabled: maybe\n"         /* 5 */
                "  timeout: soon\n"          /* 6 */
                "  scrollback: 1K\n"         /* 7: below 4096 */
                "  mode: \"0777\"\n"         /* 8 */
                "  colour: pink\n"           /* 9 */
                "  tags: [a, b, c, d]\n"     /* 10 */
                "  listen: [a]\n"            /* 11 */
                "  colur: red\n"             /* 12 */
                "  inner: {interval: 1ms, deep: 1}\n" /* 13 */
                "  checks:\n"                /* 14 */
                "    - port: 99999\n"        /* 15 */
                "    - notamap\n"            /* 16 */
                "  services: [x]\n",         /* 17 */
                &s, &d) == -EINVAL);
    const char *want[] = {
        "t.yaml:2: 'retries' must be an integer, not 'many'",
        "t.yaml:3: 'small' must be between 0 and 65535, not 70000",
        "t.yaml:4: 'ratio' must be between 0 and 1, not 2",
        "t.yaml:5: 'enabled' must be true or false, not 'maybe'",
        "t.yaml:6: 'timeout' must be a duration like 500ms",
        "t.yaml:7: 'scrollback' must be between 4096 bytes and 1073741824 bytes, not 1024 bytes",
        "t.yaml:8: 'mode' must be between 0000 and 0770, not 0777",
        "t.yaml:9: 'colour' must be one of red, green, blue, not 'pink'",
        "t.yaml:10: 'tags' holds 4 items; at most 3",
        "t.yaml:11: 'listen' must be a string, not a list",
        "t.yaml:12: unknown key 'colur' in 'sample' (known: listen, retries,",
        "t.yaml:13: 'interval' must be between 100ms and 3600000ms, not 1ms",
        "t.yaml:13: unknown key 'deep' in 'inner' (known: interval, depth)",
        "t.yaml:15: 'port' must be between 1 and 65535",
        "t.yaml:15: 'entry' needs 'url'",
        "t.yaml:16: an entry of 'checks' must be a map",
        "t.yaml:17: 'services' must be a map of name: {settings}",
    };
    for (size_t i = 0; i < sizeof want / sizeof *want; i++)
        CHECK_MSG(d.text && strstr(d.text, want[i]), "no '%s' in:\n%s", want[i], d.text);
    /* bad values keep the default */
    CHECK(s.retries == 3 && s.ratio == 0.5 && s.enabled && s.colour == 1);
    hlb_conf_schema_free(&sample_table, &s);
    hlb_diag_free(&d);

    /* the table's check hook sees the parsed values */
    CHECK(parse("sample: {retries: 6, enabled: no}\n", &s, &d) == -EINVAL);
    CHECK(d.text && strstr(d.text, "t.yaml:1: retries above 5 need enabled"));
    hlb_conf_schema_free(&sample_table, &s);
    hlb_diag_free(&d);

    /* a section that is not a map */
    CHECK(parse("sample: [1]\n", &s, &d) == -EINVAL);
    CHECK(d.text && strstr(d.text, "t.yaml:1: 'sample' must be a map"));
    hlb_conf_schema_free(&sample_table, &s);
    hlb_diag_free(&d);
}

static void test_secrets(void)
{
    hlb_diag_t d = {0};
    sample_t s;
    /* inline: refused, and the value is not repeated in the message */
    CHECK(parse("sample:\n  token: hunter2-inline\n", &s, &d) == -EINVAL);
    CHECK(d.text && strstr(d.text, "t.yaml:2: 'token' is a secret and is not read inline"));
    CHECK(d.text && !strstr(d.text, "hunter2"));
    hlb_conf_schema_free(&sample_table, &s);
    hlb_diag_free(&d);

    char dir[] = "/tmp/confschema.XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char path[256], text[512];
    snprintf(path, sizeof path, "%s/token", dir);
    FILE *f = fopen(path, "w");
    fputs("s3cret\n", f);
    fclose(f);
    chmod(path, 0640);
    snprintf(text, sizeof text, "sample:\n  token_file: %s\n", path);
    CHECK(parse(text, &s, &d) == 0);
    CHECK_MSG(s.token && strcmp(s.token, "s3cret") == 0, "token %s", s.token ? s.token : "NULL");
    hlb_conf_schema_free(&sample_table, &s);
    CHECK(s.token == NULL);

    /* a credential: $CREDENTIALS_DIRECTORY/<name> (systemd's LoadCredential=) */
    unsetenv("CREDENTIALS_DIRECTORY");
    CHECK(parse("sample:\n  token_credential: token\n", &s, &d) == -EINVAL);
    CHECK(d.text && strstr(d.text, "t.yaml:2: 'token_credential: token' needs systemd credentials"));
    hlb_conf_schema_free(&sample_table, &s);
    hlb_diag_free(&d);
    setenv("CREDENTIALS_DIRECTORY", dir, 1);
    CHECK(parse("sample:\n  token_credential: token\n", &s, &d) == 0);
    CHECK(s.token && strcmp(s.token, "s3cret") == 0);
    hlb_conf_schema_free(&sample_table, &s);
    CHECK(parse("sample:\n  token_credential: ../etc/passwd\n", &s, &d) == -EINVAL);
    CHECK(d.text && strstr(d.text, "must be a credential name"));
    hlb_conf_schema_free(&sample_table, &s);
    hlb_diag_free(&d);
    unsetenv("CREDENTIALS_DIRECTORY");

    /* a secret file everyone may read is refused */
    chmod(path, 0644);
    CHECK(parse(text, &s, &d) == -EINVAL);
    CHECK(d.text && strstr(d.text, "is readable by everyone"));
    hlb_conf_schema_free(&sample_table, &s);
    hlb_diag_free(&d);
    chmod(path, 0600);

    /* a missing file and a file of two lines */
    CHECK(parse("sample:\n  token_file: /nonexistent/token\n", &s, &d) == -EINVAL);
    CHECK(d.text && strstr(d.text, "t.yaml:2: token_file: cannot read /nonexistent/token"));
    hlb_conf_schema_free(&sample_table, &s);
    hlb_diag_free(&d);
    f = fopen(path, "w");
    fputs("one\ntwo\n", f);
    fclose(f);
    CHECK(parse(text, &s, &d) == -EINVAL);
    CHECK(d.text && strstr(d.text, "must hold one line"));
    hlb_conf_schema_free(&sample_table, &s);
    hlb_diag_free(&d);
    unlink(path);
    rmdir(dir);
}

static void test_restart_keys(void)
{
    hlb_diag_t d = {0};
    sample_t a, b;
    CHECK(parse("sample: {listen: a, retries: 1}\n", &a, &d) == 0);
    CHECK(parse("sample: {listen: a, retries: 2}\n", &b, &d) == 0);
    char **keys = NULL;
    CHECK(hlb_conf_schema_restart_keys(&sample_table, "sample", &a, &b, &keys) == 0);
    CHECK(keys == NULL);
    hlb_conf_schema_free(&sample_table, &b);
    CHECK(parse("sample: {listen: b, inner: {depth: 3}}\n", &b, &d) == 0);
    CHECK(hlb_conf_schema_restart_keys(&sample_table, "sample", &a, &b, &keys) == 2);
    CHECK(keys && strcmp(keys[0], "sample.listen") == 0 && strcmp(keys[1], "sample.inner.depth") == 0);
    for (size_t i = 0; keys && keys[i]; i++)
        free(keys[i]);
    free(keys);
    hlb_conf_schema_free(&sample_table, &a);
    hlb_conf_schema_free(&sample_table, &b);

    char *help = hlb_conf_schema_help(&sample_table);
    CHECK(help && strstr(help, "listen (127.0.0.1:8081) [restart]") && strstr(help, "token_file|_credential"));
    free(help);
}

static void test_sections(void)
{
    hlb_diag_t d = {0};
    hlb_conf_t *c = hlb_conf_parse("t.yaml",
                                   "admin_group: hl-admin\n"
                                   "log: {level: info}\n"
                                   "hl-bus: {}\n"
                                   "hl_health: {}\n"
                                   "hl-helth: {}\n"
                                   /* every directory under daemons/ is a section */
                                   "hl-orchestrator: {}\n"
                                   "hl-service-runner: {}\n"
                                   "hlctl: {}\n"
                                   /* and the e2e tier's hl-testd, by its
                                    * hl_conf_section() (tests/fixtures) */
                                   "hl-testd: {}\n",
                                   &d);
    CHECK(hlb_conf_check_sections(c, &d) == -EINVAL);
    CHECK(d.errors == 2);
    CHECK(d.text && strstr(d.text, ", hl-stdio"));
    CHECK(d.text && strstr(d.text, "t.yaml:4: unknown section 'hl_health' (known: admin_group"));
    CHECK(d.text && strstr(d.text, "t.yaml:5: unknown section 'hl-helth'"));
    hlb_diag_free(&d);
    hlb_conf_destroy(&c);
}

static void test_parsers(void)
{
    uint64_t v;
    CHECK(hlb_parse_size("1MiB", &v) == 0 && v == 1u << 20);
    CHECK(hlb_parse_size("64K", &v) == 0 && v == 65536);
    CHECK(hlb_parse_size("4096", &v) == 0 && v == 4096);
    CHECK(hlb_parse_size("1.5M", &v) == -EINVAL);
    CHECK(hlb_parse_size("-1", &v) == -EINVAL);
    CHECK(hlb_parse_size("99999999999G", &v) == -EINVAL);
    mode_t m;
    CHECK(hlb_parse_mode("0660", &m) == 0 && m == 0660);
    CHECK(hlb_parse_mode("0980", &m) == -EINVAL);
    CHECK(hlb_parse_mode("01777x", &m) == -EINVAL);
}

int main(void)
{
    test_defaults();
    test_values();
    test_errors();
    test_secrets();
    test_restart_keys();
    test_sections();
    test_parsers();
    printf("%d passed, %d failed\n", check_passed, check_failed);
    return check_failed ? 1 : 0;
}
