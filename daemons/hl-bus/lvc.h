/* Last-value cache: the latest message of each state topic, replayed to a
 * subscriber when it subscribes, so a late joiner sees current state at once. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <zmq.h>

typedef struct lvc lvc_t;

/* PREFIXES (NULL-terminated, copied) select the state topics. */
lvc_t *lvc_new(const char *const *prefixes);
void lvc_destroy(lvc_t **self_p);
bool lvc_is_state_topic(const lvc_t *c, const char *topic, size_t len);
/* Keeps a reference to ENVELOPE (zmq_msg_copy: no byte copy) for TOPIC. */
void lvc_store(lvc_t *c, const char *topic, size_t len, zmq_msg_t *envelope);
/* Calls FN for each cached topic starting with PREFIX, oldest first. */
typedef void (lvc_fn)(const char *topic, zmq_msg_t *envelope, void *arg);
size_t lvc_replay(lvc_t *c, const char *prefix, size_t len, lvc_fn *fn, void *arg);
size_t lvc_size(const lvc_t *c);
