/* hlctl health [SERVICE] and hlctl health --why CHECK: hl-health's verdicts,
 * with the exit status of the spec's hl-health-check (0 healthy, 1 degraded,
 * 2 unhealthy or hl-health unreachable; unknown counts as degraded). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "health.pb-c.h"
#include "hlctl.h"

static int state_exit(Hl__HealthState state)
{
    /* not-applicable: a service whose unit is not installed */
    if (state == HL__HEALTH_STATE__HEALTH_HEALTHY || state == HL__HEALTH_STATE__HEALTH_NOT_APPLICABLE)
        return HLCTL_OK;
    if (state == HL__HEALTH_STATE__HEALTH_UNHEALTHY)
        return HLCTL_CRITICAL;
    return HLCTL_DEGRADED; /* degraded, unknown */
}

static const char *word(Hl__HealthState state)
{
    return hlb_pb_enum_word(&hl__health_state__descriptor, state);
}

/* "12s ago" / "in 3s" / "never" for a wall-clock time in us. */
static void rel(char *out, size_t n, uint64_t us)
{
    if (!us) {
        snprintf(out, n, "never");
        return;
    }
    uint64_t now = hlb_now_us();
    char d[32];
    if (us <= now) {
        hlctl_format_duration(d, sizeof d, now - us);
        snprintf(out, n, "%s ago", d);
    } else {
        hlctl_format_duration(d, sizeof d, us - now);
        snprintf(out, n, "in %s", d);
    }
}

static int why(hlctl_t *ctx, const char *check)
{
    hlb_map_t *args = hlb_map_new();
    hlb_map_str(args, "check", check);
    Hl__Reply *r;
    int rc = hlctl_call(ctx, "hl-health", "why", args, &r);
    hlb_map_destroy(&args);
    if (rc != HLCTL_OK)
        return rc;
    Hl__CheckDetail *m = (Hl__CheckDetail *)hlb_reply_decode(r, &hl__check_detail__descriptor);
    if (!m) {
        hlctl_fprintf(stderr, "hlctl: hl-health sent an unexpected '%s' reply\n", r->type);
        hl__reply__free_unpacked(r, NULL);
        return HLCTL_CRITICAL;
    }
    if (ctx->json) {
        hlctl_print_json(r);
    } else {
        char a[64], b[64], c[64];
        hlctl_printf("check      %s (%s%s) of service %s\n", m->name, m->kind,
               m->critical ? ", critical" : "", m->service);
        hlctl_printf("target     %s\n", m->target);
        rel(a, sizeof a, m->state_since_us);
        hlctl_printf("state      %s since %s\n", word(m->state), a);
        hlctl_printf("why        %s\n", m->why);
        hlctl_printf("service    %s: %s\n", word(m->service_state), m->service_reason);
        if (strcmp(m->kind, "unit") != 0)
            hlctl_printf("settings   every %llu ms, timeout %llu ms, %u attempt(s) per run; %u bad "
                   "run(s) to turn bad, %u good to recover\n",
                   (unsigned long long)m->interval_ms, (unsigned long long)m->timeout_ms,
                   m->retries, m->failures, m->successes);
        hlctl_printf("counters   %llu runs: %llu pass, %llu warn, %llu fail; %llu attempts; %llu "
               "skipped; %llu ignored in grace; streak %u good / %u bad\n",
               (unsigned long long)m->runs, (unsigned long long)m->passes,
               (unsigned long long)m->warns, (unsigned long long)m->fails,
               (unsigned long long)m->attempts, (unsigned long long)m->skipped,
               (unsigned long long)m->ignored_in_grace, m->ok_streak, m->bad_streak);
        rel(a, sizeof a, m->last_run_us);
        rel(c, sizeof c, m->next_run_us);
        snprintf(b, sizeof b, "%.1f ms", (double)m->last_duration_us / 1000.0);
        hlctl_printf("last run   %s: %s%s%s (%s, %u attempt(s))\n", a,
               *m->last_result ? m->last_result : "-", *m->last_detail ? ", " : "",
               m->last_detail, b, m->last_attempts);
        hlctl_printf("next run   %s\n", m->next_run_us ? c : "on the next unit event");
        hlctl_printf(m->last_output.len ? "output     %zu bytes:\n" : "output     %zu bytes\n",
                     m->last_output.len);
        if (m->last_output.len) {
            /* As text, one "| " per line; each line escaped (control bytes, invalid UTF-8). */
            fputs("  | ", stdout);
            const char *out = (const char *)m->last_output.data;
            size_t len = m->last_output.len;
            for (size_t i = 0; i < len;) {
                const char *nl = memchr(out + i, '\n', len - i);
                size_t run = nl ? (size_t)(nl - (out + i)) : len - i;
                hlb_fwrite_escaped(out + i, run, stdout);
                i += run;
                if (nl) {
                    i++;
                    fputs(i < len ? "\n  | " : "", stdout);
                }
            }
            putchar('\n');
            if (m->last_output_dropped)
                hlctl_printf("  (%llu more bytes not kept)\n", (unsigned long long)m->last_output_dropped);
        }
    }
    rc = state_exit(m->state);
    protobuf_c_message_free_unpacked(&m->base, NULL);
    hl__reply__free_unpacked(r, NULL);
    return rc;
}

