/* hl-stdio's config section: defaults, every key, and errors with lines. */
#include <errno.h>
#include <grp.h>
#include <unistd.h>

#include "config.h"
#include "t.h"

static int parse(const char *yaml, stdio_settings_t *s, hlb_diag_t *d)
{
    memset(d, 0, sizeof *d);
    hlb_conf_t *c = hlb_conf_parse("test.yaml", yaml, d);
    REQUIRE(c);
    int rc = stdio_settings_parse(hlb_conf_get(c, "hl-stdio"), "/run/hl-test", s, d);
    hlb_conf_destroy(&c);
    return rc;
}

static void test_defaults(void)
{
    stdio_settings_t s;
    hlb_diag_t d;
    CHECK(parse("other: 1\n", &s, &d) == 0);
    CHECK_EQ_U(s.n_chans, 1);
    CHECK(strcmp(s.chans[0].name, "main") == 0);
    CHECK(strcmp(s.chans[0].path, "/run/hl-test/stdio.sock") == 0);
    CHECK(s.chans[0].ro_path == NULL);
    CHECK_EQ_U(s.chans[0].mode, 0660);
    struct group *hl = getgrnam(STDIO_DEFAULT_GROUP);
    CHECK(s.chans[0].gid == (hl ? hl->gr_gid : STDIO_NO_GID));
    CHECK_EQ_U(s.chans[0].scrollback, 1 << 20);
    CHECK(!s.chans[0].publish); /* terminal bytes stay off the open bus by default */
    CHECK(strcmp(s.relay.attach_path, "/run/hl-test/stdio-attach.sock") == 0);
    CHECK_EQ_U(s.relay.stall_timeout_ms, 250);
    CHECK_EQ_U(s.relay.n_channels, 1);
    stdio_settings_free(&s);
    hlb_diag_free(&d);
}

static void test_full(void)
{
    stdio_settings_t s;
    hlb_diag_t d;
    const char *y = "hl-stdio:\n"
                    "  group: \"0\"\n"
                    "  mode: \"0600\"\n"
                    "  scrollback: 2MiB\n"
                    "  max_clients: 8\n"
                    "  stall_timeout: 0\n"
                    "  hello_timeout: 1s\n"
                    "  drain_timeout: 250ms\n"
                    "  read_chunk: 64K\n"
                    "  sndbuf: 1M\n"
                    "  attach_socket: \"\"\n"
                    "  events: {interval: 1s, max_bytes: 4KiB, clients_per_second: 5}\n"
                    "  channels:\n"
                    "    - name: main\n"
                    "      read_only_socket: stdio.ro.sock\n"
                    "    - name: dev-server\n"
                    "      socket: /tmp/dev.sock\n"
                    "      scrollback: 64KiB\n"
                    "      mode: \"0660\"\n"
                    "      publish: false\n";
    int rc = parse(y, &s, &d);
    if (rc)
        fprintf(stderr, "%s", d.text);
    CHECK(rc == 0);
    CHECK_EQ_U(s.n_chans, 2);
    CHECK(s.relay.attach_path == NULL);
    CHECK_EQ_U(s.relay.stall_timeout_ms, 0);
    CHECK_EQ_U(s.relay.hello_timeout_ms, 1000);
    CHECK_EQ_U(s.relay.drain_timeout_ms, 250);
    CHECK_EQ_U(s.relay.read_chunk, 65536);
    CHECK_EQ_U(s.relay.sndbuf, 1 << 20);
    CHECK_EQ_U(s.relay.event_interval_ms, 1000);
    CHECK_EQ_U(s.relay.event_max_bytes, 4096);
    CHECK_EQ_U(s.client_events_per_sec, 5);
    CHECK(strcmp(s.chans[0].path, "/run/hl-test/stdio.sock") == 0);
    CHECK(strcmp(s.chans[0].ro_path, "/run/hl-test/stdio.ro.sock") == 0);
    CHECK_EQ_U(s.chans[0].gid, 0);
    CHECK_EQ_U(s.chans[0].mode, 0600);
    CHECK_EQ_U(s.chans[0].scrollback, 2 << 20);
    CHECK_EQ_U(s.chans[0].max_clients, 8);
    CHECK(strcmp(s.chans[1].name, "dev-server") == 0);
    CHECK(strcmp(s.chans[1].path, "/tmp/dev.sock") == 0);
    CHECK_EQ_U(s.chans[1].scrollback, 65536);
    CHECK_EQ_U(s.chans[1].mode, 0660);
    CHECK(!s.chans[1].publish);
    stdio_settings_free(&s);
    hlb_diag_free(&d);
    /* A second channel gets its own default socket name. */
    CHECK(parse("hl-stdio:\n  channels: [{name: main}, {name: tests}]\n", &s, &d) == 0);
    CHECK(strcmp(s.chans[1].path, "/run/hl-test/stdio-tests.sock") == 0);
    stdio_settings_free(&s);
    hlb_diag_free(&d);
}

