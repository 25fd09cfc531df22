/* create, verify, restore (see bk_ops.h). */
#include "bk_ops.h"

#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <hlbus/buf.h>
#include <hlbus/clock.h>
#include <hlbus/str.h>
#include <hlbus/strv.h>

#include "bk_scan.h"
#include "bk_sha256.h"
#include "bk_store.h"
#include "bk_tar.h"
#include "bk_walk.h"

void bk_result_free(bk_result_t *r)
{
    free(r->op);
    free(r->id);
    free(r->kind);
    free(r->parent);
    free(r->reason);
    free(r->detail);
    free(r->archive);
    bk_problems_free(&r->problems);
    hlb_strv_free(r->pruned);
    hlb_strv_free(r->cleaned);
    *r = (bk_result_t) {0};
}

static void emit(bk_event_fn ev, void *arg, const char *name, const bk_result_t *r)
{
    if (ev)
        ev(name, r, arg);
}

static int finish(bk_result_t *r, const char *outcome, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int finish(bk_result_t *r, const char *outcome, int code, const char *fmt, ...)
{
    r->outcome = outcome;
    r->exit = code;
    if (fmt) {
        va_list ap;
        va_start(ap, fmt);
        free(r->detail);
        r->detail = hlb_vstrdupf(fmt, ap);
        va_end(ap);
    }
    return code;
}

/* The last non-empty line of tar's stderr, for a one-line reason. */
static char *last_line(const hlb_buf_t *b)
{
    if (!b->data || !b->len)
        return strdup("no message");
    size_t end = b->len;
    while (end > 0 && (b->data[end - 1] == '\n' || b->data[end - 1] == '\r'))
        end--;
    size_t start = end;
    while (start > 0 && b->data[start - 1] != '\n')
        start--;
    return strndup(b->data + start, end - start);
}

static int take_lock(const bk_cfg_t *c, bk_lock_t *l, bk_result_t *r, bk_event_fn ev, void *arg,
                     int64_t wait_ms)
{
    bk_owner_t holder;
    int lr = bk_lock_take(c->dir, l, &holder);
    /* A live holder (the kernel says so: dead ones hold no flock) may be
     * waited for: the shutdown archive waits for a periodic backup. */
    uint64_t deadline = hlb_mono_us() + (uint64_t) (wait_ms > 0 ? wait_ms : 0) * 1000u;
    while (lr == -EBUSY && hlb_mono_us() < deadline) {
        struct timespec ts = {0, 100 * 1000 * 1000};
        nanosleep(&ts, NULL);
        lr = bk_lock_take(c->dir, l, &holder);
    }
    if (lr == -EBUSY) {
        char who[160];
        r->prev_owner = holder;
        finish(r, "busy", BK_EXIT_BUSY, "%s is in use by another run: %s", c->dir,
               holder.pid ? bk_owner_str(&holder, who, sizeof who) : "(no record yet)");
        return -1;
    }
    if (lr < 0) {
        finish(r, "failed", BK_EXIT_FAILED, "cannot lock %s: %s", c->dir, strerror(-lr));
        return -1;
    }
    if (l->reclaimed) {
        r->reclaimed = true;
        r->prev_owner = l->prev;
        emit(ev, arg, "lock", r);
    }
    return 0;
}

static int copy_file(const char *from, const char *to)
{
    int in = open(from, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (in < 0)
        return -errno;
    int out = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (out < 0) {
        int e = -errno;
        close(in);
        return e;
    }
    char buf[65536];
    int r = 0;
    for (;;) {
        ssize_t n = read(in, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            r = -errno;
            break;
        }
        if (n == 0)
            break;
        if (write(out, buf, (size_t) n) != n) {
            r = errno ? -errno : -EIO;
            break;
        }
    }
    if (!r && fsync(out) < 0)
        r = -errno;
    close(in);
    close(out);
    return r;
}

static size_t chain_len(const bk_list_t *l, const bk_info_t *b)
{
    size_t n = 0;
    while (b && b->parent && n <= l->n) {
        n++;
        b = bk_list_find(l, b->parent);
    }
    return n;
}

/* ---- the verification right after writing ---- */

typedef struct {
    bk_manifest_t *m;      /* the scan's, corrected here for what changed while read */
    bk_manifest_t added;   /* files in the archive the scan did not see (created meanwhile) */
    bk_problems_t *p;
    size_t changed, stored;
} pv_t;

static int64_t ns(const struct timespec *t)
{
    return (int64_t) t->tv_sec * 1000000000LL + t->tv_nsec;
}

/* Whether the live file at PATH is no longer what the scan saw (changed,
 * replaced or gone while the backup ran). */
static bool live_changed(const bk_entry_t *e)
{
    struct stat sb;
    if (lstat(e->path, &sb) < 0)
        return true;
    return ns(&sb.st_mtim) != e->mtime_ns || ns(&sb.st_ctim) != e->ctime_ns ||
           (uint64_t) sb.st_ino != e->ino ||
           (S_ISREG(sb.st_mode) && (uint64_t) sb.st_size != e->size);
}

static int on_extracted(const char *path, int dirfd, const char *name, const struct stat *sb,
                        void *arg)
{
    pv_t *v = arg;
    bk_entry_t *e = bk_manifest_find(v->m, path);
    if (S_ISDIR(sb->st_mode)) {
        if (e)
            e->stored = true;
        return 0;
    }
    bk_entry_t got;
    int r = bk_entry_from(path, dirfd, name, sb, NULL, &got);
    if (r < 0) {
        bk_problem(v->p, "%s: restored, but unreadable: %s", path, strerror(-r));
        return 0;
    }
    /* Times and inode unknown: the next run reads the file again. */
    got.mtime_ns = got.ctime_ns = 0;
    got.ino = 0;
    got.stored = true;
    v->stored++;
    if (!e) {
        v->changed++;
        return bk_manifest_add(&v->added, &got);
    }
    e->stored = true;
    bool same = got.type == e->type && got.size == e->size && !strcmp(got.sha, e->sha) &&
                (e->type == 'l' || got.mode == e->mode);
    if (same)
        return 0;
    if (live_changed(e)) {
        /* The archive holds what tar read, later than the scan: the
         * manifest says what the archive holds. */
        v->changed++;
        e->type = got.type;
        e->size = got.size;
        e->mode = got.mode;
        memcpy(e->sha, got.sha, BK_SHA_HEX);
        e->mtime_ns = e->ctime_ns = 0;
        e->ino = 0;
        return 0;
    }
    bk_problem(v->p, "%s: the archive does not restore it (%s)", path,
               got.type != e->type ? "another type"
               : got.size != e->size ? "another size"
               : strcmp(got.sha, e->sha) ? "other content"
                                         : "another mode");
    return 0;
}

/* After the walk: what the archive lacks. MISSED counts files changed
 * since PARENT that an incremental did not store (an mtime set back). */
static void check_unstored(pv_t *v, const bk_manifest_t *parent, bool incremental, size_t *missed)
{
    size_t w = 0;
    for (size_t i = 0; i < v->m->n; i++) {
        bk_entry_t *e = &v->m->e[i];
        bool keep = true;
        if (!e->stored) {
            const bk_entry_t *pe = incremental && parent ? bk_manifest_find(parent, e->path) : NULL;
            bool inherited = incremental && e->type != 'd' && pe && pe->type == e->type &&
                             !strcmp(pe->sha, e->sha) && (e->type == 'l' || pe->mode == e->mode);
            if (inherited) {
                /* in an earlier archive of the chain */
            } else if (live_changed(e)) {
                /* gone or replaced while the backup ran: the archive never
                 * had it, so the manifest does not either */
                v->changed++;
                keep = false;
            } else if (incremental) {
                (*missed)++;
                bk_problem(v->p, "%s: changed, but the incremental archive did not store it",
                           e->path);
            } else {
                bk_problem(v->p, "%s: not in the archive", e->path);
            }
        }
        if (keep)
            v->m->e[w++] = *e;
        else
            free(e->path);
    }
    v->m->n = w;
    for (size_t i = 0; i < v->added.n; i++) {
        bk_manifest_add(v->m, &v->added.e[i]);
    }
    bk_manifest_sort(v->m);
}

/* One attempt at writing ID: FULL or an incremental on PARENT. Leaves the
 * archive and snapshot under their temporary names; *VERIFIED_OUT says
 * whether the check passed, *MISSED how many changes an incremental lost. */
typedef struct {
    char *arch_tmp, *snar_tmp, *scratch;
} temps_t;

static void temps_remove(temps_t *t)
{
    if (t->arch_tmp)
        unlink(t->arch_tmp);
    if (t->snar_tmp)
        unlink(t->snar_tmp);
    if (t->scratch)
        bk_remove_tree(t->scratch);
}

static void temps_free(temps_t *t)
{
    free(t->arch_tmp);
    free(t->snar_tmp);
    free(t->scratch);
    *t = (temps_t) {0};
}

static int attempt(const bk_cfg_t *c, const char *id, const bk_info_t *parent,
                   const bk_manifest_t *prev, bk_manifest_t *m, temps_t *t, bk_result_t *r,
                   size_t *missed, bool *partial)
{
    *missed = 0;
    *partial = false;
    bk_scan_opts_t so = {.paths = c->paths, .exclude = c->exclude, .skip = c->dir, .prev = prev};
    bk_scan_stats_t st;
    hlb_buf_t warn = {0};
    int sr = bk_scan(&so, m, &st, &warn);
    if (sr < 0) {
        hlb_buf_free(&warn);
        return finish(r, "failed", BK_EXIT_FAILED, "cannot scan the paths: %s", strerror(-sr));
    }
    r->hashed = st.hashed;
    r->reused = st.reused;
    if (st.unreadable)
        *partial = true;
    hlb_buf_free(&warn);

    temps_remove(t);
    if (parent) {
        char *ps = bk_store_path(c->dir, parent->id, ".snar");
        int cr = ps ? copy_file(ps, t->snar_tmp) : -ENOMEM;
        free(ps);
        if (cr < 0)
            return finish(r, "failed", BK_EXIT_FAILED, "cannot copy %s.snar: %s", parent->id,
                          strerror(-cr));
    }
    char **argv = bk_tar_create_argv(c->tar, t->arch_tmp, t->snar_tmp, c->dir, c->paths, c->exclude);
    if (!argv)
        return finish(r, "failed", BK_EXIT_FAILED, "none of the paths exists");
    hlb_buf_t err = {0};
    int rc = bk_run(argv, NULL, &err);
    hlb_strv_free(argv);
    if (rc != 0 && rc != 1) {
        char *why = rc < 0 ? strdup(strerror(-rc)) : last_line(&err);
        finish(r, "failed", BK_EXIT_FAILED, "tar failed (status %d): %s", rc, why ? why : "");
        free(why);
        hlb_buf_free(&err);
        return BK_EXIT_FAILED;
    }
    if (rc == 1)
        *partial = true; /* "file changed as we read it": the archive is whole */
    hlb_buf_reset(&err);
    int fr = bk_fsync_path(t->arch_tmp);
    if (!fr)
        fr = bk_fsync_path(t->snar_tmp);
    if (fr < 0) {
        hlb_buf_free(&err);
        return finish(r, "failed", BK_EXIT_FAILED, "cannot write the archive: %s", strerror(-fr));
    }

    /* The verification: the archive restored into a scratch directory,
     * every file there checked against the scan. */
    bk_remove_tree(t->scratch);
    if (mkdir(t->scratch, 0700) < 0) {
        hlb_buf_free(&err);
        return finish(r, "failed", BK_EXIT_FAILED, "cannot make %s: %s", t->scratch, strerror(errno));
    }
    char **xv = bk_tar_extract_argv(c->tar, t->arch_tmp, t->scratch, NULL);
    rc = xv ? bk_run(xv, NULL, &err) : -ENOMEM;
    hlb_strv_free(xv);
    if (rc != 0) {
        char *why = rc < 0 ? strdup(strerror(-rc)) : last_line(&err);
        bk_problem(&r->problems, "%s.tar.gz: does not restore (tar status %d: %s)", id, rc,
                   why ? why : "");
        free(why);
    }
    hlb_buf_free(&err);
    pv_t v = {.m = m, .p = &r->problems};
    if (rc == 0) {
        int wr = bk_walk(t->scratch, "", false, on_extracted, &v);
        if (wr < 0)
            bk_problem(&r->problems, "%s: cannot check the restored tree: %s", t->scratch,
                       strerror(-wr));
        check_unstored(&v, prev, parent != NULL, missed);
    }
    bk_manifest_free(&v.added);
    bk_remove_tree(t->scratch);
    r->changed = v.changed;
    r->stored = v.stored;
    if (v.changed)
        *partial = true;
    return BK_EXIT_OK;
}

static int commit(const bk_cfg_t *c, const char *id, bk_manifest_t *m, temps_t *t, bool bad,
                  bk_result_t *r)
{
    char *arch = bk_store_path(c->dir, id, ".tar.gz");
    char *snar = bk_store_path(c->dir, id, ".snar");
    char *mname = hlb_strdupf("%s.manifest", id);
    int e = 0;
    if (!arch || !snar || !mname) {
        e = -ENOMEM;
        goto out;
    }
    uint64_t sz = 0;
    if ((e = bk_sha256_file(AT_FDCWD, t->arch_tmp, m->archive_sha, &sz)) < 0)
        goto out;
    m->archive_size = sz;
    r->archive_bytes = sz;
    if (bad) {
        /* kept for a look, marked first, never a parent: no snapshot */
        unlink(t->snar_tmp);
        m->snar_sha[0] = '\0';
        if ((e = bk_store_mark_bad(c->dir, id, r->problems.n ? r->problems.v[0] : "did not verify")) < 0)
            goto out;
    } else {
        if ((e = bk_sha256_file(AT_FDCWD, t->snar_tmp, m->snar_sha, NULL)) < 0)
            goto out;
        if (rename(t->snar_tmp, snar) < 0) {
            e = -errno;
            goto out;
        }
    }
    if (rename(t->arch_tmp, arch) < 0) {
        e = -errno;
        goto out;
    }
    chmod(arch, 0600);
    size_t len;
    char *text = bk_manifest_format(m, &len);
    e = text ? bk_store_write_file(c->dir, mname, text, len) : -ENOMEM;
    free(text);
    if (!e) {
        free(r->archive);
        r->archive = arch;
        arch = NULL;
    }
out:
    free(arch);
    free(snar);
    free(mname);
    return e;
}

int bk_create(const bk_cfg_t *c, const bk_create_opts_t *o, bk_result_t *r)
{
    *r = (bk_result_t) {.op = strdup("create"), .reason = strdup(o->reason ? o->reason : "request")};
    uint64_t t0 = hlb_mono_us();
    r->ts_us = hlb_now_us();
    int mr = bk_mkdir_p(c->dir, 0750);
    if (mr < 0)
        return finish(r, "failed", BK_EXIT_FAILED, "cannot create %s: %s", c->dir, strerror(-mr));
    bk_lock_t lock;
    if (take_lock(c, &lock, r, o->event, o->arg, o->wait_ms) < 0)
        return r->exit;
    bk_store_clean(c->dir, &r->cleaned);

    bk_list_t l;
    int lr = bk_store_list(c->dir, &l);
    if (lr < 0) {
        bk_lock_release(&lock);
        return finish(r, "failed", BK_EXIT_FAILED, "cannot read %s: %s", c->dir, strerror(-lr));
    }
    /* The previous verified backup: its hashes spare reading unchanged
     * files; an incremental builds on it when its snapshot is intact and
     * its chain is not yet full_every long. */
    const bk_info_t *newest = bk_list_newest_good(&l);
    bk_manifest_t prev = {0};
    bool have_prev = false;
    if (newest) {
        char *mp = bk_store_path(c->dir, newest->id, ".manifest");
        char err[256];
        have_prev = mp && bk_manifest_load(mp, &prev, err, sizeof err) == 0;
        free(mp);
    }
    const bk_info_t *parent = NULL;
    if (!o->full && have_prev && c->full_every > 0 && chain_len(&l, newest) < (size_t) c->full_every &&
        prev.snar_sha[0]) {
        char *sp = bk_store_path(c->dir, newest->id, ".snar");
        char hex[BK_SHA_HEX];
        if (sp && bk_sha256_file(AT_FDCWD, sp, hex, NULL) == 0 && !strcmp(hex, prev.snar_sha))
            parent = newest;
        free(sp);
    }

    char *id = NULL;
    if (o->name) {
        if (!bk_store_id_ok(o->name)) {
            finish(r, "failed", BK_EXIT_USAGE, "\"%s\" is not a backup name (hl-backup-YYYYmmddTHHMMSSZ)", o->name);
            goto done_list;
        }
        id = strdup(o->name);
    } else {
        id = bk_store_new_id(c->dir, o->prefix ? o->prefix : BK_PREFIX_BACKUP, r->ts_us);
    }
    r->id = id ? strdup(id) : NULL;
    temps_t t = {0};
    t.arch_tmp = hlb_strdupf("%s/.%s.tar.gz.part", c->dir, id ? id : "");
    t.snar_tmp = hlb_strdupf("%s/.%s.snar.part", c->dir, id ? id : "");
    t.scratch = hlb_strdupf("%s/.%s.verify", c->dir, id ? id : "");
    if (!id || !r->id || !t.arch_tmp || !t.snar_tmp || !t.scratch) {
        finish(r, "failed", BK_EXIT_FAILED, "out of memory");
        goto done;
    }
    r->kind = strdup(parent ? "incremental" : "full");
    r->parent = parent ? strdup(parent->id) : NULL;
    emit(o->event, o->arg, "started", r);

    bk_manifest_t m = {0};
    size_t missed = 0;
    bool partial = false;
    int ar = attempt(c, id, parent, have_prev ? &prev : NULL, &m, &t, r, &missed, &partial);
    if (ar == BK_EXIT_OK && missed && parent && missed == r->problems.n) {
        /* tar's incremental test is the mtime: a file whose mtime was set
         * back (cp -p, rsync -t, touch -d) changed unseen. The manifest saw
         * it; a full backup stores it. */
        bk_problems_free(&r->problems);
        bk_manifest_free(&m);
        parent = NULL;
        free(r->kind);
        free(r->parent);
        r->kind = strdup("full");
        r->parent = NULL;
        ar = attempt(c, id, NULL, have_prev ? &prev : NULL, &m, &t, r, &missed, &partial);
        if (ar == BK_EXIT_OK) {
            free(r->detail);
            r->detail = hlb_strdupf("%zu changed file%s with an earlier mtime: taken as a full backup",
                                    missed, missed == 1 ? "" : "s");
        }
    }
    if (ar != BK_EXIT_OK) {
        temps_remove(&t);
        bk_manifest_free(&m);
        emit(o->event, o->arg, "failed", r);
        goto done;
    }
    m.id = strdup(id);
    m.kind = strdup(r->kind);
    m.parent = r->parent ? strdup(r->parent) : NULL;
    m.reason = strdup(r->reason);
    m.created_us = r->ts_us;
    r->files = m.n;
    bool bad = r->problems.n > 0;
    int cr = commit(c, id, &m, &t, bad, r);
    bk_manifest_free(&m);
    temps_remove(&t);
    if (cr < 0) {
        finish(r, "failed", BK_EXIT_FAILED, "cannot put the backup in place: %s", strerror(-cr));
        bk_store_remove(c->dir, id);
        emit(o->event, o->arg, "failed", r);
        goto done;
    }
    r->duration_us = hlb_mono_us() - t0;
    if (bad) {
        finish(r, "bad", BK_EXIT_BAD, "%s did not verify (%zu problem%s; first: %s): kept as bad, not latest",
               id, r->problems.n, r->problems.n == 1 ? "" : "s", r->problems.v[0]);
        emit(o->event, o->arg, "failed", r);
    } else {
        int sl = bk_store_set_latest(c->dir, id);
        char *d0 = r->detail;
        r->detail = NULL;
        finish(r, partial ? "partial" : "ok", partial ? BK_EXIT_PARTIAL : BK_EXIT_OK,
               "%s: %s%s%s, %llu entries (%llu files in this archive), %llu bytes%s%s%s", id, r->kind,
               r->parent ? " on " : "", r->parent ? r->parent : "", (unsigned long long) r->files,
               (unsigned long long) r->stored, (unsigned long long) r->archive_bytes,
               r->changed ? ", some files changed while read" : "", d0 ? "; " : "", d0 ? d0 : "");
        free(d0);
        if (sl < 0)
            bk_problem(&r->problems, "%s: cannot point the latest link at it: %s", BK_LATEST, strerror(-sl));
        emit(o->event, o->arg, "created", r);
        emit(o->event, o->arg, "latest", r);
    }
    /* a given name's prefix says whose retention applies */
    const char *prefix = o->prefix ? o->prefix : BK_PREFIX_BACKUP;
    if (o->name && hlb_has_prefix(o->name, BK_PREFIX_STATE))
        prefix = BK_PREFIX_STATE;
    bk_store_prune(c->dir, prefix, c->keep, c->max_age_ms, hlb_now_us(), id, &r->pruned);
    if (r->pruned)
        emit(o->event, o->arg, "pruned", r);
done:
    temps_free(&t);
    free(id);
done_list:
    bk_manifest_free(&prev);
    bk_list_free(&l);
    bk_lock_release(&lock);
    r->duration_us = hlb_mono_us() - t0;
    return r->exit;
}

/* ---- verify and restore ---- */

/* ID as named ("latest" is the latest link, else the newest verified). */
static const bk_info_t *resolve(const bk_cfg_t *c, const bk_list_t *l, const char *id)
{
    if (id && strcmp(id, "latest"))
        return bk_list_find(l, id);
    char *lt = bk_store_latest(c->dir);
    const bk_info_t *b = lt ? bk_list_find(l, lt) : NULL;
    free(lt);
    return b ? b : bk_list_newest_good(l);
}

/* Checks the archive of CID against its manifest (loaded into M). Returns
 * the problems found (named by file). */
static size_t check_archive(const bk_cfg_t *c, const char *cid, bk_manifest_t *m, bk_problems_t *p)
{
    char *mp = bk_store_path(c->dir, cid, ".manifest");
    char *ap = bk_store_path(c->dir, cid, ".tar.gz");
    char err[256];
    size_t before = p->n;
    int r = mp ? bk_manifest_load(mp, m, err, sizeof err) : -ENOMEM;
    if (r < 0) {
        bk_problem(p, "%s: %s", mp ? mp : cid, r == -EINVAL ? err : strerror(-r));
    } else {
        struct stat sb;
        char hex[BK_SHA_HEX];
        uint64_t sz;
        if (!ap || lstat(ap, &sb) < 0)
            bk_problem(p, "%s: missing", ap ? ap : cid);
        else if (!S_ISREG(sb.st_mode))
            bk_problem(p, "%s: not a regular file", ap);
        else if ((uint64_t) sb.st_size != m->archive_size)
            bk_problem(p, "%s: %llu bytes, its manifest says %llu (truncated or grown)", ap,
                       (unsigned long long) sb.st_size, (unsigned long long) m->archive_size);
        else if ((r = bk_sha256_file(AT_FDCWD, ap, hex, &sz)) < 0)
            bk_problem(p, "%s: unreadable: %s", ap, strerror(-r));
        else if (strcmp(hex, m->archive_sha))
            bk_problem(p, "%s: SHA-256 %.12s…, its manifest says %.12s… (damaged)", ap, hex,
                       m->archive_sha);
    }
    free(mp);
    free(ap);
    return p->n - before;
}

/* Marks the chain members named in problems, and ID, bad; moves the latest
 * link off anything bad. */
static void mark_and_relink(const bk_cfg_t *c, const char *id, char *const *chain, const bk_problems_t *p)
{
    for (char *const *ci = chain; ci && *ci; ci++) {
        for (size_t i = 0; i < p->n; i++) {
            char *needle = hlb_strdupf("/%s.", *ci);
            bool hit = needle && strstr(p->v[i], needle);
            free(needle);
            if (hit && strcmp(*ci, id)) {
                bk_store_mark_bad(c->dir, *ci, p->v[i]);
                break;
            }
        }
    }
    bk_store_mark_bad(c->dir, id, p->n ? p->v[0] : "did not verify");
    bk_list_t l;
    if (bk_store_list(c->dir, &l) < 0)
        return;
    char *latest = bk_store_latest(c->dir);
    const bk_info_t *lb = latest ? bk_list_find(&l, latest) : NULL;
    char *missing = NULL;
    char **lchain = lb ? bk_list_chain(&l, lb->id, &missing) : NULL;
    if (!lb || lb->state != BK_GOOD || !lchain) {
        const bk_info_t *g = bk_list_newest_good(&l);
        bk_store_set_latest(c->dir, g ? g->id : NULL);
    }
    hlb_strv_free(lchain);
    free(missing);
    free(latest);
    bk_list_free(&l);
}

/* Extracts CHAIN (oldest first) under TO, only ONLY when set. */
static int extract_chain(const bk_cfg_t *c, char *const *chain, const char *to, const char *only,
                         bk_problems_t *p)
{
    char *members[2] = {(char *) only, NULL};
    char *om = only ? bk_tar_member(only) : NULL;
    for (char *const *ci = chain; ci && *ci; ci++) {
        char *ap = bk_store_path(c->dir, *ci, ".tar.gz");
        if (!ap)
            return -ENOMEM;
        hlb_buf_t err = {0};
        if (only) {
            /* tar fails on a member an archive lacks: ask it first. */
            hlb_buf_t out = {0};
            char **lv = bk_tar_list_argv(c->tar, ap);
            int lr = lv ? bk_run(lv, &out, &err) : -ENOMEM;
            hlb_strv_free(lv);
            bool has = false;
            size_t ol = strlen(om);
            for (char *line = out.data, *nl; lr == 0 && line && *line; line = nl ? nl + 1 : NULL) {
                nl = strchr(line, '\n');
                size_t n = nl ? (size_t) (nl - line) : strlen(line);
                while (n && line[n - 1] == '/')
                    n--;
                if (n >= ol && !strncmp(line, om, ol) && (n == ol || line[ol] == '/')) {
                    has = true;
                    break;
                }
            }
            hlb_buf_free(&out);
            if (lr != 0) {
                char *why = last_line(&err);
                bk_problem(p, "%s: cannot list it (tar status %d: %s)", ap, lr, why ? why : "");
                free(why);
            }
            hlb_buf_reset(&err);
            if (!has) {
                free(ap);
                hlb_buf_free(&err);
                continue;
            }
        }
        char **xv = bk_tar_extract_argv(c->tar, ap, to, only ? members : NULL);
        int rc = xv ? bk_run(xv, NULL, &err) : -ENOMEM;
        hlb_strv_free(xv);
        if (rc != 0) {
            char *why = rc < 0 ? strdup(strerror(-rc)) : last_line(&err);
            bk_problem(p, "%s: does not restore (tar status %d: %s)", ap, rc, why ? why : "");
            free(why);
        }
        hlb_buf_free(&err);
        free(ap);
    }
    free(om);
    return 0;
}

static int open_op(const bk_cfg_t *c, const char *op, const char *id, bk_lock_t *lock, bk_list_t *l,
                   const bk_info_t **b, bk_event_fn ev, void *arg, bk_result_t *r)
{
    *r = (bk_result_t) {.op = strdup(op)};
    *l = (bk_list_t) {0};
    struct stat sb;
    if (stat(c->dir, &sb) < 0)
        return finish(r, "notfound", BK_EXIT_NOTFOUND, "%s: %s", c->dir, strerror(errno));
    if (take_lock(c, lock, r, ev, arg, 0) < 0)
        return r->exit;
    int lr = bk_store_list(c->dir, l);
    if (lr < 0) {
        bk_lock_release(lock);
        return finish(r, "failed", BK_EXIT_FAILED, "cannot read %s: %s", c->dir, strerror(-lr));
    }
    *b = resolve(c, l, id);
    if (!*b) {
        bk_list_free(l);
        bk_lock_release(lock);
        return finish(r, "notfound", BK_EXIT_NOTFOUND, "no backup %s in %s", id ? id : "latest", c->dir);
    }
    r->id = strdup((*b)->id);
    r->kind = (*b)->kind ? strdup((*b)->kind) : NULL;
    r->parent = (*b)->parent ? strdup((*b)->parent) : NULL;
    r->reason = (*b)->reason ? strdup((*b)->reason) : NULL;
    r->ts_us = (*b)->ts_us;
    r->files = (*b)->entries;
    r->archive_bytes = (*b)->archive_size;
    r->archive = bk_store_path(c->dir, (*b)->id, ".tar.gz");
    return BK_EXIT_OK;
}

/* Checks every archive of B's chain; *CHAIN and ID's manifest M out. */
static void check_chain(const bk_cfg_t *c, const bk_list_t *l, const bk_info_t *b, char ***chain,
                        bk_manifest_t *m, bk_problems_t *p)
{
    *chain = NULL;
    *m = (bk_manifest_t) {0};
    if (b->state == BK_DAMAGED) {
        bk_problem(p, "%s/%s", c->dir, b->why ? b->why : "its manifest is damaged");
        return;
    }
    char *missing = NULL;
    *chain = bk_list_chain(l, b->id, &missing);
    if (!*chain) {
        bk_problem(p, "%s/%s.tar.gz: needs %s", c->dir, b->id, missing ? missing : "?");
        free(missing);
        return;
    }
    for (char **ci = *chain; *ci; ci++) {
        bk_manifest_t cm;
        check_archive(c, *ci, &cm, p);
        if (!strcmp(*ci, b->id))
            *m = cm;
        else
            bk_manifest_free(&cm);
    }
}

int bk_verify(const bk_cfg_t *c, const char *id, bool quick, bk_event_fn ev, void *arg,
              bk_result_t *r)
{
    uint64_t t0 = hlb_mono_us();
    bk_lock_t lock;
    bk_list_t l;
    const bk_info_t *b = NULL;
    if (open_op(c, "verify", id, &lock, &l, &b, ev, arg, r) != BK_EXIT_OK)
        return r->exit;
    if (b->state == BK_LEGACY) {
        /* No manifest: all that can be said is whether tar reads it. */
        hlb_buf_t err = {0};
        char **lv = bk_tar_list_argv(c->tar, r->archive);
        int lr = lv ? bk_run(lv, NULL, &err) : -ENOMEM;
        hlb_strv_free(lv);
        if (lr != 0) {
            char *why = last_line(&err);
            bk_problem(&r->problems, "%s: tar cannot read it (status %d: %s)", r->archive, lr, why ? why : "");
            free(why);
        }
        hlb_buf_free(&err);
        if (r->problems.n)
            finish(r, "bad", BK_EXIT_BAD, "%s: a legacy archive tar cannot read", b->id);
        else
            finish(r, "ok", BK_EXIT_OK, "%s: a legacy archive (no manifest): tar reads it, its content is unchecked", b->id);
        goto out;
    }
    char **chain;
    bk_manifest_t m;
    check_chain(c, &l, b, &chain, &m, &r->problems);
    if (!r->problems.n && !quick) {
        char *scratch = hlb_strdupf("%s/.%s.check", c->dir, b->id);
        if (!scratch || (bk_remove_tree(scratch), mkdir(scratch, 0700) < 0)) {
            finish(r, "failed", BK_EXIT_FAILED, "cannot make a scratch directory in %s: %s", c->dir,
                   strerror(errno));
            free(scratch);
            hlb_strv_free(chain);
            bk_manifest_free(&m);
            goto out;
        }
        extract_chain(c, chain, scratch, NULL, &r->problems);
        if (!r->problems.n) {
            long cr = bk_check_tree(&m, scratch, NULL, true, &r->problems);
            if (cr < 0)
                bk_problem(&r->problems, "%s: cannot check the restored tree: %s", scratch,
                           strerror((int) -cr));
        }
        bk_remove_tree(scratch);
        free(scratch);
    }
    if (r->problems.n) {
        mark_and_relink(c, b->id, chain, &r->problems);
        finish(r, "bad", BK_EXIT_BAD, "%s: %zu problem%s; first: %s", b->id, r->problems.n,
               r->problems.n == 1 ? "" : "s", r->problems.v[0]);
    } else {
        finish(r, "ok", BK_EXIT_OK, "%s: %zu archive%s intact%s, %zu files", b->id,
               hlb_strv_len(chain), hlb_strv_len(chain) == 1 ? "" : "s",
               quick ? "" : ", restored and identical to the manifest", m.n);
    }
    hlb_strv_free(chain);
    bk_manifest_free(&m);
out:
    r->duration_us = hlb_mono_us() - t0;
    emit(ev, arg, "verified", r);
    bk_list_free(&l);
    bk_lock_release(&lock);
    return r->exit;
}

static bool dir_empty(const char *d)
{
    int fd = open(d, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT;
    DIR *dd = fdopendir(fd);
    if (!dd) {
        close(fd);
        return false;
    }
    struct dirent *de;
    bool empty = true;
    while ((de = readdir(dd)))
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
            empty = false;
    closedir(dd);
    return empty;
}

int bk_restore(const bk_cfg_t *c, const char *id, const char *to, const char *only,
               bk_event_fn ev, void *arg, bk_result_t *r)
{
    uint64_t t0 = hlb_mono_us();
    bk_lock_t lock;
    bk_list_t l;
    const bk_info_t *b = NULL;
    if (!to)
        to = "/";
    if (only && !bk_path_ok(only)) {
        *r = (bk_result_t) {.op = strdup("restore")};
        return finish(r, "failed", BK_EXIT_USAGE, "--only %s: an absolute path (no . or ..)", only);
    }
    if (open_op(c, "restore", id, &lock, &l, &b, ev, arg, r) != BK_EXIT_OK)
        return r->exit;
    char **chain = NULL;
    bk_manifest_t m = {0};
    if (b->state == BK_LEGACY) {
        bk_problem(&r->problems, "%s: a legacy archive has no manifest to check a restore against (tar -xzf it by hand)",
                   r->archive);
    } else {
        if (b->state == BK_BAD)
            bk_problem(&r->problems, "%s/%s.bad: marked bad: %s", c->dir, b->id, b->why ? b->why : "");
        else
            check_chain(c, &l, b, &chain, &m, &r->problems);
    }
    if (r->problems.n) {
        /* Nothing is written from a backup that is not whole. */
        finish(r, "bad", BK_EXIT_BAD, "%s: not restored: %s", b->id, r->problems.v[0]);
        goto out;
    }
    int mr = bk_mkdir_p(to, 0700);
    if (mr < 0) {
        finish(r, "failed", BK_EXIT_FAILED, "cannot create %s: %s", to, strerror(-mr));
        goto out;
    }
    bool extras = strcmp(to, "/") && dir_empty(to);
    extract_chain(c, chain, to, only, &r->problems);
    if (!r->problems.n) {
        long cr = bk_check_tree(&m, to, only, extras, &r->problems);
        if (cr < 0)
            bk_problem(&r->problems, "%s: cannot check what was restored: %s", to, strerror((int) -cr));
    }
    size_t nfiles = 0;
    for (size_t i = 0; i < m.n; i++)
        if (!only || bk_path_under(m.e[i].path, only))
            nfiles++;
    r->files = nfiles;
    if (r->problems.n)
        finish(r, "bad", BK_EXIT_BAD, "%s restored under %s, but %zu problem%s; first: %s", b->id, to,
               r->problems.n, r->problems.n == 1 ? "" : "s", r->problems.v[0]);
    else
        finish(r, "ok", BK_EXIT_OK, "%s restored under %s%s%s: %zu entries, identical to the manifest",
               b->id, to, only ? ", only " : "", only ? only : "", nfiles);
out:
    hlb_strv_free(chain);
    bk_manifest_free(&m);
    r->duration_us = hlb_mono_us() - t0;
    emit(ev, arg, "restored", r);
    bk_list_free(&l);
    bk_lock_release(&lock);
    return r->exit;
}
