/* The backup directory: names, the latest link, listing, chains, retention
 * (count, age by mtime, per prefix, chains kept whole, bad ones bounded),
 * the clean-up after interrupted runs (links never followed), tar's argv. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <hlbus/strv.h>

#include "bk_manifest.h"
#include "bk_store.h"
#include "bk_tar.h"
#include "bk_walk.h"
#include "check.h"

static char dir[64];

static void set_age(const char *name, int days)
{
    char p[256];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    struct timespec ts[2];
    clock_gettime(CLOCK_REALTIME, &ts[0]);
    ts[0].tv_sec -= (time_t) days * 86400;
    ts[1] = ts[0];
    utimensat(AT_FDCWD, p, ts, AT_SYMLINK_NOFOLLOW);
}

static void put(const char *name, const char *text, int days)
{
    char p[256];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "we");
    if (f) {
        fputs(text, f);
        fclose(f);
    }
    set_age(name, days);
}

/* A backup as hl-backup leaves it: archive, snapshot, manifest. */
static void backup(const char *id, const char *parent, int days)
{
    bk_manifest_t m = {.id = strdup(id), .kind = strdup(parent ? "incremental" : "full"),
                       .parent = parent ? strdup(parent) : NULL, .reason = strdup("timer")};
    memset(m.archive_sha, 'a', 64);
    memset(m.snar_sha, 'b', 64);
    size_t len;
    char *text = bk_manifest_format(&m, &len);
    char name[128];
    snprintf(name, sizeof name, "%s.manifest", id);
    CHECK(bk_store_write_file(dir, name, text, len) == 0);
    free(text);
    bk_manifest_free(&m);
    snprintf(name, sizeof name, "%s.tar.gz", id);
    put(name, "x", days);
    snprintf(name, sizeof name, "%s.snar", id);
    put(name, "s", days);
}

static bool has(const char *name)
{
    char p[256];
    struct stat sb;
    snprintf(p, sizeof p, "%s/%s", dir, name);
    return lstat(p, &sb) == 0;
}

static void test_names(void)
{
    char *n = bk_store_name(BK_PREFIX_STATE, 1795691220000000ULL); /* 2026-11-26T11:07:00Z */
    CHECK(n && !strcmp(n, "hl-state-20261126T110700Z"));
    CHECK(n && bk_store_id_time(n) == 1795691220000000ULL && bk_store_id_ok(n));
    free(n);
    CHECK(!bk_store_id_ok("hl-backup-2026") && !bk_store_id_ok("hl-backup-20261126T110700") &&
          !bk_store_id_ok("other-20261126T110700Z") && !bk_store_id_ok("hl-state-latest"));
    /* a taken name moves to the next second */
    put("hl-backup-20261126T110700Z.tar.gz", "x", 0);
    char *id = bk_store_new_id(dir, BK_PREFIX_BACKUP, 1795691220000000ULL);
    CHECK(id && !strcmp(id, "hl-backup-20261126T110701Z"));
    free(id);
    char p[256];
    snprintf(p, sizeof p, "%s/hl-backup-20261126T110700Z.tar.gz", dir);
    unlink(p);
}

static void test_latest(void)
{
    CHECK(bk_store_latest(dir) == NULL);
    CHECK(bk_store_set_latest(dir, "hl-backup-20261126T110700Z") == 0);
    char *l = bk_store_latest(dir);
    CHECK(l && !strcmp(l, "hl-backup-20261126T110700Z"));
    free(l);
    char p[256], t[256];
    snprintf(p, sizeof p, "%s/" BK_LATEST, dir);
    ssize_t n = readlink(p, t, sizeof t - 1);
    CHECK(n > 0 && (t[n] = '\0', !strcmp(t, "hl-backup-20261126T110700Z.tar.gz")));
    CHECK(bk_store_set_latest(dir, NULL) == 0 && !has(BK_LATEST));
}

