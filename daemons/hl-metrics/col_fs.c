/* Mounted file systems from <procfs>/1/mounts and statvfs() under the root
 * path: node_exporter's "filesystem" collector. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include "collect_int.h"

typedef struct {
    char *device, *mountpoint, *fstype;
    bool ok, ro;
    double size, free, avail, files, files_free;
} fs_t;

/* Undoes the kernel's octal escapes in mount fields ("\040" is a space). */
static void unescape(char *s)
{
    char *w = s;
    for (char *r = s; *r;) {
        if (r[0] == '\\' && r[1] >= '0' && r[1] <= '3' && r[2] >= '0' && r[2] <= '7' &&
            r[3] >= '0' && r[3] <= '7') {
            *w++ = (char)((r[1] - '0') * 64 + (r[2] - '0') * 8 + (r[3] - '0'));
            r += 4;
        } else {
            *w++ = *r++;
        }
    }
    *w = '\0';
}

static bool has_option(const char *opts, const char *opt)
{
    size_t ol = strlen(opt);
    for (const char *p = opts; p && *p;) {
        const char *comma = strchr(p, ',');
        size_t l = comma ? (size_t)(comma - p) : strlen(p);
        if (l == ol && strncmp(p, opt, ol) == 0)
            return true;
        p = comma ? comma + 1 : NULL;
    }
    return false;
}

/* File systems whose statvfs() waits on someone else: a FUSE daemon (any
 * user may mount one, and one that stops answering blocks every statvfs()
 * on it for ever) or a network server. The collectors run in the daemon's
 * only loop, so these are never measured, whatever fs_types_exclude says
 * (issue #12 item 3): a hung mount must not stall the exporter. */
static bool fs_may_hang(const char *fstype)
{
    static const char *const remote[] = {"nfs",    "nfs4",  "cifs",  "smb3",   "smbfs",
                                         "9p",     "ceph",  "glusterfs", "afs", "ncpfs",
                                         "lustre", "gpfs",  "beegfs", "davfs", "coda", NULL};
    if (strcmp(fstype, "fuse") == 0 || strcmp(fstype, "fuseblk") == 0 ||
        strncmp(fstype, "fuse.", 5) == 0)
        return true;
    for (const char *const *r = remote; *r; r++)
        if (strcmp(fstype, *r) == 0)
            return true;
    return false;
}

int hlm_col_filesystem(hlm_collect_t *c, hlm_expo_t *e)
{
    /* PID 1's view, as node_exporter: the host's mounts even when this
     * process runs in its own mount namespace with the host's /proc. */
    int rc = hlm_col_read_proc(c, "1/mounts");
    if (rc == -ENOENT)
        rc = hlm_col_read_proc(c, "self/mounts");
    if (rc < 0)
        return hlm_col_error(c, rc, "%s: %s", c->path.data, strerror(-rc));
    fs_t *fss = NULL;
    size_t n = 0, cap = 0;
    int bad = 0;
    char *cur = c->file.data, *line;
    while (hlm_next_line(&cur, &line)) {
        char *f[6];
        size_t nf = hlm_split(line, f, 6);
        if (nf == 0)
            continue;
        if (nf < 4) {
            bad++;
            continue;
        }
        unescape(f[0]);
        unescape(f[1]);
        if (hlm_col_match(&c->re_mnt, c->has_mnt, f[1]) ||
            hlm_col_match(&c->re_fstype, c->has_fstype, f[2]) || fs_may_hang(f[2]))
            continue;
        bool dup = false;
        for (size_t i = 0; i < n && !dup; i++)
            dup = strcmp(fss[i].mountpoint, f[1]) == 0 && strcmp(fss[i].device, f[0]) == 0 &&
                  strcmp(fss[i].fstype, f[2]) == 0;
        if (dup)
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            fs_t *p = realloc(fss, cap * sizeof *p);
            if (!p)
                abort();
            fss = p;
        }
        fs_t *fs = &fss[n++];
        memset(fs, 0, sizeof *fs);
        fs->device = strdup(f[0]);
        fs->mountpoint = strdup(f[1]);
        fs->fstype = strdup(f[2]);
        if (!fs->device || !fs->mountpoint || !fs->fstype)
            abort();
        fs->ro = has_option(f[3], "ro");
        struct statvfs sv;
        if (statvfs(hlm_join(&c->attr, c->rootfs, fs->mountpoint), &sv) == 0) {
            double frsize = (double)sv.f_frsize;
            fs->ok = true;
            fs->size = (double)sv.f_blocks * frsize;
            fs->free = (double)sv.f_bfree * frsize;
            fs->avail = (double)sv.f_bavail * frsize;
            fs->files = (double)sv.f_files;
            fs->files_free = (double)sv.f_ffree;
        }
    }
#define FS_LABELS(fs) \
    HLM_KV("device", (fs)->device, "fstype", (fs)->fstype, "mountpoint", (fs)->mountpoint)
    enum { AVAIL, DEVERR, FILES, FFREE, FREE, RO, SIZE };
    static const struct {
        const char *name, *help;
    } fams[] = {
        [AVAIL] = {"node_filesystem_avail_bytes",
                   "Filesystem space available to non-root users in bytes."},
        [DEVERR] = {"node_filesystem_device_error",
                    "Whether an error occurred while getting statistics for the given device."},
        [FILES] = {"node_filesystem_files", "Filesystem total file nodes."},
        [FFREE] = {"node_filesystem_files_free", "Filesystem total free file nodes."},
        [FREE] = {"node_filesystem_free_bytes", "Filesystem free space in bytes."},
        [RO] = {"node_filesystem_readonly", "Filesystem read-only status."},
        [SIZE] = {"node_filesystem_size_bytes", "Filesystem size in bytes."},
    };
    for (int k = AVAIL; k <= SIZE; k++) {
        hlm_family(e, fams[k].name, HLM_GAUGE, fams[k].help);
        for (size_t i = 0; i < n; i++) {
            const fs_t *fs = &fss[i];
            if (k != DEVERR && !fs->ok)
                continue; /* only the error flag for a file system statvfs refused */
            double v = k == AVAIL ? fs->avail : k == DEVERR ? !fs->ok : k == FILES ? fs->files
                     : k == FFREE ? fs->files_free : k == FREE ? fs->free : k == RO ? fs->ro
                                                                                    : fs->size;
            hlm_sample(e, FS_LABELS(fs), v);
        }
    }
    for (size_t i = 0; i < n; i++) {
        free(fss[i].device);
        free(fss[i].mountpoint);
        free(fss[i].fstype);
    }
    free(fss);
    if (bad)
        return hlm_col_error(c, -EINVAL, "%s: %d malformed line(s)", c->path.data, bad);
    return 0;
}
