/* Fuzz target for hl-metrics' parsers: the first byte picks what the rest
 * is fed to: a bus event (topic line, then a body of one of the types
 * hl-metrics reads), an hl-bus stats reply, or one of the kernel files the
 * collectors parse (written into a scratch procfs, then every collector
 * runs). Nothing may crash, hang or leak; the exposition must stay valid
 * (checked line by line).
 *
 * Built as a libFuzzer target with -DHL_FUZZ=ON (clang); always built as a
 * replay program that runs each given file through every mode (ctest runs
 * it over the fixture trees). */
#include <dirent.h>
#include <errno.h>
#include <hlbus/hlbus.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "busmetrics.h"
#include "collect.h"
#include "expo.h"
#include "metrics.pb-c.h"
#include "../fuzz_util.h"

static const char *const body_types[] = {HLB_TYPE_MSGPACK, "hl.DaemonStatus", "hl.MetricsReport",
                                         "hl.Threshold", "hl.BusStats", "hl.Log"};
#define NTYPES (sizeof body_types / sizeof body_types[0])
static const char *const proc_files[] = {"stat", "meminfo", "loadavg", "vmstat", "pressure/io",
                                         "1/mounts", "net/dev", "diskstats"};
#define NFILES (sizeof proc_files / sizeof proc_files[0])
#define NMODES (1 + 1 + NFILES)

static char scratch[64];

/* Every line is a comment or "name[{labels}] value": a cheap validity check. */
static void check_exposition(const char *t)
{
    for (const char *l = t; *l;) {
        const char *nl = strchr(l, '\n');
        if (!nl)
            abort(); /* every line ends with a newline */
        if (*l != '#') {
            const char *p = l;
            while (p < nl && *p != '{' && *p != ' ')
                p++;
            if (p == l || p == nl)
                abort();
        }
        l = nl + 1;
    }
}

static void run_bus(const uint8_t *data, size_t size)
{
    if (size < 2)
        return;
    const char *type = body_types[data[0] % NTYPES];
    bool replay = data[0] & 0x80;
    data++;
    size--;
    const uint8_t *nl = memchr(data, '\n', size);
    size_t tl = nl ? (size_t)(nl - data) : size;
    if (tl > HLB_MAX_TOPIC)
        tl = HLB_MAX_TOPIC;
    char topic[HLB_MAX_TOPIC + 1];
    memcpy(topic, data, tl);
    topic[tl] = '\0';
    if (!hlb_topic_valid(topic, tl))
        return; /* the proxy and hlb_sub refuse these before us */
    const uint8_t *body = nl ? nl + 1 : data + size;
    size_t blen = (size_t)(data + size - body);
    ProtobufCMessage *msg = strcmp(type, HLB_TYPE_MSGPACK) ? hlb_body_decode(type, body, blen) : NULL;
    hlm_busm_t *b = hlm_busm_new(50);
    hlm_busm_event(b, topic, "fuzz", type, msg, body, blen, replay);
    hlm_busm_event(b, topic, "fuzz", type, msg, body, blen, !replay);
    hlm_expo_t *e = hlm_expo_new();
    hlm_busm_render(b, e);
    check_exposition(hlm_expo_text(e, NULL));
    hlm_expo_destroy(&e);
    hlm_busm_destroy(&b);
    if (msg)
        protobuf_c_message_free_unpacked(msg, NULL);
}

static void run_stats(const uint8_t *data, size_t size)
{
    Hl__BusStats *st = hl__bus_stats__unpack(NULL, size, data);
    if (!st)
        return;
    hlm_busm_t *b = hlm_busm_new(50);
    hlm_busm_bus_stats(b, st);
    hlm_expo_t *e = hlm_expo_new();
    hlm_busm_render(b, e);
    check_exposition(hlm_expo_text(e, NULL));
    hlm_expo_destroy(&e);
    hlm_busm_destroy(&b);
    hl__bus_stats__free_unpacked(st, NULL);
}

