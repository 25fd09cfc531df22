/* Startup timing series (see startup_metrics.h). */
#include "startup_metrics.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "orchestrator.pb-c.h"

#define MAX_PHASES 32 /* the orchestrator's phases are a handful */

typedef struct {
    char name[64];
    uint32_t index;
    double seconds;
} phase_time_t;

struct hlm_startup {
    double boot_to_ready; /* < 0: unknown */
    double duration;
    double ready_ts;
    phase_time_t phases[MAX_PHASES];
    size_t n_phases;
};

hlm_startup_t *hlm_startup_new(void)
{
    hlm_startup_t *s = calloc(1, sizeof *s);
    if (s)
        s->boot_to_ready = s->duration = s->ready_ts = -1;
    return s;
}

void hlm_startup_destroy(hlm_startup_t **self_p)
{
    if (self_p) {
        free(*self_p);
        *self_p = NULL;
    }
}

static double span(uint64_t from_us, uint64_t to_us)
{
    return from_us && to_us >= from_us ? (double) (to_us - from_us) / 1e6 : -1;
}

static void on_state(hlm_startup_t *s, const Hl__LifecycleState *m)
{
    if (!m->ready_us)
        return; /* starting (again): the last startup's figures stand until the next */
    s->boot_to_ready = span(m->boot_us, m->ready_us);
    s->duration = span(m->startup_began_us, m->ready_us);
    s->ready_ts = (double) m->ready_us / 1e6;
}

static void on_phase(hlm_startup_t *s, const Hl__PhaseStatus *m)
{
    if (!m->name || !*m->name || strlen(m->name) >= sizeof s->phases[0].name)
        return;
    double d = m->state == HL__PHASE_STATE__PHASE_DONE ? span(m->started_us, m->finished_us) : -1;
    size_t i = 0;
    while (i < s->n_phases && strcmp(s->phases[i].name, m->name) != 0)
        i++;
    if (i == s->n_phases) {
        if (d < 0 || s->n_phases == MAX_PHASES)
            return;
        snprintf(s->phases[i].name, sizeof s->phases[i].name, "%s", m->name);
        s->n_phases++;
    }
    if (d >= 0 || m->state == HL__PHASE_STATE__PHASE_PENDING) {
        /* A new startup's pending phase clears the old figure. */
        s->phases[i].seconds = d;
        s->phases[i].index = m->index;
    }
}

void hlm_startup_event(hlm_startup_t *s, const char *topic, const ProtobufCMessage *msg)
{
    if (!s || !msg)
        return;
    if (!strcmp(topic, "lifecycle.state") && msg->descriptor == &hl__lifecycle_state__descriptor)
        on_state(s, (const Hl__LifecycleState *) msg);
    else if (!strcmp(topic, "lifecycle.phase") && msg->descriptor == &hl__phase_status__descriptor)
        on_phase(s, (const Hl__PhaseStatus *) msg);
}

static void gauge(hlm_expo_t *e, const char *name, const char *help, double v)
{
    if (v < 0 || hlm_family(e, name, HLM_GAUGE, help) != 0)
        return;
    hlm_sample0(e, v);
}

void hlm_startup_render(const hlm_startup_t *s, hlm_expo_t *e)
{
    if (!s)
        return;
    gauge(e, "hl_startup_boot_to_ready_seconds",
          "From the service manager's userspace start (systemd's UserspaceTimestamp) to the "
          "orchestrator's last phase passing.",
          s->boot_to_ready);
    gauge(e, "hl_startup_duration_seconds",
          "From the orchestrator's first phase beginning to its last phase passing.", s->duration);
    gauge(e, "hl_startup_ready_timestamp_seconds",
          "When the last startup passed (Unix time).", s->ready_ts);
    bool any = false;
    for (size_t i = 0; i < s->n_phases; i++)
        any |= s->phases[i].seconds >= 0;
    if (!any || hlm_family(e, "hl_startup_phase_duration_seconds", HLM_GAUGE,
                           "How long each startup phase took, from its start to its units up, "
                           "healthy and checked.") != 0)
        return;
    for (size_t i = 0; i < s->n_phases; i++) {
        if (s->phases[i].seconds < 0)
            continue;
        char idx[16];
        snprintf(idx, sizeof idx, "%u", s->phases[i].index);
        hlm_sample(e, HLM_KV("index", idx, "phase", s->phases[i].name), s->phases[i].seconds);
    }
}
