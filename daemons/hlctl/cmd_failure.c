/* hlctl failures, hlctl failure rearm: hl-failure's incidents and its
 * recovery switch. */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "failure.pb-c.h"
#include "hlctl.h"

#define FAILURE_DAEMON "hl-failure"

static void fmt_time(char *out, size_t n, uint64_t us)
{
    time_t s = (time_t)(us / 1000000);
    struct tm tm;
    localtime_r(&s, &tm);
    char base[32];
    strftime(base, sizeof base, "%Y-%m-%d %H:%M:%S", &tm);
    snprintf(out, n, "%s.%03u", base, (unsigned)(us / 1000 % 1000));
}

static void outcome_text(const Hl__Incident *in, char *out, size_t n)
{
    const char *o = in->outcome;
    if (!strcmp(o, "recovered"))
        snprintf(out, n, "recovered in %.1f s (attempt %u)", (double)in->ttr_ms / 1000.0,
                 in->attempts);
    else if (!strcmp(o, "gave-up"))
        snprintf(out, n, "GAVE UP after %u attempt%s, waiting for a rearm", in->attempts,
                 in->attempts == 1 ? "" : "s");
    else if (!strcmp(o, "held"))
        snprintf(out, n, "HELD by the flap guard, waiting for a rearm");
    else if (!strcmp(o, "config-error"))
        snprintf(out, n, "CONFIGURATION ERROR, reported, not restarted");
    else if (!strcmp(o, "open"))
        snprintf(out, n, "in progress (attempt %u)", in->attempts);
    else
        snprintf(out, n, "%s", o);
}

/* Each incident's timeline with offsets from its detection, which read
 * faster than timestamps. */
static void print_report(const Hl__FailureReport *r)
{
    hlctl_printf("recovery %s (orchestrator: %s) - %" PRIu64 " failure%s detected, %" PRIu64
           " recovery action%s since start\n",
           r->recovery_enabled ? "enabled" : "PAUSED", *r->lifecycle ? r->lifecycle : "not seen",
           r->detected, r->detected == 1 ? "" : "s", r->actions, r->actions == 1 ? "" : "s");
    if (r->n_targets) {
        hlctl_printf("\n%-20s %-12s %-9s %-7s %-8s %s\n", "TARGET", "STATE", "ATTEMPTS", "FLAP",
               "HEALTHY", "NEXT");
        for (size_t i = 0; i < r->n_targets; i++) {
            const Hl__TargetStatus *t = r->targets[i];
            char att[16] = "-", flap[16] = "-", next[64] = "-";
            if (t->max_attempts) {
                snprintf(att, sizeof att, "%u/%u", t->attempts, t->max_attempts);
                if (t->flap_max) /* recoveries within the window / allowed */
                    snprintf(flap, sizeof flap, "%u/%u", t->recoveries, t->flap_max);
                else
                    snprintf(flap, sizeof flap, "%u", t->recoveries);
                if (t->due_us) {
                    uint64_t now = hlb_now_us();
                    snprintf(next, sizeof next, "%s in %.0f s", t->next_action,
                             t->due_us > now ? (double)(t->due_us - now) / 1e6 : 0.0);
                } else if (!strcmp(t->state, "idle")) {
                    snprintf(next, sizeof next, "%s", t->next_action);
                }
            }
            hlctl_printf("%-20s %-12s %-9s %-7s %-8s %s\n", t->target, t->state, att, flap,
                   t->healthy ? "yes" : "no", next);
        }
    }
    if (!r->n_incidents) {
        hlctl_printf("\nno incidents\n");
        return;
    }
    for (size_t i = 0; i < r->n_incidents; i++) {
        const Hl__Incident *in = r->incidents[i];
        char when[48], out[128];
        fmt_time(when, sizeof when, in->detected_us);
        outcome_text(in, out, sizeof out);
        hlctl_printf("\n#%" PRIu64 " %s - %s (%s, pattern %s) - %s\n", in->id, in->target, in->type,
               in->severity, in->pattern, out);
        hlctl_printf("  detected %s\n", when);
        for (size_t j = 0; j < in->n_timeline; j++) {
            const Hl__IncidentEntry *e = in->timeline[j];
            double off = e->ts_us >= in->detected_us
                             ? (double)(e->ts_us - in->detected_us) / 1e6
                             : 0.0;
            hlctl_printf("  %+9.3f s  %-16s %s\n", off, e->what, e->detail);
        }
        if (in->folded)
            hlctl_printf("  %11s  (%u more entries not kept)\n", "", in->folded);
    }
}

