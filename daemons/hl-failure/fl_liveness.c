/* The orchestrator's liveness, by its ctl socket (see fl_liveness.h). */
#include "fl_liveness.h"
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <hlbus/acall.h>

struct fl_liveness {
    zloop_t *loop;
    char *runtime_dir, *daemon;
    int interval_ms, timeout_ms;
    fl_liveness_fn *fn;
    void *arg;
    int timer;
    hlb_acall_t *call;
    int known;      /* -1 not yet, 0 unreachable, 1 reachable */
};

static void report(fl_liveness_t *l, bool up, const char *detail)
{
    if (l->known == (int)up)
        return;
    l->known = up;
    l->fn(up, detail, l->arg);
}

static void on_pong(int rc, const Hl__Reply *r, void *arg)
{
    fl_liveness_t *l = arg;
    l->call = NULL;
    if (rc == 0 && r) {
        report(l, true, "answers on its ctl socket");
        return;
    }
    char buf[160];
    snprintf(buf, sizeof buf, "no answer on its ctl socket within %d ms (%s)", l->timeout_ms,
             strerror(-rc));
    report(l, false, buf);
}

static void probe(fl_liveness_t *l)
{
    if (l->call)
        return; /* one at a time */
    hlb_acall_opts_t o = {.timeout_ms = l->timeout_ms, .attempts = 1,
                        .connect_wait_ms = l->timeout_ms};
    l->call = hlb_acall_start(l->loop, l->runtime_dir, l->daemon, "ping", NULL, NULL, 0, &o,
                            on_pong, l);
}

static int on_timer(zloop_t *loop, int timer_id, void *arg)
{
    probe(arg);
    return 0;
}

fl_liveness_t *fl_liveness_new(zloop_t *loop, const char *runtime_dir, const char *daemon,
                               int interval_ms, int timeout_ms, fl_liveness_fn *fn, void *arg)
{
    fl_liveness_t *l = calloc(1, sizeof *l);
    if (!l)
        return NULL;
    l->loop = loop;
    l->runtime_dir = strdup(runtime_dir);
    l->daemon = strdup(daemon);
    l->interval_ms = interval_ms;
    l->timeout_ms = timeout_ms;
    l->fn = fn;
    l->arg = arg;
    l->known = -1;
    l->timer = zloop_timer(loop, (size_t)interval_ms, 0, on_timer, l);
    if (!l->runtime_dir || !l->daemon || l->timer < 0) {
        fl_liveness_destroy(&l);
        return NULL;
    }
    probe(l);
    return l;
}

void fl_liveness_probe_now(fl_liveness_t *l)
{
    if (l)
        probe(l);
}

void fl_liveness_destroy(fl_liveness_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    fl_liveness_t *l = *self_p;
    if (l->timer >= 0)
        zloop_timer_end(l->loop, l->timer);
    hlb_acall_cancel(&l->call);
    free(l->runtime_dir);
    free(l->daemon);
    free(l);
    *self_p = NULL;
}
