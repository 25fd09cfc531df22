/* orch-bench: how long a unit's state change takes to reach the bus as a
 * service.* event, and what polling `systemctl is-active` costs instead.
 *
 *   orch-bench UNIT CYCLES SYSTEMCTL
 *
 * Starts and stops UNIT CYCLES times over the system bus, one change at a
 * time, and for every service.<unit> event received takes now - the
 * state_change_us systemd stamped on the change (both wall clock, same
 * host). Then runs SYSTEMCTL is-active UNIT as often and reports the CPU it
 * used per call (user + system, from the children's rusage). One line of
 * JSON on stdout. */
#include <errno.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <systemd/sd-bus.h>
#include <hlbus/hlbus.h>
#include "orchestrator.pb-c.h"

extern char **environ;

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;
    return x < y ? -1 : x > y;
}

static uint64_t pct(const uint64_t *v, size_t n, double p)
{
    if (!n)
        return 0;
    size_t i = (size_t) (p * (double) (n - 1) + 0.5);
    return v[i < n ? i : n - 1];
}

static int job(sd_bus *bus, const char *method, const char *unit)
{
    sd_bus_error e = SD_BUS_ERROR_NULL;
    sd_bus_message *reply = NULL;
    int r = sd_bus_call_method(bus, "org.freedesktop.systemd1", "/org/freedesktop/systemd1",
                               "org.freedesktop.systemd1.Manager", method, &e, &reply, "ss", unit,
                               "replace");
    if (r < 0)
        fprintf(stderr, "%s %s: %s\n", method, unit, e.message ? e.message : strerror(-r));
    sd_bus_error_free(&e);
    sd_bus_message_unref(reply);
    return r;
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: orch-bench UNIT CYCLES SYSTEMCTL\n");
        return 64;
    }
    const char *unit = argv[1];
    int64_t cycles;
    if (hlb_parse_int(argv[2], &cycles) < 0 || cycles < 1) {
        fprintf(stderr, "CYCLES must be a positive number\n");
        return 64;
    }
    zsys_handler_set(NULL);
    char *service = strndup(unit, strcspn(unit, "."));
    char *prefix = NULL;
    if (asprintf(&prefix, "service.%s", service) < 0)
        return 1;
    const char *prefixes[] = {prefix, NULL};
    hlb_sub_t *sub = hlb_sub_new(hlb_runtime_dir(NULL), prefixes);
    sd_bus *bus = NULL;
    if (!sub || sd_bus_open_system(&bus) < 0) {
        fprintf(stderr, "cannot reach the bus or systemd\n");
        return 1;
    }
    size_t cap = (size_t) cycles * 8, n = 0;
    uint64_t *lat = calloc(cap, sizeof *lat);
    /* The two legs: systemd → the orchestrator's publish, publish → here. */
    uint64_t *leg1 = calloc(cap, sizeof *leg1), *leg2 = calloc(cap, sizeof *leg2);
    uint64_t last_change = 0;
    int missing = 0;
    for (int64_t i = 0; i < cycles * 2; i++) {
        const char *want = i % 2 == 0 ? "active" : "inactive";
        if (job(bus, i % 2 == 0 ? "StartUnit" : "StopUnit", unit) < 0)
            return 1;
        /* Take every event until the one that says the change is complete. */
        for (;;) {
            hlb_event_t ev;
            int r = hlb_sub_recv(sub, &ev, 5000);
            if (r == -EAGAIN) {
                missing++;
                break;
            }
            if (r != 1 || ev.replay || !ev.msg || ev.msg->descriptor != &hl__service_state__descriptor)
                continue;
            uint64_t now = hlb_now_us();
            const Hl__ServiceState *s = (const Hl__ServiceState *) ev.msg;
            if (s->state_change_us > last_change) {
                last_change = s->state_change_us;
                if (n < cap) {
                    uint64_t pub = ev.env->ts_us;
                    leg1[n] = pub > s->state_change_us ? pub - s->state_change_us : 0;
                    leg2[n] = now > pub ? now - pub : 0;
                    lat[n++] = now > s->state_change_us ? now - s->state_change_us : 0;
                }
            }
            if (!strcmp(s->active_state, want))
                break;
        }
    }
    qsort(lat, n, sizeof *lat, cmp_u64);
    qsort(leg1, n, sizeof *leg1, cmp_u64);
    qsort(leg2, n, sizeof *leg2, cmp_u64);

    /* The peer: polling with systemctl, as the spec's scripts do. */
    struct rusage before, after;
    getrusage(RUSAGE_CHILDREN, &before);
    uint64_t t0 = hlb_mono_us();
    int polls = (int) (cycles * 2 < 200 ? 200 : cycles * 2);
    for (int i = 0; i < polls; i++) {
        pid_t pid;
        char *args[] = {(char *) argv[3], (char *) "is-active", (char *) "--quiet", (char *) unit, NULL};
        if (posix_spawn(&pid, argv[3], NULL, NULL, args, environ) != 0)
            return 1;
        int st;
        waitpid(pid, &st, 0);
    }
    uint64_t wall = hlb_mono_us() - t0;
    getrusage(RUSAGE_CHILDREN, &after);
    double cpu_us = (double) (after.ru_utime.tv_sec - before.ru_utime.tv_sec) * 1e6 +
                    (double) (after.ru_utime.tv_usec - before.ru_utime.tv_usec) +
                    (double) (after.ru_stime.tv_sec - before.ru_stime.tv_sec) * 1e6 +
                    (double) (after.ru_stime.tv_usec - before.ru_stime.tv_usec);
    printf("{\"changes\":%zu,\"missing\":%d,\"p50_us\":%llu,\"p90_us\":%llu,\"p99_us\":%llu,"
           "\"max_us\":%llu,\"min_us\":%llu,"
           "\"systemd_to_publish_p50_us\":%llu,\"systemd_to_publish_p99_us\":%llu,"
           "\"bus_p50_us\":%llu,\"bus_p99_us\":%llu,"
           "\"polls\":%d,\"poll_cpu_us\":%.0f,\"poll_wall_us\":%.0f}\n",
           n, missing, (unsigned long long) pct(lat, n, 0.5), (unsigned long long) pct(lat, n, 0.9),
           (unsigned long long) pct(lat, n, 0.99), (unsigned long long) (n ? lat[n - 1] : 0),
           (unsigned long long) (n ? lat[0] : 0), (unsigned long long) pct(leg1, n, 0.5),
           (unsigned long long) pct(leg1, n, 0.99), (unsigned long long) pct(leg2, n, 0.5),
           (unsigned long long) pct(leg2, n, 0.99), polls, cpu_us / polls, (double) wall / polls);
    free(lat);
    free(leg1);
    free(leg2);
    free(prefix);
    free(service);
    hlb_sub_destroy(&sub);
    sd_bus_flush_close_unref(bus);
    return missing ? 1 : 0;
}
