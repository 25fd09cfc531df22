/* Logging to journald or stderr, mirrored onto the bus. */
#include "hlbus/log.h"

#include "hlbus/buf.h"
#include "hlbus/json.h"
#include "hlbus/codec.h"
#include "hlbus/pub.h"
#include "hlbus/str.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#define SD_JOURNAL_SUPPRESS_LOCATION
#include <systemd/sd-journal.h>

static struct {
    char ident[64];
    int level;
    bool journal;
    hlb_pub_t *pub;
    bool in_pub; /* a failure while publishing a log must not log again */
} L = {.ident = "hl", .level = LOG_INFO};

static const char *const names[] = {"emerg", "alert", "crit", "error",
                                    "warning", "notice", "info", "debug"};

int hlb_log_level_parse(const char *name)
{
    if (!name)
        return -EINVAL;
    int i = hlb_enum_parse_case(names, HLB_NELEMS(names), name);
    if (i >= 0)
        return i;
    if (strcasecmp(name, "err") == 0)
        return LOG_ERR;
    if (strcasecmp(name, "warn") == 0)
        return LOG_WARNING;
    return -EINVAL;
}

const char *hlb_log_level_name(int level)
{
    return hlb_enum_name(names, HLB_NELEMS(names), level, "info");
}

/* journald sets JOURNAL_STREAM to the device:inode of the stream it gave us
 * as stderr; only then is stderr the journal. */
static bool stderr_is_journal(void)
{
    const char *js = getenv("JOURNAL_STREAM");
    struct stat st;
    unsigned long dev, ino;
    if (!js || sscanf(js, "%lu:%lu", &dev, &ino) != 2 || fstat(STDERR_FILENO, &st) < 0)
        return false;
    return st.st_dev == dev && st.st_ino == ino;
}

void hlb_log_init(const char *ident, int level)
{
    snprintf(L.ident, sizeof L.ident, "%s", ident);
    L.level = level;
    L.journal = stderr_is_journal();
}

void hlb_log_set_level(int level) { L.level = level; }
int hlb_log_get_level(void) { return L.level; }
void hlb_log_set_pub(hlb_pub_t *pub) { L.pub = pub; }

static void emit(int level, hlb_map_t *fields, const char *msg)
{
    hlb_buf_t fb = {0}; /* the fields as JSON */
    if (fields && hlb_map_size(fields)) {
        size_t len;
        const void *d = hlb_map_data(fields, &len);
        hlb_json_msgpack(&fb, d, len);
    }
    if (L.journal) {
        sd_journal_send("MESSAGE=%s", msg, "PRIORITY=%d", level, "SYSLOG_IDENTIFIER=%s", L.ident,
                        "HL_FIELDS=%s", fb.data ? fb.data : "{}", NULL);
    } else {
        struct timespec ts;
        struct tm tm;
        char when[32];
        clock_gettime(CLOCK_REALTIME, &ts);
        gmtime_r(&ts.tv_sec, &tm);
        strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);
        fprintf(stderr, "%s.%03ldZ %s[%d] %s: %s%s%s\n", when, ts.tv_nsec / 1000000, L.ident,
                (int)getpid(), names[level], msg, fb.data ? " " : "", fb.data ? fb.data : "");
    }
    hlb_buf_free(&fb);
    if (L.pub && !L.in_pub) {
        L.in_pub = true;
        Hl__Log lm = HL__LOG__INIT;
        lm.level = (char *)names[level];
        lm.message = (char *)msg;
        lm.in_journal = L.journal;
        if (fields && hlb_map_size(fields)) {
            size_t len;
            lm.fields_msgpack.data = (uint8_t *)hlb_map_data(fields, &len);
            lm.fields_msgpack.len = len;
        }
        char topic[128];
        snprintf(topic, sizeof topic, "log.%s.%s", L.ident, names[level]);
        hlb_pub_send(L.pub, topic, &lm.base);
        L.in_pub = false;
    }
}

void hlb_logv(int level, const char *fmt, va_list ap)
{
    if (level > L.level || level < 0)
        return;
    hlb_buf_t b = {0};
    hlb_buf_vprintf(&b, fmt, ap);
    emit(level, NULL, b.data ? b.data : "");
    hlb_buf_free(&b);
}

void hlb_log(int level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    hlb_logv(level, fmt, ap);
    va_end(ap);
}

void hlb_log_fields(int level, hlb_map_t *fields, const char *fmt, ...)
{
    if (level > L.level || level < 0)
        return;
    va_list ap;
    hlb_buf_t b = {0};
    va_start(ap, fmt);
    hlb_buf_vprintf(&b, fmt, ap);
    va_end(ap);
    emit(level, fields, b.data ? b.data : "");
    hlb_buf_free(&b);
}
