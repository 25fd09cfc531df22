/* The textfile collector: the *.prom files our oneshots leave behind
 * (hl-compliance's compliance.prom), served with the rest, as
 * node_exporter's textfile collector does. A oneshot cannot be scraped
 * while it is not running; its last figures can.
 *
 * Every line is checked before anything of its file is written: a file
 * that does not parse contributes nothing but
 * hl_textfile_scrape_error{file} 1, so a half-written or hostile file can
 * never break the exposition. A family that another collector (or an
 * earlier file) already wrote is refused the same way. */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "collect_int.h"

#define TF_MAX_FILES 64
#define TF_MAX_BYTES (1u << 20)
#define TF_MAX_LABELS 16
#define TF_MAX_FAMILIES 256

typedef struct {
    char *path;
    double mtime;
    bool bad;
} tf_file_t;

/* One sample line, cut up in place: NAME{K="V",...} VALUE [TIMESTAMP]. */
typedef struct {
    char *name;
    const char *kv[2 * TF_MAX_LABELS];
    size_t n;
    double value;
} tf_sample_t;

static bool name_char(char c, bool first)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' ||
           (!first && c >= '0' && c <= '9');
}

/* Reads a label value at P (just after its opening quote) in place,
 * undoing the format's escapes; returns the byte after the closing quote. */
static char *label_value(char *p)
{
    char *out = p;
    while (*p && *p != '"') {
        if (*p == '\\') {
            p++;
            if (*p == 'n')
                *out++ = '\n';
            else if (*p == '\\' || *p == '"')
                *out++ = *p;
            else
                return NULL;
            p++;
        } else {
            *out++ = *p++;
        }
    }
    if (*p != '"')
        return NULL;
    *out = '\0';
    return p + 1;
}

static bool parse_sample(char *line, tf_sample_t *s)
{
    char *p = line;
    s->name = p;
    s->n = 0;
    if (!name_char(*p, true))
        return false;
    while (name_char(*p, false))
        p++;
    char after = *p;
    *p = '\0';
    if (after == '{') {
        p++;
        while (*p != '}') {
            if (s->n == TF_MAX_LABELS)
                return false;
            char *k = p;
            if (!name_char(*p, true) || *p == ':')
                return false;
            while (name_char(*p, false) && *p != ':')
                p++;
            if (p[0] != '=' || p[1] != '"')
                return false;
            *p = '\0';
            char *v = p + 2;
            p = label_value(v);
            if (!p)
                return false;
            s->kv[2 * s->n] = k;
            s->kv[2 * s->n + 1] = v;
            s->n++;
            if (*p == ',')
                p++;
            else if (*p != '}')
                return false;
        }
        p++;
    } else if (after != ' ' && after != '\t') {
        return false;
    } else {
        p++;
    }
    while (*p == ' ' || *p == '\t')
        p++;
    char *end;
    errno = 0;
    s->value = strtod(p, &end);
    if (end == p || errno == ERANGE)
        return false;
    while (*end == ' ' || *end == '\t')
        end++;
    if (*end) { /* a timestamp: accepted, not kept (we serve our own time) */
        char *ts_end;
        (void)strtoll(end, &ts_end, 10);
        while (*ts_end == ' ' || *ts_end == '\t')
            ts_end++;
        if (ts_end == end || *ts_end)
            return false;
    }
    return true;
}

static hlm_mtype_t type_of(const char *t, bool *ok)
{
    *ok = true;
    if (!strcmp(t, "gauge"))
        return HLM_GAUGE;
    if (!strcmp(t, "counter"))
        return HLM_COUNTER;
    if (!strcmp(t, "untyped"))
        return HLM_UNTYPED;
    *ok = false; /* histograms and summaries: not ours to split up */
    return HLM_UNTYPED;
}

/* One pass over TEXT (cut up in place). WRITE false: only checks; true:
 * writes its families. The format's rules that matter here: a sample's
 * family is the last HELP/TYPE name or its own name; a family's samples
 * are contiguous. */
