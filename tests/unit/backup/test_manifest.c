/* The manifest: written and read back equal; any one byte changed, or the
 * text cut anywhere, is refused with the line named; malformed entries are
 * refused even when the end line is made to match. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bk_manifest.h"
#include "check.h"

static void sample(bk_manifest_t *m)
{
    *m = (bk_manifest_t) {0};
    m->id = strdup("hl-backup-20261207T054500Z");
    m->kind = strdup("incremental");
    m->parent = strdup("hl-backup-20261207T053000Z");
    m->reason = strdup("timer");
    m->created_us = 1796622300000000ULL;
    m->archive_size = 12345;
    memset(m->archive_sha, 'a', 64);
    memset(m->snar_sha, 'b', 64);
    bk_entry_t e = {.type = 'f', .mode = 0644, .size = 5, .mtime_ns = 1, .ctime_ns = 2, .ino = 3,
                    .stored = true};
    memset(e.sha, 'c', 64);
    e.path = (char *) "/home/hluser/workspace/a file%with\nodd\x7f bytes";
    bk_manifest_add(m, &e);
    e.path = (char *) "/home/hluser/workspace/b";
    e.stored = false;
    e.mtime_ns = -5; /* before 1970: still a time */
    bk_manifest_add(m, &e);
    bk_entry_t d = {.type = 'd', .mode = 0755, .path = (char *) "/home/hluser/workspace"};
    bk_manifest_add(m, &d);
    bk_entry_t l = {.type = 'l', .mode = 0777, .size = 1, .path = (char *) "/home/hluser/workspace/ln"};
    memset(l.sha, 'd', 64);
    bk_manifest_add(m, &l);
    bk_entry_t o = {.type = 'o', .mode = 0600, .path = (char *) "/home/hluser/workspace/fifo"};
    bk_manifest_add(m, &o);
}

static void test_roundtrip(void)
{
    bk_manifest_t m, back;
    sample(&m);
    size_t len;
    char *text = bk_manifest_format(&m, &len);
    REQUIRE(text != NULL);
    char err[256];
    CHECK_MSG(bk_manifest_parse(text, len, &back, err, sizeof err) == 0, "%s", err);
    CHECK(back.n == m.n && !strcmp(back.id, m.id) && !strcmp(back.parent, m.parent));
    CHECK(back.created_us == m.created_us && back.archive_size == 12345);
    CHECK(!strcmp(back.archive_sha, m.archive_sha) && !strcmp(back.snar_sha, m.snar_sha));
    for (size_t i = 0; i < m.n && i < back.n; i++) {
        CHECK(!strcmp(m.e[i].path, back.e[i].path));
        CHECK(m.e[i].type == back.e[i].type && m.e[i].mode == back.e[i].mode);
        CHECK(m.e[i].size == back.e[i].size && m.e[i].mtime_ns == back.e[i].mtime_ns);
        CHECK(!strcmp(m.e[i].sha, back.e[i].sha) && m.e[i].stored == back.e[i].stored);
    }
    /* the escaped path, and lookups */
    CHECK(bk_manifest_find(&back, "/home/hluser/workspace/a file%with\nodd\x7f bytes") != NULL);
    CHECK(bk_manifest_find(&back, "/home/hluser/workspace/nope") == NULL);
    CHECK(strstr(text, "a%20file%25with%0Aodd%7F%20bytes") != NULL);
    /* formatting the parsed one gives the same text */
    size_t len2;
    char *text2 = bk_manifest_format(&back, &len2);
    CHECK(text2 && len2 == len && !memcmp(text, text2, len));
    free(text2);
    bk_manifest_free(&back);
    bk_manifest_free(&m);
    free(text);
}

/* Every byte flipped (each of 3 bit patterns), every cut: refused. */
static void test_damage(void)
{
    bk_manifest_t m, back;
    sample(&m);
    size_t len;
    char *text = bk_manifest_format(&m, &len);
    REQUIRE(text != NULL);
    char *buf = malloc(len);
    REQUIRE(buf != NULL);
    size_t refused = 0, tried = 0;
    static const unsigned char masks[] = {0x01, 0x20, 0x80};
    for (size_t i = 0; i < len; i++) {
        for (size_t k = 0; k < sizeof masks; k++) {
            memcpy(buf, text, len);
            buf[i] = (char) (buf[i] ^ masks[k]);
            char err[256] = "";
            tried++;
            if (bk_manifest_parse(buf, len, &back, err, sizeof err) == -EINVAL && err[0] &&
                !strncmp(err, "line ", 5))
                refused++;
            else
                bk_manifest_free(&back);
        }
    }
    CHECK_MSG(refused == tried, "%zu of %zu flips refused", refused, tried);
    refused = 0;
    for (size_t cut = 0; cut < len; cut++) {
        char err[256] = "";
        if (bk_manifest_parse(text, cut, &back, err, sizeof err) == -EINVAL && err[0])
            refused++;
        else
            bk_manifest_free(&back);
    }
    CHECK_MSG(refused == len, "%zu of %zu cuts refused", refused, len);
    free(buf);
    free(text);
    bk_manifest_free(&m);
}

