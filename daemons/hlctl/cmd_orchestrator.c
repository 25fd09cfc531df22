/* hlctl services, phases, start|stop|restart, recover, shutdown: the
 * orchestrator's methods. Mutating ones wait for the outcome (the daemon
 * answers when the systemd job, the recovery or the shutdown has ended), so
 * they use a long per-attempt timeout and never retry: a retry of a request
 * still running would run it twice. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hlctl.h"
#include "orchestrator.pb-c.h"

#define ORCH "hl-orchestrator"

/* --timeout left at its default: wait as long as the action may take. */
static hlb_call_opts_t long_call(const hlctl_t *ctx, int default_ms)
{
    hlb_call_opts_t o = ctx->call;
    if (o.timeout_ms == 2000)
        o.timeout_ms = default_ms;
    o.retries = 0;
    return o;
}

/* Calls METHOD; prints transport errors. Returns the reply (even one with
 * an error status, whose body may explain more) or NULL. */
static Hl__Reply *call(hlctl_t *ctx, const char *method, hlb_map_t *args,
                       const hlb_call_opts_t *opts)
{
    Hl__Reply *r = NULL;
    int rc = hlb_call_map(ctx->runtime_dir, ORCH, method, args, opts, &r);
    if (rc == -ECONNREFUSED)
        hlctl_fprintf(stderr, "hlctl: %s is not running (nothing listens on %s/ctl/%s)\n", ORCH,
                ctx->runtime_dir, ORCH);
    else if (rc == -EACCES)
        hlctl_fprintf(stderr, "hlctl: permission denied on %s/ctl/%s (join group hl)\n",
                ctx->runtime_dir, ORCH);
    else if (rc < 0)
        hlctl_fprintf(stderr, "hlctl: %s did not answer '%s': %s\n", ORCH, method,
                rc == -ETIMEDOUT ? "timed out" : strerror(-rc));
    return rc < 0 ? NULL : r;
}

static void print_error(const Hl__Reply *r)
{
    hlctl_fprintf(stderr, "hlctl: %s: %s\n", ORCH,
            r->error && *r->error ? r->error : strerror(r->status));
}

static void print_failure(const Hl__UnitFailure *f)
{
    if (!f)
        return;
    hlctl_printf("  %s: %s [%s]\n", f->unit, f->summary, f->reason);
    hlctl_printf("  its journal (admins): hlctl journal %s\n", f->unit);
}

static char *fmt_age(uint64_t since_us)
{
    char *s = malloc(32);
    if (s)
        hlctl_format_duration(s, 32, since_us && since_us < hlb_now_us() ? hlb_now_us() - since_us : 0);
    return s;
}

int hlctl_cmd_services(hlctl_t *ctx, int argc, char **argv)
{
    if (argc != 1)
        return hlctl_usage("services");
    Hl__Reply *r = call(ctx, "services", NULL, &ctx->call);
    if (!r)
        return HLCTL_CRITICAL;
    int rc = HLCTL_OK;
    Hl__ServiceList *l = r->status ? NULL : (Hl__ServiceList *) hlb_reply_decode(r, &hl__service_list__descriptor);
    if (r->status) {
        print_error(r);
        rc = HLCTL_CRITICAL;
    } else if (!l) {
        hlctl_fprintf(stderr, "hlctl: unexpected reply\n");
        rc = HLCTL_CRITICAL;
    } else if (ctx->json) {
        hlctl_print_json(r);
    } else {
        hlctl_printf("%-28s %-13s %-14s %-16s %8s %8s %-9s %s\n", "UNIT", "ACTIVE", "SUB", "RESULT",
               "RESTARTS", "PID", "SINCE", "PHASE");
        for (size_t i = 0; i < l->n_services; i++) {
            const Hl__ServiceState *s = l->services[i];
            char *age = fmt_age(s->state_change_us);
            bool loaded = !strcmp(s->load_state, "loaded");
            hlctl_printf("%-28s %-13s %-14s %-16s %8u %8u %-9s %s\n", s->unit,
                   loaded ? s->active_state : s->load_state, loaded ? s->sub_state : "-",
                   loaded && *s->result ? s->result : "-", s->n_restarts, s->main_pid,
                   s->state_change_us ? age : "-", *s->phase ? s->phase : "-");
            free(age);
        }
    }
    if (l)
        protobuf_c_message_free_unpacked(&l->base, NULL);
    hl__reply__free_unpacked(r, NULL);
    return rc;
}

