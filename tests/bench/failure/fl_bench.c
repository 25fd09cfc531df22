/* fl-bench: kill -9 a service again and again, and time what hl-failure and
 * Monit see, from the same kills. Runs inside the e2e container (the kill
 * needs the container's PID namespace), on its bus.
 *
 *   fl-bench [--runtime-dir DIR] [--kills N] [--service NAME] [--jitter-ms MS]
 *
 * Per kill, from the moment of kill(2), in microseconds:
 *   detect     failure.service_crash for the service published by hl-failure
 *              (the envelope's publish time)
 *   healthy    health.<service> "healthy" from hl-health, after the kill
 *   recovered  recovery.<service> step "recovered" from hl-failure
 *   monit_detect   Monit's hook: the process missing, or its pid changed
 *   monit_running  Monit's hook: the process there again (or its new pid)
 * Monit's hooks publish bench.monit {event, at_us} with the time taken at the
 * start of the hook. Before each kill it waits until all of them have
 * settled, then a random 0..jitter ms, so that kills fall anywhere in
 * Monit's cycle. Prints one line per kill and p50/p90/p99/max at the end. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <hlbus/hlbus.h>

#include "failure.pb-c.h"
#include "health.pb-c.h"

typedef struct {
    /* the service's state as last reported */
    uint32_t main_pid;
    bool active;
    bool healthy;
    /* the kill in progress */
    uint64_t t0;
    uint64_t detect, healthy_at, recovered, monit_detect, monit_running;
    uint64_t svc_failed, svc_autorestart; /* the orchestrator's service.* events */
    bool recovered_seen_prev; /* hl-failure idle again after the previous kill */
    bool unhealthy_seen;      /* hl-health has noticed this kill */
} st_t;

static const char *service = "fl-victim";

static const char *map_str(const hlb_event_t *ev, const char *key, char *buf, size_t n)
{
    if (!ev->env || strcmp(ev->env->type, HLB_TYPE_MSGPACK) != 0)
        return NULL;
    hlb_mpview_t *v = hlb_mpview_new(ev->env->body.data, ev->env->body.len);
    char *s = v ? hlb_mpview_str(v, key) : NULL;
    if (s)
        snprintf(buf, n, "%s", s);
    free(s);
    hlb_mpview_destroy(&v);
    return s ? buf : NULL;
}

static int64_t map_int(const hlb_event_t *ev, const char *key)
{
    if (!ev->env || strcmp(ev->env->type, HLB_TYPE_MSGPACK) != 0)
        return -1;
    hlb_mpview_t *v = hlb_mpview_new(ev->env->body.data, ev->env->body.len);
    int64_t i = -1;
    if (v)
        hlb_mpview_int(v, key, &i);
    hlb_mpview_destroy(&v);
    return i;
}

/* A registered body's string field by name (ServiceState, ServiceHealth). */
static const char *pb_str(const hlb_event_t *ev, const char *name)
{
    if (!ev->msg)
        return NULL;
    const ProtobufCFieldDescriptor *f =
        protobuf_c_message_descriptor_get_field_by_name(ev->msg->descriptor, name);
    if (!f || f->type != PROTOBUF_C_TYPE_STRING || f->label == PROTOBUF_C_LABEL_REPEATED)
        return NULL;
    return *(const char *const *)((const char *)ev->msg + f->offset);
}

static uint32_t pb_u32(const hlb_event_t *ev, const char *name)
{
    if (!ev->msg)
        return 0;
    const ProtobufCFieldDescriptor *f =
        protobuf_c_message_descriptor_get_field_by_name(ev->msg->descriptor, name);
    if (!f || f->type != PROTOBUF_C_TYPE_UINT32)
        return 0;
    return *(const uint32_t *)((const char *)ev->msg + f->offset);
}

