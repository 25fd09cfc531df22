/* Message and byte counters per topic prefix (the topic up to and including
 * its first DEPTH dots, e.g. "health." at depth 1). */
#pragma once
#include <stddef.h>
#include <stdint.h>

typedef struct topicstats topicstats_t;

topicstats_t *topicstats_new(int depth);
/* Messages from now on count under prefixes of DEPTH dots. */
void topicstats_set_depth(topicstats_t *s, int depth);
void topicstats_destroy(topicstats_t **self_p);
void topicstats_count(topicstats_t *s, const char *topic, size_t len, size_t bytes);
typedef void (topicstats_fn)(const char *prefix, uint64_t messages, uint64_t bytes, void *arg);
void topicstats_each(const topicstats_t *s, topicstats_fn *fn, void *arg);