static double seconds(uint64_t from_us, uint64_t to_us)
{
    return to_us > from_us ? (double) (to_us - from_us) / 1e6 : 0.0;
}

/* "boot to ready 7.9 s: 4.7 s before the phases began, infrastructure 1.1 s,
 * ...": where the time from systemd's userspace start went. */
static void print_boot_to_ready(const Hl__PhaseList *l)
{
    const Hl__LifecycleState *lc = l->lifecycle;
    if (!lc || !lc->ready_us || !lc->boot_us || lc->ready_us < lc->boot_us)
        return;
    hlctl_printf("boot to ready %.2f s: %.2f s before the phases began", seconds(lc->boot_us, lc->ready_us),
           seconds(lc->boot_us, lc->startup_began_us));
    for (size_t i = 0; i < l->n_phases; i++) {
        const Hl__PhaseStatus *p = l->phases[i];
        if (p->started_us && p->finished_us)
            hlctl_printf(", %s %.2f s", p->name, seconds(p->started_us, p->finished_us));
    }
    hlctl_printf("\n");
}

int hlctl_cmd_phases(hlctl_t *ctx, int argc, char **argv)
{
    if (argc != 1)
        return hlctl_usage("phases");
    Hl__Reply *r = call(ctx, "phases", NULL, &ctx->call);
    if (!r)
        return HLCTL_CRITICAL;
    Hl__PhaseList *l = r->status ? NULL : (Hl__PhaseList *) hlb_reply_decode(r, &hl__phase_list__descriptor);
    int rc = HLCTL_OK;
    if (r->status) {
        print_error(r);
        rc = HLCTL_CRITICAL;
    } else if (!l) {
        hlctl_fprintf(stderr, "hlctl: unexpected reply\n");
        rc = HLCTL_CRITICAL;
    } else {
        Hl__Lifecycle lst = l->lifecycle ? l->lifecycle->state : HL__LIFECYCLE__LIFECYCLE_UNSPECIFIED;
        const char *st = hlb_pb_enum_word(&hl__lifecycle__descriptor, lst);
        if (lst == HL__LIFECYCLE__LIFECYCLE_FAILED)
            rc = HLCTL_CRITICAL;
        else if (lst != HL__LIFECYCLE__LIFECYCLE_READY)
            rc = HLCTL_DEGRADED;
        if (ctx->json) {
            hlctl_print_json(r);
        } else {
            const Hl__LifecycleState *lc = l->lifecycle;
            if (lc && !strncmp(lc->status, st, strlen(st)))
                hlctl_printf("%s\n", lc->status);
            else if (lc)
                hlctl_printf("%s: %s\n", st, lc->status);
            print_boot_to_ready(l);
            for (size_t i = 0; i < l->n_phases; i++) {
                const Hl__PhaseStatus *p = l->phases[i];
                char took[32] = "";
                if (p->started_us && p->finished_us)
                    snprintf(took, sizeof took, " in %.1f s",
                             (double) (p->finished_us - p->started_us) / 1e6);
                hlctl_printf("%u/%u %-16s %s%s\n", p->index, p->count, p->name,
                       hlb_pb_enum_word(&hl__phase_state__descriptor, p->state), took);
                for (size_t k = 0; k < p->n_units; k++) {
                    const Hl__PhaseUnit *u = p->units[k];
                    hlctl_printf("      %-28s %-9s %s/%s%s%s%s%s\n", u->unit, u->state, u->active_state,
                           u->sub_state, *u->health ? " health=" : "", u->health,
                           u->optional ? " (optional)" : "", u->started ? " (started here)" : "");
                }
                for (size_t k = 0; k < p->n_checks; k++)
                    hlctl_printf("      check: %s\n", p->checks[k]);
                print_failure(p->failure);
            }
        }
    }
    if (l)
        protobuf_c_message_free_unpacked(&l->base, NULL);
    hl__reply__free_unpacked(r, NULL);
    return rc;
}

