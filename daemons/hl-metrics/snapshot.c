#include "snapshot.h"
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

struct hlm_snapshot {
    atomic_uint refs;
    char *text;
    size_t len;
    uint64_t rendered_us;
};

struct hlm_latest {
    pthread_mutex_t mu;
    hlm_snapshot_t *cur;
};

hlm_snapshot_t *hlm_snapshot_new(char **text_p, size_t len, uint64_t rendered_us)
{
    hlm_snapshot_t *s = malloc(sizeof *s);
    if (!s) {
        free(*text_p);
        *text_p = NULL;
        return NULL;
    }
    atomic_init(&s->refs, 1);
    s->text = *text_p;
    s->len = len;
    s->rendered_us = rendered_us;
    *text_p = NULL;
    return s;
}

hlm_snapshot_t *hlm_snapshot_ref(hlm_snapshot_t *s)
{
    if (s)
        atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed);
    return s;
}

void hlm_snapshot_unref(hlm_snapshot_t **s_p)
{
    if (!s_p || !*s_p)
        return;
    hlm_snapshot_t *s = *s_p;
    *s_p = NULL;
    if (atomic_fetch_sub_explicit(&s->refs, 1, memory_order_acq_rel) == 1) {
        free(s->text);
        free(s);
    }
}

const char *hlm_snapshot_text(const hlm_snapshot_t *s, size_t *len)
{
    if (len)
        *len = s->len;
    return s->text;
}

hlm_latest_t *hlm_latest_new(void)
{
    hlm_latest_t *l = calloc(1, sizeof *l);
    if (l)
        pthread_mutex_init(&l->mu, NULL);
    return l;
}

void hlm_latest_destroy(hlm_latest_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    hlm_latest_t *l = *self_p;
    hlm_snapshot_unref(&l->cur);
    pthread_mutex_destroy(&l->mu);
    free(l);
    *self_p = NULL;
}

void hlm_latest_publish(hlm_latest_t *l, hlm_snapshot_t **s_p)
{
    hlm_snapshot_t *old;
    pthread_mutex_lock(&l->mu);
    old = l->cur;
    l->cur = *s_p;
    pthread_mutex_unlock(&l->mu);
    *s_p = NULL;
    /* Freed outside the lock: the HTTP thread never waits for a free(). */
    hlm_snapshot_unref(&old);
}

hlm_snapshot_t *hlm_latest_get(hlm_latest_t *l)
{
    pthread_mutex_lock(&l->mu);
    hlm_snapshot_t *s = hlm_snapshot_ref(l->cur);
    pthread_mutex_unlock(&l->mu);
    return s;
}
