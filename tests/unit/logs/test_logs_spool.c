/* hl-logs' forward spool: order, confirmation, reopen after a crash (a torn
 * record cut off), the byte cap (drops counted exactly), a corrupt chunk
 * quarantined and the rest delivered. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <hlbus/buf.h>

#include "check.h"
#include "lg_spool.h"

static char dir[256];

static lg_spool_rec_t mk(unsigned i, char *line, size_t size)
{
    snprintf(line, size, "{\"message\":\"record %u\"}", i);
    static char id[40];
    snprintf(id, sizeof id, "%032u", i);
    return (lg_spool_rec_t){.id = id, .id_len = 32, .ts_us = 1000 + i, .priority = 6,
                            .name = "writer", .name_len = 6, .pid = 9, .line = line,
                            .line_len = strlen(line)};
}

static unsigned num(const lg_spool_rec_t *r)
{
    unsigned v = 0;
    sscanf(r->line, "{\"message\":\"record %u", &v);
    return v;
}

static void fresh(void)
{
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    CHECK(system(cmd) == 0);
}

static void test_order_confirm_reopen(void)
{
    fresh();
    lg_spool_t *sp = NULL;
    REQUIRE(lg_spool_open(&sp, dir, 1 << 20, 4096) == 0);
    char line[64];
    for (unsigned i = 1; i <= 1000; i++) {
        lg_spool_rec_t r = mk(i, line, sizeof line);
        CHECK_EQ(lg_spool_append(sp, &r), 0);
        if (i % 100 == 0)
            CHECK_EQ(lg_spool_commit(sp), 0);
    }
    CHECK(lg_spool_stats(sp)->chunks > 3); /* 4 KiB chunks */
    lg_spool_rec_t r;
    unsigned want = 1;
    lg_pos_t at500 = {0, 0};
    while (lg_spool_next(sp, &r) == 1) {
        CHECK_EQ(num(&r), want);
        if (want == 500)
            at500 = lg_spool_tell(sp);
        want++;
    }
    CHECK_EQ(want, 1001u);
    lg_spool_confirm(sp, at500, true);
    lg_spool_close(&sp);
    /* reopened: from the confirmed position, the rest in order */
    REQUIRE(lg_spool_open(&sp, dir, 1 << 20, 4096) == 0);
    CHECK(lg_spool_next(sp, &r) == 1 && num(&r) == 501);
    /* a rewind gives the same records again */
    lg_spool_rewind(sp, lg_spool_confirmed(sp));
    want = 501;
    while (lg_spool_next(sp, &r) == 1)
        CHECK_EQ(num(&r), want++);
    CHECK_EQ(want, 1001u);
    lg_spool_confirm(sp, lg_spool_tell(sp), true);
    CHECK(!lg_spool_pending(sp));
    CHECK(lg_spool_stats(sp)->chunks <= 1);
    lg_spool_close(&sp);
}

static void test_torn_tail(void)
{
    fresh();
    lg_spool_t *sp = NULL;
    REQUIRE(lg_spool_open(&sp, dir, 1 << 20, 1 << 16) == 0);
    char line[64];
    for (unsigned i = 1; i <= 10; i++) {
        lg_spool_rec_t r = mk(i, line, sizeof line);
        lg_spool_append(sp, &r);
    }
    CHECK_EQ(lg_spool_commit(sp), 0);
    lg_spool_close(&sp);
    /* a crash in the middle of the next write: half a record at the end */
    char path[400];
    snprintf(path, sizeof path, "%s/%016x.chunk", dir, 1);
    hlb_buf_t b = {0};
    lg_spool_rec_t r = mk(11, line, sizeof line);
    lg_spool_encode(&b, &r);
    int fd = open(path, O_WRONLY | O_APPEND);
    REQUIRE(fd >= 0);
    CHECK(write(fd, b.data, b.len / 2) == (ssize_t)(b.len / 2));
    close(fd);
    hlb_buf_free(&b);
    REQUIRE(lg_spool_open(&sp, dir, 1 << 20, 1 << 16) == 0);
    unsigned n = 0;
    while (lg_spool_next(sp, &r) == 1)
        CHECK_EQ(num(&r), ++n);
    CHECK_EQ(n, 10u);
    r = mk(12, line, sizeof line); /* appending goes on after the cut */
    lg_spool_append(sp, &r);
    lg_spool_commit(sp);
    CHECK(lg_spool_next(sp, &r) == 1 && num(&r) == 12);
    CHECK_EQ(lg_spool_stats(sp)->quarantined_chunks, 0u);
    lg_spool_close(&sp);
}