/* Parses "UNIT [--reason TEXT]" (and --type for recover). */
static int unit_args(int argc, char **argv, const char *usage, bool want_type, const char **unit,
                     const char **reason, const char **type)
{
    static const struct option opts[] = {
        {"reason", required_argument, NULL, 'r'},
        {"type", required_argument, NULL, 't'},
        {NULL, 0, NULL, 0},
    };
    int opt;
    *reason = NULL;
    if (type)
        *type = "restart";
    while ((opt = getopt_long(argc, argv, want_type ? "r:t:" : "r:", opts, NULL)) != -1) {
        if (opt == 'r')
            *reason = optarg;
        else if (opt == 't' && want_type)
            *type = optarg;
        else
            return hlctl_usage(usage);
    }
    if (optind != argc - 1)
        return hlctl_usage(usage);
    *unit = argv[optind];
    return 0;
}

static int unit_job(hlctl_t *ctx, int argc, char **argv, const char *method)
{
    char usage[64];
    snprintf(usage, sizeof usage, "%s UNIT [--reason TEXT]", method);
    const char *unit = NULL, *reason = NULL;
    int u = unit_args(argc, argv, usage, false, &unit, &reason, NULL);
    if (u)
        return u;
    hlb_map_t *args = hlb_map_new();
    hlb_map_str(args, "unit", unit);
    if (reason)
        hlb_map_str(args, "reason", reason);
    hlb_call_opts_t opts = long_call(ctx, 300000);
    Hl__Reply *r = call(ctx, method, args, &opts);
    hlb_map_destroy(&args);
    if (!r)
        return HLCTL_CRITICAL;
    Hl__UnitJob *j = (Hl__UnitJob *) hlb_reply_decode(r, &hl__unit_job__descriptor);
    int rc = r->status ? HLCTL_CRITICAL : HLCTL_OK;
    if (ctx->json && j) {
        hlctl_print_json(r);
    } else if (j) {
        hlctl_printf("%s: %s %s in %.1f s", j->unit, j->action, j->job_result,
               (double) j->duration_us / 1e6);
        if (j->state)
            hlctl_printf(" (%s/%s)", j->state->active_state, j->state->sub_state);
        hlctl_printf("\n");
        print_failure(j->failure);
    }
    if (r->status)
        print_error(r);
    if (j)
        protobuf_c_message_free_unpacked(&j->base, NULL);
    hl__reply__free_unpacked(r, NULL);
    return rc;
}

int hlctl_cmd_start(hlctl_t *ctx, int argc, char **argv) { return unit_job(ctx, argc, argv, "start"); }
int hlctl_cmd_stop(hlctl_t *ctx, int argc, char **argv) { return unit_job(ctx, argc, argv, "stop"); }
int hlctl_cmd_restart(hlctl_t *ctx, int argc, char **argv) { return unit_job(ctx, argc, argv, "restart"); }

int hlctl_cmd_recover(hlctl_t *ctx, int argc, char **argv)
{
    const char *usage = "recover UNIT --type restart|reset|rebuild [--reason TEXT]";
    const char *unit = NULL, *reason = NULL, *type = NULL;
    int u = unit_args(argc, argv, usage, true, &unit, &reason, &type);
    if (u)
        return u;
    if (strcmp(type, "restart") && strcmp(type, "reset") && strcmp(type, "rebuild")) {
        hlctl_fprintf(stderr, "hlctl: --type is restart, reset or rebuild, not '%s'\n", type);
        return HLCTL_USAGE;
    }
    hlb_map_t *args = hlb_map_new();
    hlb_map_str(args, "unit", unit);
    hlb_map_str(args, "type", type);
    if (reason)
        hlb_map_str(args, "reason", reason);
    hlb_call_opts_t opts = long_call(ctx, 900000);
    Hl__Reply *r = call(ctx, "recover", args, &opts);
    hlb_map_destroy(&args);
    if (!r)
        return HLCTL_CRITICAL;
    Hl__RecoveryOutcome *o =
        (Hl__RecoveryOutcome *) hlb_reply_decode(r, &hl__recovery_outcome__descriptor);
    int rc = r->status ? HLCTL_CRITICAL : HLCTL_OK;
    if (ctx->json && o) {
        hlctl_print_json(r);
    } else if (o) {
        hlctl_printf("recover %s (%s): %s in %.1f s\n", o->unit, o->type, o->outcome,
               (double) (o->finished_us - o->started_us) / 1e6);
        for (size_t i = 0; i < o->n_steps; i++)
            hlctl_printf("  %s\n", o->steps[i]);
        print_failure(o->failure);
    }
    if (r->status)
        print_error(r);
    if (o)
        protobuf_c_message_free_unpacked(&o->base, NULL);
    hl__reply__free_unpacked(r, NULL);
    return rc;
}

