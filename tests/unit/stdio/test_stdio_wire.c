/* The attach protocol: frame headers and the hello line. */
#include <errno.h>

#include "t.h"
#include "wire.h"

static void test_header(void)
{
    uint8_t h[STDIO_WIRE_HDR];
    int type;
    uint32_t len;
    uint64_t off;
    stdio_wire_hdr(h, STDIO_FRAME_DATA, 65536, 0x0102030405060708ULL);
    CHECK(h[0] == 'D' && h[1] == 0 && h[4] == 0 && h[5] == 1 && h[6] == 0 && h[7] == 0);
    CHECK(h[8] == 1 && h[15] == 8);
    CHECK(stdio_wire_hdr_parse(h, &type, &len, &off) == 0);
    CHECK(type == 'D' && len == 65536 && off == 0x0102030405060708ULL);
    stdio_wire_hdr(h, STDIO_FRAME_DATA, 65537, 0);
    CHECK(stdio_wire_hdr_parse(h, &type, &len, &off) < 0);
    stdio_wire_hdr(h, STDIO_FRAME_DATA, 0, 0);
    CHECK(stdio_wire_hdr_parse(h, &type, &len, &off) < 0);
    stdio_wire_hdr(h, STDIO_FRAME_SKIP, 8, UINT64_MAX);
    CHECK(stdio_wire_hdr_parse(h, &type, &len, &off) == 0 && off == UINT64_MAX);
    stdio_wire_hdr(h, STDIO_FRAME_SKIP, 9, 0);
    CHECK(stdio_wire_hdr_parse(h, &type, &len, &off) < 0);
    stdio_wire_hdr(h, STDIO_FRAME_END, 4097, 0);
    CHECK(stdio_wire_hdr_parse(h, &type, &len, &off) < 0);
    stdio_wire_hdr(h, 'Z', 1, 0);
    CHECK(stdio_wire_hdr_parse(h, &type, &len, &off) < 0);
    stdio_wire_hdr(h, STDIO_FRAME_START, 10, 0);
    h[2] = 1;
    CHECK(stdio_wire_hdr_parse(h, &type, &len, &off) < 0);
}

static void test_kv(void)
{
    const char *t = "stream=00ab channel=main head=10 tail=0 missed=5 read-only=1\n";
    char v[32];
    CHECK(stdio_wire_kv(t, strlen(t), "stream", v, sizeof v) && strcmp(v, "00ab") == 0);
    CHECK(stdio_wire_kv(t, strlen(t), "missed", v, sizeof v) && strcmp(v, "5") == 0);
    CHECK(stdio_wire_kv(t, strlen(t), "read-only", v, sizeof v) && strcmp(v, "1") == 0);
    CHECK(!stdio_wire_kv(t, strlen(t), "head=1", v, sizeof v));
    CHECK(!stdio_wire_kv(t, strlen(t), "read", v, sizeof v));
    CHECK(!stdio_wire_kv(t, strlen(t), "channel", v, 4)); /* too long for OUT */
}

static int parse(const char *s, stdio_hello_t *h, char *err)
{
    return stdio_hello_parse(s, strlen(s), h, err, 200);
}

static void test_hello(void)
{
    stdio_hello_t h;
    char err[200];
    CHECK(parse("hl-stdio/1 attach main", &h, err) == 0);
    CHECK(strcmp(h.channel, "main") == 0 && !h.read_only && h.from == STDIO_FROM_DEFAULT);
    CHECK(parse("hl-stdio/1 attach main\r", &h, err) == 0);
    CHECK(parse("hl-stdio/1  attach  dev-2  read-only  from=123", &h, err) == 0);
    CHECK(strcmp(h.channel, "dev-2") == 0 && h.read_only && h.from == STDIO_FROM_OFFSET &&
          h.offset == 123 && !h.has_stream);
    CHECK(parse("hl-stdio/1 attach main from=now", &h, err) == 0 && h.from == STDIO_FROM_NOW);
    CHECK(parse("hl-stdio/1 attach main from=00000001a2b3c4d5:77", &h, err) == 0);
    CHECK(h.has_stream && h.stream == 0x1a2b3c4d5ULL && h.offset == 77);
    CHECK(parse("hl-stdio/1 attach main from=18446744073709551615", &h, err) == 0 &&
          h.offset == UINT64_MAX);

    const char *bad[] = {
        "",
        "hello",
        "hl-stdio/2 attach main",
        "hl-stdio/1",
        "hl-stdio/1 attach",
        "hl-stdio/1 detach main",
        "hl-stdio/1 attach Main",
        "hl-stdio/1 attach ma.in",
        "hl-stdio/1 attach 0123456789012345678901234567890123456789012345678901234567890123456789",
        "hl-stdio/1 attach main from=",
        "hl-stdio/1 attach main from=-1",
        "hl-stdio/1 attach main from=18446744073709551616",
        "hl-stdio/1 attach main from=1x",
        "hl-stdio/1 attach main from=zz:1",
        "hl-stdio/1 attach main from=1:",
        "hl-stdio/1 attach main read-only read-only",
        "hl-stdio/1 attach main from=1 from=2",
        "hl-stdio/1 attach main rw",
        "hl-stdio/1 attach main a b c d e f",
        "hl-stdio/1 attach main\tread-only",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        err[0] = 0;
        int rc = parse(bad[i], &h, err);
        if (rc != -EINVAL || !err[0])
            fprintf(stderr, "accepted: \"%s\"\n", bad[i]);
        CHECK(rc == -EINVAL && err[0]);
    }
    /* Control bytes are shown escaped, never echoed raw. */
    const char nasty[] = "hl-stdio/1 attach main \x1b[2Jx";
    CHECK(parse(nasty, &h, err) == -EINVAL && strstr(err, "\\x1b") && !strchr(err, 0x1b));
    /* Embedded NUL is just another bad byte. */
    const char nul[] = "hl-stdio/1 attach ma\0in";
    CHECK(stdio_hello_parse(nul, sizeof nul - 1, &h, err, sizeof err) == -EINVAL);
}

int main(void)
{
    TEST(test_header);
    TEST(test_kv);
    TEST(test_hello);
    return check_done();
}
