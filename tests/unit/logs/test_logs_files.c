/* hl-logs' file sink: rotation by size and count at line boundaries (every
 * line in exactly one file), gzip of rotated files, the directory cap, and
 * a failed write (here RLIMIT_FSIZE, as a full disk) counted with no half
 * line left behind. */
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "lg_files.h"

static char dir[256];

static void fresh(void)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf %s && mkdir -p %s", dir, dir);
    CHECK(system(cmd) == 0);
}

/* lines of the form "{\"n\":N}" in every file of NAME (zcat for .gz) */
static unsigned count_lines(const char *name, unsigned *max_seen, bool *contiguous)
{
    char cmd[800];
    snprintf(cmd, sizeof cmd,
             "cd %s && for f in %s.log*; do case $f in *.gz) zcat $f;; *) cat $f;; esac; done "
             "| sed 's/[^0-9]//g' | sort -n | uniq",
             dir, name);
    FILE *p = popen(cmd, "r");
    unsigned n = 0, prev = 0, v;
    *contiguous = true;
    while (p && fscanf(p, "%u", &v) == 1) {
        if (n && v != prev + 1)
            *contiguous = false;
        prev = v;
        n++;
    }
    if (p)
        pclose(p);
    *max_seen = prev;
    return n;
}

static void add(lg_files_t *fs, const char *name, unsigned i)
{
    char line[128];
    int n = snprintf(line, sizeof line, "{\"n\":%u,\"pad\":\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"}\n", i);
    lg_files_add(fs, name, line, (size_t)n);
}

static void test_rotation(void)
{
    fresh();
    lg_files_conf_t c = {.dir = dir, .max_bytes = 8192, .backup_count = 1000, .disk_cap = 1 << 30};
    lg_files_t *fs = lg_files_new(&c);
    REQUIRE(fs);
    for (unsigned i = 1; i <= 5000; i++) {
        add(fs, "svc", i);
        if (i % 37 == 0)
            CHECK_EQ(lg_files_flush(fs), 0);
    }
    lg_files_flush(fs);
    CHECK(lg_files_stats(fs)->rotations > 30);
    unsigned max;
    bool contig;
    CHECK_EQ(count_lines("svc", &max, &contig), 5000u);
    CHECK(contig);
    /* no file over the limit, every file whole lines */
    char cmd[600];
    snprintf(cmd, sizeof cmd, "cd %s && for f in svc.log*; do [ $(stat -c %%s $f) -le 8192 ] || exit 1; "
                              "[ \"$(tail -c 1 $f | od -An -c | tr -d ' ')\" = '\\n' ] || exit 1; done", dir);
    CHECK(system(cmd) == 0);
    lg_files_destroy(&fs);
}

static void test_count_and_compress(void)
{
    fresh();
    lg_files_conf_t c = {.dir = dir, .max_bytes = 4096, .backup_count = 3, .compress = true,
                         .disk_cap = 1 << 30};
    lg_files_t *fs = lg_files_new(&c);
    REQUIRE(fs);
    for (unsigned i = 1; i <= 2000; i++) {
        add(fs, "svc", i);
        if (i % 10 == 0) {
            lg_files_flush(fs);
            lg_files_compress_step(fs, 1 << 20);
        }
    }
    lg_files_flush(fs);
    while (lg_files_compress_step(fs, 1 << 20))
        ;
    char path[400];
    for (int k = 1; k <= 3; k++) {
        snprintf(path, sizeof path, "%s/svc.log.%d.gz", dir, k);
        CHECK_MSG(access(path, F_OK) == 0, "%s", path);
        snprintf(path, sizeof path, "%s/svc.log.%d", dir, k);
        CHECK_MSG(access(path, F_OK) != 0, "%s", path);
    }
    snprintf(path, sizeof path, "%s/svc.log.4.gz", dir);
    CHECK(access(path, F_OK) != 0);
    unsigned max;
    bool contig;
    unsigned n = count_lines("svc", &max, &contig);
    CHECK_EQ(max, 2000u); /* the newest lines, contiguous: only the oldest went */
    CHECK(contig);
    CHECK(n > 100 && n < 2000);
    CHECK(lg_files_stats(fs)->compressed > 0);
    lg_files_destroy(&fs);
}

static void test_disk_cap(void)
{
    fresh();
    lg_files_conf_t c = {.dir = dir, .max_bytes = 4096, .backup_count = 100, .disk_cap = 40000};
    lg_files_t *fs = lg_files_new(&c);
    REQUIRE(fs);
    for (unsigned i = 1; i <= 3000; i++) {
        add(fs, i % 2 ? "a" : "b", i);
        lg_files_flush(fs);
    }
    char cmd[400];
    snprintf(cmd, sizeof cmd, "du -sb --apparent-size %s | awk '{exit !($1 <= 40000 + 8192 + 4096)}'", dir);
    CHECK(system(cmd) == 0);
    CHECK(lg_files_stats(fs)->removed_for_cap > 0);
    lg_files_destroy(&fs);
}

static void test_write_error(void)
{
    fresh();
    signal(SIGXFSZ, SIG_IGN);
    lg_files_conf_t c = {.dir = dir, .max_bytes = 1 << 20, .backup_count = 2, .disk_cap = 1 << 30};
    lg_files_t *fs = lg_files_new(&c);
    REQUIRE(fs);
    for (unsigned i = 1; i <= 10; i++)
        add(fs, "full", i);
    CHECK_EQ(lg_files_flush(fs), 0);
    char path[400];
    snprintf(path, sizeof path, "%s/full.log", dir);
    struct stat st;
    REQUIRE(stat(path, &st) == 0);
    struct rlimit old, lim = {(rlim_t)st.st_size + 100, RLIM_INFINITY};
    getrlimit(RLIMIT_FSIZE, &old);
    setrlimit(RLIMIT_FSIZE, &lim); /* room for about one line more: a partial write */
    for (unsigned i = 11; i <= 20; i++)
        add(fs, "full", i);
    CHECK(lg_files_flush(fs) < 0);
    setrlimit(RLIMIT_FSIZE, &old);
    CHECK_EQ(lg_files_stats(fs)->lines_lost, 10u);
    CHECK_EQ(lg_files_stats(fs)->write_errors, 1u);
    struct stat st2;
    REQUIRE(stat(path, &st2) == 0);
    CHECK_EQ((long)st2.st_size, (long)st.st_size); /* cut back: no half line */
    for (unsigned i = 21; i <= 25; i++) /* and it goes on once there is room */
        add(fs, "full", i);
    CHECK_EQ(lg_files_flush(fs), 0);
    unsigned max;
    bool contig;
    CHECK_EQ(count_lines("full", &max, &contig), 15u);
    lg_files_destroy(&fs);
}

static void test_safe_name(void)
{
    char out[80];
    lg_files_safe_name("hl-health.service", 17, out, sizeof out);
    CHECK_STR(out, "hl-health");
    lg_files_safe_name("../../etc/passwd", 16, out, sizeof out);
    CHECK(strchr(out, '/') == NULL && out[0] != '.');
    lg_files_safe_name("", 0, out, sizeof out);
    CHECK_STR(out, "unknown");
    lg_files_safe_name("hl-service@web.service", 22, out, sizeof out);
    CHECK_STR(out, "hl-service@web");
}

int main(void)
{
    snprintf(dir, sizeof dir, "/tmp/unit_logs_files.%d", (int)getpid());
    TEST(test_rotation);
    TEST(test_count_and_compress);
    TEST(test_disk_cap);
    TEST(test_write_error);
    TEST(test_safe_name);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    (void)!system(cmd);
    return check_done();
}
