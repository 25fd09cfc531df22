/* The file sink (lg_files.h). */
#include "lg_files.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <hlbus/buf.h>

#define MAX_FILES 256 /* distinct names; past it lines go to "other" */

typedef struct lg_file {
    char name[72];
    int fd;
    uint64_t size;
    hlb_buf_t pending;
} lg_file_t;

/* One rotated file being compressed: the source stays open, so a rotation
 * that renames it meanwhile changes only the index it ends under. */
typedef struct lg_job {
    char name[72];
    int index;
    int src;
    gzFile gz;
    char tmp[4200];
    struct lg_job *next;
} lg_job_t;

struct lg_files {
    char *dir;
    lg_files_conf_t conf;
    lg_file_t *files;
    size_t n, cap;
    lg_job_t *jobs;
    lg_files_stats_t st;
};

static void path_of(const lg_files_t *fs, char *out, size_t size, const char *name, int index,
                    bool gz)
{
    if (index == 0)
        snprintf(out, size, "%s/%s.log", fs->dir, name);
    else
        snprintf(out, size, "%s/%s.log.%d%s", fs->dir, name, index, gz ? ".gz" : "");
}

lg_files_t *lg_files_new(const lg_files_conf_t *conf)
{
    lg_files_t *fs = calloc(1, sizeof *fs);
    if (!fs || !(fs->dir = strdup(conf->dir))) {
        free(fs);
        return NULL;
    }
    fs->conf = *conf;
    fs->conf.dir = fs->dir;
    return fs;
}

static void job_free(lg_job_t *j)
{
    if (j->gz)
        gzclose(j->gz);
    if (j->src >= 0)
        close(j->src);
    free(j);
}

void lg_files_destroy(lg_files_t **fsp)
{
    lg_files_t *fs = *fsp;
    if (!fs)
        return;
    lg_files_flush(fs);
    for (size_t i = 0; i < fs->n; i++) {
        if (fs->files[i].fd >= 0)
            close(fs->files[i].fd);
        hlb_buf_free(&fs->files[i].pending);
    }
    while (fs->jobs) { /* unfinished: the plain rotated file stays as it is */
        lg_job_t *j = fs->jobs;
        fs->jobs = j->next;
        unlink(j->tmp);
        job_free(j);
    }
    free(fs->files);
    free(fs->dir);
    free(fs);
    *fsp = NULL;
}

void lg_files_set_conf(lg_files_t *fs, const lg_files_conf_t *conf)
{
    fs->conf = *conf;
    fs->conf.dir = fs->dir; /* the directory is a restart setting */
}

const lg_files_stats_t *lg_files_stats(const lg_files_t *fs) { return &fs->st; }

void lg_files_safe_name(const char *name, size_t n, char *out, size_t size)
{
    static const char suffix[] = ".service";
    if (n >= sizeof suffix - 1 && memcmp(name + n - (sizeof suffix - 1), suffix, sizeof suffix - 1) == 0)
        n -= sizeof suffix - 1;
    size_t k = 0;
    for (size_t i = 0; i < n && k + 1 < size && k < 64; i++) {
        char c = name[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '_' || c == '-' || c == '@' || (c == '.' && k > 0);
        out[k++] = ok ? c : '_';
    }
    out[k] = 0;
    if (!k)
        snprintf(out, size, "unknown");
}

static int open_file(lg_files_t *fs, lg_file_t *f)
{
    char path[4200];
    path_of(fs, path, sizeof path, f->name, 0, false);
    f->fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0640);
    if (f->fd < 0)
        return -errno;
    struct stat st;
    f->size = fstat(f->fd, &st) == 0 ? (uint64_t)st.st_size : 0;
    return 0;
}

