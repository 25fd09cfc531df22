/* backup.* events on the bus (proto/backup.proto). hl-backup is a oneshot:
 * it publishes when the bus is there and says nothing when it is not (a
 * backup must not depend on the bus; its outcome is also its exit status
 * and its journal line). */
#pragma once
#include "bk_ops.h"

typedef struct bk_events bk_events_t;

/* A publisher on RUNTIME_DIR's bus, or NULL when no bus listens there. */
bk_events_t *bk_events_open(const char *runtime_dir);
void bk_events_close(bk_events_t **e);
/* bk_event_fn: publishes backup.EVENT (ARG is the bk_events_t, may be NULL). */
void bk_events_publish(const char *event, const bk_result_t *r, void *arg);
