/* hlctl check health [SERVICE] | service NAME | phases | bus | failures
 * [-w RANGE] [-c RANGE]: the state of the stack as a Nagios/Icinga plugin
 * (plugin.h: one status line with perfdata, exit 0/1/2/3), for a monitor
 * that runs commands rather than subscribing to the bus. What -w/-c judge,
 * per check, is in the usage text below and in README "Monitoring tools". */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "failure.pb-c.h"
#include "health.pb-c.h"
#include "hlbus.pb-c.h"
#include "hlctl.h"
#include "orchestrator.pb-c.h"
#include "plugin.h"

static const char usage_text[] =
    "check health [SERVICE] | service NAME | phases | bus | failures [-w RANGE] [-c RANGE]\n"
    "      [-t SECONDS]\n"
    "  a Nagios/Icinga plugin: 'NAME STATUS - text | perfdata', exit 0 OK, 1 WARNING,\n"
    "  2 CRITICAL, 3 UNKNOWN. RANGE: 10 (alert outside 0..10), 10: (below 10),\n"
    "  ~:10 (above 10), 10:20 (outside 10..20), @10:20 (inside 10..20). -w/-c judge:\n"
    "    health    services not healthy (in place of: degraded WARNING, unhealthy CRITICAL)\n"
    "    service   the slowest check's last run, seconds (besides the service's state)\n"
    "    phases    boot to ready, seconds (besides the lifecycle state)\n"
    "    bus       messages lost between publishers and hl-bus (gaps)\n"
    "    failures  open incidents (in place of: any open WARNING); a target that gave up,\n"
    "              is held by the flap guard or has a configuration error is CRITICAL\n"
    "  -t SECONDS: answer within this long, retries included (default: --timeout, --retries)";

#define NO_LIMIT NAN

/* Calls DAEMON's METHOD; on failure says why in P's text with status
 * DOWN_STATUS (UNKNOWN when the daemon is only the source of the figures,
 * CRITICAL when it is the thing checked) and returns NULL. */
static Hl__Reply *call(hlctl_t *ctx, hlctl_plugin_t *p, const char *daemon, const char *method,
                       hlb_map_t *args, hlctl_plugin_status_t down_status)
{
    Hl__Reply *r = NULL;
    int rc = hlb_call_map(ctx->runtime_dir, daemon, method, args, &ctx->call, &r);
    if (rc == -ECONNREFUSED || rc == -ENOENT)
        hlctl_plugin_text(p, "%s is not running (nothing listens on %s/ctl/%s)", daemon,
                          ctx->runtime_dir, daemon);
    else if (rc == -EACCES)
        hlctl_plugin_text(p, "permission denied on %s/ctl/%s", ctx->runtime_dir, daemon);
    else if (rc < 0)
        hlctl_plugin_text(p, "%s did not answer '%s': %s", daemon, method,
                          rc == -ETIMEDOUT ? "timed out" : strerror(-rc));
    else if (r->status != 0)
        hlctl_plugin_text(p, "%s: %s", daemon, r->error && *r->error ? r->error : strerror(r->status));
    if (rc < 0 || r->status != 0) {
        hlctl_plugin_raise(p, down_status);
        if (r)
            hl__reply__free_unpacked(r, NULL);
        return NULL;
    }
    return r;
}

static void *decode(hlctl_plugin_t *p, Hl__Reply *r, const ProtobufCMessageDescriptor *desc,
                    const char *daemon)
{
    void *m = hlb_reply_decode(r, desc);
    if (!m) {
        hlctl_plugin_text(p, "%s sent an unexpected '%s' reply", daemon, r->type);
        hlctl_plugin_raise(p, HLCTL_PLUGIN_UNKNOWN);
    }
    return m;
}

static hlctl_plugin_status_t health_status(Hl__HealthState s)
{
    switch (s) {
    case HL__HEALTH_STATE__HEALTH_HEALTHY:
    case HL__HEALTH_STATE__HEALTH_NOT_APPLICABLE: return HLCTL_PLUGIN_OK;
    case HL__HEALTH_STATE__HEALTH_UNHEALTHY: return HLCTL_PLUGIN_CRITICAL;
    default: return HLCTL_PLUGIN_WARNING; /* degraded, unknown (as hlctl health) */
    }
}