static void test_cap_counts_drops(void)
{
    fresh();
    lg_spool_t *sp = NULL;
    REQUIRE(lg_spool_open(&sp, dir, 64 * 1024, 8192) == 0);
    char line[64];
    unsigned sent = 5000, ok = 0;
    for (unsigned i = 1; i <= sent; i++) {
        lg_spool_rec_t r = mk(i, line, sizeof line);
        if (lg_spool_append(sp, &r) == 0)
            ok++;
        if (i % 50 == 0)
            lg_spool_commit(sp);
    }
    lg_spool_commit(sp);
    const lg_spool_stats_t *st = lg_spool_stats(sp);
    CHECK(st->dropped > 0);
    CHECK_EQ(st->appended + st->dropped, (uint64_t)sent);
    CHECK(st->bytes <= 64 * 1024);
    lg_spool_rec_t r;
    unsigned got = 0;
    while (lg_spool_next(sp, &r) == 1)
        got++;
    CHECK_EQ(got, ok);
    lg_spool_close(&sp);
}

static void test_corrupt_chunk(void)
{
    fresh();
    lg_spool_t *sp = NULL;
    REQUIRE(lg_spool_open(&sp, dir, 1 << 20, 2048) == 0);
    char line[64];
    for (unsigned i = 1; i <= 300; i++) {
        lg_spool_rec_t r = mk(i, line, sizeof line);
        lg_spool_append(sp, &r);
        if (i % 10 == 0)
            lg_spool_commit(sp);
    }
    lg_spool_close(&sp);
    /* garbage where the second chunk's first record begins */
    char path[400];
    snprintf(path, sizeof path, "%s/%016x.chunk", dir, 2);
    int fd = open(path, O_WRONLY);
    REQUIRE(fd >= 0);
    CHECK(pwrite(fd, "\xc1\xc1\xc1\xc1", 4, 0) == 4);
    close(fd);
    REQUIRE(lg_spool_open(&sp, dir, 1 << 20, 2048) == 0);
    lg_spool_rec_t r;
    unsigned got = 0, last = 0;
    bool ordered = true;
    while (lg_spool_next(sp, &r) == 1) {
        ordered &= num(&r) > last;
        last = num(&r);
        got++;
    }
    CHECK(ordered);
    CHECK_EQ(last, 300u); /* the chunks after it are delivered */
    CHECK_EQ(got, 270u); /* 30 records a chunk (three commits of 10) */
    CHECK_EQ(lg_spool_stats(sp)->quarantined_chunks, 1u);
    snprintf(path, sizeof path, "%s/quarantine/%016x.chunk", dir, 2);
    CHECK(access(path, F_OK) == 0);
    lg_spool_close(&sp);
}

static void test_decoder_rejects(void)
{
    lg_spool_rec_t r;
    size_t used;
    CHECK_EQ(lg_spool_decode((const uint8_t *)"", 0, &r, &used), 0);
    CHECK(lg_spool_decode((const uint8_t *)"\x91\x01", 2, &r, &used) < 0);
    CHECK_EQ(lg_spool_decode((const uint8_t *)"\x96\xa2", 2, &r, &used), 0);
    CHECK(lg_spool_decode((const uint8_t *)"\x96\xdb\xff\xff\xff\xff", 6, &r, &used) < 0);
}

int main(void)
{
    snprintf(dir, sizeof dir, "/tmp/unit_logs_spool.%d", (int)getpid());
    TEST(test_order_confirm_reopen);
    TEST(test_torn_tail);
    TEST(test_cap_counts_drops);
    TEST(test_corrupt_chunk);
    TEST(test_decoder_rejects);
    fresh();
    return check_done();
}
