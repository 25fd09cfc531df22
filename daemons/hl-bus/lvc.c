/* Last-value cache: a hash by topic for updates and a list in arrival order
 * for replay (oldest first, so replays keep each stream's order). */
#include "lvc.h"

#include <czmq.h>
#include <string.h>

/* Bounds what a misbehaving publisher can make us hold. */
#define LVC_MAX_TOPICS 10000

typedef struct {
    char *topic;
    zmq_msg_t env;
    uint64_t stamp; /* arrival counter: replay order */
} entry_t;

struct lvc {
    char **prefixes;
    size_t *lens; /* of the prefixes: checked for every message */
    size_t nprefixes;
    zhashx_t *by_topic;
    uint64_t stamp;
};

static void entry_free(void **p)
{
    entry_t *e = *p;
    if (e) {
        zmq_msg_close(&e->env);
        free(e->topic);
        free(e);
    }
    *p = NULL;
}

lvc_t *lvc_new(const char *const *prefixes)
{
    lvc_t *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    for (size_t i = 0; prefixes && prefixes[i]; i++)
        c->nprefixes++;
    c->prefixes = calloc(c->nprefixes + 1, sizeof *c->prefixes);
    c->lens = calloc(c->nprefixes + 1, sizeof *c->lens);
    c->by_topic = zhashx_new();
    if (!c->prefixes || !c->lens || !c->by_topic) {
        lvc_destroy(&c);
        return NULL;
    }
    for (size_t i = 0; i < c->nprefixes; i++) {
        c->prefixes[i] = strdup(prefixes[i]);
        if (!c->prefixes[i]) {
            lvc_destroy(&c);
            return NULL;
        }
        c->lens[i] = strlen(prefixes[i]);
    }
    zhashx_set_destructor(c->by_topic, entry_free);
    return c;
}

void lvc_destroy(lvc_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    lvc_t *c = *self_p;
    for (size_t i = 0; c->prefixes && i < c->nprefixes; i++)
        free(c->prefixes[i]);
    free(c->prefixes);
    free(c->lens);
    zhashx_destroy(&c->by_topic);
    free(c);
    *self_p = NULL;
}

bool lvc_is_state_topic(const lvc_t *c, const char *topic, size_t len)
{
    for (size_t i = 0; i < c->nprefixes; i++) {
        size_t pl = c->lens[i];
        if (pl <= len && memcmp(topic, c->prefixes[i], pl) == 0)
            return true;
    }
    return false;
}

void lvc_store(lvc_t *c, const char *topic, size_t len, zmq_msg_t *envelope)
{
    char key[257];
    if (len >= sizeof key)
        return;
    memcpy(key, topic, len);
    key[len] = '\0';
    entry_t *e = zhashx_lookup(c->by_topic, key);
    if (!e) {
        if (zhashx_size(c->by_topic) >= LVC_MAX_TOPICS)
            return; /* full: new topics are not cached, old ones still update */
        e = calloc(1, sizeof *e);
        if (!e || !(e->topic = strdup(key))) {
            free(e);
            return;
        }
        zmq_msg_init(&e->env);
        zhashx_insert(c->by_topic, key, e);
    }
    zmq_msg_close(&e->env);
    zmq_msg_init(&e->env);
    zmq_msg_copy(&e->env, envelope);
    e->stamp = ++c->stamp;
}

static int by_stamp(const void *a, const void *b)
{
    const entry_t *x = *(entry_t *const *)a, *y = *(entry_t *const *)b;
    return x->stamp < y->stamp ? -1 : x->stamp > y->stamp;
}

size_t lvc_replay(lvc_t *c, const char *prefix, size_t len, lvc_fn *fn, void *arg)
{
    size_t n = 0, cap = zhashx_size(c->by_topic);
    if (!cap)
        return 0;
    entry_t **v = malloc(cap * sizeof *v);
    if (!v)
        return 0;
    for (entry_t *e = zhashx_first(c->by_topic); e; e = zhashx_next(c->by_topic))
        if (strlen(e->topic) >= len && memcmp(e->topic, prefix, len) == 0)
            v[n++] = e;
    qsort(v, n, sizeof *v, by_stamp);
    for (size_t i = 0; i < n; i++)
        fn(v[i]->topic, &v[i]->env, arg);
    free(v);
    return n;
}

size_t lvc_size(const lvc_t *c)
{
    return zhashx_size(c->by_topic);
}
