/* Fuzz target for hl-failure's parsers: the first byte picks what the rest
 * is fed to:
 *   0..N-1  a bus event: topic (from the byte) and a body of one of the
 *           types hl-failure reads, decoded as typed messages and run through
 *           detection and a recovery policy per target;
 *   N       the config parser (YAML text of the hl-failure section).
 * Nothing may crash, hang or leak.
 *
 * Built as a libFuzzer target with -DHL_FUZZ=ON (clang); always built as a
 * replay program that runs its built-in seeds and any given files (ctest
 * runs it). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <hlbus/hlbus.h>
#include "../fuzz_util.h"

#include "fl_config.h"
#include "fl_decode.h"
#include "fl_detect.h"
#include "fl_policy.h"

static const char *const topics[] = {"service.x",        "health.x",         "metrics.threshold.m",
                                     "uplink.status",     "lifecycle.state",  "service.",
                                     "service.hl-daemon", "health.hl-daemon"};
static const char *const types[] = {HLB_TYPE_MSGPACK, "hl.ServiceState", "hl.ServiceHealth",
                                    "hl.Threshold",   "hl.LifecycleState", "hl.Failure"};
#define NT (sizeof topics / sizeof topics[0])
#define NY (sizeof types / sizeof types[0])

static fl_config_t *cfg;
static fl_detect_t *det;
static fl_policy_t *pol;

static void on_failure(const fl_failure_t *f, void *arg)
{
    /* every failure drives the one policy, with its timers */
    fl_policy_feed(pol, f->config ? FL_EV_CONFIG_ERROR : FL_EV_FAILURE,
                   &(fl_input_t){.detail = f->evidence, .self_restarting = f->self_restarting},
                   1000);
    if (strlen(f->evidence) > 100000 || !f->target || !*f->target)
        abort();
}

static void on_healthy(const char *t, const char *why, void *arg)
{
    fl_policy_feed(pol, FL_EV_HEALTHY, NULL, 2000);
}

static void on_effect(const fl_effect_t *e, void *arg)
{
    if (e->kind == FL_EFF_ACTION) /* the action "completes" at once */
        fl_policy_feed(pol, FL_EV_ACT_OK, NULL, 1500);
}

static void setup(void)
{
    if (cfg)
        return;
    hlb_diag_t d = {0};
    hlb_conf_t *c = hlb_conf_parse("fuzz.yaml",
                                   "hl-failure:\n"
                                   "  restart_settle: 100ms\n"
                                   "  services: {x: {}, hl-daemon: {}}\n"
                                   "  patterns:\n"
                                   "    - {name: c, on: exit-status, exit_status: [78]}\n"
                                   "    - {name: u, on: unit-config}\n"
                                   "    - {name: f, on: unit-failed}\n"
                                   "    - {name: h, on: unhealthy, sustain: 10ms}\n"
                                   "    - {name: t, on: threshold, sustain: 10ms, target: x}\n"
                                   "    - {name: n, on: uplink}\n",
                                   &d);
    cfg = fl_config_parse(hlb_conf_get(c, "hl-failure"), &d);
    hlb_conf_destroy(&c);
    hlb_diag_free(&d);
    static const fl_detect_ops_t ops = {on_failure, on_healthy, NULL};
    det = fl_detect_new(cfg, &ops, NULL);
    fl_policy_cfg_t pc;
    fl_policy_cfg_defaults(&pc);
    pol = fl_policy_new("x", &pc, on_effect, NULL);
}

