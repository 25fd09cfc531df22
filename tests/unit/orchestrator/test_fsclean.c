/* Safe removal: nothing outside the tree is touched whatever links and
 * files it holds; stale pid and lock files go, ones in use stay. */
#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include "check.h"
#include "fsclean.h"

static char root[64];

static void put(const char *rel, const char *text)
{
    char p[512];
    snprintf(p, sizeof p, "%s/%s", root, rel);
    FILE *f = fopen(p, "w");
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

static void mk(const char *rel)
{
    char p[512];
    snprintf(p, sizeof p, "%s/%s", root, rel);
    mkdir(p, 0755);
}

static void ln(const char *target, const char *rel)
{
    char p[512];
    snprintf(p, sizeof p, "%s/%s", root, rel);
    symlink(target, p);
}

static bool exists(const char *rel)
{
    char p[512];
    struct stat sb;
    snprintf(p, sizeof p, "%s/%s", root, rel);
    return lstat(p, &sb) == 0;
}

static void test_clear(void)
{
    char outside[600], p[600];
    mk("state");
    mk("state/svc");
    mk("state/svc/a");
    mk("state/svc/a/b");
    put("state/svc/a/b/f", "x");
    put("state/svc/top", "x");
    mk("outside");
    put("outside/keep", "precious");
    snprintf(outside, sizeof outside, "%s/outside", root);
    snprintf(p, sizeof p, "%s/outside/keep", root);
    ln(outside, "state/svc/dirlink");
    ln(p, "state/svc/a/filelink");
    /* a fifo and a dangling link */
    snprintf(p, sizeof p, "%s/state/svc/fifo", root);
    mkfifo(p, 0600);
    ln("/nonexistent", "state/svc/dangling");

    fsc_stats_t st = {0};
    snprintf(p, sizeof p, "%s/state", root);
    int r = fsc_clear_beneath(p, "svc", &st);
    CHECK_MSG(r == 0, "%s", strerror(-r));
    CHECK(exists("state/svc"));          /* the directory itself stays */
    CHECK(!exists("state/svc/top") && !exists("state/svc/a") && !exists("state/svc/dirlink"));
    CHECK(!exists("state/svc/fifo") && !exists("state/svc/dangling"));
    CHECK(exists("outside/keep"));       /* links were removed, not followed */
    CHECK(st.removed == 8 && st.errors == 0);
    fsc_stats_free(&st);

    /* A state directory that is itself a link is refused. */
    ln(outside, "state/evil");
    st = (fsc_stats_t) {0};
    CHECK(fsc_clear_beneath(p, "evil", &st) == -ELOOP);
    CHECK(exists("outside/keep") && st.log.data && strstr(st.log.data, "symbolic link"));
    fsc_stats_free(&st);
    /* Missing is fine; names that are paths are not. */
    st = (fsc_stats_t) {0};
    CHECK(fsc_clear_beneath(p, "absent", &st) == 0);
    CHECK(fsc_clear_beneath(p, "../outside", &st) == -EINVAL);
    CHECK(fsc_clear_beneath(p, "..", &st) == -EINVAL);
    CHECK(fsc_clear_beneath(p, "", &st) == -EINVAL);
    put("state/file", "x");
    CHECK(fsc_clear_beneath(p, "file", &st) == -ENOTDIR);
    fsc_stats_free(&st);
}

static void test_matching(void)
{
    char p[600], outside[600];
    mk("tmp");
    put("tmp/hl-a", "x");
    mk("tmp/hl-dir");
    mk("tmp/hl-dir/sub");
    put("tmp/hl-dir/sub/f", "x");
    put("tmp/other", "keep");
    put("tmp/.hl-hidden", "keep");
    snprintf(outside, sizeof outside, "%s/outside", root);
    ln(outside, "tmp/hl-link");
    fsc_stats_t st = {0};
    snprintf(p, sizeof p, "%s/tmp", root);
    CHECK(fsc_remove_matching(p, "hl-*", &st) == 0);
    CHECK(!exists("tmp/hl-a") && !exists("tmp/hl-dir") && !exists("tmp/hl-link"));
    CHECK(exists("tmp/other") && exists("tmp/.hl-hidden") && exists("outside/keep"));
    CHECK(st.removed == 5);
    fsc_stats_free(&st);
}

static void test_stale(void)
{
    char p[600], q[600];
    mk("run");
    fsc_stats_t st = {0};
    /* A pid file of a process that is gone. */
    put("run/dead.pid", "999999999\n");
    snprintf(p, sizeof p, "%s/run/dead.pid", root);
    CHECK(fsc_remove_stale(p, "x.service", &st) == 0 && !exists("run/dead.pid"));
    /* A pid file of a live process that is not in the unit: stale too. */
    snprintf(q, sizeof q, "%d\n", (int) getpid());
    put("run/other.pid", q);
    snprintf(p, sizeof p, "%s/run/other.pid", root);
    CHECK(fsc_remove_stale(p, "surely-not-our-unit.service", &st) == 0 && !exists("run/other.pid"));
    /* A live process in the unit's cgroup: test_fsclean_live.c. */
    /* Garbage in a pid file is stale. */
    put("run/junk.pid", "not a pid");
    snprintf(p, sizeof p, "%s/run/junk.pid", root);
    CHECK(fsc_remove_stale(p, "x.service", &st) == 0 && !exists("run/junk.pid"));
    /* A lock held with flock or an OFD lock: kept; free: removed. */
    put("run/a.lock", "");
    snprintf(p, sizeof p, "%s/run/a.lock", root);
    int fd = open(p, O_RDWR | O_CLOEXEC);
    CHECK(fd >= 0 && flock(fd, LOCK_EX) == 0);
    CHECK(fsc_remove_stale(p, "x.service", &st) == -EBUSY && exists("run/a.lock"));
    close(fd);
    put("run/b.lock", "");
    snprintf(q, sizeof q, "%s/run/b.lock", root);
    fd = open(q, O_RDWR | O_CLOEXEC);
    struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
    CHECK(fd >= 0 && fcntl(fd, F_OFD_SETLK, &fl) == 0);
    CHECK(fsc_remove_stale(q, "x.service", &st) == -EBUSY && exists("run/b.lock"));
    close(fd);
    CHECK(fsc_remove_stale(p, "x.service", &st) == 0 && !exists("run/a.lock"));
    CHECK(fsc_remove_stale(q, "x.service", &st) == 0 && !exists("run/b.lock"));
    /* A link in the pid file's place: the link goes, its target stays. */
    mk("secret");
    put("secret/target", "keep");
    snprintf(q, sizeof q, "%s/secret/target", root);
    ln(q, "run/link.pid");
    snprintf(p, sizeof p, "%s/run/link.pid", root);
    CHECK(fsc_remove_stale(p, "x.service", &st) == 0 && !exists("run/link.pid") &&
          exists("secret/target"));
    /* A link in the directory path is not followed. */
    snprintf(q, sizeof q, "%s/secret", root);
    ln(q, "run/via");
    snprintf(p, sizeof p, "%s/run/via/target", root);
    CHECK(fsc_remove_stale(p, "x.service", &st) == -ELOOP && exists("secret/target"));
    /* Absent: nothing to do. Not a regular file: left alone. */
    snprintf(p, sizeof p, "%s/run/absent.pid", root);
    CHECK(fsc_remove_stale(p, "x.service", &st) == 0);
    mk("run/dir.pid");
    snprintf(p, sizeof p, "%s/run/dir.pid", root);
    CHECK(fsc_remove_stale(p, "x.service", &st) < 0 && exists("run/dir.pid"));
    CHECK(fsc_remove_stale("relative.pid", "x.service", &st) == -EINVAL);
    fsc_stats_free(&st);
}

int main(void)
{
    snprintf(root, sizeof root, "/tmp/orch-fsclean-XXXXXX");
    if (!mkdtemp(root))
        return 2;
    test_clear();
    test_matching();
    test_stale();
    fsc_stats_t st = {0};
    CHECK(fsc_clear_beneath("/tmp", root + 5, &st) == 0 && rmdir(root) == 0);
    fsc_stats_free(&st);
    return check_done();
}
