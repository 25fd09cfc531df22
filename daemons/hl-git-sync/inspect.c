/* hl-git-inspect: what hl-git-sync needs to know about the workspace before
 * a cycle, found as the workspace's owner (hl-git-sync runs it so, through
 * its process runner), so that the daemon itself needs no capability to
 * look into another user's files or processes:
 *
 *   hl-git-inspect WORKSPACE
 *
 * prints "key value" lines: repo yes|no, empty yes|no, busy WHY (another
 * git process uses the repository), held PATH (a lock some process holds),
 * removed N PATH (stale locks removed: their owner is gone), op NAME (the
 * agent's rebase, merge, ... in progress). Exit 0, or 2 on bad usage.
 *
 * With --ours, an index.lock no process holds is hl-git-sync's own (the
 * record of an interrupted sync says so): kept, and reported as "ourlock".
 *
 * The index lock around a working-tree update, taken the way git takes it
 * (O_EXCL on .git/index.lock), so that the agent's git add/commit wait for
 * it instead of committing a tree half-way through an update:
 *   hl-git-inspect --lock WORKSPACE            prints "locked" or "held"
 *   hl-git-inspect --install-index WORKSPACE F renames F over .git/index,
 *                                              then drops the lock
 *   hl-git-inspect --unlock WORKSPACE          drops the lock */
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "gs_repo.h"

static int lock_op(const char *op, const char *ws, const char *file)
{
    char lock[PATH_MAX], index[PATH_MAX];
    snprintf(lock, sizeof lock, "%s/.git/index.lock", ws);
    snprintf(index, sizeof index, "%s/.git/index", ws);
    if (!strcmp(op, "--lock")) {
        int fd = open(lock, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        if (fd < 0 && errno == EEXIST) {
            printf("held\n");
            return 0;
        }
        if (fd < 0) {
            fprintf(stderr, "hl-git-inspect: cannot create %s: %s\n", lock, strerror(errno));
            return 1;
        }
        close(fd);
        printf("locked\n");
        return 0;
    }
    if (!strcmp(op, "--install-index")) {
        if (!file || rename(file, index) != 0) {
            fprintf(stderr, "hl-git-inspect: cannot install the index: %s\n", strerror(errno));
            return 1;
        }
        /* the index is complete before the lock goes */
        int dfd = open(index, O_RDONLY | O_CLOEXEC);
        if (dfd >= 0) {
            fsync(dfd);
            close(dfd);
        }
    }
    if (unlink(lock) != 0 && errno != ENOENT) {
        fprintf(stderr, "hl-git-inspect: cannot remove %s: %s\n", lock, strerror(errno));
        return 1;
    }
    printf("%s\n", !strcmp(op, "--unlock") ? "unlocked" : "installed");
    return 0;
}

int main(int argc, char **argv)
{
    bool ours = false;
    if (argc >= 3 && (!strcmp(argv[1], "--lock") || !strcmp(argv[1], "--unlock") ||
                      !strcmp(argv[1], "--install-index")) && argv[2][0] == '/')
        return lock_op(argv[1], argv[2], argc > 3 ? argv[3] : NULL);
    if (argc == 3 && !strcmp(argv[1], "--ours")) {
        ours = true;
        argv++;
        argc--;
    }
    if (argc != 2 || argv[1][0] != '/') {
        fprintf(stderr, "usage: hl-git-inspect [--ours] WORKSPACE | --lock|--unlock WORKSPACE | "
                        "--install-index WORKSPACE FILE; run by hl-git-sync\n");
        return 2;
    }
    const char *ws = argv[1];
    char gitdir[PATH_MAX];
    snprintf(gitdir, sizeof gitdir, "%s/.git", ws);
    struct stat st;
    bool repo = stat(gitdir, &st) == 0 && S_ISDIR(st.st_mode);
    printf("repo %s\n", repo ? "yes" : "no");
    printf("empty %s\n", gs_dir_empty(ws) ? "yes" : "no");
    if (!repo)
        return 0;
    char why[512];
    if (gs_repo_git_user(ws, gitdir, why, sizeof why)) {
        printf("busy %s\n", why);
        return 0;
    }
    char held[PATH_MAX];
    bool ourlock = false;
    int n = gs_repo_clear_stale_locks(ws, gitdir, ours, &ourlock, held, sizeof held);
    if (ourlock)
        printf("ourlock yes\n");
    if (n == -EBUSY)
        printf("held %s\n", held);
    else if (n > 0)
        printf("removed %d %s\n", n, held);
    const char *op = gs_repo_operation(gitdir);
    if (op)
        printf("op %s\n", op);
    return 0;
}