static void event(const char *topic, const char *type, const uint8_t *data, size_t len)
{
    Hl__Envelope env = HL__ENVELOPE__INIT;
    env.source = "fuzz";
    env.type = (char *)type;
    env.body.data = (uint8_t *)data;
    env.body.len = len;
    env.ts_us = 1;
    hlb_event_t ev = {.topic = topic, .env = &env};
    ProtobufCMessage *m = NULL;
    if (strcmp(type, HLB_TYPE_MSGPACK) != 0) {
        m = hlb_body_decode(type, data, len);
        if (!m)
            return; /* the subscriber drops what does not decode */
        ev.msg = m;
    }
    {
        fl_unit_obs_t u;
        fl_health_obs_t h;
        fl_threshold_obs_t t;
        fl_uplink_obs_t up;
        const char *st;
        if (fl_decode_unit(&ev, "service.", &u) == 0)
            fl_detect_unit(det, &u, 1000);
        if (fl_decode_health(&ev, "health.", &h) == 0)
            fl_detect_health(det, &h, 1000);
        if (fl_decode_threshold(&ev, "metrics.threshold.", &t) == 0)
            fl_detect_threshold(det, &t, 1000);
        if (fl_decode_uplink(&ev, &up) == 0)
            fl_detect_uplink(det, &up, 1000);
        fl_decode_lifecycle(&ev, &st);
        fl_detect_tick(det, 5000);
        fl_policy_tick(pol, 100000000);
        fl_detect_reassert(det, NULL, 6000);
    }
    if (m)
        protobuf_c_message_free_unpacked(m, NULL);
}

static void one(const uint8_t *data, size_t size)
{
    setup();
    if (size < 1)
        return;
    unsigned sel = data[0];
    data++, size--;
    if (sel % (NT * NY + 1) == NT * NY) {
        char *text = malloc(size + 1);
        memcpy(text, data, size);
        text[size] = '\0';
        hlb_diag_t d = {0};
        hlb_conf_t *c = hlb_conf_parse("fuzz.yaml", text, &d);
        fl_config_t *fc = c ? fl_config_parse(hlb_conf_get(c, "hl-failure"), &d) : NULL;
        fl_config_destroy(&fc);
        hlb_conf_destroy(&c);
        hlb_diag_free(&d);
        free(text);
        return;
    }
    sel %= NT * NY;
    event(topics[sel % NT], types[sel / NT], data, size);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    one(data, size);
    return 0;
}

#ifdef FL_FUZZ_REPLAY
#include "../common/replay.h"

/* Built-in seeds: one of each kind, valid enough to reach deep. */
static size_t seeds(void)
{
    size_t count = 0;
    hlb_map_t *m = hlb_map_new();
    hlb_map_str(m, "active_state", "failed");
    hlb_map_str(m, "sub_state", "failed");
    hlb_map_str(m, "result", "exit-code");
    hlb_map_int(m, "exit_code", 1);
    hlb_map_int(m, "exit_status", 78);
    size_t len;
    const uint8_t *d = hlb_map_data(m, &len);
    for (unsigned t = 0; t < NT; t++) {
        uint8_t *buf = malloc(len + 1);
        buf[0] = (uint8_t)t; /* msgpack on each topic */
        memcpy(buf + 1, d, len);
        one(buf, len + 1);
        for (size_t cut = 1; cut < len; cut++) /* and every truncation */
            one(buf, cut);
        count += len;
        free(buf);
    }
    hlb_map_destroy(&m);
    static const char *const yaml[] = {
        "hl-failure:\n  services: {a: {actions: [reset, bogus]}}\n",
        "hl-failure:\n  patterns: [{name: x, on: threshold, command: [rm]}]\n",
        "hl-failure: [1, 2\n",
        "hl-failure:\n  checks: [{name: c, command: [/bin/true], failures: 0}]\n",
    };
    for (size_t i = 0; i < sizeof yaml / sizeof yaml[0]; i++) {
        size_t n = strlen(yaml[i]);
        uint8_t *buf = malloc(n + 1);
        buf[0] = (uint8_t)(NT * NY);
        memcpy(buf + 1, yaml[i], n);
        one(buf, n + 1);
        count++;
        free(buf);
    }
    return count;
}

int main(int argc, char **argv)
{
    static const fuzz_replay_t how = {
        .name = "fuzz_failure_replay",
        .max_len = 1 << 20,
        .builtin = seeds,
    };
    int rc = fuzz_replay_main(argc, argv, &how);
    fl_policy_destroy(&pol);
    fl_detect_destroy(&det);
    fl_config_destroy(&cfg);
    return rc;
}
#endif