static void on_event(st_t *s, const hlb_event_t *ev)
{
    char buf[64];
    const char *t = ev->topic;
    uint64_t ts = ev->env->ts_us;
    if (!strncmp(t, "service.", 8) && !strcmp(t + 8, service)) {
        const char *a = pb_str(ev, "active_state");
        const char *sub = pb_str(ev, "sub_state");
        s->active = a && !strcmp(a, "active");
        s->main_pid = pb_u32(ev, "main_pid");
        /* where detection time goes: systemd → orchestrator → bus */
        if (s->t0 && ts >= s->t0 && !s->svc_failed && a && !strcmp(a, "failed"))
            s->svc_failed = ts;
        if (s->t0 && ts >= s->t0 && !s->svc_autorestart && sub && !strcmp(sub, "auto-restart"))
            s->svc_autorestart = ts;
    } else if (!strncmp(t, "health.", 7) && !strcmp(t + 7, service)) {
        /* the health state is a proto enum since the typed bus contract */
        const Hl__ServiceHealth *h = hlb_event_as(ev, &hl__service_health__descriptor);
        s->healthy = h && h->state == HL__HEALTH_STATE__HEALTH_HEALTHY;
        /* healthy again: a verdict after one that noticed the kill (not a
         * snapshot of the old process) */
        if (!s->healthy && s->t0 && ts > s->t0)
            s->unhealthy_seen = true;
        else if (s->healthy && s->unhealthy_seen && !s->healthy_at)
            s->healthy_at = ts;
    } else if (!strcmp(t, "failure.service_crash") && ev->msg &&
               ev->msg->descriptor == &hl__failure__descriptor) {
        const Hl__Failure *f = (const Hl__Failure *)ev->msg;
        if (!strcmp(f->target, service) && s->t0 && !s->detect && ts >= s->t0)
            s->detect = ts;
    } else if (!strncmp(t, "recovery.", 9) && !strcmp(t + 9, service) && ev->msg &&
               ev->msg->descriptor == &hl__recovery_step__descriptor) {
        const Hl__RecoveryStep *r = (const Hl__RecoveryStep *)ev->msg;
        if (!strcmp(r->step, "recovered")) {
            s->recovered_seen_prev = true;
            if (s->t0 && !s->recovered && ts >= s->t0)
                s->recovered = ts;
        }
    } else if (!strcmp(t, "bench.monit")) {
        const char *e = map_str(ev, "event", buf, sizeof buf);
        int64_t at = map_int(ev, "at_us");
        if (!e || at <= 0 || !s->t0 || (uint64_t)at < s->t0)
            return;
        if (!s->monit_detect && (!strcmp(e, "down") || !strcmp(e, "pid")))
            s->monit_detect = (uint64_t)at;
        if (!s->monit_running && (!strcmp(e, "up") || !strcmp(e, "pid")))
            s->monit_running = (uint64_t)at;
    }
}

/* Reads events until DONE(s) or TIMEOUT_MS pass; whether DONE. */
static bool pump(hlb_sub_t *sub, st_t *s, bool (*done)(const st_t *), int timeout_ms)
{
    uint64_t deadline = hlb_mono_us() + (uint64_t)timeout_ms * 1000;
    while (!done || !done(s)) {
        uint64_t now = hlb_mono_us();
        if (now >= deadline)
            return done == NULL;
        hlb_event_t ev;
        int rc = hlb_sub_recv(sub, &ev, (int)((deadline - now) / 1000) + 1);
        if (rc == 1)
            on_event(s, &ev);
        else if (rc == -EINTR)
            return false;
    }
    return true;
}

static bool ready(const st_t *s)
{
    return s->active && s->main_pid > 1 && s->healthy && s->recovered_seen_prev;
}