static void run_file(const char *rel, const uint8_t *data, size_t size)
{
    char path[128];
    snprintf(path, sizeof path, "%s/proc/%s", scratch, rel);
    FILE *f = fopen(path, "we");
    if (!f)
        abort();
    fwrite(data, 1, size, f);
    fclose(f);
    char procfs[96], sysfs[96];
    snprintf(procfs, sizeof procfs, "%s/proc", scratch);
    snprintf(sysfs, sizeof sysfs, "%s/sys", scratch);
    hlm_collect_opts_t o = {.procfs = procfs, .sysfs = sysfs, .rootfs = scratch};
    hlm_collect_t *c = hlm_collect_new(&o, NULL);
    hlm_expo_t *e = hlm_expo_new();
    hlm_collect_run(c, e);
    check_exposition(hlm_expo_text(e, NULL));
    hlm_expo_destroy(&e);
    hlm_collect_destroy(&c);
    /* leave an empty file for the next input */
    f = fopen(path, "we");
    if (f)
        fclose(f);
}

static void cleanup(void)
{
    if (!scratch[0])
        return;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", scratch);
    if (system(cmd) != 0)
        fprintf(stderr, "cannot remove %s\n", scratch);
}

static void setup(void)
{
    if (scratch[0])
        return;
    atexit(cleanup); /* the scratch procfs goes when the fuzzer or replay ends */
    snprintf(scratch, sizeof scratch, "/tmp/hlm-fuzz-XXXXXX");
    if (!mkdtemp(scratch))
        abort();
    char p[128];
    static const char *const dirs[] = {"proc", "proc/1", "proc/net", "proc/pressure", "sys", NULL};
    for (int i = 0; dirs[i]; i++) {
        snprintf(p, sizeof p, "%s/%s", scratch, dirs[i]);
        mkdir(p, 0700);
    }
    for (size_t i = 0; i < NFILES; i++) {
        snprintf(p, sizeof p, "%s/proc/%s", scratch, proc_files[i]);
        FILE *f = fopen(p, "we");
        if (f)
            fclose(f);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    setup();
    if (size < 1)
        return 0;
    unsigned mode = data[0] % NMODES;
    data++;
    size--;
    if (mode == 0)
        run_bus(data, size);
    else if (mode == 1)
        run_stats(data, size);
    else
        run_file(proc_files[mode - 2], data, size);
    return 0;
}

#ifdef HLM_FUZZ_REPLAY
#include "../common/replay.h"

static size_t builtin(void)
{
    size_t count = 0;
    /* A few bus events spelled out, so that every bus path runs. */
    static const char *const events[] = {
        "health.svc\n", "service.svc\n", "failure.crash\n", "recovery.svc\n", "alert.x\n",
        "daemon.hl-x\n", "metrics.report.x\n",
    };
    hlb_map_t *m = hlb_map_new();
    hlb_map_str(m, "state", "degraded");
    hlb_map_str(m, "active_state", "active");
    hlb_map_int(m, "n_restarts", 3);
    size_t ml;
    const void *md = hlb_map_data(m, &ml);
    for (size_t i = 0; i < sizeof events / sizeof events[0]; i++) {
        size_t tl = strlen(events[i]);
        uint8_t *in = malloc(2 + tl + ml);
        in[0] = 0;
        in[1] = 0; /* msgpack */
        memcpy(in + 2, events[i], tl);
        memcpy(in + 2 + tl, md, ml);
        LLVMFuzzerTestOneInput(in, 2 + tl + ml);
        free(in);
        count++;
    }
    hlb_map_destroy(&m);
    return count;
}

/* Runs each file given (or each file in each directory given) through
 * every mode, then a few bus events spelled out, so that every bus path
 * runs. */
int main(int argc, char **argv)
{
    static const fuzz_replay_t how = {
        .name = "fuzz_metrics_replay",
        .max_len = 1 << 20,
        .modes = NMODES,
        .mode_flag = 0x80, /* and as replays, for the bus mode */
        .builtin = builtin,
    };
    return fuzz_replay_main(argc, argv, &how);
}
#endif