int hlctl_cmd_health(hlctl_t *ctx, int argc, char **argv)
{
    static const struct option opts[] = {
        {"why", required_argument, NULL, 'w'},
        {NULL, 0, NULL, 0},
    };
    const char *check = NULL;
    int opt;
    while ((opt = getopt_long(argc, argv, "w:", opts, NULL)) != -1) {
        if (opt == 'w')
            check = optarg;
        else
            return hlctl_usage("health [SERVICE] | health --why CHECK");
    }
    if (check)
        return optind == argc ? why(ctx, check) : hlctl_usage("health --why CHECK");
    if (argc - optind > 1)
        return hlctl_usage("health [SERVICE] | health --why CHECK");
    const char *service = optind < argc ? argv[optind] : NULL;
    hlb_map_t *args = NULL;
    if (service) {
        args = hlb_map_new();
        hlb_map_str(args, "service", service);
    }
    Hl__Reply *r;
    int rc = hlctl_call(ctx, "hl-health", "health", args, &r);
    hlb_map_destroy(&args);
    if (rc != HLCTL_OK)
        return rc;
    Hl__HealthReport *m = (Hl__HealthReport *)hlb_reply_decode(r, &hl__health_report__descriptor);
    if (!m) {
        hlctl_fprintf(stderr, "hlctl: hl-health sent an unexpected '%s' reply\n", r->type);
        hl__reply__free_unpacked(r, NULL);
        return HLCTL_CRITICAL;
    }
    if (ctx->json) {
        hlctl_print_json(r);
    } else {
        for (size_t i = 0; i < m->n_services; i++) {
            Hl__ServiceHealth *s = m->services[i];
            char since[64];
            rel(since, sizeof since, s->since_us);
            /* The spec's hl-health-check words: OK, WARNING, CRITICAL. */
            static const char *const check_words[] = {
                [HL__HEALTH_STATE__HEALTH_UNKNOWN] = "UNKNOWN",
                [HL__HEALTH_STATE__HEALTH_HEALTHY] = "OK",
                [HL__HEALTH_STATE__HEALTH_DEGRADED] = "WARNING",
                [HL__HEALTH_STATE__HEALTH_UNHEALTHY] = "CRITICAL",
                [HL__HEALTH_STATE__HEALTH_NOT_APPLICABLE] = "N/A"};
            const char *w = (unsigned)s->state < HLB_NELEMS(check_words) ? check_words[s->state]
                                                                         : "UNKNOWN";
            hlctl_printf("%-8s %-20s %-9s since %-10s %s\n", w, s->service, word(s->state), since,
                   s->reason);
            for (size_t j = 0; j < s->n_checks; j++) {
                Hl__CheckHealth *c = s->checks[j];
                hlctl_printf("           %-26s %-5s %-9s %s\n", c->name, c->kind, word(c->state),
                       *c->detail ? c->detail : "-");
            }
        }
    }
    rc = state_exit(m->state);
    protobuf_c_message_free_unpacked(&m->base, NULL);
    hl__reply__free_unpacked(r, NULL);
    return rc;
}
