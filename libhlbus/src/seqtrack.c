/* Per-source sequence tracking. */
#include "hlbus/seqtrack.h"

#include <czmq.h>
#include <string.h>

typedef struct {
    char *source; /* points into the key: "source topic" */
    const char *topic;
    uint64_t epoch;
    uint64_t last;
    uint64_t messages;
    uint64_t gaps;
} stream_t;

struct hlb_seqtrack {
    zhashx_t *sources; /* "source topic" → stream_t */
    uint64_t gaps;
    stream_t *last;    /* the stream seen last: messages come in bursts */
};

/* A bound on distinct streams, so a flood of forged names cannot eat memory:
 * past it the table is cleared and tracking starts over. */
#define MAX_STREAMS 16384

static void stream_free(void **p)
{
    stream_t *s = *p;
    if (s)
        free(s->source);
    free(s);
    *p = NULL;
}

hlb_seqtrack_t *hlb_seqtrack_new(void)
{
    hlb_seqtrack_t *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->sources = zhashx_new();
    zhashx_set_destructor(t->sources, stream_free);
    return t;
}

void hlb_seqtrack_destroy(hlb_seqtrack_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    zhashx_destroy(&(*self_p)->sources);
    free(*self_p);
    *self_p = NULL;
}

hlb_seq_verdict_t hlb_seqtrack_see(hlb_seqtrack_t *t, const char *source, const char *topic,
                                   uint64_t epoch, uint64_t seq, uint64_t *missed)
{
    *missed = 0;
    stream_t *s = t->last;
    if (s && strcmp(s->source, source) == 0 && strcmp(s->topic, topic) == 0)
        goto found; /* no key to build and hash */
    char keybuf[512];
    char *key = keybuf;
    size_t need = strlen(source) + strlen(topic) + 2;
    if (need > sizeof keybuf && !(key = malloc(need)))
        return HLB_SEQ_FIRST;
    size_t sl = strlen(source);
    memcpy(key, source, sl);
    key[sl] = ' ';
    memcpy(key + sl + 1, topic, need - sl - 1); /* with its NUL */
    s = zhashx_lookup(t->sources, key);
    if (!s) {
        if (zhashx_size(t->sources) >= MAX_STREAMS) {
            zhashx_purge(t->sources);
            t->last = NULL;
        }
        s = calloc(1, sizeof *s);
        if (s && (s->source = strdup(key))) {
            s->source[strlen(source)] = '\0';
            s->topic = s->source + strlen(source) + 1;
            s->epoch = epoch;
            s->last = seq;
            s->messages = 1;
            if (zhashx_insert(t->sources, key, s) == 0)
                t->last = s;
            else
                stream_free((void **)&s);
        } else {
            free(s);
        }
        if (key != keybuf)
            free(key);
        return HLB_SEQ_FIRST;
    }
    if (key != keybuf)
        free(key);
    t->last = s;
found:
    if (epoch < s->epoch)
        return HLB_SEQ_STALE;
    if (epoch > s->epoch) {
        *missed = seq - 1; /* the new incarnation's messages before this one */
        s->epoch = epoch;
        s->last = seq;
        s->messages++;
        s->gaps += *missed;
        t->gaps += *missed;
        return HLB_SEQ_RESTART;
    }
    if (seq <= s->last)
        return HLB_SEQ_DUP;
    *missed = seq - s->last - 1;
    s->last = seq;
    s->messages++;
    s->gaps += *missed;
    t->gaps += *missed;
    return *missed ? HLB_SEQ_GAP : HLB_SEQ_NEXT;
}

uint64_t hlb_seqtrack_gaps(const hlb_seqtrack_t *t)
{
    return t->gaps;
}

void hlb_seqtrack_each(const hlb_seqtrack_t *t, hlb_seqtrack_fn *fn, void *arg)
{
    for (stream_t *s = zhashx_first(t->sources); s; s = zhashx_next(t->sources))
        fn(s->source, s->topic, s->epoch, s->last, s->messages, s->gaps, arg);
}
