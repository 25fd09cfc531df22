/* The rendered exposition, handed from the collectors to the HTTP thread.
 *
 * Why a refcounted snapshot behind a mutex: the collectors render a whole
 * exposition on their own schedule in the daemon's loop, then publish it
 * here; the HTTP thread takes a reference to the latest one for each
 * request. The mutex guards only the pointer swap and the reference count
 * increment (a few instructions), never rendering or socket I/O, so a
 * scrape cannot delay a collection and a slow or stalled client cannot
 * delay anything: it merely keeps its old snapshot alive until its
 * response is done. A snapshot is immutable once published, so no copy is
 * made per scrape. */
#pragma once
#include <stddef.h>
#include <stdint.h>

typedef struct hlm_snapshot hlm_snapshot_t;

/* Takes *TEXT_P (malloc'd, LEN bytes) and nulls it. NULL on OOM (the text
 * is freed then too). */
hlm_snapshot_t *hlm_snapshot_new(char **text_p, size_t len, uint64_t rendered_us);
hlm_snapshot_t *hlm_snapshot_ref(hlm_snapshot_t *s);
/* Drops a reference; frees on the last. Accepts NULL. */
void hlm_snapshot_unref(hlm_snapshot_t **s_p);
const char *hlm_snapshot_text(const hlm_snapshot_t *s, size_t *len);

/* The slot holding the latest snapshot. */
typedef struct hlm_latest hlm_latest_t;
hlm_latest_t *hlm_latest_new(void);
void hlm_latest_destroy(hlm_latest_t **self_p);
/* Replaces the latest snapshot with *S_P (taken). */
void hlm_latest_publish(hlm_latest_t *l, hlm_snapshot_t **s_p);
/* A new reference to the latest snapshot, or NULL if none yet. */
hlm_snapshot_t *hlm_latest_get(hlm_latest_t *l);