static void test_list_chain(void)
{
    backup("hl-backup-20261201T000000Z", NULL, 10);
    backup("hl-backup-20261202T000000Z", "hl-backup-20261201T000000Z", 1);
    backup("hl-backup-20261203T000000Z", "hl-backup-20261202T000000Z", 0);
    put("hl-state-20200101T000000Z.tar.gz", "legacy", 30);
    put("hl-backup-20261204T000000Z.manifest", "damaged\n", 0);
    bk_list_t l;
    REQUIRE(bk_store_list(dir, &l) == 0);
    CHECK(l.n == 5);
    CHECK(l.n == 5 && !strcmp(l.v[0].id, "hl-backup-20261204T000000Z") && l.v[0].state == BK_DAMAGED);
    CHECK(l.n == 5 && l.v[1].state == BK_GOOD && l.v[4].state == BK_LEGACY);
    const bk_info_t *g = bk_list_newest_good(&l);
    CHECK(g && !strcmp(g->id, "hl-backup-20261203T000000Z"));
    char *missing = NULL;
    char **c = bk_list_chain(&l, "hl-backup-20261203T000000Z", &missing);
    CHECK(hlb_strv_len(c) == 3 && !strcmp(c[0], "hl-backup-20261201T000000Z") &&
          !strcmp(c[2], "hl-backup-20261203T000000Z"));
    hlb_strv_free(c);
    bk_list_free(&l);
    /* the base marked bad: nothing built on it restores */
    CHECK(bk_store_mark_bad(dir, "hl-backup-20261201T000000Z", "damaged archive") == 0);
    REQUIRE(bk_store_list(dir, &l) == 0);
    c = bk_list_chain(&l, "hl-backup-20261203T000000Z", &missing);
    CHECK(c == NULL && missing && strstr(missing, "hl-backup-20261201T000000Z (bad: damaged archive)"));
    const bk_info_t *b = bk_list_find(&l, "hl-backup-20261201T000000Z");
    CHECK(b && b->state == BK_BAD && b->why && !strcmp(b->why, "damaged archive"));
    free(missing);
    bk_list_free(&l);
    char p[256];
    snprintf(p, sizeof p, "%s/hl-backup-20261201T000000Z.bad", dir);
    unlink(p);
    snprintf(p, sizeof p, "%s/hl-backup-20261204T000000Z.manifest", dir);
    unlink(p);
}