static const char *health_word(Hl__HealthState s)
{
    return hlb_pb_enum_word(&hl__health_state__descriptor, s);
}

static void check_health(hlctl_t *ctx, hlctl_plugin_t *p, const char *service)
{
    hlb_map_t *args = NULL;
    if (service) {
        args = hlb_map_new();
        hlb_map_str(args, "service", service);
    }
    Hl__Reply *r = call(ctx, p, "hl-health", "health", args, HLCTL_PLUGIN_UNKNOWN);
    hlb_map_destroy(&args);
    if (!r)
        return;
    Hl__HealthReport *m = decode(p, r, &hl__health_report__descriptor, "hl-health");
    if (m) {
        size_t n[5] = {0}, total = 0;
        for (size_t i = 0; i < m->n_services; i++) {
            unsigned s = (unsigned)m->services[i]->state;
            n[s < 5 ? s : 0]++;
            if (s != HL__HEALTH_STATE__HEALTH_NOT_APPLICABLE)
                total++;
        }
        size_t bad = n[HL__HEALTH_STATE__HEALTH_DEGRADED] + n[HL__HEALTH_STATE__HEALTH_UNHEALTHY] +
                     n[HL__HEALTH_STATE__HEALTH_UNKNOWN];
        if (hlctl_plugin_has_thresholds(p))
            hlctl_plugin_judge(p, (double)bad);
        else
            for (size_t i = 0; i < m->n_services; i++)
                hlctl_plugin_raise(p, health_status(m->services[i]->state));
        if (!bad) {
            hlctl_plugin_text(p, "%zu of %zu services healthy", n[HL__HEALTH_STATE__HEALTH_HEALTHY],
                              total);
        } else {
            hlctl_plugin_text(p, "%zu of %zu services not healthy:", bad, total);
            for (size_t i = 0, k = 0; i < m->n_services; i++) {
                const Hl__ServiceHealth *s = m->services[i];
                if (health_status(s->state) == HLCTL_PLUGIN_OK)
                    continue;
                hlctl_plugin_text(p, "%s %s %s%s%s", k++ ? "," : "", s->service,
                                  health_word(s->state), *s->reason ? ": " : "", s->reason);
            }
        }
        hlctl_plugin_perf(p, "healthy", (double)n[HL__HEALTH_STATE__HEALTH_HEALTHY], "", false, 0,
                          (double)total);
        hlctl_plugin_perf(p, "degraded", (double)n[HL__HEALTH_STATE__HEALTH_DEGRADED], "", false, 0,
                          (double)total);
        hlctl_plugin_perf(p, "unhealthy", (double)n[HL__HEALTH_STATE__HEALTH_UNHEALTHY], "", false,
                          0, (double)total);
        hlctl_plugin_perf(p, "unknown", (double)n[HL__HEALTH_STATE__HEALTH_UNKNOWN], "", false, 0,
                          (double)total);
        hlctl_plugin_perf(p, "not_healthy", (double)bad, "", true, 0, (double)total);
        protobuf_c_message_free_unpacked(&m->base, NULL);
    }
    hl__reply__free_unpacked(r, NULL);
}

static void check_service(hlctl_t *ctx, hlctl_plugin_t *p, const char *service)
{
    hlb_map_t *args = hlb_map_new();
    hlb_map_str(args, "service", service);
    Hl__Reply *r = call(ctx, p, "hl-health", "health", args, HLCTL_PLUGIN_UNKNOWN);
    hlb_map_destroy(&args);
    if (!r)
        return;
    Hl__HealthReport *m = decode(p, r, &hl__health_report__descriptor, "hl-health");
    const Hl__ServiceHealth *s = NULL;
    for (size_t i = 0; m && i < m->n_services && !s; i++)
        if (strcmp(m->services[i]->service, service) == 0)
            s = m->services[i];
    if (m && !s) {
        hlctl_plugin_text(p, "hl-health knows no service '%s'", service);
        hlctl_plugin_raise(p, HLCTL_PLUGIN_UNKNOWN);
    } else if (s) {
        hlctl_plugin_raise(p, health_status(s->state));
        hlctl_plugin_text(p, "%s %s%s%s", s->service, health_word(s->state),
                          *s->reason ? ": " : "", s->reason);
        double slowest = 0;
        uint32_t streak = 0;
        for (size_t i = 0; i < s->n_checks; i++) {
            const Hl__CheckHealth *c = s->checks[i];
            double d = (double)c->last_duration_us / 1e6;
            if (d > slowest)
                slowest = d;
            if (c->bad_streak > streak)
                streak = c->bad_streak;
            hlctl_plugin_perf(p, c->name, d, "s", true, 0, NO_LIMIT);
        }
        if (s->n_checks)
            hlctl_plugin_judge(p, slowest);
        hlctl_plugin_perf(p, "checks", (double)s->n_checks, "", false, 0, NO_LIMIT);
        hlctl_plugin_perf(p, "bad_streak", (double)streak, "", false, 0, NO_LIMIT);
        hlctl_plugin_perf(p, "changes", (double)s->changes, "c", false, 0, NO_LIMIT);
    }
    if (m)
        protobuf_c_message_free_unpacked(&m->base, NULL);
    hl__reply__free_unpacked(r, NULL);
}

