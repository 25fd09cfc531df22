/* The relay's configuration: defaults and checks (relay.h). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/un.h>

#include "relay.h"

static int fail(char *err, size_t errlen, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int fail(char *err, size_t errlen, int rc, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return rc;
}

void stdio_relay_conf_defaults(stdio_relay_conf_t *c)
{
    memset(c, 0, sizeof *c);
    c->attach_gid = STDIO_NO_GID;
    c->attach_mode = 0660;
    c->hello_timeout_ms = 5000;
    c->drain_timeout_ms = 2000;
    c->stall_timeout_ms = 250;
    c->event_interval_ms = 100;
    c->event_max_bytes = 16384;
    c->read_chunk = 256 * 1024;
    c->max_pending = 64;
    c->recording.max_file = 16u << 20;
    c->recording.max_total = 256u << 20;
}

static bool name_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 64)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
            return false;
    return true;
}

static int check_path(const char *what, const char *p, char *err, size_t errlen)
{
    struct sockaddr_un sa;
    if (!p || p[0] != '/')
        return fail(err, errlen, -EINVAL, "%s: socket path must be absolute", what);
    if (strlen(p) + 16 >= sizeof sa.sun_path)
        return fail(err, errlen, -EINVAL, "%s: socket path \"%s\" is too long (max %zu)", what,
                    p, sizeof sa.sun_path - 17);
    return 0;
}

static int check_mode(const char *what, mode_t m, char *err, size_t errlen)
{
    if (m & ~(mode_t)0770)
        return fail(err, errlen, -EINVAL,
                    "%s: mode %04o gives others access; use 0660 or 0600", what, (unsigned)m);
    if ((m & 0600) != 0600)
        return fail(err, errlen, -EINVAL, "%s: mode %04o locks out the relay's own user", what,
                    (unsigned)m);
    return 0;
}

int stdio_relay_conf_check(const stdio_relay_conf_t *c, char *err, size_t errlen)
{
    int rc;
    if (c->attach_path && ((rc = check_path("attach", c->attach_path, err, errlen)) < 0 ||
                           (rc = check_mode("attach", c->attach_mode, err, errlen)) < 0))
        return rc;
    if (c->hello_timeout_ms < 1 || c->drain_timeout_ms < 1 || c->event_interval_ms < 1)
        return fail(err, errlen, -EINVAL, "timeouts and intervals must be positive");
    if (c->stall_timeout_ms < 0)
        return fail(err, errlen, -EINVAL, "stall_timeout must not be negative");
    if (c->event_max_bytes < 1 || c->event_max_bytes > 512 * 1024)
        return fail(err, errlen, -EINVAL, "event_max_bytes must be within 1..524288");
    if (c->read_chunk < 4096 || c->read_chunk > (16u << 20))
        return fail(err, errlen, -EINVAL, "read_chunk must be within 4 KiB..16 MiB");
    if (c->max_pending < 1)
        return fail(err, errlen, -EINVAL, "max_pending must be positive");
    if (c->n_channels == 0)
        return fail(err, errlen, -EINVAL, "no channels");
    if (c->recording.dir && *c->recording.dir && c->recording.dir[0] != '/')
        return fail(err, errlen, -EINVAL, "recording dir must be an absolute path");
    if (c->recording.max_file < 4096 || c->recording.max_total < c->recording.max_file)
        return fail(err, errlen, -EINVAL,
                    "recording: max_file must be at least 4 KiB and max_total at least max_file");
    for (size_t i = 0; i < c->n_channels; i++) {
        const stdio_chan_conf_t *ch = &c->channels[i];
        if (!ch->name || !name_ok(ch->name))
            return fail(err, errlen, -EINVAL, "channel \"%s\": name must be [a-z0-9-]{1,64}",
                        ch->name ? ch->name : "");
        if ((rc = check_path(ch->name, ch->path, err, errlen)) < 0 ||
            (ch->ro_path && (rc = check_path(ch->name, ch->ro_path, err, errlen)) < 0) ||
            (rc = check_mode(ch->name, ch->mode, err, errlen)) < 0)
            return rc;
        if (ch->scrollback < 4096 || ch->scrollback > ((size_t)1 << 30))
            return fail(err, errlen, -EINVAL, "channel \"%s\": scrollback must be 4 KiB..1 GiB",
                        ch->name);
        if (ch->max_clients < 1)
            return fail(err, errlen, -EINVAL, "channel \"%s\": max_clients must be positive",
                        ch->name);
        /* Every socket path once, across channels and the attach socket. */
        const char *mine[2] = {ch->path, ch->ro_path};
        for (int a = 0; a < 2; a++) {
            if (!mine[a])
                continue;
            if (c->attach_path && strcmp(mine[a], c->attach_path) == 0)
                return fail(err, errlen, -EINVAL, "%s is used twice", mine[a]);
            if (a == 1 && strcmp(ch->ro_path, ch->path) == 0)
                return fail(err, errlen, -EINVAL, "%s is used twice", mine[a]);
            for (size_t j = 0; j < i; j++) {
                const stdio_chan_conf_t *o = &c->channels[j];
                if (strcmp(o->name, ch->name) == 0)
                    return fail(err, errlen, -EINVAL, "channel \"%s\" is defined twice",
                                ch->name);
                if (strcmp(o->path, mine[a]) == 0 || (o->ro_path && strcmp(o->ro_path, mine[a]) == 0))
                    return fail(err, errlen, -EINVAL, "%s is used twice", mine[a]);
            }
        }
    }
    return 0;
}