static int pass(char *text, hlm_expo_t *e, bool write, char *why, size_t whylen)
{
    char family[256] = "", help[512] = "";
    hlm_mtype_t type = HLM_UNTYPED;
    bool opened = false;
    unsigned lineno = 0;
    const char *seen[TF_MAX_FAMILIES]; /* names cut out of TEXT: valid while it is */
    size_t nseen = 0;
    for (char *line = text, *next; line && *line; line = next) {
        lineno++;
        next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        if (!*line)
            continue;
        if (line[0] == '#') {
            char kw[8], name[256];
            int off = 0;
            if (sscanf(line, "# %7s %255s %n", kw, name, &off) < 2 ||
                (strcmp(kw, "HELP") && strcmp(kw, "TYPE")))
                continue; /* a plain comment */
            if (strcmp(name, family) != 0) {
                snprintf(family, sizeof family, "%s", name);
                help[0] = '\0';
                type = HLM_UNTYPED;
                opened = false;
            }
            if (!strcmp(kw, "HELP")) {
                snprintf(help, sizeof help, "%s", off ? line + off : "");
            } else {
                bool ok;
                type = type_of(off ? line + off : "", &ok);
                if (!ok) {
                    snprintf(why, whylen, "line %u: type '%s' is not served", lineno,
                             off ? line + off : "");
                    return -EINVAL;
                }
            }
            continue;
        }
        tf_sample_t s;
        if (!parse_sample(line, &s)) {
            snprintf(why, whylen, "line %u: not a sample", lineno);
            return -EINVAL;
        }
        if (strcmp(s.name, family) != 0) {
            snprintf(family, sizeof family, "%s", s.name);
            help[0] = '\0';
            type = HLM_UNTYPED;
            opened = false;
        }
        if (!opened) {
            for (size_t i = 0; i < nseen; i++)
                if (!strcmp(seen[i], s.name)) {
                    snprintf(why, whylen, "line %u: %s again (a family's samples must be "
                                          "contiguous)", lineno, family);
                    return -EINVAL;
                }
            if (nseen == TF_MAX_FAMILIES) {
                snprintf(why, whylen, "more than %d families", TF_MAX_FAMILIES);
                return -EINVAL;
            }
            seen[nseen++] = s.name;
            if (hlm_expo_has_family(e, family)) {
                snprintf(why, whylen, "line %u: %s is already exported", lineno, family);
                return -EEXIST;
            }
            if (write && hlm_family(e, family, type, *help ? help : NULL) < 0) {
                snprintf(why, whylen, "line %u: %s: the family cannot be written", lineno,
                         family);
                return -EINVAL;
            }
            opened = true;
        }
        if (write && hlm_sample(e, s.kv, s.n, s.value) < 0) {
            snprintf(why, whylen, "line %u: a label of %s is not valid", lineno, family);
            return -EINVAL;
        }
    }
    return 0;
}

static int by_path(const void *a, const void *b)
{
    return strcmp(((const tf_file_t *)a)->path, ((const tf_file_t *)b)->path);
}

int hlm_col_textfile(hlm_collect_t *c, hlm_expo_t *e)
{
    tf_file_t files[TF_MAX_FILES];
    size_t nf = 0;
    int rc = 0;
    for (size_t d = 0; d < c->ntextfile_dirs; d++) {
        DIR *dir = opendir(c->textfile_dirs[d]);
        if (!dir) {
            if (errno != ENOENT) /* not written yet is no error */
                rc = hlm_col_error(c, -errno, "%s: %s", c->textfile_dirs[d], strerror(errno));
            continue;
        }
        for (struct dirent *de; (de = readdir(dir)) && nf < TF_MAX_FILES;) {
            size_t l = strlen(de->d_name);
            if (de->d_name[0] == '.' || l < 6 || strcmp(de->d_name + l - 5, ".prom") != 0)
                continue;
            char *path;
            if (asprintf(&path, "%s/%s", c->textfile_dirs[d], de->d_name) < 0)
                continue;
            files[nf++] = (tf_file_t){.path = path};
        }
        closedir(dir);
    }
    qsort(files, nf, sizeof *files, by_path);
    for (size_t i = 0; i < nf; i++) {
        tf_file_t *f = &files[i];
        struct stat st;
        char why[320] = "";
        int r = stat(f->path, &st) < 0 ? -errno : 0;
        if (r == 0 && (!S_ISREG(st.st_mode) || st.st_size > TF_MAX_BYTES)) {
            snprintf(why, sizeof why, "not a regular file of at most %u bytes", TF_MAX_BYTES);
            r = -EFBIG;
        }
        if (r == 0) {
            f->mtime = (double)st.st_mtim.tv_sec + (double)st.st_mtim.tv_nsec / 1e9;
            r = hlm_read_file(&c->file, f->path);
        }
        if (r == 0) {
            /* checked on a copy first: a file is served whole or not at all */
            hlm_buf_reset(&c->attr);
            hlm_buf_add(&c->attr, c->file.data, c->file.len);
            r = pass(c->attr.data, e, false, why, sizeof why);
            if (r == 0)
                r = pass(c->file.data, e, true, why, sizeof why);
        }
        if (r < 0) {
            f->bad = true;
            rc = hlm_col_error(c, r, "%s: %s", f->path, *why ? why : strerror(-r));
        }
    }
    if (nf) {
        hlm_family(e, "hl_textfile_mtime_seconds", HLM_GAUGE,
                   "Modification time of a *.prom file the textfile collector serves.");
        for (size_t i = 0; i < nf; i++)
            if (!files[i].bad)
                hlm_sample(e, HLM_KV("file", files[i].path), files[i].mtime);
        hlm_family(e, "hl_textfile_scrape_error", HLM_GAUGE,
                   "Whether a *.prom file could not be read or parsed (1), and so was not served.");
        for (size_t i = 0; i < nf; i++)
            hlm_sample(e, HLM_KV("file", files[i].path), files[i].bad ? 1 : 0);
    }
    for (size_t i = 0; i < nf; i++)
        free(files[i].path);
    /* A bad file is reported by its series; the collector itself worked. */
    return rc == -EEXIST || rc == -EINVAL || rc == -EFBIG ? 0 : rc;
}
