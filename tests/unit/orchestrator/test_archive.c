/* The archive: names, tar's argv, the "latest" link and retention. */
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "archive.h"
#include "check.h"
#include "config.h"
#include "fsclean.h"

static char dir[64];

static void touch_ago(const char *name, int days)
{
    char p[256];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd >= 0) {
        if (write(fd, "x", 1) != 1)
            fprintf(stderr, "write %s failed\n", p);
        close(fd);
    }
    struct timespec ts[2];
    clock_gettime(CLOCK_REALTIME, &ts[0]);
    ts[0].tv_sec -= (time_t) days * 86400;
    ts[1] = ts[0];
    utimensat(AT_FDCWD, p, ts, 0);
}

static bool has(const char *name)
{
    char p[256];
    struct stat sb;
    snprintf(p, sizeof p, "%s/%s", dir, name);
    return lstat(p, &sb) == 0;
}

static bool argv_has(char **v, const char *s)
{
    for (; v && *v; v++)
        if (!strcmp(*v, s))
            return true;
    return false;
}

static void test_name(void)
{
    char *n = archive_name(1795691220000000ULL); /* 2026-11-26T11:07:00Z */
    CHECK(n && !strcmp(n, "hl-state-20261126T110700Z.tar.gz"));
    free(n);
}

static void test_argv(void)
{
    char *paths[] = {(char *) "/etc", (char *) "/var/log/", (char *) "/nonexistent/x", NULL};
    char *excl[] = {(char *) "/var/log/journal", NULL};
    char **v = archive_argv("/usr/bin/tar", "/backups/.x.part", "/backups/hl", paths, excl);
    CHECK(v != NULL);
    CHECK(v && !strcmp(v[0], "/usr/bin/tar"));
    CHECK(argv_has(v, "--file=/backups/.x.part") && argv_has(v, "--directory=/"));
    CHECK(argv_has(v, "--exclude=var/log/journal") && argv_has(v, "--exclude=backups/hl"));
    CHECK(argv_has(v, "etc") && argv_has(v, "var/log") && !argv_has(v, "nonexistent/x"));
    CHECK(argv_has(v, "--") && argv_has(v, "--one-file-system") && argv_has(v, "--gzip"));
    /* Members come after "--", so a path cannot be read as an option. */
    size_t dd = 0;
    while (v && v[dd] && strcmp(v[dd], "--"))
        dd++;
    CHECK(v && v[dd] && v[dd + 1] && !strcmp(v[dd + 1], "etc"));
    hlb_strv_free(v);
    char *none[] = {(char *) "/nonexistent", NULL};
    CHECK(archive_argv("/usr/bin/tar", "/x", "/b", none, NULL) == NULL);
}

static void test_retention(void)
{
    touch_ago("hl-state-20200101T000000Z.tar.gz", 30); /* too old */
    touch_ago("hl-state-20261001T000000Z.tar.gz", 3);  /* over the count */
    touch_ago("hl-state-20261020T000000Z.tar.gz", 2);  /* kept */
    touch_ago("hl-state-20261101T000000Z.tar.gz", 1);  /* kept */
    touch_ago(".hl-state-20261102T000000Z.tar.gz.part", 0); /* an interrupted run */
    touch_ago("unrelated.tar.gz", 90);
    touch_ago(".hl-state-20261126T110700Z.tar.gz.part", 0); /* this run's */
    char **pruned = NULL;
    uint64_t bytes = 0;
    uint64_t now = (uint64_t) time(NULL) * 1000000ULL;
    int r = archive_finish(dir, ".hl-state-20261126T110700Z.tar.gz.part",
                           "hl-state-20261126T110700Z.tar.gz", 3, 7LL * 86400 * 1000, now, &pruned,
                           &bytes);
    CHECK(r == 0 && bytes == 1);
    CHECK(has("hl-state-20261126T110700Z.tar.gz") && !has(".hl-state-20261126T110700Z.tar.gz.part"));
    CHECK(has("hl-state-20261101T000000Z.tar.gz") && has("hl-state-20261020T000000Z.tar.gz"));
    CHECK(!has("hl-state-20261001T000000Z.tar.gz") && !has("hl-state-20200101T000000Z.tar.gz"));
    CHECK(!has(".hl-state-20261102T000000Z.tar.gz.part") && has("unrelated.tar.gz"));
    CHECK(hlb_strv_len(pruned) == 3);
    hlb_strv_free(pruned);
    char p[256], target[256];
    snprintf(p, sizeof p, "%s/" ARCHIVE_LATEST, dir);
    ssize_t n = readlink(p, target, sizeof target - 1);
    CHECK(n > 0 && (target[n] = '\0', !strcmp(target, "hl-state-20261126T110700Z.tar.gz")));
    /* keep=1: only the new one; a missing temporary file is an error. */
    touch_ago(".hl-state-20261127T000000Z.tar.gz.part", 0);
    r = archive_finish(dir, ".hl-state-20261127T000000Z.tar.gz.part", "hl-state-20261127T000000Z.tar.gz",
                       1, 0, now, &pruned, &bytes);
    CHECK(r == 0 && hlb_strv_len(pruned) == 3 && has("hl-state-20261127T000000Z.tar.gz"));
    hlb_strv_free(pruned);
    CHECK(archive_finish(dir, ".absent.part", "x.tar.gz", 1, 0, now, &pruned, &bytes) < 0);
    hlb_strv_free(pruned);
}

int main(void)
{
    snprintf(dir, sizeof dir, "/tmp/orch-archive-XXXXXX");
    if (!mkdtemp(dir))
        return 2;
    test_name();
    test_argv();
    test_retention();
    fsc_stats_t st = {0};
    CHECK(fsc_clear_beneath("/tmp", dir + 5, &st) == 0 && rmdir(dir) == 0);
    fsc_stats_free(&st);
    return check_done();
}
