/* Reading the journal with sd-journal (see journal.h). Local files only:
 * this runs inside the orchestrator's loop, so it must not wait on anything
 * remote, and a tail of a few dozen entries is a handful of page reads. */
#include "journal.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <systemd/sd-journal.h>
#include <hlbus/buf.h>
#include <czmq.h>

#define LINE_MAX_BYTES 1024

/* FIELD's value in the current entry as a bounded copy, or NULL. */
static char *field(sd_journal *j, const char *name)
{
    const void *data;
    size_t len;
    if (sd_journal_get_data(j, name, &data, &len) < 0)
        return NULL;
    size_t nl = strlen(name);
    if (len <= nl + 1)
        return strdup("");
    len -= nl + 1;
    if (len > LINE_MAX_BYTES)
        len = LINE_MAX_BYTES;
    char *s = malloc(len + 1);
    if (!s)
        return NULL;
    const unsigned char *src = (const unsigned char *) data + nl + 1;
    for (size_t i = 0; i < len; i++)
        /* Control characters (a service can print anything) become spaces. */
        s[i] = (char) ((src[i] < 0x20 && src[i] != '\t') || src[i] == 0x7f ? ' ' : src[i]);
    s[len] = '\0';
    return s;
}

static char *entry_line(sd_journal *j)
{
    uint64_t usec = 0;
    sd_journal_get_realtime_usec(j, &usec);
    time_t t = (time_t) (usec / 1000000);
    struct tm tm;
    char ts[32] = "";
    if (gmtime_r(&t, &tm))
        strftime(ts, sizeof ts, "%H:%M:%S", &tm);
    char *ident = field(j, "SYSLOG_IDENTIFIER");
    if (!ident)
        ident = field(j, "_COMM");
    char *pid = field(j, "_PID");
    char *msg = field(j, "MESSAGE");
    hlb_buf_t b = {0};
    hlb_buf_printf(&b, "%s.%03u %s", ts, (unsigned) (usec / 1000 % 1000), ident ? ident : "?");
    if (pid)
        hlb_buf_printf(&b, "[%s]", pid);
    hlb_buf_printf(&b, ": %s", msg ? msg : "");
    free(ident);
    free(pid);
    free(msg);
    return hlb_buf_steal(&b);
}

char **journal_tail(const char *unit, size_t n, bool user)
{
    sd_journal *j = NULL;
    int flags = SD_JOURNAL_LOCAL_ONLY | (user ? SD_JOURNAL_CURRENT_USER : SD_JOURNAL_SYSTEM);
    if (sd_journal_open(&j, flags) < 0)
        return NULL;
    char **lines = calloc(n + 1, sizeof *lines);
    if (!lines) {
        sd_journal_close(j);
        return NULL;
    }
    hlb_buf_t m = {0};
    int r = 0;
    /* The unit's own processes, or systemd about the unit. Not restricted to
     * this boot: the newest lines are this boot's anyway, and the boot id
     * read here can differ from the journal's inside some containers. */
    hlb_buf_printf(&m, "%s=%s", user ? "_SYSTEMD_USER_UNIT" : "_SYSTEMD_UNIT", unit);
    r |= sd_journal_add_match(j, m.data, 0);
    r |= sd_journal_add_disjunction(j);
    hlb_buf_reset(&m);
    hlb_buf_printf(&m, "%s=%s", user ? "USER_UNIT" : "UNIT", unit);
    r |= sd_journal_add_match(j, m.data, 0);
    hlb_buf_free(&m);
    size_t k = 0;
    if (r >= 0 && sd_journal_seek_tail(j) >= 0) {
        /* Newest first into the tail of the array, then shift down. */
        while (k < n && sd_journal_previous(j) > 0) {
            char *line = entry_line(j);
            if (!line)
                break;
            lines[n - 1 - k] = line;
            k++;
        }
        if (k < n) {
            memmove(lines, lines + (n - k), k * sizeof *lines);
            for (size_t i = k; i < n; i++)
                lines[i] = NULL;
        }
    }
    sd_journal_close(j);
    return lines;
}

/* ---- waiting for the journal ---- */

