/* Text and JSON output (see bk_print.h). */
#include "bk_print.h"

#include <inttypes.h>
#include <string.h>
#include <time.h>

#include <hlbus/buf.h>
#include <hlbus/json.h>

static void jstr(hlb_buf_t *b, const char *k, const char *v)
{
    hlb_buf_printf(b, "\"%s\":", k);
    if (v)
        hlb_json_str(b, v, strlen(v));
    else
        hlb_buf_puts(b, "null");
}

static void jstrv(hlb_buf_t *b, const char *k, char *const *v, size_t n)
{
    hlb_buf_printf(b, "\"%s\":[", k);
    for (size_t i = 0; v && i < n && v[i]; i++) {
        if (i)
            hlb_buf_puts(b, ",");
        hlb_json_str(b, v[i], strlen(v[i]));
    }
    hlb_buf_puts(b, "]");
}

static size_t strv_n(char *const *v)
{
    size_t n = 0;
    while (v && v[n])
        n++;
    return n;
}

static void stamp(uint64_t us, char *buf, size_t n)
{
    time_t t = (time_t) (us / 1000000);
    struct tm tm;
    if (!us || !gmtime_r(&t, &tm) || !strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", &tm))
        snprintf(buf, n, "-");
}

void bk_print_result(FILE *f, const bk_result_t *r, bool json)
{
    if (json) {
        hlb_buf_t b = {0};
        hlb_buf_puts(&b, "{");
        jstr(&b, "op", r->op);
        hlb_buf_puts(&b, ",");
        jstr(&b, "id", r->id);
        hlb_buf_puts(&b, ",");
        jstr(&b, "outcome", r->outcome);
        hlb_buf_printf(&b, ",\"exit\":%d,", r->exit);
        jstr(&b, "detail", r->detail);
        hlb_buf_puts(&b, ",");
        jstr(&b, "kind", r->kind);
        hlb_buf_puts(&b, ",");
        jstr(&b, "parent", r->parent);
        hlb_buf_puts(&b, ",");
        jstr(&b, "reason", r->reason);
        hlb_buf_puts(&b, ",");
        jstr(&b, "archive", r->archive);
        hlb_buf_printf(&b, ",\"archive_bytes\":%" PRIu64 ",\"files\":%" PRIu64 ",\"stored\":%" PRIu64
                           ",\"changed\":%" PRIu64 ",\"hashed\":%" PRIu64 ",\"reused\":%" PRIu64
                           ",\"ts_us\":%" PRIu64 ",\"duration_us\":%" PRIu64 ",",
                       r->archive_bytes, r->files, r->stored, r->changed, r->hashed, r->reused,
                       r->ts_us, r->duration_us);
        jstrv(&b, "problems", r->problems.v, r->problems.n);
        hlb_buf_puts(&b, ",");
        jstrv(&b, "pruned", r->pruned, strv_n(r->pruned));
        hlb_buf_puts(&b, ",");
        jstrv(&b, "cleaned", r->cleaned, strv_n(r->cleaned));
        hlb_buf_printf(&b, ",\"lock_reclaimed\":%s", r->reclaimed ? "true" : "false");
        if (r->prev_owner.pid)
            hlb_buf_printf(&b, ",\"lock_owner\":{\"pid\":%d,\"boot_id\":\"%s\",\"since_us\":%" PRIu64 "}",
                           (int) r->prev_owner.pid, r->prev_owner.boot_id, r->prev_owner.since_us);
        hlb_buf_puts(&b, "}\n");
        fputs(b.data, f);
        hlb_buf_free(&b);
        return;
    }
    if (r->reclaimed) {
        char who[160];
        fprintf(f, "reclaimed the lock of %s: that run is gone\n",
                bk_owner_str(&r->prev_owner, who, sizeof who));
    }
    for (char **c = r->cleaned; c && *c; c++)
        fprintf(f, "removed %s (left by an interrupted run)\n", *c);
    fprintf(f, "%s: %s\n", r->outcome ? r->outcome : "?", r->detail ? r->detail : "");
    for (size_t i = 0; i < r->problems.n; i++)
        fprintf(f, "  %s\n", r->problems.v[i]);
    for (char **p = r->pruned; p && *p; p++)
        fprintf(f, "pruned %s\n", *p);
}

void bk_print_list(FILE *f, const char *dir, const bk_list_t *l, const char *latest, bool json)
{
    char when[32];
    if (json) {
        hlb_buf_t b = {0};
        hlb_buf_puts(&b, "{");
        jstr(&b, "dir", dir);
        hlb_buf_puts(&b, ",");
        jstr(&b, "latest", latest);
        hlb_buf_puts(&b, ",\"backups\":[");
        for (size_t i = 0; i < l->n; i++) {
            const bk_info_t *x = &l->v[i];
            stamp(x->ts_us, when, sizeof when);
            hlb_buf_puts(&b, i ? ",{" : "{");
            jstr(&b, "id", x->id);
            hlb_buf_printf(&b, ",\"ts_us\":%" PRIu64 ",", x->ts_us);
            jstr(&b, "time", when);
            hlb_buf_puts(&b, ",");
            jstr(&b, "state", bk_state_name(x->state));
            hlb_buf_puts(&b, ",");
            jstr(&b, "kind", x->kind);
            hlb_buf_puts(&b, ",");
            jstr(&b, "parent", x->parent);
            hlb_buf_puts(&b, ",");
            jstr(&b, "reason", x->reason);
            hlb_buf_printf(&b, ",\"archive_bytes\":%" PRIu64 ",\"entries\":%" PRIu64 ",", x->archive_size,
                           x->entries);
            jstr(&b, "why", x->why);
            hlb_buf_printf(&b, ",\"latest\":%s}", latest && !strcmp(latest, x->id) ? "true" : "false");
        }
        hlb_buf_puts(&b, "]}\n");
        fputs(b.data, f);
        hlb_buf_free(&b);
        return;
    }
    if (!l->n) {
        fprintf(f, "no backups in %s\n", dir);
        return;
    }
    fprintf(f, "%-28s %-20s %-9s %-11s %-8s %12s %8s\n", "ID", "TIME", "STATE", "KIND", "REASON",
            "BYTES", "FILES");
    for (size_t i = 0; i < l->n; i++) {
        const bk_info_t *x = &l->v[i];
        stamp(x->ts_us, when, sizeof when);
        fprintf(f, "%-28s %-20s %-9s %-11s %-8s %12" PRIu64 " %8" PRIu64 "%s%s%s\n", x->id, when,
                bk_state_name(x->state), x->kind ? x->kind : "-", x->reason ? x->reason : "-",
                x->archive_size, x->entries, latest && !strcmp(latest, x->id) ? "  (latest)" : "",
                x->why ? "  " : "", x->why ? x->why : "");
    }
}
