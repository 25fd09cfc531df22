/* The workspace seen from the file system and /proc: see gs_repo.h. */
#include "gs_repo.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static bool is_pid(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (*s < '0' || *s > '9')
            return false;
    return true;
}

static bool under(const char *path, const char *dir)
{
    size_t n = strlen(dir);
    while (n > 1 && dir[n - 1] == '/')
        n--;
    return strncmp(path, dir, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

static bool read_comm(const char *pid, char *comm, size_t n)
{
    char p[300];
    snprintf(p, sizeof p, "/proc/%s/comm", pid);
    int fd = open(p, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    ssize_t got = read(fd, comm, n - 1);
    close(fd);
    if (got <= 0)
        return false;
    comm[got] = '\0';
    comm[strcspn(comm, "\n")] = '\0';
    return true;
}

/* Whether process PID has a file open under PREFIX (a path) or exactly FILE. */
static bool has_open(const char *pid, const char *prefix, const char *file)
{
    char p[300];
    snprintf(p, sizeof p, "/proc/%s/fd", pid);
    DIR *d = opendir(p);
    if (!d)
        return false;
    bool found = false;
    struct dirent *e;
    char link[PATH_MAX], target[PATH_MAX];
    while (!found && (e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        snprintf(link, sizeof link, "/proc/%s/fd/%s", pid, e->d_name);
        ssize_t n = readlink(link, target, sizeof target - 1);
        if (n <= 0)
            continue;
        target[n] = '\0';
        found = (prefix && under(target, prefix)) || (file && strcmp(target, file) == 0);
    }
    closedir(d);
    return found;
}

/* Our own children run while a cycle runs, never while we look. After a
 * SIGKILL of an earlier hl-git-sync its orphans are not ours: they count. */
pid_t gs_repo_git_user(const char *workspace, const char *gitdir, char *why, size_t n)
{
    DIR *d = opendir("/proc");
    if (!d)
        return 0;
    pid_t self = getpid(), found = 0;
    struct dirent *e;
    while (!found && (e = readdir(d))) {
        if (!is_pid(e->d_name))
            continue;
        char comm[32];
        if (!read_comm(e->d_name, comm, sizeof comm) || strncmp(comm, "git", 3) != 0)
            continue;
        pid_t pid = (pid_t)strtol(e->d_name, NULL, 10);
        if (pid == self)
            continue;
        char link[300], cwd[PATH_MAX];
        snprintf(link, sizeof link, "/proc/%s/cwd", e->d_name);
        ssize_t len = readlink(link, cwd, sizeof cwd - 1);
        bool in = false;
        if (len > 0) {
            cwd[len] = '\0';
            in = under(cwd, workspace) || under(cwd, gitdir);
        }
        if (!in)
            in = has_open(e->d_name, gitdir, NULL);
        if (in) {
            found = pid;
            snprintf(why, n, "%s (pid %d) is using the repository", comm, (int)pid);
        }
    }
    closedir(d);
    return found;
}

/* Whether any process has FILE open. */
static pid_t lock_holder(const char *file)
{
    DIR *d = opendir("/proc");
    if (!d)
        return 0;
    pid_t found = 0;
    struct dirent *e;
    while (!found && (e = readdir(d)))
        if (is_pid(e->d_name) && has_open(e->d_name, NULL, file))
            found = (pid_t)strtol(e->d_name, NULL, 10);
    closedir(d);
    return found;
}

typedef struct {
    char **paths;
    size_t n;
} lockset_t;

static void add_lock(lockset_t *s, const char *path)
{
    char **p = realloc(s->paths, (s->n + 1) * sizeof *p);
    if (!p)
        return;
    s->paths = p;
    if ((s->paths[s->n] = strdup(path)))
        s->n++;
}

static bool ends_with_lock(const char *name)
{
    size_t n = strlen(name);
    return n > 5 && strcmp(name + n - 5, ".lock") == 0;
}

/* Lock files under DIR, recursively, bounded in depth. */
static void find_locks(lockset_t *s, const char *dir, int depth)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    char p[PATH_MAX];
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        if (snprintf(p, sizeof p, "%s/%s", dir, e->d_name) >= (int)sizeof p)
            continue;
        if (ends_with_lock(e->d_name)) {
            add_lock(s, p);
        } else if (depth > 0 && e->d_type == DT_DIR) {
            find_locks(s, p, depth - 1);
        }
    }
    closedir(d);
}

int gs_repo_clear_stale_locks(const char *workspace, const char *gitdir, bool keep_index_lock,
                              bool *ours, char *held, size_t n)
{
    static const char *const top[] = {"index.lock", "HEAD.lock", "config.lock",
                                      "packed-refs.lock", "shallow.lock", "ORIG_HEAD.lock",
                                      "FETCH_HEAD.lock", "hl-sync.index.lock",
                                      "hl-sync.newindex.lock", NULL};
    lockset_t s = {0};
    char p[PATH_MAX];
    for (size_t i = 0; top[i]; i++) {
        snprintf(p, sizeof p, "%s/%s", gitdir, top[i]);
        if (access(p, F_OK) == 0)
            add_lock(&s, p);
    }
    snprintf(p, sizeof p, "%s/refs", gitdir);
    find_locks(&s, p, 8);
    int rc = 0;
    if (s.n) {
        char why[256];
        /* A git process at work in the repository may be between taking a
         * lock and opening it, or between closing and renaming it. */
        bool busy = gs_repo_git_user(workspace, gitdir, why, sizeof why) != 0;
        for (size_t i = 0; i < s.n && rc >= 0; i++) {
            if (busy || lock_holder(s.paths[i])) {
                snprintf(held, n, "%s", s.paths[i]);
                rc = -EBUSY;
            }
        }
        char ourpath[PATH_MAX];
        snprintf(ourpath, sizeof ourpath, "%s/index.lock", gitdir);
        for (size_t i = 0; i < s.n && rc >= 0; i++) {
            if (keep_index_lock && !strcmp(s.paths[i], ourpath)) {
                *ours = true;
                continue;
            }
            if (unlink(s.paths[i]) == 0 || errno == ENOENT) {
                snprintf(held, n, "%s", s.paths[i]);
                rc++;
            }
        }
    }
    for (size_t i = 0; i < s.n; i++)
        free(s.paths[i]);
    free(s.paths);
    return rc;
}

const char *gs_repo_operation(const char *gitdir)
{
    static const struct {
        const char *file, *what;
    } ops[] = {{"rebase-merge", "rebase"},           {"rebase-apply", "rebase"},
               {"MERGE_HEAD", "merge"},              {"CHERRY_PICK_HEAD", "cherry-pick"},
               {"REVERT_HEAD", "revert"},            {"BISECT_LOG", "bisect"},
               {"sequencer/todo", "cherry-pick"}};
    char p[PATH_MAX];
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
        snprintf(p, sizeof p, "%s/%s", gitdir, ops[i].file);
        if (access(p, F_OK) == 0)
            return ops[i].what;
    }
    return NULL;
}

static void copy_field(char *dst, size_t n, const char *v)
{
    snprintf(dst, n, "%s", v);
}

int gs_record_load(const char *path, gs_record_t *r)
{
    memset(r, 0, sizeof *r);
    FILE *f = fopen(path, "re");
    if (!f)
        return errno == ENOENT ? 0 : -errno;
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    while ((len = getline(&line, &cap, f)) > 0) {
        line[strcspn(line, "\n")] = '\0';
        char *v = strchr(line, ' ');
        if (!v)
            continue;
        *v++ = '\0';
#define FIELD(k) else if (strcmp(line, #k) == 0) copy_field(r->k, sizeof r->k, v)
        if (0) {
        }
        FIELD(phase);
        FIELD(branch);
        FIELD(old_head);
        FIELD(new_head);
        FIELD(snapshot);
        FIELD(snap_tree);
        FIELD(work_tree);
        FIELD(paused);
        FIELD(conflict);
#undef FIELD
    }
    free(line);
    fclose(f);
    return 0;
}

int gs_record_save(const char *path, const gs_record_t *r)
{
    char tmp[PATH_MAX];
    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp)
        return -ENAMETOOLONG;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return -errno;
    FILE *f = fdopen(fd, "w");
    if (!f) {
        int e = -errno;
        close(fd);
        return e;
    }
    fprintf(f, "phase %s\nbranch %s\nold_head %s\nnew_head %s\nsnapshot %s\nsnap_tree %s\n"
               "work_tree %s\npaused %s\nconflict %s\n",
            r->phase, r->branch, r->old_head, r->new_head, r->snapshot, r->snap_tree,
            r->work_tree, r->paused, r->conflict);
    int rc = 0;
    if (fflush(f) != 0 || fsync(fd) != 0)
        rc = -errno;
    if (fclose(f) != 0 && !rc)
        rc = -errno;
    if (!rc && rename(tmp, path) != 0)
        rc = -errno;
    if (rc)
        unlink(tmp);
    return rc;
}

int gs_repo_owner(const char *path, uid_t *uid, gid_t *gid)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        char *parent = strdup(path);
        if (!parent)
            return -ENOMEM;
        char *slash = strrchr(parent, '/');
        if (slash && slash != parent)
            *slash = '\0';
        else if (slash)
            slash[1] = '\0';
        int rc = stat(parent, &st) == 0 ? 0 : -errno;
        free(parent);
        if (rc)
            return rc;
    }
    *uid = st.st_uid;
    *gid = st.st_gid;
    return 0;
}

bool gs_dir_empty(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return errno == ENOENT;
    struct dirent *e;
    bool empty = true;
    while (empty && (e = readdir(d)))
        empty = !strcmp(e->d_name, ".") || !strcmp(e->d_name, "..");
    closedir(d);
    return empty;
}