struct jcollect {
    zloop_t *loop;
    sd_journal *j;
    char *unit;
    size_t n;
    bool user;
    uint64_t since_us;
    jcollect_fn *fn;
    void *arg;
    zmq_pollitem_t item;
    bool polling;
    int timer;
    int kick;
};

static void jc_free(jcollect_t *c)
{
    if (c->polling)
        zloop_poller_end(c->loop, &c->item);
    if (c->timer >= 0)
        zloop_timer_end(c->loop, c->timer);
    if (c->kick >= 0)
        zloop_timer_end(c->loop, c->kick);
    if (c->j)
        sd_journal_close(c->j);
    free(c->unit);
    free(c);
}

void jcollect_cancel(jcollect_t **self_p)
{
    if (self_p && *self_p) {
        jc_free(*self_p);
        *self_p = NULL;
    }
}

static void jc_finish(jcollect_t *c)
{
    char **lines = journal_tail(c->unit, c->n, c->user);
    jcollect_fn *fn = c->fn;
    void *arg = c->arg;
    jc_free(c);
    fn(lines, arg);
}

/* Whether systemd's closing message about the unit is in the journal. */
static bool jc_found(jcollect_t *c)
{
    if (!c->j)
        return true;
    sd_journal_process(c->j);
    if (sd_journal_seek_realtime_usec(c->j, c->since_us) < 0)
        return true;
    return sd_journal_next(c->j) > 0;
}

static int jc_on_io(zloop_t *loop, zmq_pollitem_t *item, void *arg)
{
    jcollect_t *c = arg;
    if (jc_found(c))
        jc_finish(c);
    return 0;
}

static int jc_on_deadline(zloop_t *loop, int timer_id, void *arg)
{
    jcollect_t *c = arg;
    c->timer = -1;
    jc_finish(c);
    return 0;
}

static int jc_on_kick(zloop_t *loop, int timer_id, void *arg)
{
    jcollect_t *c = arg;
    c->kick = -1;
    if (jc_found(c))
        jc_finish(c);
    return 0;
}

jcollect_t *jcollect_new(zloop_t *loop, const char *unit, size_t n, bool user, uint64_t since_us,
                         int deadline_ms, jcollect_fn *fn, void *arg)
{
    static const char *const ids[] = {
        /* process exited, unit failed with a result, start job failed */
        "MESSAGE_ID=98e322203f7a4ed290d09fe03c09fe15",
        "MESSAGE_ID=d9b373ed55a64feb8242e02dbe79a49c",
        "MESSAGE_ID=be02cf6855d2428ba40df7e9d022f03d",
        NULL,
    };
    jcollect_t *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->loop = loop;
    c->unit = strdup(unit);
    c->n = n;
    c->user = user;
    c->since_us = since_us;
    c->fn = fn;
    c->arg = arg;
    c->timer = -1;
    c->kick = -1;
    int flags = SD_JOURNAL_LOCAL_ONLY | (user ? SD_JOURNAL_CURRENT_USER : SD_JOURNAL_SYSTEM);
    if (c->unit && sd_journal_open(&c->j, flags) >= 0) {
        int r = 0;
        for (const char *const *id = ids; *id; id++)
            r |= sd_journal_add_match(c->j, *id, 0);
        hlb_buf_t m = {0};
        hlb_buf_printf(&m, "%s=%s", user ? "USER_UNIT" : "UNIT", unit);
        r |= sd_journal_add_match(c->j, m.data, 0);
        hlb_buf_free(&m);
        int fd = r >= 0 ? sd_journal_get_fd(c->j) : -1;
        if (fd >= 0) {
            c->item = (zmq_pollitem_t) {.fd = fd, .events = ZMQ_POLLIN};
            c->polling = zloop_poller(loop, &c->item, jc_on_io, c) == 0;
        }
    }
    /* The first look happens from the loop, so FN never runs inside new(). */
    c->kick = zloop_timer(loop, 0, 1, jc_on_kick, c);
    c->timer = zloop_timer(loop, (size_t) (deadline_ms > 0 ? deadline_ms : 1), 1, jc_on_deadline, c);
    return c;
}
