/* backup.* on the bus (see bk_events.h). */
#include "bk_events.h"

#include <stdlib.h>
#include <string.h>

#include <hlbus/clock.h>
#include <hlbus/paths.h>
#include <hlbus/pub.h>
#include <hlbus/str.h>
#include <hlbus/strv.h>

#include "backup.pb-c.h"

struct bk_events {
    hlb_pub_t *pub;
};

bk_events_t *bk_events_open(const char *runtime_dir)
{
    const char *rd = hlb_runtime_dir(runtime_dir);
    char *sock = hlb_path(rd, HLB_BUS_PUB);
    bool up = sock && hlb_socket_probe(sock) == 0;
    free(sock);
    if (!up)
        return NULL;
    bk_events_t *e = calloc(1, sizeof *e);
    if (!e)
        return NULL;
    e->pub = hlb_pub_new(rd, "hl-backup");
    if (!e->pub) {
        free(e);
        return NULL;
    }
    return e;
}

void bk_events_close(bk_events_t **ep)
{
    if (!*ep)
        return;
    hlb_pub_destroy(&(*ep)->pub);
    free(*ep);
    *ep = NULL;
}

static char *s(const char *v)
{
    return (char *) (v ? v : "");
}

void bk_events_publish(const char *event, const bk_result_t *r, void *arg)
{
    bk_events_t *e = arg;
    if (!e || !e->pub)
        return;
    Hl__BackupEvent m = HL__BACKUP_EVENT__INIT;
    m.id = s(r->id);
    m.kind = s(r->kind);
    m.reason = s(r->reason);
    m.parent = s(r->parent);
    m.archive = s(r->archive);
    m.archive_bytes = r->archive_bytes;
    m.files = r->files;
    m.stored = r->stored;
    m.duration_us = r->duration_us;
    m.ts_us = r->ts_us;
    char *detail = NULL;
    if (!strcmp(event, "started")) {
        m.outcome = s("running");
    } else if (!strcmp(event, "lock")) {
        m.outcome = s("reclaimed");
        detail = hlb_strdupf("the lock of pid %d was reclaimed: its run is gone", (int) r->prev_owner.pid);
        m.detail = detail;
    } else if (!strcmp(event, "pruned")) {
        m.outcome = s("ok");
        detail = r->pruned ? hlb_strdupf("%zu removed", hlb_strv_len(r->pruned)) : NULL;
        m.detail = s(detail);
        m.n_problems = hlb_strv_len(r->pruned);
        m.problems = r->pruned; /* the ids removed */
    } else {
        m.outcome = s(r->outcome);
        m.detail = s(r->detail);
    }
    if (strcmp(event, "pruned")) {
        /* the first problems: an event stays small */
        m.n_problems = r->problems.n < 20 ? r->problems.n : 20;
        m.problems = r->problems.v;
    }
    char *topic = hlb_strdupf("backup.%s", event);
    if (topic)
        hlb_pub_send(e->pub, topic, &m.base);
    free(topic);
    free(detail);
}