static double secs(uint64_t from_us, uint64_t to_us)
{
    return to_us > from_us ? (double)(to_us - from_us) / 1e6 : 0.0;
}

static void check_phases(hlctl_t *ctx, hlctl_plugin_t *p)
{
    Hl__Reply *r = call(ctx, p, "hl-orchestrator", "phases", NULL, HLCTL_PLUGIN_UNKNOWN);
    if (!r)
        return;
    Hl__PhaseList *l = decode(p, r, &hl__phase_list__descriptor, "hl-orchestrator");
    if (l) {
        const Hl__LifecycleState *lc = l->lifecycle;
        Hl__Lifecycle st = lc ? lc->state : HL__LIFECYCLE__LIFECYCLE_UNSPECIFIED;
        hlctl_plugin_raise(p, st == HL__LIFECYCLE__LIFECYCLE_READY             ? HLCTL_PLUGIN_OK
                              : st == HL__LIFECYCLE__LIFECYCLE_STARTING ||
                                        st == HL__LIFECYCLE__LIFECYCLE_SHUTTING_DOWN
                                  ? HLCTL_PLUGIN_WARNING
                              : st == HL__LIFECYCLE__LIFECYCLE_UNSPECIFIED ? HLCTL_PLUGIN_UNKNOWN
                                                                          : HLCTL_PLUGIN_CRITICAL);
        size_t done = 0;
        const Hl__PhaseStatus *failed = NULL;
        for (size_t i = 0; i < l->n_phases; i++) {
            if (l->phases[i]->state == HL__PHASE_STATE__PHASE_DONE)
                done++;
            if (l->phases[i]->state == HL__PHASE_STATE__PHASE_FAILED && !failed)
                failed = l->phases[i];
        }
        hlctl_plugin_text(p, "%s, %zu of %zu phases done",
                          hlb_pb_enum_word(&hl__lifecycle__descriptor, st), done, l->n_phases);
        if (failed)
            hlctl_plugin_text(p, ", phase %s failed", failed->name);
        if (lc && *lc->status) {
            /* the orchestrator's STATUS= often repeats the state: "ready: 4 phases in ..." */
            const char *word = hlb_pb_enum_word(&hl__lifecycle__descriptor, st);
            const char *status = lc->status;
            size_t n = strlen(word);
            if (!strncmp(status, word, n) && status[n] == ':' && status[n + 1] == ' ')
                status += n + 2;
            hlctl_plugin_text(p, " (%s)", status);
        }
        if (lc && lc->ready_us && lc->boot_us && lc->ready_us >= lc->boot_us) {
            double btr = secs(lc->boot_us, lc->ready_us);
            hlctl_plugin_judge(p, btr);
            hlctl_plugin_perf(p, "boot_to_ready", btr, "s", true, 0, NO_LIMIT);
        }
        for (size_t i = 0; i < l->n_phases; i++) {
            const Hl__PhaseStatus *ph = l->phases[i];
            if (ph->started_us && ph->finished_us)
                hlctl_plugin_perf(p, ph->name, secs(ph->started_us, ph->finished_us), "s", false, 0,
                                  ph->timeout_ms ? (double)ph->timeout_ms / 1e3 : NO_LIMIT);
        }
        hlctl_plugin_perf(p, "phases_done", (double)done, "", false, 0, (double)l->n_phases);
        protobuf_c_message_free_unpacked(&l->base, NULL);
    }
    hl__reply__free_unpacked(r, NULL);
}

