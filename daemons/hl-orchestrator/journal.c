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
    /* Not SD_JOURNAL_SYSTEM: a unit running as a regular user (the managed
     * services run as hluser) logs into that user's journal file. */
    int flags = SD_JOURNAL_LOCAL_ONLY | (user ? SD_JOURNAL_CURRENT_USER : 0);
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
