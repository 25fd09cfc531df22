/* hl-metrics' filesystem collector next to a hung FUSE mount (issue #12 item
 * 3: "a hung FUSE mount of a user stalls hl-metrics"). A real FUSE mount,
 * made through /dev/fuse whose INIT request nobody ever answers, so that
 * every statvfs() on it blocks, as a user's stopped FUSE daemon does. The
 * collector runs on a mount table that lists it as fuse.hltest, as fuse and
 * (the stand-in for a dead network server: the same hung mount) as nfs4 and
 * 9p, beside a healthy tmpfs. It must finish, skip the hung ones and still
 * measure the tmpfs. On the code before the fix it blocked for ever; the
 * parent gives it 20 s and then kills it.
 *
 * Everything happens in a child with its own mount namespace: the host sees
 * no mount, and the mount dies with the child. Needs root and /dev/fuse:
 * otherwise a visible skip (77). */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "check.h"
#include "collect.h"

static char dir[] = "/tmp/hl-hungfs-XXXXXX";

static int write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    fputs(text, f);
    return fclose(f);
}

/* In the child: returns the exit status (0: the collector behaved). */
static int child(void)
{
    if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) {
        perror("private mount namespace");
        return 10;
    }
    char mnt[256], healthy[256], proc1[256], mounts[256];
    snprintf(mnt, sizeof mnt, "%s/hung", dir);
    snprintf(healthy, sizeof healthy, "%s/healthy", dir);
    snprintf(proc1, sizeof proc1, "%s/proc/1", dir);
    snprintf(mounts, sizeof mounts, "%s/proc/1/mounts", dir);
    char procdir[256];
    snprintf(procdir, sizeof procdir, "%s/proc", dir);
    if (mkdir(mnt, 0755) < 0 || mkdir(healthy, 0755) < 0 || mkdir(procdir, 0755) < 0 ||
        mkdir(proc1, 0755) < 0)
        return 11;
    if (mount("tmpfs", healthy, "tmpfs", 0, "size=1m") < 0)
        return 12;
    int fuse = open("/dev/fuse", O_RDWR | O_CLOEXEC);
    if (fuse < 0)
        return 13;
    char opts[128];
    snprintf(opts, sizeof opts, "fd=%d,rootmode=40000,user_id=0,group_id=0", fuse);
    if (mount("hltest", mnt, "fuse.hltest", MS_NOSUID | MS_NODEV, opts) < 0) {
        perror("mount fuse");
        return 14;
    }
    /* Nobody reads the INIT request from FUSE: the mount hangs. */
    char table[2048];
    snprintf(table, sizeof table,
             "hltest %s fuse.hltest rw,nosuid,nodev 0 0\n"
             "hltest %s fuse rw,nosuid,nodev 0 0\n"
             "server:/export %s nfs4 rw 0 0\n"
             "share %s 9p rw 0 0\n"
             "tmpfs %s tmpfs rw 0 0\n",
             mnt, mnt, mnt, mnt, healthy);
    if (write_file(mounts, table) < 0)
        return 15;

    hlm_collect_opts_t o = {.procfs = procdir, .rootfs = "/"};
    o.disabled = ~(1u << HLM_COL_FILESYSTEM);
    char *err = NULL;
    hlm_collect_t *c = hlm_collect_new(&o, &err);
    if (!c) {
        fprintf(stderr, "hlm_collect_new: %s\n", err ? err : "?");
        return 16;
    }
    hlm_expo_t *e = hlm_expo_new();
    hlm_collect_run(c, e);
    size_t len;
    const char *text = hlm_expo_text(e, &len);
    int rc = 0;
    char want[300];
    snprintf(want, sizeof want, "mountpoint=\"%s\"", healthy);
    if (!strstr(text, want)) {
        fprintf(stderr, "the healthy tmpfs was not measured:\n%s\n", text);
        rc = 20;
    }
    snprintf(want, sizeof want, "mountpoint=\"%s\"", mnt);
    if (strstr(text, want)) {
        fprintf(stderr, "the hung mount appears (it must be skipped, not measured):\n%s\n", text);
        rc = 21;
    }
    printf("collector finished; hung FUSE/nfs4/9p entries skipped, tmpfs measured\n");
    fflush(stdout);
    hlm_expo_destroy(&e);
    hlm_collect_destroy(&c);
    return rc;
}

int main(void)
{
    if (geteuid() != 0 || access("/dev/fuse", R_OK | W_OK) < 0) {
        printf("SKIP: needs root and /dev/fuse (a real FUSE mount that hangs)\n");
        return 77;
    }
    CHECK(mkdtemp(dir));
    fflush(stdout);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0)
        _exit(child());
    int status = 0;
    pid_t got = 0;
    for (int i = 0; i < 200 && got == 0; i++) { /* a deadline for a hang, not a timing */
        got = waitpid(pid, &status, WNOHANG);
        if (got == 0)
            nanosleep(&(struct timespec){0, 100000000}, NULL);
    }
    if (got == 0) {
        fprintf(stderr, "the filesystem collector hung on the FUSE mount (killed after 20 s)\n");
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        CHECK(!"collector hung");
    } else {
        CHECK_MSG(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child status %d", status);
    }
    char rm[64];
    snprintf(rm, sizeof rm, "rm -rf %s", dir);
    CHECK(system(rm) == 0);
    return check_done();
}