static void check_bus(hlctl_t *ctx, hlctl_plugin_t *p)
{
    Hl__Reply *r = call(ctx, p, "hl-bus", "stats", NULL, HLCTL_PLUGIN_CRITICAL);
    if (!r)
        return;
    Hl__BusStats *s = decode(p, r, &hl__bus_stats__descriptor, "hl-bus");
    if (s) {
        uint64_t gaps = 0;
        for (size_t i = 0; i < s->n_sources; i++)
            gaps += s->sources[i]->gaps;
        uint64_t refused = s->connections_refused_per_uid + s->connections_refused_reserve +
                           s->connections_refused_emfile;
        hlctl_plugin_judge(p, (double)gaps);
        hlctl_plugin_text(p, "hl-bus up %.0f s, %llu messages from %zu sources, %llu lost, "
                          "%llu malformed, %llu denied, %llu subscriptions",
                          s->started_us ? secs(s->started_us, hlb_now_us()) : 0.0,
                          (unsigned long long)s->messages, s->n_sources, (unsigned long long)gaps,
                          (unsigned long long)s->malformed, (unsigned long long)s->denied,
                          (unsigned long long)s->subscriptions);
        hlctl_plugin_perf(p, "messages", (double)s->messages, "c", false, 0, NO_LIMIT);
        hlctl_plugin_perf(p, "bytes", (double)s->bytes, "c", false, 0, NO_LIMIT);
        hlctl_plugin_perf(p, "gaps", (double)gaps, "c", true, 0, NO_LIMIT);
        hlctl_plugin_perf(p, "malformed", (double)s->malformed, "c", false, 0, NO_LIMIT);
        hlctl_plugin_perf(p, "denied", (double)s->denied, "c", false, 0, NO_LIMIT);
        hlctl_plugin_perf(p, "connections_refused", (double)refused, "c", false, 0, NO_LIMIT);
        hlctl_plugin_perf(p, "subscriptions", (double)s->subscriptions, "", false, 0, NO_LIMIT);
        hlctl_plugin_perf(p, "cached_topics", (double)s->lvc_topics, "", false, 0, NO_LIMIT);
        hlctl_plugin_perf(p, "sources", (double)s->n_sources, "", false, 0, NO_LIMIT);
        protobuf_c_message_free_unpacked(&s->base, NULL);
    }
    hl__reply__free_unpacked(r, NULL);
}

static bool needs_person(const char *state)
{
    return !strcmp(state, "gave-up") || !strcmp(state, "held") || !strcmp(state, "config-error");
}

static void check_failures(hlctl_t *ctx, hlctl_plugin_t *p)
{
    hlb_map_t *args = hlb_map_new();
    hlb_map_bool(args, "open", true);
    hlb_map_int(args, "limit", 100000);
    Hl__Reply *r = call(ctx, p, "hl-failure", "failures", args, HLCTL_PLUGIN_UNKNOWN);
    hlb_map_destroy(&args);
    if (!r)
        return;
    Hl__FailureReport *f = decode(p, r, &hl__failure_report__descriptor, "hl-failure");
    if (f) {
        size_t open = 0, person = 0, acting = 0;
        for (size_t i = 0; i < f->n_incidents; i++)
            if (!f->incidents[i]->ended_us)
                open++;
        for (size_t i = 0; i < f->n_targets; i++) {
            const char *st = f->targets[i]->state;
            if (needs_person(st))
                person++;
            else if (!strcmp(st, "backoff") || !strcmp(st, "acting") || !strcmp(st, "verifying"))
                acting++;
        }
        if (person)
            hlctl_plugin_raise(p, HLCTL_PLUGIN_CRITICAL);
        if (hlctl_plugin_has_thresholds(p))
            hlctl_plugin_judge(p, (double)open);
        else if (open)
            hlctl_plugin_raise(p, HLCTL_PLUGIN_WARNING);
        hlctl_plugin_text(p, "%zu open incidents, %zu targets need a person", open, person);
        for (size_t i = 0, k = 0; i < f->n_targets; i++) {
            const Hl__TargetStatus *t = f->targets[i];
            if (strcmp(t->state, "idle") != 0)
                hlctl_plugin_text(p, "%s %s %s", k++ ? "," : ":", t->target, t->state);
        }
        if (!f->recovery_enabled)
            hlctl_plugin_text(p, "; recovery paused (lifecycle %s)",
                              *f->lifecycle ? f->lifecycle : "not seen yet");
        hlctl_plugin_perf(p, "open", (double)open, "", true, 0, NO_LIMIT);
        hlctl_plugin_perf(p, "need_person", (double)person, "", false, 0, NO_LIMIT);
        hlctl_plugin_perf(p, "recovering", (double)acting, "", false, 0, NO_LIMIT);
        hlctl_plugin_perf(p, "detected", (double)f->detected, "c", false, 0, NO_LIMIT);
        hlctl_plugin_perf(p, "actions", (double)f->actions, "c", false, 0, NO_LIMIT);
        protobuf_c_message_free_unpacked(&f->base, NULL);
    }
    hl__reply__free_unpacked(r, NULL);
}

