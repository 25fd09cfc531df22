/* Counters per topic prefix. The number of prefixes is small (a handful of
 * families), so a short array searched from the last hit beats a hash. */
#include "topicstats.h"

#include <stdlib.h>
#include <string.h>

#define MAX_PREFIXES 256 /* past this, everything else counts under "other" */
#define PREFIX_MAX 64

typedef struct {
    char prefix[PREFIX_MAX + 1];
    size_t len;
    uint64_t messages, bytes;
} slot_t;

struct topicstats {
    int depth;
    slot_t slots[MAX_PREFIXES + 1]; /* the last one is "other" */
    size_t n;
    size_t last; /* index of the last hit: streams are bursty */
};

topicstats_t *topicstats_new(int depth)
{
    topicstats_t *s = calloc(1, sizeof *s);
    if (s) {
        s->depth = depth > 0 ? depth : 1;
        strcpy(s->slots[MAX_PREFIXES].prefix, "other");
        s->slots[MAX_PREFIXES].len = 5;
    }
    return s;
}

void topicstats_set_depth(topicstats_t *s, int depth)
{
    s->depth = depth > 0 ? depth : 1;
}

void topicstats_destroy(topicstats_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    free(*self_p);
    *self_p = NULL;
}

void topicstats_count(topicstats_t *s, const char *topic, size_t len, size_t bytes)
{
    size_t plen = 0;
    int dots = 0;
    while (plen < len && dots < s->depth)
        if (topic[plen++] == '.')
            dots++;
    if (plen > PREFIX_MAX)
        plen = PREFIX_MAX;
    slot_t *hit = NULL;
    if (s->n && s->slots[s->last].len == plen && memcmp(s->slots[s->last].prefix, topic, plen) == 0)
        hit = &s->slots[s->last];
    for (size_t i = 0; !hit && i < s->n; i++)
        if (s->slots[i].len == plen && memcmp(s->slots[i].prefix, topic, plen) == 0) {
            hit = &s->slots[i];
            s->last = i;
        }
    if (!hit) {
        if (s->n < MAX_PREFIXES) {
            hit = &s->slots[s->n];
            memcpy(hit->prefix, topic, plen);
            hit->prefix[plen] = '\0';
            hit->len = plen;
            s->last = s->n++;
        } else {
            hit = &s->slots[MAX_PREFIXES];
        }
    }
    hit->messages++;
    hit->bytes += bytes;
}

void topicstats_each(const topicstats_t *s, topicstats_fn *fn, void *arg)
{
    for (size_t i = 0; i < s->n; i++)
        fn(s->slots[i].prefix, s->slots[i].messages, s->slots[i].bytes, arg);
    if (s->slots[MAX_PREFIXES].messages)
        fn("other", s->slots[MAX_PREFIXES].messages, s->slots[MAX_PREFIXES].bytes, arg);
}
