/* The journal source (lg_journal.h). */
#include "lg_journal.h"

#include <errno.h>
#include <fnmatch.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-journal.h>

#include <hlbus/buf.h>

struct lg_journal {
    sd_journal *j;
    char **units;
    bool pending; /* the entry under the read position is still unread */
    char *cursor;
    size_t skipped;
    /* the entry's fields, copied: sd_journal_get_data's pointer into a
     * decompressed field is overwritten by the next call */
    hlb_buf_t arena;
};

static char **strv_copy(char *const *v)
{
    size_t n = 0;
    while (v && v[n])
        n++;
    char **c = calloc(n + 1, sizeof *c);
    if (!c)
        return NULL;
    for (size_t i = 0; i < n; i++)
        if (!(c[i] = strdup(v[i]))) {
            for (size_t k = 0; k < i; k++)
                free(c[k]);
            free(c);
            return NULL;
        }
    return c;
}

int lg_journal_open(lg_journal_t **out, const char *dir, char *const *units)
{
    lg_journal_t *j = calloc(1, sizeof *j);
    if (!j)
        return -ENOMEM;
    int rc = dir && *dir ? sd_journal_open_directory(&j->j, dir, 0)
                         : sd_journal_open(&j->j, SD_JOURNAL_LOCAL_ONLY | SD_JOURNAL_SYSTEM);
    if (rc < 0) {
        free(j);
        return rc;
    }
    /* The fields we read are small; a message over this is cut by the
     * record limit anyway. */
    sd_journal_set_data_threshold(j->j, 1 << 20);
    if (units && !(j->units = strv_copy(units))) {
        sd_journal_close(j->j);
        free(j);
        return -ENOMEM;
    }
    *out = j;
    return 0;
}

void lg_journal_close(lg_journal_t **jp)
{
    lg_journal_t *j = *jp;
    if (!j)
        return;
    sd_journal_close(j->j);
    for (size_t i = 0; j->units && j->units[i]; i++)
        free(j->units[i]);
    free(j->units);
    free(j->cursor);
    hlb_buf_free(&j->arena);
    free(j);
    *jp = NULL;
}

int lg_journal_seek(lg_journal_t *j, const char *cursor, bool *found)
{
    *found = false;
    j->pending = false;
    if (!cursor || !*cursor)
        return sd_journal_seek_head(j->j);
    int rc = sd_journal_seek_cursor(j->j, cursor);
    if (rc < 0)
        return rc;
    rc = sd_journal_next(j->j);
    if (rc < 0)
        return rc;
    if (rc == 0)
        return 0; /* empty journal, nothing after it yet */
    rc = sd_journal_test_cursor(j->j, cursor);
    if (rc > 0) {
        *found = true; /* on the saved entry: read from the one after it */
        return 0;
    }
    /* The saved entry is gone (vacuumed, or a journal from elsewhere): the
     * seek put us on the nearest one, which nobody has read yet. */
    j->pending = true;
    return 0;
}

int lg_journal_fd(lg_journal_t *j) { return sd_journal_get_fd(j->j); }

void lg_journal_process(lg_journal_t *j) { (void)sd_journal_process(j->j); }

/* A field copied into the arena; the text's p is an offset until fixed. */
static lg_text_t field(lg_journal_t *j, const char *name, size_t nlen)
{
    const void *d;
    size_t l;
    if (sd_journal_get_data(j->j, name, &d, &l) < 0 || l < nlen + 1)
        return (lg_text_t){NULL, 0};
    size_t off = j->arena.len;
    hlb_buf_add(&j->arena, (const char *)d + nlen + 1, l - nlen - 1);
    return (lg_text_t){(const char *)(uintptr_t)(off + 1), l - nlen - 1};
}
#define FIELD(j, lit) field((j), lit, sizeof lit - 1)

static void fix(const lg_journal_t *j, lg_text_t *t)
{
    t->p = t->p ? j->arena.data + ((uintptr_t)t->p - 1) : "";
}

static bool followed(const lg_journal_t *j, lg_text_t unit)
{
    if (!j->units)
        return true;
    if (!unit.n || unit.n > 255)
        return false;
    char u[256];
    memcpy(u, unit.p, unit.n);
    u[unit.n] = 0;
    for (size_t i = 0; j->units[i]; i++)
        if (fnmatch(j->units[i], u, 0) == 0)
            return true;
    return false;
}

static int64_t parse_dec(lg_text_t t)
{
    int64_t v = 0;
    if (!t.n || t.n > 18)
        return 0;
    for (size_t i = 0; i < t.n; i++) {
        if (t.p[i] < '0' || t.p[i] > '9')
            return 0;
        v = v * 10 + (t.p[i] - '0');
    }
    return v;
}

int lg_journal_next(lg_journal_t *j, lg_record_t *r)
{
    for (;;) {
        int rc;
        if (j->pending) {
            j->pending = false;
            rc = 1;
        } else {
            rc = sd_journal_next(j->j);
        }
        if (rc <= 0)
            return rc;
        free(j->cursor);
        j->cursor = NULL;
        if ((rc = sd_journal_get_cursor(j->j, &j->cursor)) < 0)
            return rc;
        hlb_buf_reset(&j->arena);
        lg_text_t unit = FIELD(j, "_SYSTEMD_UNIT");
        fix(j, &unit);
        if (!followed(j, unit)) {
            j->skipped++;
            continue;
        }
        memset(r, 0, sizeof *r);
        hlb_buf_reset(&j->arena);
        r->unit = FIELD(j, "_SYSTEMD_UNIT");
        uint64_t ts = 0;
        sd_journal_get_realtime_usec(j->j, &ts);
        r->ts_us = ts;
        lg_text_t prio = FIELD(j, "PRIORITY");
        r->name = FIELD(j, "SYSLOG_IDENTIFIER");
        if (!r->name.n)
            r->name = FIELD(j, "_COMM");
        r->message = FIELD(j, "MESSAGE");
        r->boot_id = FIELD(j, "_BOOT_ID");
        r->fields = FIELD(j, "HL_FIELDS");
        lg_text_t pid = FIELD(j, "_PID");
        lg_text_t *all[] = {&r->unit, &prio, &r->name, &r->message, &r->boot_id, &r->fields, &pid};
        for (size_t i = 0; i < sizeof all / sizeof *all; i++)
            fix(j, all[i]);
        r->pid = parse_dec(pid);
        r->priority = prio.n == 1 && prio.p[0] >= '0' && prio.p[0] <= '7' ? prio.p[0] - '0' : 6;
        r->origin = (lg_text_t){"journal", 7};
        /* the cursor names the entry: the same line read again after a
         * restart gets the same id */
        lg_record_set_id(r, j->cursor, strlen(j->cursor));
        return 1;
    }
}

const char *lg_journal_cursor(const lg_journal_t *j) { return j->cursor ? j->cursor : ""; }

size_t lg_journal_skipped(const lg_journal_t *j) { return j->skipped; }