static void test_retention(void)
{
    /* the shutdown archives: legacy ones of the orchestrator before hl-backup */
    put("hl-state-20261001T000000Z.tar.gz", "x", 3);  /* over the count */
    put("hl-state-20261020T000000Z.tar.gz", "x", 2);  /* kept */
    put("hl-state-20261101T000000Z.tar.gz", "x", 1);  /* kept */
    put("unrelated.tar.gz", "x", 90);
    backup("hl-state-20261126T110700Z", NULL, 0);     /* this run's */
    char **pruned = NULL;
    uint64_t now = (uint64_t) time(NULL) * 1000000ULL;
    CHECK(bk_store_prune(dir, BK_PREFIX_STATE, 3, 7LL * 86400 * 1000, now, "hl-state-20261126T110700Z",
                         &pruned) == 0);
    CHECK(has("hl-state-20261126T110700Z.tar.gz") && has("hl-state-20261126T110700Z.manifest"));
    CHECK(has("hl-state-20261101T000000Z.tar.gz") && has("hl-state-20261020T000000Z.tar.gz"));
    CHECK(!has("hl-state-20261001T000000Z.tar.gz") && !has("hl-state-20200101T000000Z.tar.gz"));
    CHECK(has("unrelated.tar.gz"));
    CHECK_MSG(hlb_strv_len(pruned) == 2, "%zu pruned", hlb_strv_len(pruned));
    /* the periodic backups are another prefix's: untouched */
    CHECK(has("hl-backup-20261201T000000Z.tar.gz") && has("hl-backup-20261203T000000Z.tar.gz"));
    hlb_strv_free(pruned);
    pruned = NULL;

    /* keep 1, 7 days: the newest incremental keeps its chain, the 10-day-old full too */
    CHECK(bk_store_prune(dir, BK_PREFIX_BACKUP, 1, 7LL * 86400 * 1000, now,
                         "hl-backup-20261203T000000Z", &pruned) == 0);
    CHECK(pruned == NULL);
    CHECK(has("hl-backup-20261201T000000Z.tar.gz") && has("hl-backup-20261201T000000Z.snar") &&
          has("hl-backup-20261202T000000Z.manifest"));
    /* a new full: the old chain goes, whole */
    backup("hl-backup-20261205T000000Z", NULL, 0);
    CHECK(bk_store_prune(dir, BK_PREFIX_BACKUP, 1, 0, now, "hl-backup-20261205T000000Z", &pruned) == 0);
    CHECK(hlb_strv_len(pruned) == 3);
    CHECK(!has("hl-backup-20261201T000000Z.tar.gz") && !has("hl-backup-20261201T000000Z.snar") &&
          !has("hl-backup-20261201T000000Z.manifest") && !has("hl-backup-20261203T000000Z.tar.gz"));
    hlb_strv_free(pruned);
    pruned = NULL;
    /* the latest link's target stays whatever the count */
    backup("hl-backup-20261206T000000Z", NULL, 0);
    bk_store_set_latest(dir, "hl-backup-20261205T000000Z");
    CHECK(bk_store_prune(dir, BK_PREFIX_BACKUP, 1, 0, now, "hl-backup-20261206T000000Z", &pruned) == 0);
    CHECK(has("hl-backup-20261205T000000Z.tar.gz") && pruned == NULL);
    hlb_strv_free(pruned);
    pruned = NULL;
    bk_store_set_latest(dir, "hl-backup-20261206T000000Z");
    /* bad ones: the two newest stay, counted apart */
    for (int i = 1; i <= 4; i++) {
        char id[64];
        snprintf(id, sizeof id, "hl-backup-2026120%dT120000Z", i);
        backup(id, NULL, 0);
        bk_store_mark_bad(dir, id, "did not verify");
    }
    CHECK(bk_store_prune(dir, BK_PREFIX_BACKUP, 1, 0, now, "hl-backup-20261206T000000Z", &pruned) == 0);
    CHECK(!has("hl-backup-20261201T120000Z.tar.gz") && !has("hl-backup-20261202T120000Z.bad"));
    CHECK(has("hl-backup-20261203T120000Z.bad") && has("hl-backup-20261204T120000Z.tar.gz"));
    CHECK(has("hl-backup-20261206T000000Z.tar.gz") && !has("hl-backup-20261205T000000Z.tar.gz"));
    hlb_strv_free(pruned);
}

static void test_clean(void)
{
    /* what interrupted runs leave: temporary files, a scratch tree (with a
     * link out of it, never followed, and a read-only directory), a
     * snapshot and archive without their manifest, a .bad without one */
    char p[512];
    put(".hl-backup-20261207T000000Z.tar.gz.part", "x", 0);
    put(".hl-backup-20261207T000000Z.snar.part", "x", 0);
    snprintf(p, sizeof p, "%s/.hl-backup-20261207T000000Z.verify/tmp/ro", dir);
    CHECK(bk_mkdir_p(p, 0700) == 0);
    char outside[128];
    snprintf(outside, sizeof outside, "%s-outside", dir);
    mkdir(outside, 0700);
    snprintf(p, sizeof p, "%s/keep", outside);
    FILE *f = fopen(p, "we");
    if (f)
        fclose(f);
    snprintf(p, sizeof p, "%s/.hl-backup-20261207T000000Z.verify/tmp/out", dir);
    CHECK(symlink(outside, p) == 0);
    snprintf(p, sizeof p, "%s/.hl-backup-20261207T000000Z.verify/tmp/ro", dir);
    chmod(p, 0500);
    put("hl-backup-20261208T000000Z.tar.gz", "x", 0);
    put("hl-backup-20261208T000000Z.snar", "x", 0);
    put("hl-backup-20261209T000000Z.tar.gz", "x", 0);
    put("hl-backup-20261209T000000Z.bad", "x", 0);
    put("hl-state-20261210T000000Z.tar.gz", "legacy", 0);
    /* not a backup: the snapshot says it was a run of ours cut short */
    bk_list_t l;
    REQUIRE(bk_store_list(dir, &l) == 0);
    CHECK(!bk_list_find(&l, "hl-backup-20261208T000000Z"));
    bk_list_free(&l);
    char **removed = NULL;
    CHECK(bk_store_clean(dir, &removed) == 0);
    CHECK(!has(".hl-backup-20261207T000000Z.tar.gz.part") && !has(".hl-backup-20261207T000000Z.verify"));
    CHECK(!has("hl-backup-20261208T000000Z.tar.gz") && !has("hl-backup-20261208T000000Z.snar"));
    CHECK(!has("hl-backup-20261209T000000Z.tar.gz") && !has("hl-backup-20261209T000000Z.bad"));
    CHECK(has("hl-state-20261210T000000Z.tar.gz") && has("hl-backup-20261206T000000Z.manifest"));
    snprintf(p, sizeof p, "%s/keep", outside);
    CHECK(access(p, F_OK) == 0); /* the link was not followed */
    CHECK_MSG(hlb_strv_len(removed) == 7, "%zu removed", hlb_strv_len(removed));
    hlb_strv_free(removed);
    unlink(p);
    rmdir(outside);
}

