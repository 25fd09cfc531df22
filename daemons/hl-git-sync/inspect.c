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
 * agent's rebase, merge, ... in progress). Exit 0, or 2 on bad usage. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "gs_repo.h"

int main(int argc, char **argv)
{
    if (argc != 2 || argv[1][0] != '/') {
        fprintf(stderr, "usage: hl-git-inspect WORKSPACE (an absolute path); run by hl-git-sync\n");
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
    int n = gs_repo_clear_stale_locks(ws, gitdir, held, sizeof held);
    if (n == -EBUSY)
        printf("held %s\n", held);
    else if (n > 0)
        printf("removed %d %s\n", n, held);
    const char *op = gs_repo_operation(gitdir);
    if (op)
        printf("op %s\n", op);
    return 0;
}