static lg_file_t *file_for(lg_files_t *fs, const char *name)
{
    for (size_t i = 0; i < fs->n; i++)
        if (strcmp(fs->files[i].name, name) == 0)
            return &fs->files[i];
    if (fs->n >= MAX_FILES) {
        if (strcmp(name, "other") != 0)
            return file_for(fs, "other");
    }
    if (fs->n == fs->cap) {
        size_t nc = fs->cap ? fs->cap * 2 : 8;
        lg_file_t *nf = realloc(fs->files, nc * sizeof *nf);
        if (!nf)
            return NULL;
        fs->files = nf;
        fs->cap = nc;
    }
    lg_file_t *f = &fs->files[fs->n++];
    memset(f, 0, sizeof *f);
    snprintf(f->name, sizeof f->name, "%s", name);
    f->fd = -1;
    open_file(fs, f); /* a failure is retried at the next write */
    return f;
}

/* Writes F's pending lines; on failure the file is cut back to where it
 * was, so no half line stays. */
static int write_pending(lg_files_t *fs, lg_file_t *f)
{
    if (!f->pending.len)
        return 0;
    int rc = 0;
    struct stat st;
    if (f->fd >= 0 && fstat(f->fd, &st) == 0 && st.st_nlink == 0) {
        /* removed under us (by hand, or another tool's rotation): a new
         * file, not lines written into a deleted one */
        close(f->fd);
        f->fd = -1;
    }
    if (f->fd < 0 && (rc = open_file(fs, f)) < 0)
        goto lost;
    size_t off = 0;
    while (off < f->pending.len) {
        ssize_t w = write(f->fd, f->pending.data + off, f->pending.len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            rc = w < 0 ? -errno : -ENOSPC;
            if (off && ftruncate(f->fd, (off_t)f->size) < 0)
                rc = -errno;
            goto lost;
        }
        off += (size_t)w;
    }
    f->size += f->pending.len;
    fs->st.bytes += f->pending.len;
    hlb_buf_reset(&f->pending);
    return 0;
lost:;
    size_t lines = 0;
    for (size_t i = 0; i < f->pending.len; i++)
        lines += f->pending.data[i] == '\n';
    fs->st.lines_lost += lines;
    fs->st.lines -= lines;
    fs->st.write_errors++;
    fs->st.last_errno = -rc;
    hlb_buf_reset(&f->pending);
    return rc;
}

static lg_job_t *job_of(lg_files_t *fs, const char *name, int index)
{
    for (lg_job_t *j = fs->jobs; j; j = j->next)
        if (j->index == index && strcmp(j->name, name) == 0)
            return j;
    return NULL;
}

/* The rotated files of every name, oldest first beyond the cap. */
static void enforce_cap(lg_files_t *fs)
{
    for (int guard = 0; guard < 10000; guard++) {
        DIR *d = opendir(fs->dir);
        if (!d)
            return;
        uint64_t total = 0;
        char victim[300] = "";
        time_t vtime = 0;
        struct dirent *e;
        while ((e = readdir(d))) {
            struct stat st;
            if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode))
                continue;
            total += (uint64_t)st.st_size;
            const char *dot = strstr(e->d_name, ".log.");
            if (!dot || e->d_name[0] == '.')
                continue; /* only rotated files are removed for the cap */
            if (!*victim || st.st_mtime < vtime) {
                snprintf(victim, sizeof victim, "%s", e->d_name);
                vtime = st.st_mtime;
            }
        }
        closedir(d);
        if (total <= fs->conf.disk_cap || !*victim)
            return;
        char path[4400];
        snprintf(path, sizeof path, "%s/%s", fs->dir, victim);
        if (unlink(path) < 0)
            return;
        fs->st.removed_for_cap++;
    }
}