static bool argv_has(char **v, const char *s)
{
    for (; v && *v; v++)
        if (!strcmp(*v, s))
            return true;
    return false;
}

static void test_argv(void)
{
    char *paths[] = {(char *) "/etc", (char *) "/var/log/", (char *) "/nonexistent/x", NULL};
    char *excl[] = {(char *) "/var/log/journal", NULL};
    char **v = bk_tar_create_argv("/usr/bin/tar", "/b/.x.part", "/b/.x.snar", "/backups/hl", paths, excl);
    REQUIRE(v != NULL);
    CHECK(!strcmp(v[0], "/usr/bin/tar") && argv_has(v, "--create") && argv_has(v, "--gzip"));
    CHECK(argv_has(v, "--file=/b/.x.part") && argv_has(v, "--directory=/"));
    CHECK(argv_has(v, "--listed-incremental=/b/.x.snar") && argv_has(v, "--no-check-device"));
    CHECK(argv_has(v, "--exclude=var/log/journal") && argv_has(v, "--exclude=backups/hl"));
    CHECK(argv_has(v, "--no-wildcards") && argv_has(v, "--anchored") && argv_has(v, "--one-file-system"));
    CHECK(argv_has(v, "etc") && argv_has(v, "var/log") && !argv_has(v, "nonexistent/x"));
    /* members after "--": a path is never read as an option */
    size_t dd = 0;
    while (v[dd] && strcmp(v[dd], "--"))
        dd++;
    CHECK(v[dd] && v[dd + 1] && !strcmp(v[dd + 1], "etc"));
    hlb_strv_free(v);
    char *none[] = {(char *) "/nonexistent", NULL};
    CHECK(bk_tar_create_argv("/usr/bin/tar", "/x", NULL, "/b", none, NULL) == NULL);
    char *only[] = {(char *) "/home/hluser/workspace/src", NULL};
    v = bk_tar_extract_argv("/usr/bin/tar", "/b/a.tar.gz", "/restore", only);
    REQUIRE(v != NULL);
    CHECK(argv_has(v, "--extract") && argv_has(v, "--listed-incremental=/dev/null") &&
          argv_has(v, "--directory=/restore") && argv_has(v, "--preserve-permissions"));
    CHECK(!strcmp(v[hlb_strv_len(v) - 1], "home/hluser/workspace/src") &&
          !strcmp(v[hlb_strv_len(v) - 2], "--"));
    hlb_strv_free(v);
}

int main(void)
{
    snprintf(dir, sizeof dir, "/tmp/unit-backup-XXXXXX");
    if (!mkdtemp(dir))
        return 2;
    TEST(test_names);
    TEST(test_latest);
    TEST(test_list_chain);
    TEST(test_retention);
    TEST(test_clean);
    TEST(test_argv);
    CHECK(bk_remove_tree(dir) == 0);
    return check_done();
}
