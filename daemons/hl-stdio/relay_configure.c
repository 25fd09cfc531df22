/* The relay core: applying a configuration (sockets, channels, limits), all
 * new sockets bound before anything changes. */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>
#include <hlbus/clock.h>

#include "cred.h"
#include "relay_int.h"

static uint64_t new_stream_id(stdio_relay_t *r)
{
    uint64_t s = hlb_now_us();
    if (s <= r->last_stream)
        s = r->last_stream + 1;
    r->last_stream = s;
    return s;
}

/* A listener wanted at PATH (NULL: none) with GID and MODE, given the one we
 * have: reuses it (retuned), or opens a new one into *FRESH. */
static int plan_listener(stdio_relay_t *r, listener_t *have, const char *path, lkind_t kind,
                         gid_t gid, mode_t mode, listener_t **fresh, char *err, size_t errlen)
{
    *fresh = NULL;
    if (!path || (have && strcmp(have->sock->path, path) == 0))
        return 0;
    return relay_listener_open(r, path, kind, gid, mode, fresh, err, errlen);
}

int stdio_relay_configure(stdio_relay_t *r, const stdio_relay_conf_t *conf, char *err,
                          size_t errlen)
{
    int rc = stdio_relay_conf_check(conf, err, errlen);
    if (rc < 0)
        return rc;
    size_t n = conf->n_channels;
    /* Phase 1: everything that can relay_fail. */
    listener_t *new_attach = NULL;
    listener_t **new_raw = calloc(n, sizeof *new_raw);
    listener_t **new_ro = calloc(n, sizeof *new_ro);
    stdio_ring_t **new_ring = calloc(n, sizeof *new_ring);
    if (!new_raw || !new_ro || !new_ring) {
        rc = relay_fail(err, errlen, -ENOMEM, "out of memory");
        goto undo;
    }
    rc = plan_listener(r, r->attach, conf->attach_path, L_ATTACH, conf->attach_gid,
                       conf->attach_mode, &new_attach, err, errlen);
    for (size_t i = 0; i < n && rc == 0; i++) {
        const stdio_chan_conf_t *cc = &conf->channels[i];
        channel_t *ch = relay_chan_find(r, cc->name);
        rc = plan_listener(r, ch ? ch->raw : NULL, cc->path, L_RAW, cc->gid, cc->mode,
                           &new_raw[i], err, errlen);
        if (rc == 0)
            rc = plan_listener(r, ch ? ch->ro : NULL, cc->ro_path, L_RAW_RO, cc->gid, cc->mode,
                               &new_ro[i], err, errlen);
        if (rc == 0 && !ch) {
            new_ring[i] = stdio_ring_new(relay_keep_for(cc->scrollback), relay_chunk_for(conf, cc->scrollback),
                                         MAX_RUNS);
            if (!new_ring[i])
                rc = relay_fail(err, errlen, -ENOMEM, "channel \"%s\": out of memory for %zu bytes",
                          cc->name, cc->scrollback);
        }
    }
    if (rc < 0)
        goto undo;

    /* Phase 2: commit; nothing below fails except chmod/chown of kept
     * sockets and ring resizes, which are reported and leave the old
     * setting in place. */
    r->conf = *conf;
    r->conf.channels = NULL;
    r->conf.n_channels = 0;
    r->conf.attach_path = NULL;
    free(r->rec_dir);
    r->rec_dir = conf->recording.dir && *conf->recording.dir ? strdup(conf->recording.dir) : NULL;
    r->conf.recording.dir = r->rec_dir;
    if (new_attach || !conf->attach_path) {
        relay_listener_close(&r->attach);
        r->attach = new_attach;
        new_attach = NULL;
    } else if (stdio_sock_retune(r->attach->sock, conf->attach_gid, conf->attach_mode, err, errlen) < 0) {
        relay_log(r, LOG_WARNING, "%s", err);
    }
    for (channel_t *ch = r->channels; ch; ch = ch->next)
        ch->keep = false;
    for (size_t i = 0; i < n; i++) {
        const stdio_chan_conf_t *cc = &conf->channels[i];
        channel_t *ch = relay_chan_find(r, cc->name);
        if (!ch) {
            ch = calloc(1, sizeof *ch);
            if (!ch || !(ch->name = strdup(cc->name))) {
                free(ch);
                relay_log(r, LOG_ERR, "channel \"%s\": out of memory", cc->name);
                continue;
            }
            ch->stream = new_stream_id(r);
            ch->ring = new_ring[i];
            new_ring[i] = NULL;
            ch->next = r->channels;
            r->channels = ch;
            relay_log(r, LOG_INFO, "%s: channel open at %s (mode %04o, group %ld), stream %016llx",
                 ch->name, cc->path, (unsigned)cc->mode,
                 cc->gid == STDIO_NO_GID ? (long)getegid() : (long)cc->gid,
                 (unsigned long long)ch->stream);
        } else if (stdio_ring_keep(ch->ring) != relay_keep_for(cc->scrollback) ||
                   stdio_ring_slack(ch->ring) != relay_chunk_for(conf, cc->scrollback)) {
            uint64_t head = stdio_ring_head(ch->ring);
            size_t keep = relay_keep_for(cc->scrollback);
            uint64_t new_tail = head > keep ? head - keep : 0;
            for (client_t *c = ch->clients, *nx; c; c = nx) {
                nx = c->next;
                if (c->cursor < new_tail)
                    relay_client_drop(r, c, "slow: behind the new, smaller scrollback");
            }
            if (stdio_ring_resize(ch->ring, keep, relay_chunk_for(conf, cc->scrollback)) < 0)
                relay_log(r, LOG_ERR, "%s: out of memory resizing the scrollback; kept %zu bytes",
                     ch->name, stdio_ring_keep(ch->ring));
        }
        ch->keep = true;
        if (new_raw[i] || !cc->path) {
            relay_listener_close(&ch->raw);
            ch->raw = new_raw[i];
            new_raw[i] = NULL;
        } else if (stdio_sock_retune(ch->raw->sock, cc->gid, cc->mode, err, errlen) < 0) {
            relay_log(r, LOG_WARNING, "%s", err);
        }
        if (new_ro[i] || !cc->ro_path) {
            relay_listener_close(&ch->ro);
            ch->ro = new_ro[i];
            new_ro[i] = NULL;
        } else if (stdio_sock_retune(ch->ro->sock, cc->gid, cc->mode, err, errlen) < 0) {
            relay_log(r, LOG_WARNING, "%s", err);
        }
        if (ch->raw)
            ch->raw->ch = ch;
        if (ch->ro)
            ch->ro->ch = ch;
        ch->scrollback = cc->scrollback;
        ch->gid = cc->gid;
        ch->mode = cc->mode;
        ch->max_clients = cc->max_clients;
        ch->publish = cc->publish;
        if (!ch->publish)
            ch->ev_due_us = 0;
    }
    for (channel_t **pp = &r->channels; *pp;) {
        channel_t *ch = *pp;
        if (ch->keep) {
            pp = &ch->next;
            continue;
        }
        *pp = ch->next;
        relay_log(r, LOG_INFO, "%s: channel removed", ch->name);
        relay_chan_destroy(r, &ch, "error: channel removed");
    }
    if (err && errlen)
        err[0] = 0;
    rc = 0;
undo:
    relay_listener_close(&new_attach);
    for (size_t i = 0; i < n; i++) {
        if (new_raw)
            relay_listener_close(&new_raw[i]);
        if (new_ro)
            relay_listener_close(&new_ro[i]);
        if (new_ring)
            stdio_ring_destroy(&new_ring[i]);
    }
    free(new_raw);
    free(new_ro);
    free(new_ring);
    relay_arm_timer(r, relay_run_timers(r));
    relay_reap(r);
    return rc;
}
