/* A pid file whose process is alive and in the unit's cgroup is kept; the
 * same file is stale once the process is gone, and a unit whose name is only
 * a prefix of the cgroup's does not claim it.
 *
 * The process is a child of ours moved into a cgroup of its own named like a
 * unit ("hl-fsclean-<pid>.service"), in the first cgroup hierarchy we may
 * write (cgroup2, or a v1 one); the cgroup goes when the test ends. Where no
 * hierarchy is writable (not root, a read-only cgroupfs) the test is skipped,
 * which ctest shows: it never passes without the case. */
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "check.h"
#include "fsclean.h"

/* Hierarchies to try, in order: the unified one wherever it is mounted, then
 * the named systemd one and a v1 controller (hybrid and legacy hosts). */
static const char *const hierarchies[] = {
    "/sys/fs/cgroup/unified", "/sys/fs/cgroup", "/sys/fs/cgroup/systemd",
    "/sys/fs/cgroup/pids",
};

static bool write_pid(const char *procs, pid_t pid)
{
    FILE *f = fopen(procs, "we");
    if (!f)
        return false;
    bool ok = fprintf(f, "%d\n", (int)pid) > 0;
    return fclose(f) == 0 && ok;
}

/* Moves PID into a new cgroup UNIT under a writable hierarchy; returns the
 * cgroup's directory (to remove later) or NULL. */
static char *move_into_unit(pid_t pid, const char *unit)
{
    for (size_t i = 0; i < sizeof hierarchies / sizeof *hierarchies; i++) {
        char dir[512], procs[600];
        snprintf(dir, sizeof dir, "%s/%s", hierarchies[i], unit);
        snprintf(procs, sizeof procs, "%s/cgroup.procs", dir);
        if (mkdir(dir, 0755) != 0)
            continue;
        if (write_pid(procs, pid))
            return strdup(dir);
        rmdir(dir);
    }
    return NULL;
}

int main(void)
{
    char root[] = "/tmp/orch-fsclean-live-XXXXXX";
    REQUIRE(mkdtemp(root));
    int hold[2];
    REQUIRE(pipe(hold) == 0);
    pid_t child = fork();
    REQUIRE(child >= 0);
    if (child == 0) {
        char c;
        close(hold[1]);
        _exit(read(hold[0], &c, 1) < 0 ? 1 : 0); /* lives until we close the pipe */
    }
    close(hold[0]);

    char unit[64], prefix[64];
    snprintf(unit, sizeof unit, "hl-fsclean-%d.service", (int)child);
    snprintf(prefix, sizeof prefix, "hl-fsclean-%d.serv", (int)child);
    char *cg = move_into_unit(child, unit);
    if (!cg) {
        close(hold[1]);
        waitpid(child, NULL, 0);
        rmdir(root);
        check_skip("no writable cgroup hierarchy to put a process into a unit's cgroup");
    }
    printf("# %d in %s\n", (int)child, cg);

    char pidfile[600];
    snprintf(pidfile, sizeof pidfile, "%s/live.pid", root);
    FILE *f = fopen(pidfile, "w");
    REQUIRE(f && fprintf(f, "%d\n", (int)child) > 0 && fclose(f) == 0);
    fsc_stats_t st = {0};
    CHECK_EQ(fsc_remove_stale(pidfile, unit, &st), -EBUSY);
    CHECK(access(pidfile, F_OK) == 0);
    CHECK_EQ(fsc_remove_stale(pidfile, prefix, &st), 0); /* not that unit's process */
    CHECK(access(pidfile, F_OK) != 0);

    /* Gone: the same file is stale for the unit itself. */
    f = fopen(pidfile, "w");
    REQUIRE(f && fprintf(f, "%d\n", (int)child) > 0 && fclose(f) == 0);
    close(hold[1]);
    CHECK_EQ(waitpid(child, NULL, 0), child);
    CHECK_EQ(fsc_remove_stale(pidfile, unit, &st), 0);
    CHECK(access(pidfile, F_OK) != 0);
    fsc_stats_free(&st);

    CHECK_MSG(rmdir(cg) == 0, "rmdir %s: %s", cg, strerror(errno));
    free(cg);
    CHECK(rmdir(root) == 0);
    return check_done();
}