int hlctl_cmd_failures(hlctl_t *ctx, int argc, char **argv)
{
    static const struct option opts[] = {
        {"limit", required_argument, NULL, 'n'},
        {"open", no_argument, NULL, 'o'},
        {NULL, 0, NULL, 0},
    };
    const char *usage = "failures [--limit N] [--open] [TARGET]\n"
                        "  hl-failure's incidents, oldest first, each as a timeline: when it was\n"
                        "  detected and on what evidence, every recovery action and its outcome,\n"
                        "  the time to recover or why it gave up; and each target's policy state.\n"
                        "  --limit N  the newest N incidents (default 20);  --open  only open ones\n"
                        "  exit 0 all well, 1 recovery in progress, 2 something waits for a person";
    int64_t limit = 20;
    bool open = false;
    int opt;
    while ((opt = getopt_long(argc, argv, "n:o", opts, NULL)) != -1) {
        switch (opt) {
        case 'n':
            if (hlb_parse_int(optarg, &limit) < 0 || limit < 1)
                return hlctl_usage(usage);
            break;
        case 'o': open = true; break;
        default: return hlctl_usage(usage);
        }
    }
    if (argc - optind > 1)
        return hlctl_usage(usage);
    hlb_map_t *args = hlb_map_new();
    hlb_map_int(args, "limit", limit);
    if (open)
        hlb_map_bool(args, "open", true);
    if (optind < argc)
        hlb_map_str(args, "target", argv[optind]);
    Hl__Reply *reply;
    int rc = hlctl_call(ctx, FAILURE_DAEMON, "failures", args, &reply);
    hlb_map_destroy(&args);
    if (rc != HLCTL_OK)
        return rc;
    Hl__FailureReport *r =
        (Hl__FailureReport *)hlb_reply_decode(reply, &hl__failure_report__descriptor);
    if (!r) {
        hlctl_fprintf(stderr, "hlctl: %s answered with a %s, not an hl.FailureReport\n", FAILURE_DAEMON,
                reply->type);
        hl__reply__free_unpacked(reply, NULL);
        return HLCTL_CRITICAL;
    }
    if (ctx->json)
        hlctl_print_json(reply);
    else
        print_report(r);
    int worst = HLCTL_OK;
    for (size_t i = 0; i < r->n_targets; i++) {
        const char *s = r->targets[i]->state;
        if (!strcmp(s, "gave-up") || !strcmp(s, "held") || !strcmp(s, "config-error"))
            worst = HLCTL_CRITICAL;
        else if (strcmp(s, "idle") != 0 && strcmp(s, "report-only") != 0 && worst == HLCTL_OK)
            worst = HLCTL_DEGRADED;
    }
    protobuf_c_message_free_unpacked(&r->base, NULL);
    hl__reply__free_unpacked(reply, NULL);
    return worst;
}

int hlctl_cmd_failure(hlctl_t *ctx, int argc, char **argv)
{
    const char *usage = "failure rearm SERVICE\n"
                        "  re-enables recovery of SERVICE (or 'network') after hl-failure gave\n"
                        "  up, the flap guard held it, or a configuration error was reported:\n"
                        "  its attempt budget and flap history start afresh, the alert clears,\n"
                        "  and if it is still failing, recovery starts again at once";
    if (argc != 3 || strcmp(argv[1], "rearm") != 0)
        return hlctl_usage(usage);
    hlb_map_t *args = hlb_map_new();
    hlb_map_str(args, "target", argv[2]);
    Hl__Reply *reply;
    int rc = hlctl_call(ctx, FAILURE_DAEMON, "rearm", args, &reply);
    hlb_map_destroy(&args);
    if (rc != HLCTL_OK)
        return rc;
    Hl__TargetStatus *t =
        (Hl__TargetStatus *)hlb_reply_decode(reply, &hl__target_status__descriptor);
    if (ctx->json)
        hlctl_print_json(reply);
    else if (t)
        hlctl_printf("%s rearmed: %s, attempts %u/%u, %s\n", t->target, t->state, t->attempts,
               t->max_attempts, t->healthy ? "healthy" : "not healthy yet");
    else
        hlctl_printf("%s rearmed\n", argv[2]);
    if (t)
        protobuf_c_message_free_unpacked(&t->base, NULL);
    hl__reply__free_unpacked(reply, NULL);
    return HLCTL_OK;
}
