/* Fuzz target of hl-uplink's parsers: the first byte picks one,
 *   0 the JSON reader (ul_json_parse, then writing it back and parsing that:
 *     the same tree), 1 Alertmanager's webhook message, 2 a Retry-After value
 *     and a Date (split at the first newline) and the clock sample, 3 the
 *     outbox file loader (the bytes as outbox.msgpack, then a push and an ack);
 * the rest is the input. With UL_FUZZ_REPLAY it is a program that runs each
 * file (or each file of each directory) given through every mode. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <hlbus/buf.h>

#include "ul_alertrecv.h"
#include "ul_clock.h"
#include "ul_json.h"
#include "ul_outbox.h"

#define NMODES 4

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void count_alert(const ul_event_t *ev, void *arg)
{
    size_t *n = arg;
    if (!ev->id || !ev->body || !*ev->body)
        abort();
    (*n)++;
}

static char *tmpdir_once(void)
{
    static char path[256];
    if (!path[0]) {
        const char *t = getenv("TMPDIR");
        snprintf(path, sizeof path, "%s/fuzz_uplink.XXXXXX", t && *t ? t : "/tmp");
        if (!mkdtemp(path))
            abort();
    }
    return path;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    unsigned mode = data[0] % NMODES;
    const char *s = (const char *)data + 1;
    size_t n = size - 1;
    if (mode == 0) {
        char *err = NULL;
        ul_jnode_t *doc = ul_json_parse(s, n, &err);
        if (!doc && !err)
            abort(); /* a failure always says why */
        if (doc) {
            hlb_buf_t b = {0};
            ul_json_write(&b, doc);
            char *err2 = NULL;
            ul_jnode_t *again = ul_json_parse(b.data, b.len, &err2);
            if (!again)
                abort(); /* what we write, we read */
            hlb_buf_t b2 = {0};
            ul_json_write(&b2, again);
            if (b.len != b2.len || memcmp(b.data, b2.data, b.len) != 0)
                abort();
            hlb_buf_free(&b2);
            ul_json_free(again);
            free(err2);
            hlb_buf_free(&b);
        }
        ul_json_free(doc);
        free(err);
    } else if (mode == 1) {
        uint64_t seq = 0;
        size_t alerts = 0;
        char *err = NULL;
        if (ul_alert_webhook_parse(s, n, 1, &seq, count_alert, &alerts, &err) < 0 && !err)
            abort();
        if (alerts != seq)
            abort();
        free(err);
    } else if (mode == 2) {
        char *copy = strndup(s, n);
        if (!copy)
            return 0;
        char *nl = strchr(copy, '\n');
        const char *date = NULL;
        if (nl) {
            *nl = '\0';
            date = nl + 1;
        }
        uint64_t ms = ul_retry_after_ms(copy, date, 3600000);
        if (ms > 3600000)
            abort();
        ul_clock_t c = {0};
        ul_clock_sample(&c, date, 1000000);
        (void)ul_clock_now_us(&c, 2000000, 0);
        char iso[32];
        ul_iso8601(ul_clock_now_us(&c, 2000000, 5), iso);
        free(copy);
    } else {
        const char *dir = tmpdir_once();
        char path[300];
        snprintf(path, sizeof path, "%s/outbox.msgpack", dir);
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd < 0)
            abort();
        if (write(fd, s, n) != (ssize_t)n)
            abort();
        close(fd);
        char *err = NULL;
        ul_outbox_t *o = ul_outbox_open(dir, 64 << 10, &err);
        if (o) {
            for (size_t i = 0; i < ul_outbox_depth(o); i++)
                if (!ul_outbox_at(o, i)->id)
                    abort();
            ul_event_t ev = {.id = "x:1:1", .source = "x", .epoch = 1, .seq = 1, .type = "alert",
                             .topic = "alert.x", .ts_us = 1, .body = "{}"};
            (void)ul_outbox_push(o, &ev);
            (void)ul_outbox_ack(o, 1);
            ul_outbox_close(&o);
        }
        free(err);
    }
    return 0;
}

#ifdef UL_FUZZ_REPLAY
#include "../common/replay.h"

static size_t builtin(void)
{
    size_t count = 0;
    /* an outbox written by the code itself, torn at every length: each
     * loads whole records only, and never crashes */
    char *dir = tmpdir_once();
    char *err = NULL;
    ul_outbox_t *o = ul_outbox_open(dir, 1 << 20, &err);
    if (!o) {
        fprintf(stderr, "fuzz_uplink_replay: cannot open an outbox: %s\n", err ? err : "?");
        exit(1);
    }
    for (uint64_t i = 0; i < 5; i++) {
        ul_event_t ev = {.id = "s:1:1", .source = "s", .epoch = 1, .seq = i, .type = "alert",
                         .topic = "alert.s", .ts_us = i, .body = "{\"a\":1}"};
        ul_outbox_push(o, &ev);
    }
    ul_outbox_ack(o, 2);
    ul_outbox_close(&o);
    char path[300];
    snprintf(path, sizeof path, "%s/outbox.msgpack", dir);
    FILE *f = fopen(path, "re");
    uint8_t whole[8192];
    size_t len = f ? fread(whole + 1, 1, sizeof whole - 1, f) : 0;
    if (f)
        fclose(f);
    for (size_t cut = 0; cut <= len; cut++) {
        whole[0] = 3;
        LLVMFuzzerTestOneInput(whole, cut + 1);
        count++;
    }
    free(err);
    return count;
}

int main(int argc, char **argv)
{
    static const fuzz_replay_t how = {
        .name = "fuzz_uplink_replay",
        .max_len = 1 << 20,
        .modes = NMODES,
        .builtin = builtin,
    };
    return fuzz_replay_main(argc, argv, &how);
}
#endif