/* The journal is for admins only (root or admin_group): it is no longer in
 * the failure reports that go on the bus. */
int hlctl_cmd_journal(hlctl_t *ctx, int argc, char **argv)
{
    static const struct option opts[] = {
        {"lines", required_argument, NULL, 'n'},
        {NULL, 0, NULL, 0},
    };
    const char *usage = "journal UNIT [--lines N]";
    long lines = 0;
    int opt;
    while ((opt = getopt_long(argc, argv, "n:", opts, NULL)) != -1) {
        char *end;
        if (opt != 'n')
            return hlctl_usage(usage);
        errno = 0;
        lines = strtol(optarg, &end, 10);
        if (errno || *end || lines < 1 || lines > 1000) {
            fprintf(stderr, "hlctl: --lines takes 1..1000, not '%s'\n", optarg);
            return HLCTL_USAGE;
        }
    }
    if (optind != argc - 1)
        return hlctl_usage(usage);
    hlb_map_t *args = hlb_map_new();
    hlb_map_str(args, "unit", argv[optind]);
    if (lines)
        hlb_map_int(args, "lines", lines);
    Hl__Reply *r = call(ctx, "journal", args, &ctx->call);
    hlb_map_destroy(&args);
    if (!r)
        return HLCTL_CRITICAL;
    Hl__JournalExcerpt *j =
        (Hl__JournalExcerpt *) hlb_reply_decode(r, &hl__journal_excerpt__descriptor);
    int rc = r->status ? HLCTL_CRITICAL : HLCTL_OK;
    if (ctx->json && j)
        hlctl_print_json(r);
    else if (j)
        for (size_t i = 0; i < j->n_lines; i++)
            hlctl_printf("%s\n", j->lines[i]);
    if (r->status)
        print_error(r);
    if (j)
        protobuf_c_message_free_unpacked(&j->base, NULL);
    hl__reply__free_unpacked(r, NULL);
    return rc;
}

int hlctl_cmd_shutdown(hlctl_t *ctx, int argc, char **argv)
{
    static const struct option opts[] = {
        {"reason", required_argument, NULL, 'r'},
        {"only-at-system-shutdown", no_argument, NULL, 'S'},
        {NULL, 0, NULL, 0},
    };
    const char *usage = "shutdown [--reason TEXT] [--only-at-system-shutdown]";
    const char *reason = NULL;
    bool only_at_system_shutdown = false;
    int opt;
    while ((opt = getopt_long(argc, argv, "r:", opts, NULL)) != -1) {
        if (opt == 'r')
            reason = optarg;
        else if (opt == 'S')
            only_at_system_shutdown = true;
        else
            return hlctl_usage(usage);
    }
    if (optind != argc)
        return hlctl_usage(usage);
    hlb_map_t *args = hlb_map_new();
    hlb_map_str(args, "reason", reason ? reason : "hlctl shutdown");
    /* The unit's ExecStop=: the services stop only when the system does. */
    if (only_at_system_shutdown)
        hlb_map_str(args, "only_at_system_shutdown", "1");
    hlb_call_opts_t o = long_call(ctx, 600000);
    Hl__Reply *r = call(ctx, "shutdown", args, &o);
    hlb_map_destroy(&args);
    if (!r)
        return HLCTL_CRITICAL;
    Hl__ShutdownReport *s =
        (Hl__ShutdownReport *) hlb_reply_decode(r, &hl__shutdown_report__descriptor);
    int rc = r->status || !s ? HLCTL_CRITICAL : strcmp(s->outcome, "ok") && strcmp(s->outcome, "skipped") ? HLCTL_DEGRADED : HLCTL_OK;
    if (ctx->json && s) {
        hlctl_print_json(r);
    } else if (s) {
        hlctl_printf("shutdown: %s in %.1f s\n", s->outcome,
               (double) (s->finished_us - s->started_us) / 1e6);
        for (size_t i = 0; i < s->n_steps; i++)
            hlctl_printf("  %-20s %-8s %s\n", s->steps[i]->name, s->steps[i]->outcome,
                   s->steps[i]->detail);
        if (*s->archive)
            hlctl_printf("  archive: %s (%llu bytes)\n", s->archive, (unsigned long long) s->archive_bytes);
    }
    if (r->status)
        print_error(r);
    if (s)
        protobuf_c_message_free_unpacked(&s->base, NULL);
    hl__reply__free_unpacked(r, NULL);
    return rc;
}