static bool settled(const st_t *s)
{
    return s->detect && s->recovered && s->healthy_at && s->monit_detect && s->monit_running &&
           s->active && s->main_pid > 1;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void stats(const char *name, uint64_t *v, size_t n)
{
    if (!n) {
        printf("%-24s no samples\n", name);
        return;
    }
    qsort(v, n, sizeof *v, cmp_u64);
    double sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += (double)v[i];
#define PCT(p) ((double)v[(size_t)((p) * (double)(n - 1) + 0.5)] / 1000.0)
    printf("%-24s n=%-3zu p50 %8.1f ms  p90 %8.1f ms  p99 %8.1f ms  max %8.1f ms  mean %8.1f ms\n",
           name, n, PCT(0.50), PCT(0.90), PCT(0.99), (double)v[n - 1] / 1000.0,
           sum / (double)n / 1000.0);
#undef PCT
}

int main(int argc, char **argv)
{
    const char *dir = NULL;
    int64_t kills = 60, jitter = 1000;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--runtime-dir") && i + 1 < argc)
            dir = argv[++i];
        else if (!strcmp(argv[i], "--kills") && i + 1 < argc && hlb_parse_int(argv[i + 1], &kills) == 0)
            i++;
        else if (!strcmp(argv[i], "--service") && i + 1 < argc)
            service = argv[++i];
        else if (!strcmp(argv[i], "--jitter-ms") && i + 1 < argc &&
                 hlb_parse_int(argv[i + 1], &jitter) == 0)
            i++;
        else {
            fprintf(stderr, "usage: fl-bench [--runtime-dir DIR] [--kills N] [--service NAME] "
                            "[--jitter-ms MS]\n");
            return 64;
        }
    }
    dir = hlb_runtime_dir(dir);
    char pfx[4][96];
    snprintf(pfx[0], sizeof pfx[0], "service.%s", service);
    snprintf(pfx[1], sizeof pfx[1], "health.%s", service);
    snprintf(pfx[2], sizeof pfx[2], "recovery.%s", service);
    const char *const prefixes[] = {pfx[0], pfx[1], pfx[2], "failure.service_crash", "bench.monit", NULL};
    hlb_sub_t *sub = hlb_sub_new(dir, prefixes);
    if (!sub) {
        fprintf(stderr, "fl-bench: cannot subscribe on %s\n", dir);
        return 2;
    }
    st_t s = {.recovered_seen_prev = true};
    uint64_t *v[8];
    for (int k = 0; k < 8; k++)
        v[k] = calloc((size_t)kills, sizeof **v);
    size_t n[8] = {0};
    srand((unsigned)hlb_now_us());
    printf("kill  pid      detect_ms  healthy_ms  recovered_ms  monit_detect_ms  monit_running_ms\n");
    int missed = 0;
    for (int64_t i = 0; i < kills; i++) {
        /* the last value cache replays the current state at once */
        if (!pump(sub, &s, ready, 30000)) {
            fprintf(stderr, "fl-bench: %s not ready (active %d pid %u healthy %d recovered %d)\n",
                    service, s.active, s.main_pid, s.healthy, s.recovered_seen_prev);
            break;
        }
        pump(sub, &s, NULL, (int)(jitter > 0 ? rand() % jitter : 0));
        if (!ready(&s))
            continue;
        s.t0 = hlb_now_us();
        s.detect = s.healthy_at = s.recovered = s.monit_detect = s.monit_running = 0;
        s.svc_failed = s.svc_autorestart = 0;
        s.recovered_seen_prev = s.unhealthy_seen = false;
        uint32_t pid = s.main_pid;
        if (kill((pid_t)pid, SIGKILL) < 0) {
            fprintf(stderr, "fl-bench: kill %u: %s\n", pid, strerror(errno));
            break;
        }
        s.healthy = false;
        s.main_pid = 0;
        s.active = false;
        if (!pump(sub, &s, settled, 20000))
            missed++;
        uint64_t d[7] = {s.detect, s.healthy_at, s.recovered, s.monit_detect, s.monit_running,
                         s.svc_failed, s.svc_autorestart};
        for (int k = 5; k < 7; k++)
            if (d[k] >= s.t0 && d[k])
                v[k][n[k]++] = d[k] - s.t0;
        /* hl-failure's own share: from the event it acted on (the
         * orchestrator's auto-restart) to its failure event: one hop through
         * hl-bus and its own processing */
        if (s.detect && s.svc_autorestart && s.detect >= s.svc_autorestart)
            v[7][n[7]++] = s.detect - s.svc_autorestart;
        printf("%-5lld %-8u", (long long)i + 1, pid);
        for (int k = 0; k < 5; k++) {
            if (d[k] >= s.t0 && d[k]) {
                v[k][n[k]++] = d[k] - s.t0;
                printf(" %*.1f", k == 0 ? 9 : k == 1 ? 11 : k == 2 ? 13 : k == 3 ? 16 : 17,
                       (double)(d[k] - s.t0) / 1000.0);
            } else {
                printf(" %*s", k == 0 ? 9 : k == 1 ? 11 : k == 2 ? 13 : k == 3 ? 16 : 17, "-");
            }
        }
        printf("\n");
        fflush(stdout);
    }
    printf("\nfrom kill -9 to:\n");
    stats("hl-failure detect", v[0], n[0]);
    stats("hl-health healthy", v[1], n[1]);
    stats("hl-failure recovered", v[2], n[2]);
    stats("monit detect", v[3], n[3]);
    stats("monit running", v[4], n[4]);
    printf("of which, the orchestrator publishing service.%s:\n", service);
    stats("  active_state failed", v[5], n[5]);
    stats("  sub_state auto-restart", v[6], n[6]);
    printf("hl-failure's own share (that event -> failure.service_crash, through hl-bus):\n");
    stats("  own share", v[7], n[7]);
    if (missed)
        printf("(%d kills without every figure within 20 s)\n", missed);
    for (int k = 0; k < 8; k++)
        free(v[k]);
    hlb_sub_destroy(&sub);
    return n[0] ? 0 : 1;
}