static void expect_error(const char *yaml, const char *needle)
{
    stdio_settings_t s;
    hlb_diag_t d;
    int rc = parse(yaml, &s, &d);
    CHECK(rc == -EINVAL);
    bool found = d.text && strstr(d.text, needle);
    if (!found)
        fprintf(stderr, "expected \"%s\" in:\n%s\n", needle, d.text ? d.text : "(nothing)");
    CHECK(found);
    stdio_settings_free(&s);
    hlb_diag_free(&d);
}

static void test_errors(void)
{
    expect_error("hl-stdio:\n  mode: \"0666\"\n", "test.yaml:2: 'mode' 0666 gives everyone access");
    expect_error("hl-stdio:\n  channels:\n    - name: x\n      mode: \"0644\"\n",
                 "test.yaml:4: 'mode' 0644 gives everyone");
    expect_error("hl-stdio:\n  mode: rw\n", "octal mode");
    expect_error("hl-stdio:\n  group: no-such-group-here\n", "test.yaml:2: 'group': no group named");
    expect_error("hl-stdio:\n  scrollback: 1PB\n", "test.yaml:2: 'scrollback' must be a size");
    expect_error("hl-stdio:\n  scrollback: 10\n", "between 4096");
    expect_error("hl-stdio:\n  stall_timeout: soon\n", "duration");
    expect_error("hl-stdio:\n  colour: blue\n", "colour");
    expect_error("hl-stdio:\n  events: {rate: 1}\n", "rate");
    expect_error("hl-stdio:\n  channels: []\n", "at least one channel");
    expect_error("hl-stdio:\n  channels: [{name: Main}]\n", "[a-z0-9-]");
    expect_error("hl-stdio:\n  channels: [{name: a}, {name: a}]\n", "defined twice");
    expect_error("hl-stdio:\n  channels: [{name: a, socket: x.sock}, {name: b, socket: x.sock}]\n",
                 "used twice");
    expect_error("hl-stdio:\n  channels:\n    - name: a\n      socket: /aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.sock\n",
                 "test.yaml:4: 'socket': socket path");
    expect_error("hl-stdio:\n  channels: [{name: a, publish: maybe}]\n", "publish");
    expect_error("hl-stdio: [1, 2]\n", "must be a map");
}

static void test_sizes(void)
{
    uint64_t v;
    CHECK(stdio_parse_size("4096", &v) == 0 && v == 4096);
    CHECK(stdio_parse_size("64K", &v) == 0 && v == 65536);
    CHECK(stdio_parse_size("1MiB", &v) == 0 && v == 1 << 20);
    CHECK(stdio_parse_size("2G", &v) == 0 && v == 2ull << 30);
    CHECK(stdio_parse_size("0B", &v) == 0 && v == 0);
    CHECK(stdio_parse_size("", &v) < 0);
    CHECK(stdio_parse_size("-1", &v) < 0);
    CHECK(stdio_parse_size("1 MiB", &v) < 0);
    CHECK(stdio_parse_size("1MB", &v) < 0);
    CHECK(stdio_parse_size("99999999999999999999", &v) < 0);
    CHECK(stdio_parse_size("17179869184G", &v) < 0);
    mode_t m;
    CHECK(stdio_parse_mode("0660", &m) == 0 && m == 0660);
    CHECK(stdio_parse_mode("600", &m) == 0 && m == 0600);
    CHECK(stdio_parse_mode("0668", &m) < 0);
    CHECK(stdio_parse_mode("00660", &m) < 0);
}

int main(void)
{
    TEST(test_defaults);
    TEST(test_full);
    TEST(test_errors);
    TEST(test_sizes);
    return check_done();
}