/* A usage error of a plugin is UNKNOWN (exit 3), said on stdout as the one
 * line a monitor shows, with the usage on stderr. */
static int usage_unknown(hlctl_plugin_t *p, bool json, const char *why)
{
    hlctl_plugin_raise(p, HLCTL_PLUGIN_UNKNOWN);
    hlctl_plugin_text(p, "%s", why);
    hlctl_fprintf(stderr, "usage: hlctl %s\n", usage_text);
    return hlctl_plugin_finish(p, json);
}

int hlctl_cmd_check(hlctl_t *ctx, int argc, char **argv)
{
    static const struct option opts[] = {
        {"warning", required_argument, NULL, 'w'},
        {"critical", required_argument, NULL, 'c'},
        {"timeout", required_argument, NULL, 't'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    hlctl_plugin_t p = {.name = "CHECK", .status = HLCTL_PLUGIN_OK};
    int opt;
    const char *why = NULL;
    char msg[160];
    while ((opt = getopt_long(argc, argv, "w:c:t:h", opts, NULL)) != -1) {
        hlctl_range_t *r = opt == 'w' ? &p.warn : opt == 'c' ? &p.crit : NULL;
        if (opt == 'h') {
            printf("usage: hlctl %s\n", usage_text);
            return HLCTL_OK;
        }
        if (opt == 't') {
            /* the plugins' -t: one deadline for the whole check, split over
             * the attempts, so a monitor's own timeout never fires first */
            int64_t secs;
            if (hlb_parse_int(optarg, &secs) < 0 || secs < 1 || secs > 3600)
                return usage_unknown(&p, ctx->json, "-t takes whole seconds, 1 to 3600");
            int attempts = ctx->call.retries + 1;
            ctx->call.timeout_ms = (int)(secs * 1000 / attempts);
            continue;
        }
        if (!r)
            return usage_unknown(&p, ctx->json, "bad option");
        if (hlctl_range_parse(optarg, r, &why) < 0) {
            snprintf(msg, sizeof msg, "-%c '%.40s': %s", opt, optarg, why);
            return usage_unknown(&p, ctx->json, msg);
        }
    }
    const char *what = optind < argc ? argv[optind] : NULL;
    int rest = argc - optind - 1;
    if (!what)
        return usage_unknown(&p, ctx->json, "what to check: health, service, phases, bus, failures");
    if (!strcmp(what, "health") && rest <= 1) {
        p.name = "HEALTH";
        check_health(ctx, &p, rest ? argv[optind + 1] : NULL);
    } else if (!strcmp(what, "service") && rest == 1) {
        p.name = "SERVICE";
        check_service(ctx, &p, argv[optind + 1]);
    } else if (!strcmp(what, "phases") && rest == 0) {
        p.name = "PHASES";
        check_phases(ctx, &p);
    } else if (!strcmp(what, "bus") && rest == 0) {
        p.name = "BUS";
        check_bus(ctx, &p);
    } else if (!strcmp(what, "failures") && rest == 0) {
        p.name = "FAILURES";
        check_failures(ctx, &p);
    } else {
        snprintf(msg, sizeof msg, "unknown check or wrong arguments: '%.40s'", what);
        return usage_unknown(&p, ctx->json, msg);
    }
    return hlctl_plugin_finish(&p, ctx->json);
}
