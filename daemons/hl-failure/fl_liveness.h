/* Whether the orchestrator is there at all: every recovery goes through it,
 * and its lifecycle.state, kept by the proxy's last-value cache, says
 * "ready" for ever after a kill -9. So its ctl socket is asked (ping) every
 * interval; no answer within the timeout makes it "unreachable", whatever
 * the cache says, until it answers again. */
#pragma once
#include <stdbool.h>
#include <czmq.h>

typedef struct fl_liveness fl_liveness_t;

/* FN(reachable, detail, arg) on every change (the first answer or silence
 * included). */
typedef void (fl_liveness_fn)(bool reachable, const char *detail, void *arg);

fl_liveness_t *fl_liveness_new(zloop_t *loop, const char *runtime_dir, const char *daemon,
                               int interval_ms, int timeout_ms, fl_liveness_fn *fn, void *arg);
void fl_liveness_destroy(fl_liveness_t **self_p);
/* Probes now (after a failed call, say) instead of at the next interval. */
void fl_liveness_probe_now(fl_liveness_t *l);