static void rotate(lg_files_t *fs, lg_file_t *f)
{
    char from[4200], to[4200];
    int count = fs->conf.backup_count;
    if (f->fd >= 0) {
        close(f->fd);
        f->fd = -1;
    }
    if (count == 0) {
        path_of(fs, from, sizeof from, f->name, 0, false);
        unlink(from);
    } else {
        /* the oldest goes, the others move up one: name.log.k(.gz) -> k+1 */
        for (int gz = 0; gz < 2; gz++) {
            path_of(fs, from, sizeof from, f->name, count, gz);
            unlink(from);
        }
        lg_job_t *dead = job_of(fs, f->name, count);
        if (dead) {
            lg_job_t **pp = &fs->jobs;
            while (*pp != dead)
                pp = &(*pp)->next;
            *pp = dead->next;
            unlink(dead->tmp);
            job_free(dead);
        }
        for (int k = count - 1; k >= 1; k--) {
            for (int gz = 0; gz < 2; gz++) {
                path_of(fs, from, sizeof from, f->name, k, gz);
                path_of(fs, to, sizeof to, f->name, k + 1, gz);
                rename(from, to);
            }
            lg_job_t *j = job_of(fs, f->name, k);
            if (j)
                j->index = k + 1;
        }
        path_of(fs, from, sizeof from, f->name, 0, false);
        path_of(fs, to, sizeof to, f->name, 1, false);
        rename(from, to);
        if (fs->conf.compress) {
            lg_job_t *j = calloc(1, sizeof *j);
            if (j) {
                snprintf(j->name, sizeof j->name, "%s", f->name);
                j->index = 1;
                j->src = open(to, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
                snprintf(j->tmp, sizeof j->tmp, "%s/.%s.gz.%d.tmp", fs->dir, f->name,
                         (int)fs->st.rotations);
                int out = open(j->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
                j->gz = out >= 0 ? gzdopen(out, "wb6") : NULL;
                if (j->src < 0 || !j->gz) {
                    if (!j->gz && out >= 0)
                        close(out);
                    unlink(j->tmp);
                    job_free(j);
                } else {
                    j->next = fs->jobs;
                    fs->jobs = j;
                }
            }
        }
    }
    fs->st.rotations++;
    open_file(fs, f);
    enforce_cap(fs);
}

void lg_files_add(lg_files_t *fs, const char *name, const char *line, size_t n)
{
    lg_file_t *f = file_for(fs, name);
    if (!f) {
        fs->st.lines_lost++;
        return;
    }
    if (f->size + f->pending.len + n > fs->conf.max_bytes && f->size + f->pending.len > 0) {
        write_pending(fs, f);
        rotate(fs, f);
    }
    hlb_buf_add(&f->pending, line, n);
    fs->st.lines++;
}

int lg_files_flush(lg_files_t *fs)
{
    int rc = 0;
    for (size_t i = 0; i < fs->n; i++) {
        int r = write_pending(fs, &fs->files[i]);
        if (r < 0)
            rc = r;
    }
    return rc;
}

bool lg_files_compress_step(lg_files_t *fs, size_t budget)
{
    static char buf[65536];
    while (fs->jobs && budget > 0) {
        lg_job_t *j = fs->jobs;
        ssize_t r = read(j->src, buf, sizeof buf);
        if (r > 0) {
            if (gzwrite(j->gz, buf, (unsigned)r) != (int)r)
                r = -1;
            else {
                budget = (size_t)r >= budget ? 0 : budget - (size_t)r;
                continue;
            }
        }
        fs->jobs = j->next;
        gzFile gz = j->gz;
        j->gz = NULL;
        int zrc = gzclose(gz);
        if (r == 0 && zrc == Z_OK) {
            char plain[4200], zipped[4200];
            path_of(fs, plain, sizeof plain, j->name, j->index, false);
            path_of(fs, zipped, sizeof zipped, j->name, j->index, true);
            if (rename(j->tmp, zipped) == 0) {
                unlink(plain);
                fs->st.compressed++;
            } else {
                unlink(j->tmp);
            }
        } else {
            unlink(j->tmp); /* the plain file stays: nothing lost */
        }
        job_free(j);
        enforce_cap(fs);
    }
    return fs->jobs != NULL;
}
