/* The heartbeat's status summary: see ul_summary.h. */
#include "ul_summary.h"

#include <stdlib.h>
#include <string.h>

#include <hlbus/buf.h>
#include <hlbus/json.h>

void ul_dict_set(ul_dict_t *d, const char *k, const char *v)
{
    for (size_t i = 0; i < d->n; i++) {
        if (strcmp(d->k[i], k) != 0)
            continue;
        if (!v) {
            free(d->k[i]);
            free(d->v[i]);
            d->k[i] = d->k[d->n - 1];
            d->v[i] = d->v[d->n - 1];
            d->n--;
        } else if (strcmp(d->v[i], v) != 0) {
            char *nv = strdup(v);
            if (nv) {
                free(d->v[i]);
                d->v[i] = nv;
            }
        }
        return;
    }
    if (!v || d->n >= UL_SUMMARY_MAX)
        return;
    char **nk = realloc(d->k, (d->n + 1) * sizeof *nk);
    if (!nk)
        return;
    d->k = nk;
    char **nv = realloc(d->v, (d->n + 1) * sizeof *nv);
    if (!nv)
        return;
    d->v = nv;
    d->k[d->n] = strdup(k);
    d->v[d->n] = strdup(v);
    if (!d->k[d->n] || !d->v[d->n]) {
        free(d->k[d->n]);
        free(d->v[d->n]);
        return;
    }
    d->n++;
}

void ul_dict_free(ul_dict_t *d)
{
    for (size_t i = 0; i < d->n; i++) {
        free(d->k[i]);
        free(d->v[i]);
    }
    free(d->k);
    free(d->v);
    memset(d, 0, sizeof *d);
}

void ul_summary_lifecycle(ul_summary_t *s, const char *word)
{
    char *w = strdup(word ? word : "");
    if (w) {
        free(s->lifecycle);
        s->lifecycle = w;
    }
}

void ul_summary_incident(ul_summary_t *s, uint64_t id, int open)
{
    if (!id)
        return;
    for (size_t i = 0; i < s->n_incidents; i++) {
        if (s->incidents[i] == id) {
            if (!open)
                s->incidents[i] = s->incidents[--s->n_incidents];
            return;
        }
    }
    if (!open || s->n_incidents >= UL_SUMMARY_MAX)
        return;
    uint64_t *n = realloc(s->incidents, (s->n_incidents + 1) * sizeof *n);
    if (!n)
        return;
    s->incidents = n;
    s->incidents[s->n_incidents++] = id;
}

static void dict_json(hlb_buf_t *b, const char *name, const ul_dict_t *d)
{
    hlb_buf_printf(b, ",\"%s\":{", name);
    for (size_t i = 0; i < d->n; i++) {
        if (i)
            hlb_buf_puts(b, ",");
        hlb_json_str(b, d->k[i], strlen(d->k[i]));
        hlb_buf_puts(b, ":");
        hlb_json_str(b, d->v[i], strlen(d->v[i]));
    }
    hlb_buf_puts(b, "}");
}

char *ul_summary_json(const ul_summary_t *s)
{
    hlb_buf_t b = {0};
    const char *lc = s->lifecycle ? s->lifecycle : "unknown";
    hlb_buf_puts(&b, "{\"lifecycle\":");
    hlb_json_str(&b, lc, strlen(lc));
    dict_json(&b, "services", &s->services);
    hlb_buf_printf(&b, ",\"open_incidents\":%zu", s->n_incidents);
    dict_json(&b, "thresholds", &s->thresholds);
    dict_json(&b, "alerts", &s->alerts);
    dict_json(&b, "versions", &s->versions);
    hlb_buf_puts(&b, "}");
    return hlb_buf_steal(&b);
}

void ul_summary_free(ul_summary_t *s)
{
    free(s->lifecycle);
    ul_dict_free(&s->services);
    ul_dict_free(&s->thresholds);
    ul_dict_free(&s->versions);
    ul_dict_free(&s->alerts);
    free(s->incidents);
    memset(s, 0, sizeof *s);
}