/* BODY with a matching end line: what the parser says about its content. */
static int parse_sealed(const char *body, char *err, size_t errn)
{
    char hex[BK_SHA_HEX];
    bk_sha256_buf(body, strlen(body), hex);
    size_t n = strlen(body) + 80;
    char *t = malloc(n);
    snprintf(t, n, "%send %s\n", body, hex);
    bk_manifest_t m;
    int r = bk_manifest_parse(t, strlen(t), &m, err, errn);
    bk_manifest_free(&m);
    free(t);
    return r;
}

#define HDR                                                                                     \
    "hl-backup-manifest 1\nid hl-backup-20261207T054500Z\nkind full\nparent -\nreason timer\n"  \
    "created_us 1\narchive_size 2\narchive_sha256 "                                             \
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\nsnar_sha256 -\n"
#define SHA "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc"

static void test_malformed(void)
{
    char err[256];
    CHECK(parse_sealed(HDR "entries 0\n", err, sizeof err) == 0);
    CHECK(parse_sealed(HDR "entries 1\nf 0644 5 1 2 3 " SHA " s /a\n", err, sizeof err) == 0);
    static const struct {
        const char *body, *why;
    } bad[] = {
        {HDR "entries 1\nf 0644 5 1 2 3 " SHA " s a/relative\n", "not an absolute"},
        {HDR "entries 1\nf 0644 5 1 2 3 " SHA " s /a/../etc/shadow\n", "not an absolute"},
        {HDR "entries 1\nf 0644 5 1 2 3 " SHA " s /a/./b\n", "not an absolute"},
        {HDR "entries 1\nf 0644 5 1 2 3 " SHA " s /a//b\n", "not an absolute"},
        {HDR "entries 1\nf 0644 5 1 2 3 " SHA " s /a/\n", "not an absolute"},
        {HDR "entries 1\nf 0644 5 1 2 3 " SHA " s /a%00b\n", "escape"},
        {HDR "entries 1\nf 0644 5 1 2 3 " SHA " s /a%41\n", "escape"},   /* needless escape */
        {HDR "entries 1\nf 0644 5 1 2 3 " SHA " s /a%4\n", "escape"},
        {HDR "entries 1\nf 0644 5 1 2 3 " SHA " s /a b\n", "escape"},    /* raw space */
        {HDR "entries 1\nf 0644 5 1 2 3 " SHA " x /a\n", "stored"},
        {HDR "entries 1\nq 0644 5 1 2 3 " SHA " s /a\n", "type"},
        {HDR "entries 1\nf 0844 5 1 2 3 " SHA " s /a\n", "mode"},
        {HDR "entries 1\nf 17777 5 1 2 3 " SHA " s /a\n", "mode"},
        {HDR "entries 1\nf 0644 05 1 2 3 " SHA " s /a\n", "number"},
        {HDR "entries 1\nf 0644 99999999999999999999 1 2 3 " SHA " s /a\n", "number"},
        {HDR "entries 1\nf 0644 5 1 2 3 CCCC s /a\n", "SHA"},
        {HDR "entries 1\nd 0755 0 1 2 3 " SHA " s /a\n", "no SHA"},
        {HDR "entries 1\nf 0644 5 1 2 3 " SHA " s\n", "9 fields"},
        {HDR "entries 2\nf 0644 5 1 2 3 " SHA " s /b\nf 0644 5 1 2 3 " SHA " s /a\n", "order"},
        {HDR "entries 2\nf 0644 5 1 2 3 " SHA " s /a\nf 0644 5 1 2 3 " SHA " s /a\n", "order"},
        {HDR "entries 2\nf 0644 5 1 2 3 " SHA " s /a\n", "ends early"},
        {HDR "entries 0\nf 0644 5 1 2 3 " SHA " s /a\n", "more entries"},
        {HDR "entries 999999999999\n", "count"},
        {"hl-backup-manifest 2\n", "version"},
        {"hl-backup-manifest 1\nid ../etc\n", "bad id"},
        {"hl-backup-manifest 1\nid x\nkind full\nparent y\n", "parent"},
        {"hl-backup-manifest 1\nid x\nkind incremental\nparent -\n", "parent"},
        {"hl-backup-manifest 1\nid x\nkind other\n", "kind"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        err[0] = '\0';
        int r = parse_sealed(bad[i].body, err, sizeof err);
        CHECK_MSG(r == -EINVAL && strstr(err, bad[i].why), "case %zu: %d '%s' (wanted '%s')", i, r,
                  err, bad[i].why);
    }
    CHECK(bk_path_ok("/") && bk_path_ok("/a/b") && !bk_path_ok("") && !bk_path_ok("a"));
    CHECK(!bk_path_ok("/a/..") && !bk_path_ok("/./a") && bk_path_ok("/a/...") && bk_path_ok("/.a"));
}

int main(void)
{
    TEST(test_roundtrip);
    TEST(test_damage);
    TEST(test_malformed);
    return check_done();
}
